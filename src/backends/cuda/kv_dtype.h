// Element type of the GPU KV cache: BF16 (the default, half the memory of float32),
// float32 (bit-closer to the CPU reference; used by the HF-fixture tests) or FP8 E4M3
// (`--kv-cache-dtype fp8`, half of BF16). An FP8 pool stores round_to_e4m3(x / scale)
// (saturated to +-448) with one float scale per layer for K and one for V (vLLM's
// k_scale / v_scale, 1.0 unless calibrated) and reads fp8 * scale.
#pragma once

#include <cstdint>

namespace qwen3::cuda {

enum class KvDtype { kBF16, kF32, kFp8E4M3 };

inline int64_t kv_dtype_size(KvDtype d) {
  switch (d) {
    case KvDtype::kBF16: return 2;
    case KvDtype::kF32: return 4;
    case KvDtype::kFp8E4M3: return 1;
  }
  return 4;
}

inline const char* kv_dtype_name(KvDtype d) {
  switch (d) {
    case KvDtype::kBF16: return "bf16";
    case KvDtype::kF32: return "f32";
    case KvDtype::kFp8E4M3: return "fp8_e4m3";
  }
  return "?";
}

}  // namespace qwen3::cuda
