#include "fuzz/safetensors_fuzz_target.h"

#include <cstdlib>
#include <span>

#include "core/error.h"
#include "model/safetensors.h"

namespace qwen3::fuzz {

int safetensors_one_input(const uint8_t* data, size_t size) {
  try {
    const auto h = parse_safetensors(std::span<const uint8_t>(data, size), "fuzz");
    for (const auto& t : h.tensors) {
      // Everything the loader relies on after a successful parse.
      if (t.offset + t.nbytes > size || t.offset < 8) std::abort();
      if (static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype) != t.nbytes) std::abort();
    }
    return 1;
  } catch (const Error&) {
    return 0;
  }
}

}  // namespace qwen3::fuzz
