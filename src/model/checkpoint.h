// A Hugging Face model folder's tensors: one model.safetensors, or shards listed by
// model.safetensors.index.json. Tensors are looked up by name across shards.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/safetensors.h"

namespace qwen3 {

// A tensor inside a mapped shard; valid while its Checkpoint lives.
struct TensorRef {
  const TensorInfo* info = nullptr;
  const uint8_t* data = nullptr;
  const std::string* file = nullptr;  // shard path, for error messages
};

class Checkpoint {
 public:
  // Opens every shard of the folder and validates the index against the shards.
  explicit Checkpoint(const std::string& dir);

  const std::string& dir() const { return dir_; }
  bool contains(std::string_view name) const { return tensors_.contains(name); }
  // Throws Error(kInvalidModel) naming the folder when the tensor is missing.
  TensorRef get(std::string_view name) const;
  std::vector<std::string> names() const;
  size_t total_bytes() const;

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, TensorRef, std::less<>> tensors_;
};

}  // namespace qwen3
