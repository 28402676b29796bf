// Element types found in Hugging Face checkpoints, and scalar conversions.
//
// Conversions are exact where the format allows it; float -> narrower formats
// round to nearest, ties to even. FP8 encodes saturate to the largest finite value
// (quantizers scale into range first; saturation only guards rounding at the edge).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace qwen3 {

enum class DType : uint8_t {
  kBF16,
  kF16,
  kF32,
  kF64,
  kF8E4M3,  // e4m3fn: bias 7, no infinities, max 448
  kF8E5M2,  // IEEE-like: bias 15, max 57344
  kI8,
  kU8,
  kI16,
  kI32,
  kI64,
  kBool,
};

size_t dtype_size(DType dtype);
// Safetensors spelling: "BF16", "F8_E4M3", ...
std::string_view dtype_name(DType dtype);
std::optional<DType> dtype_from_name(std::string_view name);
bool dtype_is_fp8(DType dtype);

inline float bf16_to_f32(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t bits);
uint16_t f32_to_f16(float f);

// 256-entry decode tables (index = byte). NaN codes decode to NaN.
const float* fp8_e4m3_table();
const float* fp8_e5m2_table();
inline float fp8_e4m3_to_f32(uint8_t b) { return fp8_e4m3_table()[b]; }
inline float fp8_e5m2_to_f32(uint8_t b) { return fp8_e5m2_table()[b]; }
uint8_t f32_to_fp8_e4m3(float f);
uint8_t f32_to_fp8_e5m2(float f);
float fp8_max(DType dtype);

// Reads element i of a buffer of `dtype` as float (floating types only).
float load_as_f32(const void* data, DType dtype, size_t i);

}  // namespace qwen3
