// Helpers of the CUDA tests: skipping without a GPU, random data, host <-> device copies,
// and the relative-error measure the tests state their tolerances in.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_buffer.h"
#include "core/dtype.h"

namespace qwen3::cuda::test {

#define QWEN3_SKIP_WITHOUT_GPU()                                          \
  do {                                                                    \
    if (!::qwen3::cuda::cuda_device_available()) GTEST_SKIP() << "no GPU"; \
  } while (0)

inline std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) {
    x = dist(rng);
    if (x == 0.0f) x = scale * 1e-3f;  // never zeros: they hide unwritten outputs
  }
  return v;
}

// Rounds to BF16 values (kept as float) and returns the BF16 bits.
inline std::vector<uint16_t> to_bf16(std::vector<float>& v) {
  std::vector<uint16_t> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    b[i] = f32_to_bf16(v[i]);
    v[i] = bf16_to_f32(b[i]);
  }
  return b;
}

template <typename T>
DeviceBuffer to_device(const std::vector<T>& v) {
  DeviceBuffer d(std::max<size_t>(v.size() * sizeof(T), 16), "test input");
  QWEN3_CUDA_CHECK(cudaMemcpy(d.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

// A device buffer of n T's filled with 0xff bytes (NaN for floats): outputs the kernel
// fails to write show up.
template <typename T>
DeviceBuffer poisoned(size_t n) {
  DeviceBuffer d(std::max<size_t>(n * sizeof(T), 16), "test output");
  QWEN3_CUDA_CHECK(cudaMemset(d.get(), 0xff, n * sizeof(T)));
  return d;
}

template <typename T>
std::vector<T> to_host(const DeviceBuffer& d, size_t n) {
  QWEN3_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<T> v(n);
  QWEN3_CUDA_CHECK(cudaMemcpy(v.data(), d.get(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

// ||out - ref|| / ||ref|| (NaN in out gives NaN, which fails every `<` check).
inline double rel_error(const std::vector<float>& out, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(out[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

inline double rel_error(const std::vector<float>& out, const std::vector<float>& ref) {
  return rel_error(out, std::vector<double>(ref.begin(), ref.end()));
}

// y[m, n] = sum_k term(W[n, k] * x[m, k]) in float64 (W row-major [n_out, k], x [rows, k]).
template <typename Term>
std::vector<double> linear_sum_ref(const std::vector<float>& w, const std::vector<float>& x,
                                   int64_t rows, int64_t n_out, int64_t k, Term term) {
  std::vector<double> y(rows * n_out);
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t n = 0; n < n_out; ++n) {
      double s = 0;
      for (int64_t i = 0; i < k; ++i) s += term(static_cast<double>(w[n * k + i]) * x[m * k + i]);
      y[m * n_out + n] = s;
    }
  return y;
}

// y = x W^T in float64.
inline std::vector<double> linear_ref(const std::vector<float>& w, const std::vector<float>& x,
                                      int64_t rows, int64_t n_out, int64_t k) {
  return linear_sum_ref(w, x, rows, n_out, k, [](double p) { return p; });
}

// sum_k |W[n, k] x[m, k]| in float64: the scale of a tensor-core product's error.
inline std::vector<double> linear_abs_ref(const std::vector<float>& w, const std::vector<float>& x,
                                          int64_t rows, int64_t n_out, int64_t k) {
  return linear_sum_ref(w, x, rows, n_out, k, [](double p) { return std::abs(p); });
}

// Count of outputs outside |out - ref| <= tol * absdot + 1e-6 * |ref| (the second term:
// a kAddTo epilogue's float32 add).
inline size_t count_outside_abs_dot(const std::vector<float>& out, const std::vector<double>& ref,
                                    const std::vector<double>& absdot, double tol) {
  size_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    bad += !(std::abs(out[i] - ref[i]) <= tol * absdot[i] + 1e-6 * std::abs(ref[i]));
  return bad;
}

// x quantized as the FP8 GEMM's activations and the pipelined FP8 GEMV's x
// (fp8_act_quant.cuh), back in float: per row and 128-wide group, scale = max|x| / 448,
// value = e4m3(x / scale) * scale.
inline std::vector<float> act_quant_ref(const std::vector<float>& x, int64_t rows, int64_t k) {
  std::vector<float> q(x.size());
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t g = 0; g < k; g += 128) {
      const float* v = x.data() + m * k + g;
      float amax = 0.0f;
      for (int i = 0; i < 128; ++i) amax = std::max(amax, std::abs(v[i]));
      const float scale = amax > 0.0f ? amax / 448.0f : 1.0f;
      for (int i = 0; i < 128; ++i)
        q[m * k + g + i] = fp8_e4m3_to_f32(f32_to_fp8_e4m3(v[i] / scale)) * scale;
    }
  return q;
}

}  // namespace qwen3::cuda::test
