#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/fixture.h"
#include "model/safetensors.h"
#include "model/safetensors_writer.h"

namespace qwen3::test {
namespace {

std::vector<uint8_t> make_file(const std::string& header_json, size_t data_bytes) {
  std::vector<uint8_t> f(8 + header_json.size() + data_bytes, 0);
  const uint64_t n = header_json.size();
  for (int i = 0; i < 8; ++i) f[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(f.data() + 8, header_json.data(), n);
  return f;
}

// Expects parse_safetensors to reject the bytes with a message holding every fragment.
void expect_rejected(const std::vector<uint8_t>& bytes,
                     std::initializer_list<const char*> fragments) {
  try {
    parse_safetensors(bytes, "shard.safetensors");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("shard.safetensors"), std::string::npos) << e.what();
    for (const char* f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

TEST(Safetensors, ParsesValidHeader) {
  const auto f = make_file(
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},)"
      R"("b":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[12,16]},"e":{"dtype":"F32","shape":[0],"data_offsets":[16,16]}})",
      16);
  const auto h = parse_safetensors(f, "x");
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.metadata.at("format"), "pt");
  EXPECT_EQ(h.tensors[0].name, "a");
  EXPECT_EQ(h.tensors[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(h.tensors[1].dtype, DType::kF8E4M3);
  EXPECT_EQ(h.tensors[1].nbytes, 4u);
}

TEST(Safetensors, RejectsMalformedFiles) {
  expect_rejected({1, 2, 3}, {"too short"});
  auto f = make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8);
  f[3] = 0x10;  // header length far beyond the file
  expect_rejected(f, {"header length"});
  f = make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8);
  f.resize(f.size() - 3);  // truncated data
  expect_rejected(f, {"'a'", "truncated"});
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],)", 0), {"not a valid JSON"});
  expect_rejected(make_file(R"([1,2])", 0), {"not a valid JSON object"});
  expect_rejected(make_file(R"({"a":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}})", 8),
                  {"'a'", "Q4_K"});
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
                  {"'a'", "needs 12 bytes"});
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
                  {"'a'", "shape"});
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
                  {"reversed"});
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8),
                  {"data_offsets"});
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                            12),
                  {"overlap"});
  expect_rejected(
      make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})",
                8),
      {"'a'"});
  expect_rejected(make_file(std::string(5000, '[') + std::string(5000, ']'), 0), {"nests deeper"});
  expect_rejected(make_file(R"({"__metadata__":[1]})", 0), {"__metadata__"});
  expect_rejected(make_file(R"({"a":7})", 0), {"'a'", "not an object"});
}

TEST(Safetensors, WriterOutputReadsBackAndIsAligned) {
  TempDir dir;
  const std::string path = dir.str() + "/t.safetensors";
  TensorSpec a{"weird name.é", DType::kF32, {3}, [](uint8_t* d) {
                 float v[3] = {1, 2, 3};
                 std::memcpy(d, v, 12);
               }};
  TensorSpec b{"b", DType::kBF16, {1, 1}, [](uint8_t* d) {
                 d[0] = 0x80;
                 d[1] = 0x3f;
               }};
  write_safetensors_file(path, {&a, &b});
  SafetensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const TensorInfo* t = f.find("weird name.é");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->offset % 8, 0u);  // first tensor written: the data section is 8-byte aligned
  EXPECT_EQ(load_as_f32(f.data(*t), t->dtype, 2), 3.0f);
  EXPECT_EQ(load_as_f32(f.data(*f.find("b")), DType::kBF16, 0), 1.0f);
}

TEST(Checkpoint, ShardedFixtureFromTransformers) {
  const Checkpoint ck(fixture_model("gqa4_hd128"));  // save_pretrained with max_shard_size
  EXPECT_TRUE(ck.contains("model.layers.1.mlp.down_proj.weight"));
  EXPECT_EQ(ck.get("model.embed_tokens.weight").info->shape, (std::vector<int64_t>{384, 128}));
  try {
    ck.get("lm_head.weight");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lm_head.weight"), std::string::npos);
  }
}

TEST(Checkpoint, BadFoldersGiveClearErrors) {
  TempDir dir;
  try {
    Checkpoint ck(dir.str());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no model.safetensors"), std::string::npos);
  }
  // An index that points at a shard that does not hold the tensor.
  std::filesystem::copy(fixture_model("gqa4_hd128"), dir.path() / "m");
  std::string index;
  {
    std::ifstream in(dir.path() / "m" / "model.safetensors.index.json");
    index.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string entry = "\"model.norm.weight\": \"model-00005-of-00005.safetensors\"";
  const auto pos = index.find(entry);
  ASSERT_NE(pos, std::string::npos);
  index.replace(pos, entry.size(), "\"model.norm.weight\": \"model-00001-of-00005.safetensors\"");
  std::ofstream(dir.path() / "m" / "model.safetensors.index.json") << index;
  try {
    Checkpoint ck((dir.path() / "m").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.norm.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qwen3::test
