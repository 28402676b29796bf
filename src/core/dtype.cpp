#include "core/dtype.h"

#include <array>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace qwen3 {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr std::array<DTypeInfo, 12> kDTypes = {{
    {DType::kBF16, "BF16", 2},
    {DType::kF16, "F16", 2},
    {DType::kF32, "F32", 4},
    {DType::kF64, "F64", 8},
    {DType::kF8E4M3, "F8_E4M3", 1},
    {DType::kF8E5M2, "F8_E5M2", 1},
    {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},
    {DType::kI16, "I16", 2},
    {DType::kI32, "I32", 4},
    {DType::kI64, "I64", 8},
    {DType::kBool, "BOOL", 1},
}};

const DTypeInfo& info(DType dtype) {
  for (const auto& i : kDTypes) {
    if (i.dtype == dtype) return i;
  }
  QWEN3_THROW(ErrorCode::kInternal, "unknown dtype {}", static_cast<int>(dtype));
}

// Decodes a sign/exponent/mantissa byte with the given field widths.
float decode_minifloat(uint8_t b, int exp_bits, int man_bits, bool ieee_specials) {
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int sign = b >> 7;
  const int e = (b >> man_bits) & ((1 << exp_bits) - 1);
  const int m = b & ((1 << man_bits) - 1);
  const int e_max = (1 << exp_bits) - 1;
  float v;
  if (ieee_specials && e == e_max) {
    v = m == 0 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
  } else if (!ieee_specials && e == e_max && m == (1 << man_bits) - 1) {
    v = std::numeric_limits<float>::quiet_NaN();  // e4m3fn: only S.1111.111 is NaN
  } else if (e == 0) {
    v = std::ldexp(static_cast<float>(m), 1 - bias - man_bits);
  } else {
    v = std::ldexp(static_cast<float>(m + (1 << man_bits)), e - bias - man_bits);
  }
  return sign ? -v : v;
}

template <int ExpBits, int ManBits, bool Ieee>
struct MiniFloatTable {
  std::array<float, 256> values{};
  uint8_t max_code = 0;  // largest finite positive code
  MiniFloatTable() {
    for (int b = 0; b < 256; ++b)
      values[b] = decode_minifloat(static_cast<uint8_t>(b), ExpBits, ManBits, Ieee);
    for (int b = 0; b < 128; ++b) {
      if (std::isfinite(values[b])) max_code = static_cast<uint8_t>(b);
    }
  }
  // Round to nearest, ties to even code; saturate to +-max; NaN -> canonical NaN.
  uint8_t encode(float f) const {
    if (std::isnan(f)) return 0x7f;
    const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
    const double a = std::fabs(static_cast<double>(f));
    if (a >= values[max_code]) return sign | max_code;
    int lo = 0, hi = max_code;  // values[lo] <= a < values[hi]
    while (hi - lo > 1) {
      const int mid = (lo + hi) / 2;
      if (values[mid] <= a)
        lo = mid;
      else
        hi = mid;
    }
    const double d_lo = a - values[lo];
    const double d_hi = values[hi] - a;
    int code = lo;
    if (d_hi < d_lo || (d_hi == d_lo && (hi & 1) == 0)) code = hi;
    return static_cast<uint8_t>(sign | code);
  }
};

const MiniFloatTable<4, 3, false>& e4m3() {
  static const MiniFloatTable<4, 3, false> t;
  return t;
}
const MiniFloatTable<5, 2, true>& e5m2() {
  static const MiniFloatTable<5, 2, true> t;
  return t;
}

}  // namespace

size_t dtype_size(DType dtype) { return info(dtype).size; }
std::string_view dtype_name(DType dtype) { return info(dtype).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& i : kDTypes) {
    if (i.name == name) return i.dtype;
  }
  return std::nullopt;
}

bool dtype_is_fp8(DType dtype) { return dtype == DType::kF8E4M3 || dtype == DType::kF8E5M2; }

float f16_to_f32(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1u;
  const int e = (h >> 10) & 0x1f;
  const uint32_t m = h & 0x3ffu;
  float v;
  if (e == 0x1f) {
    v = m ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else if (e == 0) {
    v = std::ldexp(static_cast<float>(m), -24);
  } else {
    v = std::ldexp(static_cast<float>(m | 0x400u), e - 25);
  }
  return sign ? -v : v;
}

uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00;   // NaN
  if (a >= 0x477ff000u) return sign | 0x7c00;  // rounds to >= 65536 -> inf
  if (a < 0x38800000u) {                       // subnormal or zero in f16
    // Scale so the f16 subnormal unit (2^-24) becomes 1, then round to even.
    const float scaled = std::fabs(f) * 16777216.0f;
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u);  // round mantissa to 10 bits, ties to even
  r -= 0x38000000u;                            // rebias exponent 127 -> 15
  return sign | static_cast<uint16_t>(r >> 13);
}

const float* fp8_e4m3_table() { return e4m3().values.data(); }
const float* fp8_e5m2_table() { return e5m2().values.data(); }
uint8_t f32_to_fp8_e4m3(float f) { return e4m3().encode(f); }
uint8_t f32_to_fp8_e5m2(float f) { return e5m2().encode(f); }

float fp8_max(DType dtype) {
  switch (dtype) {
    case DType::kF8E4M3:
      return e4m3().values[e4m3().max_code];
    case DType::kF8E5M2:
      return e5m2().values[e5m2().max_code];
    default:
      QWEN3_THROW(ErrorCode::kInternal, "fp8_max of non-fp8 dtype {}", dtype_name(dtype));
  }
}

float load_as_f32(const void* data, DType dtype, size_t i) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  switch (dtype) {
    case DType::kBF16: {
      uint16_t v;
      std::memcpy(&v, bytes + 2 * i, 2);
      return bf16_to_f32(v);
    }
    case DType::kF16: {
      uint16_t v;
      std::memcpy(&v, bytes + 2 * i, 2);
      return f16_to_f32(v);
    }
    case DType::kF32: {
      float v;
      std::memcpy(&v, bytes + 4 * i, 4);
      return v;
    }
    case DType::kF64: {
      double v;
      std::memcpy(&v, bytes + 8 * i, 8);
      return static_cast<float>(v);
    }
    case DType::kF8E4M3:
      return fp8_e4m3_to_f32(bytes[i]);
    case DType::kF8E5M2:
      return fp8_e5m2_to_f32(bytes[i]);
    default:
      QWEN3_THROW(ErrorCode::kUnsupported, "dtype {} is not a floating-point type",
                  dtype_name(dtype));
  }
}

}  // namespace qwen3
