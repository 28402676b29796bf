#include "model/init_random.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>

#include "core/error.h"
#include "model/fp8_quant.h"
#include "model/safetensors_writer.h"

namespace qwen3 {
namespace fs = std::filesystem;

namespace {

constexpr const char* kQwen3_4bConfig = R"({
  "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
  "hidden_size": 2560, "initializer_range": 0.02, "intermediate_size": 9728,
  "max_position_embeddings": 262144, "max_window_layers": 36, "model_type": "qwen3",
  "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 5000000, "sliding_window": null,
  "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_cache": true,
  "use_sliding_window": false, "vocab_size": 151936})";

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

double uniform01(uint64_t& state) {  // (0, 1]
  return (static_cast<double>(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
}

// Published sampling defaults of Qwen3-4B-Instruct-2507.
GenerationConfig default_generation_config(const ModelConfig& c) {
  GenerationConfig g;
  g.do_sample = true;
  g.temperature = 0.7;
  g.top_p = 0.8;
  g.top_k = 20;
  g.bos_token_id = c.bos_token_id;
  g.pad_token_id = c.bos_token_id;
  g.eos_token_ids = {151645, 151643};
  return g;
}

void write_json(const fs::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) QWEN3_THROW(ErrorCode::kIo, "{}: cannot write", path.string());
}

// head_from_embedding: the (FP8) lm_head of a config untied by init_random_checkpoint.
std::vector<TensorSpec> tensor_specs(const InitRandomOptions& o, bool head_from_embedding) {
  const ModelConfig& c = o.config;
  std::vector<TensorSpec> specs;
  const double init_std = c.initializer_range;
  auto bf16_tensor = [&](std::string name, std::vector<int64_t> shape, double mean, double stddev) {
    TensorSpec t{name, DType::kBF16, shape, nullptr};
    const int64_t n = static_cast<int64_t>(t.nbytes() / 2);
    t.fill = [seed = o.seed, name, mean, stddev, n](uint8_t* dst) {
      std::vector<float> v(static_cast<size_t>(n));
      fill_normal(seed, name, mean, stddev, v.data(), n);
      auto* out = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(v[i]);
    };
    specs.push_back(std::move(t));
  };
  // `draws`: the tensor whose normal stream the weights take (the tied lm_head: the
  // embedding's).
  auto linear = [&](const std::string& module, int64_t rows, int64_t cols,
                    std::string draws = {}) {
    if (draws.empty()) draws = module + ".weight";
    if (!o.fp8) return bf16_tensor(module + ".weight", {rows, cols}, 0.0, init_std);
    Fp8LinearSource src;
    src.module = module;
    src.rows = rows;
    src.cols = cols;
    src.block_out = c.quant.block_out;
    src.block_in = c.quant.block_in;
    src.fp8_dtype = o.fp8_dtype;
    src.load = [=, seed = o.seed](float* w) {
      fill_normal(seed, draws, 0.0, init_std, w, rows * cols);
      for (int64_t i = 0; i < rows * cols; ++i)
        w[i] = bf16_to_f32(f32_to_bf16(w[i]));  // as a BF16 checkpoint would hold them
    };
    append_fp8_linear_specs(std::move(src), specs);
  };

  bf16_tensor("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, 0.0, init_std);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    bf16_tensor(p + "input_layernorm.weight", {c.hidden_size}, 1.0, 0.1);
    linear(p + "self_attn.q_proj", c.q_dim(), c.hidden_size);
    linear(p + "self_attn.k_proj", c.kv_dim(), c.hidden_size);
    linear(p + "self_attn.v_proj", c.kv_dim(), c.hidden_size);
    linear(p + "self_attn.o_proj", c.hidden_size, c.q_dim());
    bf16_tensor(p + "self_attn.q_norm.weight", {c.head_dim}, 1.0, 0.1);
    bf16_tensor(p + "self_attn.k_norm.weight", {c.head_dim}, 1.0, 0.1);
    bf16_tensor(p + "post_attention_layernorm.weight", {c.hidden_size}, 1.0, 0.1);
    linear(p + "mlp.gate_proj", c.intermediate_size, c.hidden_size);
    linear(p + "mlp.up_proj", c.intermediate_size, c.hidden_size);
    linear(p + "mlp.down_proj", c.hidden_size, c.intermediate_size);
  }
  bf16_tensor("model.norm.weight", {c.hidden_size}, 1.0, 0.1);
  if (o.fp8_lm_head) {
    linear("lm_head", c.vocab_size, c.hidden_size,
           head_from_embedding ? "model.embed_tokens.weight" : "lm_head.weight");
  } else if (!c.tie_word_embeddings) {
    bf16_tensor("lm_head.weight", {c.vocab_size, c.hidden_size}, 0.0, init_std);
  }
  return specs;
}

void copy_tokenizer_files(const fs::path& from, const fs::path& to) {
  const fs::path required = from / "tokenizer.json";
  if (!fs::exists(required)) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: no tokenizer.json in the tokenizer folder",
                from.string());
  }
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                           "chat_template.jinja", "special_tokens_map.json"}) {
    if (fs::exists(from / name)) fs::copy_file(from / name, to / name);
  }
}

}  // namespace

