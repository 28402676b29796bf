// The pipelined one-row GEMV (kernels/gemv_pipe.cu) at every tiling, one check shared by
// its FP8 and BF16 tests: k-slices 1-8 x k-parts per tensor-core tile 1-8, with the
// RMSNorm prologue (the sum of squares given, or reduced by the block itself) and every
// epilogue (store; add to a residual + the new row's sum of squares; SiLU pairs), against
// float64 products of the weights the kernel sees and the CPU RMSNorm (quantized as the
// FP8 kernel quantizes x, act_quant_ref).
#pragma once

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "backends/cpu/cpu_ops.h"
#include "backends/cuda/kernels/gemv.h"
#include "cuda/cuda_test_util.h"

namespace qwen3::cuda::test {

struct PipeGemvCase {
  std::string name;
  GemvParams weights;        // the weight fields (w, or w_fp8 + scales) and n_out, k
  std::vector<float> dense;  // [n_out, k]: the weights as the kernel multiplies them
  void (*launch)(const GemvParams&, cudaStream_t);
  double tol;                // L2 relative error of every output
  double abs_dot_tol = 0.0;  // > 0: also |y - ref| <= abs_dot_tol * sum_k |w x| per element
  bool quantize_x = false;   // the kernel multiplies x quantized to E4M3 per 128 columns
};

inline void expect_pipe_gemv_every_tiling(const PipeGemvCase& c, uint64_t seed) {
  const int64_t n_out = c.weights.n_out, k = c.weights.k;
  const auto x = random_floats(k, seed), nw = random_floats(k, seed + 1);
  const auto r0 = random_floats(n_out, seed + 2);
  std::vector<float> xn(k);
  cpu::rms_norm(x.data(), nw.data(), 1, k, 1e-6, xn.data());
  const auto xk = c.quantize_x ? act_quant_ref(xn, 1, k) : xn;
  const auto ref = linear_ref(c.dense, xk, 1, n_out, k);
  const auto absdot = linear_abs_ref(c.dense, xk, 1, n_out, k);
  std::vector<double> ref_add(ref.size()), ref_act(ref.size() / 2);
  double ss_ref = 0.0, ss_x = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    ref_add[i] = ref[i] + r0[i];
    ss_ref += ref_add[i] * ref_add[i];
  }
  for (size_t i = 0; i < ref_act.size(); ++i)
    ref_act[i] = ref[2 * i] / (1.0 + std::exp(-ref[2 * i])) * ref[2 * i + 1];
  for (const float v : x) ss_x += static_cast<double>(v) * v;
  auto d_x = to_device(x);
  auto d_nw = to_device(nw);
  auto d_ssx = to_device(std::vector<float>(1, static_cast<float>(ss_x)));
  for (int ks = 1; ks <= 8; ks *= 2)
    for (int parts = 1; parts <= 8; parts *= 2)
      for (const bool own_sum : {false, true}) {
        const std::string where =
            fmt::format("{} ks {} parts {} own_sum {}", c.name, ks, parts, own_sum);
        auto d_y = poisoned<float>(n_out);
        GemvParams p = c.weights;
        p.x = d_x.as<float>();
        p.y = d_y.as<float>();
        p.rows = 1;
        p.k_split = ks;
        p.pipe_parts = parts;
        p.norm_weight = d_nw.as<float>();
        p.norm_eps = 1e-6f;
        p.norm_sum_squares = own_sum ? nullptr : d_ssx.as<float>();
        c.launch(p, nullptr);
        const auto y = to_host<float>(d_y, n_out);
        EXPECT_LT(rel_error(y, ref), c.tol) << where;
        if (c.abs_dot_tol > 0) {
          EXPECT_EQ(count_outside_abs_dot(y, ref, absdot, c.abs_dot_tol), 0u) << where;
        }
        auto d_r = to_device(r0);
        auto d_ss = to_device(std::vector<float>(1, 0.0f));
        p.y = d_r.as<float>();
        p.epilogue = GemvEpilogue::kAddTo;
        p.sum_squares_out = d_ss.as<float>();
        c.launch(p, nullptr);
        const auto y_add = to_host<float>(d_r, n_out);
        EXPECT_LT(rel_error(y_add, ref_add), c.tol) << where << " add";
        if (c.abs_dot_tol > 0) {
          EXPECT_EQ(count_outside_abs_dot(y_add, ref_add, absdot, c.abs_dot_tol), 0u)
              << where << " add";
        }
        EXPECT_LT(rel_error(to_host<float>(d_ss, 1), std::vector<double>{ss_ref}), c.tol)
            << where << " sum of squares";
        auto d_a = poisoned<float>(n_out / 2);
        p.y = d_a.as<float>();
        p.epilogue = GemvEpilogue::kSiluPairs;
        p.sum_squares_out = nullptr;
        c.launch(p, nullptr);
        EXPECT_LT(rel_error(to_host<float>(d_a, n_out / 2), ref_act), c.tol) << where << " silu";
      }
}

}  // namespace qwen3::cuda::test
