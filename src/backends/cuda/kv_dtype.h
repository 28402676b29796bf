// Element type of the GPU KV cache: BF16 (the default, half the memory) or float32
// (bit-closer to the CPU reference; used by the HF-fixture tests).
#pragma once

#include <cstdint>

namespace qwen3::cuda {

enum class KvDtype { kBF16, kF32 };

inline int64_t kv_dtype_size(KvDtype d) { return d == KvDtype::kBF16 ? 2 : 4; }
inline const char* kv_dtype_name(KvDtype d) { return d == KvDtype::kBF16 ? "bf16" : "f32"; }

}  // namespace qwen3::cuda
