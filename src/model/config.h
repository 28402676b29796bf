// Qwen3 config.json and generation_config.json, as Hugging Face publishes them.
//
// Both spellings of RoPE settings are accepted: the published `rope_theta` +
// `rope_scaling` and the newer `rope_parameters` object written by transformers 5.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace qwen3 {

enum class RopeType { kDefault, kLinear, kYarn };

struct RopeConfig {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;  // 0: not given
  std::optional<double> attention_factor;
  std::optional<double> mscale;
  std::optional<double> mscale_all_dim;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  bool truncate = true;
};

// Block-scaled FP8 weights (quant_method "fp8", as in Qwen3-*-FP8 checkpoints).
struct QuantConfig {
  bool fp8 = false;
  DType weight_dtype = DType::kF8E4M3;  // from "fmt": e4m3 | e5m2
  int64_t block_out = 128;              // weight_block_size[0]
  int64_t block_in = 128;               // weight_block_size[1]
  std::string activation_scheme = "dynamic";
  std::vector<std::string> modules_to_not_convert;

  // True when `module` (e.g. "model.layers.0.mlp.down_proj") stays unquantized.
  bool skips(const std::string& module) const;
};

struct ModelConfig {
  std::string model_type = "qwen3";
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  RopeConfig rope;
  bool tie_word_embeddings = false;
  DType dtype = DType::kBF16;  // torch_dtype / dtype
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  bool use_sliding_window = false;
  std::optional<int64_t> sliding_window;
  int64_t max_window_layers = 0;
  double initializer_range = 0.02;
  QuantConfig quant;

  // Parses and validates; `label` (a file path) prefixes every error message.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& label);
  static ModelConfig load(const std::string& model_dir);  // DIR/config.json
  // The config.json a Hugging Face export of this model would carry.
  nlohmann::json to_json() const;

  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  // K and V of every layer for one token.
  int64_t kv_cache_bytes_per_token(DType kv_dtype) const {
    return 2 * num_hidden_layers * kv_dim() * static_cast<int64_t>(dtype_size(kv_dtype));
  }
};

struct GenerationConfig {
  bool do_sample = false;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;
  double repetition_penalty = 1.0;
  std::vector<int64_t> eos_token_ids;
  int64_t bos_token_id = -1;
  int64_t pad_token_id = -1;

  // Missing file -> defaults (greedy). Malformed file -> Error naming it.
  static GenerationConfig load(const std::string& model_dir);
  static GenerationConfig from_json(const nlohmann::json& j, const std::string& label);
  nlohmann::json to_json() const;
};

nlohmann::json read_json_file(const std::string& path);

}  // namespace qwen3
