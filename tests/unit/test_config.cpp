#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "model/config.h"
#include "model/fixture.h"

namespace qwen3::test {
namespace {

using nlohmann::json;

json reference_config() { return read_json_file(test_data("qwen3-4b-instruct-2507.config.json")); }

// Expects from_json to throw an Error whose message contains every fragment.
void expect_config_error(const json& j, std::initializer_list<const char*> fragments) {
  try {
    ModelConfig::from_json(j, "/m/config.json");
    ADD_FAILURE() << "accepted: " << j.dump();
  } catch (const Error& e) {
    for (const char* f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

TEST(Config, PublishedQwen3_4bInstruct2507) {
  const ModelConfig c = ModelConfig::from_json(reference_config(), "ref");
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_EQ(c.hidden_size, 2560);
  EXPECT_EQ(c.intermediate_size, 9728);
  EXPECT_EQ(c.num_hidden_layers, 36);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.max_position_embeddings, 262144);
  EXPECT_DOUBLE_EQ(c.rope.theta, 5000000.0);
  EXPECT_EQ(c.rope.type, RopeType::kDefault);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.dtype, DType::kBF16);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{151645});
  EXPECT_FALSE(c.quant.fp8);
  // ../shared/reference/README.md: 147,456 bytes of BF16 KV cache per token.
  EXPECT_EQ(c.kv_cache_bytes_per_token(DType::kBF16), 147456);
  EXPECT_EQ(c.kv_cache_bytes_per_token(DType::kF8E4M3), 73728);
}

TEST(Config, PublishedFp8QuantizationBlock) {
  json j = reference_config();
  j.update(read_json_file(test_data("qwen3-4b-instruct-2507-fp8.quantization_config.json")));
  const ModelConfig c = ModelConfig::from_json(j, "ref");
  EXPECT_TRUE(c.quant.fp8);
  EXPECT_EQ(c.quant.weight_dtype, DType::kF8E4M3);
  EXPECT_EQ(c.quant.block_out, 128);
  EXPECT_EQ(c.quant.block_in, 128);
  j["quantization_config"]["fmt"] = "e5m2";
  j["quantization_config"]["modules_to_not_convert"] = {"lm_head", "model.layers.3.mlp"};
  const ModelConfig c2 = ModelConfig::from_json(j, "ref");
  EXPECT_EQ(c2.quant.weight_dtype, DType::kF8E5M2);
  EXPECT_TRUE(c2.quant.skips("model.layers.3.mlp.down_proj"));
  EXPECT_FALSE(c2.quant.skips("model.layers.4.mlp.down_proj"));
}

TEST(Config, RoundTripsThroughToJson) {
  json j = reference_config();
  j["rope_scaling"] = {
      {"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
  const ModelConfig a = ModelConfig::from_json(j, "ref");
  const ModelConfig b = ModelConfig::from_json(a.to_json(), "roundtrip");
  EXPECT_EQ(a.to_json(), b.to_json());
  EXPECT_EQ(b.rope.type, RopeType::kYarn);
  EXPECT_EQ(b.rope.original_max_position_embeddings, 32768);
}

TEST(Config, TransformersV5RopeParameters) {
  // save_pretrained in transformers 5 writes "rope_parameters" and "dtype".
  const ModelConfig c = ModelConfig::load(fixture_model("yarn_untied"));
  EXPECT_EQ(c.rope.type, RopeType::kYarn);
  EXPECT_DOUBLE_EQ(c.rope.theta, 1000000.0);
  EXPECT_DOUBLE_EQ(c.rope.factor, 4.0);
  EXPECT_EQ(c.rope.original_max_position_embeddings, 64);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_TRUE(c.eos_token_ids.empty());  // "eos_token_id": null
}

TEST(Config, ErrorsNameTheFileAndField) {
  json j = reference_config();
  j.erase("hidden_size");
  expect_config_error(j, {"/m/config.json", "'hidden_size'", "missing"});
  j = reference_config();
  j["num_hidden_layers"] = "36";
  expect_config_error(j, {"'num_hidden_layers'", "integer"});
  j = reference_config();
  j["num_key_value_heads"] = 7;
  expect_config_error(j, {"'num_key_value_heads'", "divide"});
  j = reference_config();
  j["model_type"] = "llama";
  expect_config_error(j, {"model_type", "llama"});
  j = reference_config();
  j["rope_scaling"] = {{"rope_type", "longrope"}, {"factor", 2.0}};
  expect_config_error(j, {"longrope", "not supported"});
  j = reference_config();
  j["quantization_config"] = {{"quant_method", "awq"}};
  expect_config_error(j, {"quant_method", "awq"});
  j = reference_config();
  j["quantization_config"] = {
      {"quant_method", "fp8"}, {"fmt", "e3m4"}, {"weight_block_size", {128, 128}}};
  expect_config_error(j, {"quantization_config.fmt"});
  j = reference_config();
  j["vocab_size"] = -5;
  expect_config_error(j, {"'vocab_size'", "positive"});
  expect_config_error(json::array(), {"not a JSON object"});
}

TEST(Config, MalformedFileIsAnError) {
  TempDir dir;
  std::ofstream(dir.path() / "config.json") << "{\"vocab_size\": 12,";
  try {
    ModelConfig::load(dir.str());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos);
  }
  EXPECT_THROW(ModelConfig::load(dir.str() + "/missing"), Error);
}

TEST(GenerationConfig, PublishedDefaults) {
  const auto g = GenerationConfig::from_json(
      read_json_file(test_data("qwen3-4b-instruct-2507.generation_config.json")), "g");
  EXPECT_TRUE(g.do_sample);
  EXPECT_DOUBLE_EQ(g.temperature, 0.7);
  EXPECT_DOUBLE_EQ(g.top_p, 0.8);
  EXPECT_EQ(g.top_k, 20);
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{151645, 151643}));
  EXPECT_THROW(GenerationConfig::from_json(json{{"top_p", 1.5}}, "g"), Error);
}

}  // namespace
}  // namespace qwen3::test
