#include "model/safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace qwen3 {
namespace {

using nlohmann::json;

// nlohmann's parser recurses per nesting level; a hostile header of 100 MB of '['
// would overflow the stack. Real headers nest 3 deep.
constexpr int kMaxJsonDepth = 32;

bool json_depth_ok(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t get_u64(const json& v, std::string_view label, const std::string& tensor,
                 const char* field) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensor '{}': {} must hold non-negative integers",
                label, tensor, field);
  }
  return v.get<uint64_t>();
}

TensorInfo parse_entry(const std::string& name, const json& entry, std::string_view label,
                       uint64_t data_begin, uint64_t data_size) {
  if (!entry.is_object()) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensor '{}': entry is not an object", label, name);
  }
  TensorInfo t;
  t.name = name;
  const auto dt = entry.find("dtype");
  if (dt == entry.end() || !dt->is_string()) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensor '{}': missing string field 'dtype'", label,
                name);
  }
  const auto dtype = dtype_from_name(dt->get<std::string>());
  if (!dtype) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensor '{}': unsupported dtype '{}'", label, name,
                dt->get<std::string>());
  }
  t.dtype = *dtype;

  const auto sh = entry.find("shape");
  if (sh == entry.end() || !sh->is_array() || sh->size() > 8) {
    QWEN3_THROW(ErrorCode::kInvalidModel,
                "{}: tensor '{}': 'shape' must be an array of at most 8 dims", label, name);
  }
  uint64_t numel = 1;
  for (const auto& d : *sh) {
    const uint64_t dim = get_u64(d, label, name, "shape");
    if (dim > (1ull << 40)) {
      QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensor '{}': dimension {} is implausibly large",
                  label, name, dim);
    }
    t.shape.push_back(static_cast<int64_t>(dim));
    if (__builtin_mul_overflow(numel, dim, &numel) || numel > (1ull << 60)) {
      QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensor '{}': element count overflows", label,
                  name);
    }
  }

  const auto off = entry.find("data_offsets");
  if (off == entry.end() || !off->is_array() || off->size() != 2) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensor '{}': 'data_offsets' must be [begin, end]",
                label, name);
  }
  const uint64_t begin = get_u64((*off)[0], label, name, "data_offsets");
  const uint64_t end = get_u64((*off)[1], label, name, "data_offsets");
  if (begin > end) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensor '{}': data_offsets [{}, {}] are reversed",
                label, name, begin, end);
  }
  const uint64_t expected = numel * dtype_size(t.dtype);  // <= 2^63: numel <= 2^60, size <= 8
  if (expected != end - begin) {
    QWEN3_THROW(ErrorCode::kInvalidModel,
                "{}: tensor '{}': shape {} x {} needs {} bytes but data_offsets span {}", label,
                name, fmt::format("[{}]", fmt::join(t.shape, ", ")), dtype_name(t.dtype), expected,
                end - begin);
  }
  if (end > data_size) {
    QWEN3_THROW(ErrorCode::kInvalidModel,
                "{}: tensor '{}': data ends at byte {} but the file's data section has only {} "
                "(truncated file?)",
                label, name, end, data_size);
  }
  t.offset = data_begin + begin;
  t.nbytes = end - begin;
  return t;
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsHeader parse_safetensors(std::span<const uint8_t> bytes, std::string_view label) {
  if (bytes.size() < 8) {
    QWEN3_THROW(ErrorCode::kInvalidModel,
                "{}: file is {} bytes, too short for a safetensors header", label, bytes.size());
  }
  const uint64_t header_len = read_u64_le(bytes.data());
  if (header_len > kSafetensorsMaxHeader) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: header length {} exceeds the {}-byte limit", label,
                header_len, kSafetensorsMaxHeader);
  }
  if (header_len > bytes.size() - 8) {
    QWEN3_THROW(ErrorCode::kInvalidModel,
                "{}: header length {} runs past the end of the {}-byte file (truncated file?)",
                label, header_len, bytes.size());
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
  if (!json_depth_ok(text)) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: header JSON nests deeper than {} levels", label,
                kMaxJsonDepth);
  }
  const json root = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: header is not a valid JSON object", label);
  }

  const uint64_t data_begin = 8 + header_len;
  const uint64_t data_size = bytes.size() - data_begin;
  SafetensorsHeader out;
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) {
        QWEN3_THROW(ErrorCode::kInvalidModel, "{}: __metadata__ is not an object", label);
      }
      for (const auto& [mk, mv] : value.items()) {
        if (mv.is_string()) out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    out.tensors.push_back(parse_entry(key, value, label, data_begin, data_size));
  }

  std::vector<const TensorInfo*> order;
  for (const auto& t : out.tensors) {
    if (t.nbytes > 0) order.push_back(&t);
  }
  std::sort(order.begin(), order.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i]->offset < order[i - 1]->offset + order[i - 1]->nbytes) {
      QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensors '{}' and '{}' overlap in the data section",
                  label, order[i - 1]->name, order[i]->name);
    }
  }
  return out;
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : file_(path), header_(parse_safetensors(file_.bytes(), path)) {
  for (size_t i = 0; i < header_.tensors.size(); ++i) by_name_[header_.tensors[i].name] = i;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &header_.tensors[it->second];
}

}  // namespace qwen3
