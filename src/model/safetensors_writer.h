// Writes checkpoints in the exact Hugging Face layout: model.safetensors, or shards
// model-0000i-of-0000N.safetensors plus model.safetensors.index.json.
//
// Tensors are produced one at a time by a fill callback, so a multi-GB checkpoint never
// sits in memory whole. The folder is written under a temporary name and renamed into
// place only when complete: an interrupted write never leaves a half checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace qwen3 {

struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::function<void(uint8_t* dst)> fill;  // writes nbytes() bytes

  uint64_t nbytes() const;
};

// Writes the tensors as one or more safetensors files (split at max_shard_bytes) into
// `dir`, which must already exist. Returns the file names written.
std::vector<std::string> write_safetensors_shards(const std::string& dir,
                                                  const std::vector<TensorSpec>& tensors,
                                                  uint64_t max_shard_bytes);

// Writes one safetensors file.
void write_safetensors_file(const std::string& path, const std::vector<const TensorSpec*>& tensors);

}  // namespace qwen3
