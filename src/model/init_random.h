// `qwen3 init-random`: a complete checkpoint folder of any Qwen3 geometry with random
// weights, in exactly the Hugging Face layout (config.json, generation_config.json,
// safetensors, optional tokenizer files), loadable by transformers unchanged.
#pragma once

#include <cstdint>
#include <string>

#include "model/config.h"

namespace qwen3 {

// "qwen3-4b" (Qwen3-4B-Instruct-2507's published config) or "tiny" (same vocabulary
// and attention layout family, 4 small layers: the embedded default model).
ModelConfig preset_config(const std::string& name);
// A preset name or a path to a config.json.
ModelConfig config_from_like(const std::string& like);

struct InitRandomOptions {
  ModelConfig config;
  bool fp8 = false;  // block-128 E4M3 linears + quantization_config
  DType fp8_dtype = DType::kF8E4M3;
  // With fp8: an FP8 lm_head too, as `qwen3 quantize --quantize-lm-head` writes it (a tied
  // config gets an lm_head of the embedding's draws and tie_word_embeddings false).
  bool fp8_lm_head = false;
  uint64_t seed = 0;
  std::string out_dir;
  std::string tokenizer_dir;  // copies tokenizer files from here when non-empty
  uint64_t max_shard_bytes = 4ull << 30;
  bool force = false;  // replace an existing out_dir
};

void init_random_checkpoint(const InitRandomOptions& options);

// The deterministic normal stream used for tensor `name` (exposed for tests).
void fill_normal(uint64_t seed, const std::string& name, double mean, double stddev, float* out,
                 int64_t n);

}  // namespace qwen3
