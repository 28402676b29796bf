// `qwen3 quantize`: BF16 checkpoint -> block-scaled FP8 checkpoint. Checked against the
// other writer of FP8 checkpoints (init-random --dtype fp8, which quantizes the same BF16
// draws), against the format's rounding bound, through the loader and the CPU forward,
// and through the real binary for every kind of bad input (exit 2, file or flag named).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "backends/cpu/cpu_attention.h"
#include "backends/cpu/cpu_model.h"
#include "core/error.h"
#include "model/checkpoint.h"
#include "model/fixture.h"
#include "model/fp8_quant.h"
#include "model/init_random.h"
#include "model/quantize.h"
#include "model/safetensors_writer.h"
#include "model/weights.h"
#include "run_cli.h"

namespace qwen3::test {
namespace {

namespace fs = std::filesystem;

std::string tensor_bytes(const Checkpoint& c, const std::string& name) {
  const TensorRef t = c.get(name);
  return {reinterpret_cast<const char*>(t.data), t.info->nbytes};
}

QuantizeOptions quantize_options(const std::string& in, const std::string& out, DType fmt) {
  QuantizeOptions q;
  q.in_dir = in;
  q.out_dir = out;
  q.fp8_dtype = fmt;
  return q;
}

bool is_linear(const std::string& name) { return name.find("_proj.weight") != std::string::npos; }

class QuantizeFormats : public ::testing::TestWithParam<std::string> {};

// Same seed, same BF16 weights: quantize must write exactly what init-random --dtype fp8
// writes (bytes and scales), keep every other tensor byte for byte, and load as FP8.
TEST_P(QuantizeFormats, MatchesInitRandomFp8AndLoads) {
  const DType fmt = parse_fp8_format(GetParam());
  TempDir dir;
  init_random_checkpoint(small_init_random(dir.str() + "/bf16", 7));
  auto fp8 = small_init_random(dir.str() + "/ref", 7);
  fp8.fp8 = true;
  fp8.fp8_dtype = fmt;
  init_random_checkpoint(fp8);
  const QuantizeReport report =
      quantize_checkpoint(quantize_options(dir.str() + "/bf16", dir.str() + "/q", fmt));
  EXPECT_EQ(report.tensors.size(), 2u * 7u);
  EXPECT_FALSE(fs::exists(dir.path() / "q.partial"));

  const Checkpoint in(dir.str() + "/bf16"), ref(dir.str() + "/ref"), out(dir.str() + "/q");
  EXPECT_EQ(out.names(), ref.names());
  for (const std::string& name : out.names()) {
    EXPECT_EQ(out.get(name).info->dtype, ref.get(name).info->dtype) << name;
    EXPECT_EQ(out.get(name).info->shape, ref.get(name).info->shape) << name;
    EXPECT_EQ(tensor_bytes(out, name), tensor_bytes(ref, name)) << name;
    if (in.contains(name) && !is_linear(name)) {
      EXPECT_EQ(tensor_bytes(out, name), tensor_bytes(in, name)) << name;
    }
  }
  const auto w = Qwen3Weights::load(dir.str() + "/q");
  EXPECT_TRUE(w->config().quant.fp8);
  EXPECT_EQ(w->config().quant.weight_dtype, fmt);
  EXPECT_EQ(w->config().quant.modules_to_not_convert, std::vector<std::string>{"lm_head"});
  EXPECT_EQ(w->layers()[1].down_proj.dtype, fmt);
  EXPECT_EQ(w->lm_head().dtype, DType::kBF16);
  // The rest of config.json is the input's, untouched.
  nlohmann::json cin = read_json_file(dir.str() + "/bf16/config.json");
  nlohmann::json cout = read_json_file(dir.str() + "/q/config.json");
  EXPECT_EQ(cout["quantization_config"]["quant_method"], "fp8");
  EXPECT_EQ(cout["quantization_config"]["fmt"], fmt == DType::kF8E4M3 ? "e4m3" : "e5m2");
  EXPECT_EQ(cout["quantization_config"]["weight_block_size"], nlohmann::json({128, 128}));
  EXPECT_EQ(cout["quantization_config"]["activation_scheme"], "dynamic");
  cout.erase("quantization_config");
  EXPECT_EQ(cout, cin);
  EXPECT_EQ(read_bytes(dir.path() / "q/generation_config.json"),
            read_bytes(dir.path() / "bf16/generation_config.json"));
}

// |dequant(quant(w)) - w| <= half an ulp of w's fp8 code (relative 2^-(mantissa+1)), or half
// the smallest subnormal step for tiny values, times the block scale.
TEST_P(QuantizeFormats, DequantizedWeightsWithinTheFormatBound) {
  const DType fmt = parse_fp8_format(GetParam());
  TempDir dir;
  init_random_checkpoint(small_init_random(dir.str() + "/bf16", 8));
  auto q = quantize_options(dir.str() + "/bf16", dir.str() + "/q", fmt);
  q.block = 64;  // 192 x 320 and 320 x 192: whole and partial blocks
  const QuantizeReport report = quantize_checkpoint(q);
  const double rel = fmt == DType::kF8E4M3 ? 0x1p-4 : 0x1p-3;
  const double sub = fmt == DType::kF8E4M3 ? 0x1p-10 : 0x1p-17;
  const auto w16 = Qwen3Weights::load(dir.str() + "/bf16");
  const auto w8 = Qwen3Weights::load(dir.str() + "/q");
  EXPECT_EQ(w8->config().quant.block_out, 64);
  for (size_t l = 0; l < w8->layers().size(); ++l) {
    const LayerWeights& a = w8->layers()[l];
    const LayerWeights& b = w16->layers()[l];
    for (auto [m8, m16] : {std::pair{&a.q_proj, &b.q_proj},
                           {&a.o_proj, &b.o_proj},
                           {&a.gate_proj, &b.gate_proj},
                           {&a.down_proj, &b.down_proj}}) {
      ASSERT_EQ(m8->dtype, fmt);
      std::vector<float> x(m8->cols), y(m8->cols);
      for (int64_t r = 0; r < m8->rows; ++r) {
        m8->row_to_f32(r, x.data());
        m16->row_to_f32(r, y.data());
        for (int64_t c = 0; c < m8->cols; ++c) {
          const double s = m8->scale_inv[(r / 64) * m8->scale_cols() + c / 64];
          ASSERT_LE(std::fabs(x[c] - y[c]), std::fabs(y[c]) * rel * (1 + 1e-5) + s * sub + 1e-9)
              << m8->name << " " << r << "," << c;
        }
      }
    }
  }
  // The report's numbers agree with the bound: E4M3 ~2-3% RMS, E5M2 about twice that.
  EXPECT_GT(report.total_rel_rms(), 0.0);
  EXPECT_LT(report.total_rel_rms(), fmt == DType::kF8E4M3 ? 0.04 : 0.08);
  for (const auto& t : report.tensors) EXPECT_LE(t.rel_rms, rel) << t.name;
  const std::string table = format_quantize_report(report);
  EXPECT_NE(table.find("model.layers.1.mlp.down_proj.weight"), std::string::npos) << table;
  EXPECT_NE(table.find("total"), std::string::npos) << table;
}

// The quantized model runs, and its logits follow the BF16 model's.
TEST_P(QuantizeFormats, LogitsCloseToBf16) {
  const DType fmt = parse_fp8_format(GetParam());
  TempDir dir;
  init_random_checkpoint(small_init_random(dir.str() + "/bf16", 9));
  quantize_checkpoint(quantize_options(dir.str() + "/bf16", dir.str() + "/q", fmt));
  const auto w16 = Qwen3Weights::load(dir.str() + "/bf16");
  const auto w8 = Qwen3Weights::load(dir.str() + "/q");
  const cpu::CpuModel m16(*w16), m8(*w8);
  const std::vector<int32_t> prompt = {5, 17, 99, 3, 250, 41, 7, 300};
  cpu::KvCache k16(w16->config(), 16), k8(w8->config(), 16);
  const auto a = m16.forward(prompt, k16, cpu::LogitsMode::kAll);
  const auto b = m8.forward(prompt, k8, cpu::LogitsMode::kAll);
  ASSERT_EQ(a.size(), b.size());
  const size_t vocab = static_cast<size_t>(w16->config().vocab_size);
  for (size_t row = 0; row < prompt.size(); ++row) {
    double dot = 0, na = 0, nb = 0;
    for (size_t i = row * vocab; i < (row + 1) * vocab; ++i)
      dot += double(a[i]) * b[i], na += double(a[i]) * a[i], nb += double(b[i]) * b[i];
    EXPECT_GT(dot / std::sqrt(na * nb), 0.99) << "row " << row;
  }
  const CliResult r = run_cli("generate -m " + dir.str() + "/q --prompt-ids 5,6,7 -n 4 " +
                              "--ignore-eos --temperature 0");
  EXPECT_EQ(r.code, 0) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Fp8, QuantizeFormats, ::testing::Values("e4m3", "e5m2"),
                         [](const auto& param_info) { return param_info.param; });

TEST(Quantize, SkipKeepsModulesBf16AndListsThem) {
  TempDir dir;
  init_random_checkpoint(small_init_random(dir.str() + "/bf16", 10));
  auto q = quantize_options(dir.str() + "/bf16", dir.str() + "/q", DType::kF8E4M3);
  q.skip = {"down_proj", "model.layers.0.self_attn.q_proj"};
  const QuantizeReport report = quantize_checkpoint(q);
  EXPECT_EQ(report.tensors.size(), 2u * 7u - 3u);
  const auto w = Qwen3Weights::load(dir.str() + "/q");
  EXPECT_EQ(w->config().quant.modules_to_not_convert,
            (std::vector<std::string>{"lm_head", "down_proj", "model.layers.0.self_attn.q_proj"}));
  EXPECT_EQ(w->layers()[0].q_proj.dtype, DType::kBF16);
  EXPECT_EQ(w->layers()[1].q_proj.dtype, DType::kF8E4M3);
  EXPECT_EQ(w->layers()[0].down_proj.dtype, DType::kBF16);
  EXPECT_EQ(w->layers()[1].down_proj.dtype, DType::kBF16);
  const Checkpoint in(dir.str() + "/bf16"), out(dir.str() + "/q");
  EXPECT_FALSE(out.contains("model.layers.1.mlp.down_proj.weight_scale_inv"));
  EXPECT_EQ(tensor_bytes(out, "model.layers.1.mlp.down_proj.weight"),
            tensor_bytes(in, "model.layers.1.mlp.down_proj.weight"));
}

// --quantize-lm-head: lm_head becomes FP8 too (tied: a copy of the embedding, quantized,
// with tie_word_embeddings false), byte for byte what init-random --quantize-lm-head writes;
// the model loads with an FP8 lm_head, the embedding stays BF16, and the logits follow the
// BF16 model's.
TEST(Quantize, QuantizeLmHeadTiedAndUntied) {
  for (const bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    TempDir dir;
    auto bf16 = small_init_random(dir.str() + "/bf16", 13);
    bf16.config.tie_word_embeddings = tied;
    init_random_checkpoint(bf16);
    auto ref = bf16;
    ref.out_dir = dir.str() + "/ref";
    ref.fp8 = true;
    ref.fp8_lm_head = true;
    init_random_checkpoint(ref);
    auto q = quantize_options(dir.str() + "/bf16", dir.str() + "/q", DType::kF8E4M3);
    q.quantize_lm_head = true;
    const QuantizeReport report = quantize_checkpoint(q);
    ASSERT_EQ(report.tensors.size(), 2u * 7u + 1u);
    EXPECT_TRUE(report.modules_to_not_convert.empty());
    EXPECT_NE(std::find_if(report.tensors.begin(), report.tensors.end(),
                           [](const TensorQuantError& t) { return t.name == "lm_head.weight"; }),
              report.tensors.end());

    const Checkpoint in(dir.str() + "/bf16"), out(dir.str() + "/q"), r(dir.str() + "/ref");
    EXPECT_EQ(out.get("lm_head.weight").info->dtype, DType::kF8E4M3);
    EXPECT_TRUE(out.contains("lm_head.weight_scale_inv"));
    EXPECT_EQ(tensor_bytes(out, "model.embed_tokens.weight"),
              tensor_bytes(in, "model.embed_tokens.weight"));
    auto names = out.names(), ref_names = r.names();
    std::sort(names.begin(), names.end());
    std::sort(ref_names.begin(), ref_names.end());
    EXPECT_EQ(names, ref_names);
    for (const std::string& name : names)
      EXPECT_EQ(tensor_bytes(out, name), tensor_bytes(r, name)) << name;

    const nlohmann::json cfg = read_json_file(dir.str() + "/q/config.json");
    EXPECT_EQ(cfg["tie_word_embeddings"], false);
    EXPECT_EQ(cfg["quantization_config"]["modules_to_not_convert"], nlohmann::json::array());
    const auto w16 = Qwen3Weights::load(dir.str() + "/bf16");
    const auto w8 = Qwen3Weights::load(dir.str() + "/q");
    EXPECT_EQ(w8->lm_head().dtype, DType::kF8E4M3);
    EXPECT_EQ(w8->embed().dtype, DType::kBF16);
    // The FP8 lm_head is the BF16 one (tied: the embedding) within E4M3's rounding.
    std::vector<float> a(w8->lm_head().cols), b(a.size());
    for (int64_t row : {int64_t{0}, int64_t{100}, w8->lm_head().rows - 1}) {
      w8->lm_head().row_to_f32(row, a.data());
      w16->lm_head().row_to_f32(row, b.data());
      for (size_t c = 0; c < a.size(); ++c) {
        const double s = w8->lm_head().scale_inv[(row / 128) * w8->lm_head().scale_cols() + c / 128];
        ASSERT_LE(std::fabs(a[c] - b[c]), std::fabs(b[c]) * 0x1p-4 * (1 + 1e-5) + s * 0x1p-10 + 1e-9)
            << row << "," << c;
      }
    }
    const cpu::CpuModel m16(*w16), m8(*w8);
    const std::vector<int32_t> prompt = {5, 17, 99, 3, 250};
    cpu::KvCache k16(w16->config(), 16), k8(w8->config(), 16);
    const auto la = m16.forward(prompt, k16, cpu::LogitsMode::kAll);
    const auto lb = m8.forward(prompt, k8, cpu::LogitsMode::kAll);
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < la.size(); ++i)
      dot += double(la[i]) * lb[i], na += double(la[i]) * la[i], nb += double(lb[i]) * lb[i];
    EXPECT_GT(dot / std::sqrt(na * nb), 0.99);
  }
}

// Sharded input: the same shard files and an index naming the scales; other files copied.
TEST(Quantize, KeepsShardingAndCopiesOtherFiles) {
  TempDir dir;
  auto o = small_init_random(dir.str() + "/bf16", 11);
  o.max_shard_bytes = 300000;
  o.tokenizer_dir = QWEN3_TOKENIZER_DIR;
  init_random_checkpoint(o);
  std::ofstream(dir.path() / "bf16" / "chat_template.jinja") << "{{ messages }}";
  quantize_checkpoint(quantize_options(dir.str() + "/bf16", dir.str() + "/q", DType::kF8E4M3));
  std::vector<std::string> in_files, out_files;
  for (const auto& e : fs::directory_iterator(dir.path() / "bf16"))
    in_files.push_back(e.path().filename().string());
  for (const auto& e : fs::directory_iterator(dir.path() / "q"))
    out_files.push_back(e.path().filename().string());
  std::sort(in_files.begin(), in_files.end());
  std::sort(out_files.begin(), out_files.end());
  EXPECT_EQ(out_files, in_files);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"})
    EXPECT_EQ(read_bytes(dir.path() / "q" / f), read_bytes(dir.path() / "bf16" / f)) << f;
  const nlohmann::json in_index = read_json_file(dir.str() + "/bf16/model.safetensors.index.json");
  const nlohmann::json index = read_json_file(dir.str() + "/q/model.safetensors.index.json");
  for (const auto& [name, file] : in_index["weight_map"].items()) {
    EXPECT_EQ(index["weight_map"][name], file) << name;
    if (is_linear(name)) {
      EXPECT_EQ(index["weight_map"][name + "_scale_inv"], file) << name;
    }
  }
  EXPECT_TRUE(Qwen3Weights::load(dir.str() + "/q")->config().quant.fp8);

  // --max-shard-size re-splits (here: into one file).
  auto q = quantize_options(dir.str() + "/bf16", dir.str() + "/one", DType::kF8E4M3);
  q.max_shard_bytes = 1ull << 30;
  quantize_checkpoint(q);
  EXPECT_TRUE(fs::exists(dir.path() / "one" / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir.path() / "one" / "model.safetensors.index.json"));
  EXPECT_TRUE(Qwen3Weights::load(dir.str() + "/one")->config().quant.fp8);
}

// Rewrites model.safetensors of `dir` with tensor `name` stored as F32.
void make_tensor_f32(const std::string& dir, const std::string& name) {
  std::vector<TensorSpec> specs;
  {
    const Checkpoint c(dir);
    for (const std::string& n : c.names()) {
      const TensorRef t = c.get(n);
      std::vector<uint8_t> bytes(t.data, t.data + t.info->nbytes);
      const bool f32 = n == name;
      specs.push_back(
          {n, f32 ? DType::kF32 : t.info->dtype, t.info->shape, [bytes, f32](uint8_t* dst) {
             if (!f32) return void(std::memcpy(dst, bytes.data(), bytes.size()));
             for (size_t i = 0; i < bytes.size() / 2; ++i) {
               uint16_t b;
               std::memcpy(&b, &bytes[2 * i], 2);
               const float f = bf16_to_f32(b);
               std::memcpy(dst + 4 * i, &f, 4);
             }
           }});
    }
  }
  std::vector<const TensorSpec*> ptrs;
  for (const auto& s : specs) ptrs.push_back(&s);
  write_safetensors_file(dir + "/model.safetensors", ptrs);
}

TEST(Quantize, BadInputExitsWithCode2AndNamesTheProblem) {
  TempDir dir;
  const std::string m = dir.str() + "/m", out = dir.str() + "/out";
  init_random_checkpoint(small_init_random(m, 12));
  auto expect_fails = [&](const std::string& args, const std::string& named) {
    const CliResult r = run_cli("quantize " + args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(named), std::string::npos) << args << "\nmissing '" << named << "' in\n"
                                                    << r.out;
    EXPECT_FALSE(fs::exists(out)) << args;
    EXPECT_FALSE(fs::exists(out + ".partial")) << args;
  };
  expect_fails(dir.str() + "/nope " + out, "nope");
  expect_fails(m + " " + out + " --fmt e3m4", "--fmt");
  expect_fails(m + " " + out + " --block 100", "--block");
  expect_fails(m + " " + out + " --block 0", "--block");
  expect_fails(m + " " + out + " --block 2048", "--block");
  expect_fails(m + " " + out + " --skip no_such_proj", "--skip");
  expect_fails(m + " " + out + " --max-shard-size lots", "--max-shard-size");
  expect_fails(m + " " + out + " --quantize-lm-head --skip lm_head", "--quantize-lm-head");
  expect_fails(m, "OUT_DIR");

  // An FP8 checkpoint: refused, naming its config.json.
  auto fp8 = small_init_random(dir.str() + "/fp8", 12);
  fp8.fp8 = true;
  init_random_checkpoint(fp8);
  expect_fails(fp8.out_dir + " " + out, "config.json");
  // FP8 tensors under a BF16 config: refused, naming the file and the tensor.
  fs::copy_file(m + "/config.json", fp8.out_dir + "/config.json",
                fs::copy_options::overwrite_existing);
  expect_fails(fp8.out_dir + " " + out, "already FP8");

  // OUT_DIR exists: refused without --force, replaced with it.
  const std::string existing = dir.str() + "/existing";
  fs::create_directories(existing);
  CliResult r = run_cli("quantize " + m + " " + existing);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--force"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(existing + "/config.json"));
  r = run_cli("quantize " + m + " " + existing + " --force --fmt e5m2");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("[14/14] "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("total"), std::string::npos) << r.out;
  EXPECT_EQ(Qwen3Weights::load(existing)->config().quant.weight_dtype, DType::kF8E5M2);
  expect_fails(m + " " + m + " --force", "IN_DIR");

  // Not BF16: the file and the tensor are named.
  make_tensor_f32(m, "model.layers.0.mlp.up_proj.weight");
  expect_fails(m + " " + out, "model.layers.0.mlp.up_proj.weight");
  r = run_cli("quantize " + m + " " + out);
  EXPECT_NE(r.out.find("model.safetensors"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace qwen3::test
