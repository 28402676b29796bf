// Safetensors reader: header parsing and validation over a memory-mapped file.
//
// Format: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data section; offsets are relative to its start. Every structural fact is
// validated (bounds, dtype, shape x dtype size == byte length, no overlaps) so that a bad
// file yields one Error naming the file and the tensor, never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"

namespace qwen3 {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // absolute byte offset in the file
  uint64_t nbytes = 0;

  int64_t numel() const;
};

// Largest header the format allows (the reference implementation's limit).
inline constexpr uint64_t kSafetensorsMaxHeader = 100ull << 20;

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // in header order
  std::map<std::string, std::string> metadata;
};

// Parses and validates the header of a complete safetensors file held in `file_bytes`.
// `label` names the file in error messages. Throws Error(kInvalidModel).
SafetensorsHeader parse_safetensors(std::span<const uint8_t> file_bytes, std::string_view label);

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  const TensorInfo* find(std::string_view name) const;
  const uint8_t* data(const TensorInfo& t) const { return file_.bytes().data() + t.offset; }

 private:
  MappedFile file_;
  SafetensorsHeader header_;
  std::map<std::string, size_t, std::less<>> by_name_;
};

}  // namespace qwen3
