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

// One output file and the tensors it holds, in order.
struct ShardPlan {
  std::string file;  // "model.safetensors" or "model-00001-of-00002.safetensors"
  std::vector<const TensorSpec*> tensors;
};

// Writes the planned files into `dir` and, when there is more than one,
// model.safetensors.index.json mapping every tensor to its file.
void write_safetensors_plan(const std::string& dir, const std::vector<ShardPlan>& shards);

// Builds a checkpoint folder: `fill` writes into OUT_DIR.partial, which is renamed to
// OUT_DIR only once fill returns; on a throw the partial folder is removed. An existing
// OUT_DIR is an Error naming --force unless `force`.
void write_dir_atomically(const std::string& out_dir, bool force,
                          const std::function<void(const std::string& tmp_dir)>& fill);

// Writes one safetensors file.
void write_safetensors_file(const std::string& path, const std::vector<const TensorSpec*>& tensors);

}  // namespace qwen3