void fill_normal(uint64_t seed, const std::string& name, double mean, double stddev, float* out,
                 int64_t n) {
  // Independent streams per 64Ki-element chunk keep the result identical for any thread count.
  constexpr int64_t kChunk = 1 << 16;
  const uint64_t base = seed * 0x9e3779b97f4a7c15ull ^ fnv1a(name);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    uint64_t state = base + static_cast<uint64_t>(ch) * 0xd1b54a32d192ed03ull;
    splitmix64(state);
    const int64_t end = std::min(n, (ch + 1) * kChunk);
    for (int64_t i = ch * kChunk; i < end; i += 2) {
      // Box-Muller: two normals per pair of uniforms.
      const double r = std::sqrt(-2.0 * std::log(uniform01(state)));
      const double a = 2.0 * std::numbers::pi * uniform01(state);
      out[i] = static_cast<float>(mean + stddev * r * std::cos(a));
      if (i + 1 < end) out[i + 1] = static_cast<float>(mean + stddev * r * std::sin(a));
    }
  }
}

ModelConfig preset_config(const std::string& name) {
  if (name == "qwen3-4b")
    return ModelConfig::from_json(nlohmann::json::parse(kQwen3_4bConfig), "preset qwen3-4b");
  if (name == "tiny") {
    // Qwen3-4B's vocabulary, tokens and RoPE with a small stack: the embedded default model.
    nlohmann::json j = nlohmann::json::parse(kQwen3_4bConfig);
    j.update({{"hidden_size", 256},
              {"intermediate_size", 768},
              {"num_hidden_layers", 4},
              {"max_window_layers", 4},
              {"num_attention_heads", 4},
              {"num_key_value_heads", 2},
              {"head_dim", 64},
              {"max_position_embeddings", 32768}});
    return ModelConfig::from_json(j, "preset tiny");
  }
  QWEN3_THROW(ErrorCode::kInvalidArgument,
              "unknown preset '{}' (qwen3-4b, tiny, or a config.json path)", name);
}

ModelConfig config_from_like(const std::string& like) {
  if (like == "qwen3-4b" || like == "tiny") return preset_config(like);
  if (fs::is_directory(like)) return ModelConfig::load(like);
  if (fs::exists(like)) return ModelConfig::from_json(read_json_file(like), like);
  QWEN3_THROW(ErrorCode::kInvalidArgument,
              "--like '{}': not a preset (qwen3-4b, tiny) nor an existing config.json", like);
}

void init_random_checkpoint(const InitRandomOptions& options) {
  InitRandomOptions o = options;
  if (o.fp8) {
    o.config.quant.fp8 = true;
    o.config.quant.weight_dtype = o.fp8_dtype;
    o.config.quant.activation_scheme = "dynamic";
  } else {
    o.config.quant = QuantConfig{};
  }
  if (o.fp8_lm_head) {
    if (!o.fp8) {
      QWEN3_THROW(ErrorCode::kInvalidArgument, "--quantize-lm-head needs --dtype fp8 or fp8-e5m2");
    }
  }
  const bool head_from_embedding = o.fp8_lm_head && o.config.tie_word_embeddings;
  if (head_from_embedding) o.config.tie_word_embeddings = false;
  if (o.out_dir.empty()) QWEN3_THROW(ErrorCode::kInvalidArgument, "--out is required");
  if (!o.tokenizer_dir.empty() && !fs::exists(fs::path(o.tokenizer_dir) / "tokenizer.json")) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--tokenizer {}: no tokenizer.json there",
                o.tokenizer_dir);
  }
  write_dir_atomically(o.out_dir, o.force, [&](const std::string& dir) {
    const fs::path tmp(dir);
    write_json(tmp / "config.json", o.config.to_json());
    write_json(tmp / "generation_config.json", default_generation_config(o.config).to_json());
    write_safetensors_shards(dir, tensor_specs(o, head_from_embedding), o.max_shard_bytes);
    if (!o.tokenizer_dir.empty()) copy_tokenizer_files(o.tokenizer_dir, tmp);
  });
}

}  // namespace qwen3
