// FP8 weights on the GPU: the FP8 GEMV (tensor-core and CUDA-core kernels) against a
// float64 reference built from the CPU dequantization (WeightMatrix::row_to_f32), the FP8 -> BF16 dequantization bit-exact
// against the CPU's, LinearContext's FP8 paths (GEMV, dequantize + cuBLAS), and the
// upload layout (FP8 bytes kept, per-tile scales expanded per fused row). Random weight
// bytes cover every finite code (subnormals included); shapes include partial last
// scale blocks in both directions.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "backends/cpu/cpu_ops.h"
#include "backends/cuda/cuda_weights.h"
#include "backends/cuda/kernels/gemv_fp8.h"
#include "backends/cuda/kernels/gemv_pipe.h"
#include "backends/cuda/kernels/linear.h"
#include "cuda/cuda_test_util.h"
#include "cuda/gemv_pipe_check.h"
#include "model/fixture.h"
#include "model/weights.h"

namespace qwen3::cuda::test {
namespace {

bool fp8_finite(uint8_t b, DType dtype) {
  return dtype == DType::kF8E4M3 ? (b & 0x7f) != 0x7f : (b & 0x7c) != 0x7c;
}

bool fp8_subnormal(uint8_t b, DType dtype) {
  const int exp_mask = dtype == DType::kF8E4M3 ? 0x78 : 0x7c;
  return (b & exp_mask) == 0 && (b & 0x7f) != 0;
}

// A random FP8 matrix as the CPU backend sees it (block 128 x 128 tile scales) and the
// device copy of its bytes and per-row scales.
struct Fp8Matrix {
  std::vector<uint8_t> bytes;
  WeightMatrix host;              // points into bytes
  std::vector<float> row_scales;  // [rows, scale_cols]
  std::vector<float> dense;       // [rows, cols] dequantized by the CPU
  DeviceBuffer d_bytes;
  DeviceBuffer d_scales;
  DeviceBuffer d_lt_scales;  // row_scales transposed (DeviceMatrix::lt_scales)

  // subnormal_only: every weight a nonzero subnormal code (a kernel that flushes them
  // to zero returns zeros).
  Fp8Matrix(int64_t rows, int64_t cols, DType dtype, uint64_t seed, bool subnormal_only = false) {
    std::mt19937_64 rng(seed);
    bytes.resize(static_cast<size_t>(rows * cols));
    for (size_t i = 0; i < bytes.size(); ++i) {
      auto b = static_cast<uint8_t>(i < 256 ? i : rng() & 0xff);  // every code first
      while (!fp8_finite(b, dtype) || (subnormal_only && !fp8_subnormal(b, dtype)))
        b = static_cast<uint8_t>(rng() & 0xff);
      bytes[i] = b;
    }
    host.name = "test";
    host.dtype = dtype;
    host.rows = rows;
    host.cols = cols;
    host.data = bytes.data();
    host.block_out = 128;
    host.block_in = 128;
    const int64_t srows = (rows + 127) / 128, scols = host.scale_cols();
    std::uniform_real_distribution<float> u(0.25f, 4.0f);
    host.scale_inv.resize(static_cast<size_t>(srows * scols));
    // Small scales so E5M2's large codes stay in a float-friendly range.
    const float base = dtype == DType::kF8E4M3 ? 1e-2f : 1e-4f;
    for (auto& s : host.scale_inv) s = base * u(rng);
    row_scales.resize(static_cast<size_t>(rows * scols));
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(host.scale_inv.data() + (r / 128) * scols, scols,
                  row_scales.data() + r * scols);
    dense.resize(bytes.size());
    for (int64_t r = 0; r < rows; ++r) host.row_to_f32(r, dense.data() + r * cols);
    d_bytes = to_device(bytes);
    d_scales = to_device(row_scales);
    std::vector<float> lt(row_scales.size());  // [scols, rows], as CudaWeights lays it out
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < scols; ++j) lt[j * rows + r] = row_scales[r * scols + j];
    d_lt_scales = to_device(lt);
  }

  DeviceMatrix device() const {
    return {.rows = host.rows,
            .cols = host.cols,
            .dtype = host.dtype,
            .fp8 = d_bytes.as<uint8_t>(),
            .row_scales = d_scales.as<float>(),
            .block_in = host.block_in};
  }
  // With the block-scaled FP8 GEMM's scales (E4M3, cols % 128 == 0).
  DeviceMatrix device_lt() const {
    DeviceMatrix d = device();
    d.lt_scales = d_lt_scales.as<float>();
    return d;
  }
  // The one-row GEMVs' parameters (launch_gemv_fp8_stream / launch_gemv_fp8_pipe).
  GemvParams one_row_params(const float* x, float* y) const {
    GemvParams p{.w = nullptr, .x = x, .y = y, .n_out = host.rows, .k = host.cols, .rows = 1};
    p.w_fp8 = d_bytes.as<uint8_t>();
    p.row_scales = d_scales.as<float>();
    p.scale_cols = host.scale_cols();
    p.block_in = static_cast<int>(host.block_in);
    p.e5m2 = host.dtype == DType::kF8E5M2;
    return p;
  }
  GemvFp8Params params(const float* x, float* y, int rows) const {
    return {.w = d_bytes.as<uint8_t>(),
            .row_scales = d_scales.as<float>(),
            .x = x,
            .y = y,
            .n_out = host.rows,
            .k = host.cols,
            .scale_cols = host.scale_cols(),
            .block_in = static_cast<int>(host.block_in),
            .dtype = host.dtype,
            .rows = rows};
  }
};

// Tolerances of the FP8 GEMV. kSimt: float32 products of exact weights, 1e-5 relative
// (L2 over the output). kMma rounds x to f16 (unit roundoff u = 2^-11) and accumulates
// in float32, so each output is off by at most u * sum_k |w x| (+ float32 rounding,
// ~k * 2^-24 relative, negligible): checked per element at 2u, plus the L2 relative
// error, expected ~u / sqrt(3) ~ 3e-4 for random data, below 1e-3. The SiLU-pairs
// output gets the L2 check only.
constexpr double kSimtRelTol = 1e-5;
constexpr double kMmaRelTol = 1e-3;
constexpr double kMmaAbsDotTol = 0x1p-10;

std::vector<double> silu_pairs_ref(const std::vector<double>& y, int64_t rows, int64_t n_out) {
  std::vector<double> a(rows * n_out / 2);
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t i = 0; i < n_out / 2; ++i) {
      const double g = y[m * n_out + 2 * i], u = y[m * n_out + 2 * i + 1];
      a[m * n_out / 2 + i] = g / (1.0 + std::exp(-g)) * u;
    }
  return a;
}

struct Fp8Case {
  DType dtype;
  int64_t n_out, k;
};

class Fp8Gemv : public ::testing::TestWithParam<Fp8Case> {};

// Every epilogue for 1..8 activation rows, every kernel (kAuto: kSimt for one row, or
// kPipe where chosen; kMma for more at block_in 128), the launcher's tiling and forced
// ones. kPipe multiplies x quantized to E4M3 per 128 columns: its reference does too.
TEST_P(Fp8Gemv, MatchesCpuDequantReference) {
  QWEN3_SKIP_WITHOUT_GPU();
  const Fp8Case c = GetParam();
  const Fp8Matrix w(c.n_out, c.k, c.dtype, 11);
  struct Tiling {
    int rows_per_warp, k_split;
  };
  const std::vector<Tiling> tilings = {{0, 0}, {1, 1}, {2, 8}, {4, 2}, {1, 8}};
  for (int rows = 1; rows <= kGemvMaxRows; ++rows) {
    const auto x = random_floats(rows * c.k, 20 + rows);
    const auto ref_x = linear_ref(w.dense, x, rows, c.n_out, c.k);
    const auto absdot_x = linear_abs_ref(w.dense, x, rows, c.n_out, c.k);
    auto d_x = to_device(x);
    const bool pipe_fits = gemv_fp8_pipe_supports(rows, c.k, 128);
    const auto xq = pipe_fits ? act_quant_ref(x, rows, c.k) : x;
    const auto ref_q = linear_ref(w.dense, xq, rows, c.n_out, c.k);
    const auto absdot_q = linear_abs_ref(w.dense, xq, rows, c.n_out, c.k);
    for (const GemvFp8Kernel kernel : {GemvFp8Kernel::kAuto, GemvFp8Kernel::kMma,
                                       GemvFp8Kernel::kSimt, GemvFp8Kernel::kPipe}) {
      if (kernel == GemvFp8Kernel::kPipe && !pipe_fits) continue;
      for (const Tiling t : tilings) {
        // kAuto: kPipe for one row where chosen, unless rows_per_warp forces kSimt.
        const bool pipe = kernel == GemvFp8Kernel::kPipe ||
                          (kernel == GemvFp8Kernel::kAuto && t.rows_per_warp == 0 &&
                           gemv_fp8_pipe_chosen(rows, c.k, 128));
        const bool mma = pipe || kernel == GemvFp8Kernel::kMma ||
                         (kernel == GemvFp8Kernel::kAuto && !gemv_fp8_takes_stream(rows, 128));
        const double tol = mma ? kMmaRelTol : kSimtRelTol;
        const auto& ref = pipe ? ref_q : ref_x;
        const auto& absdot = pipe ? absdot_q : absdot_x;
        const std::string where =
            fmt::format("{} {}x{} rows {} kernel {} rpw {} split {}", dtype_name(c.dtype),
                        c.n_out, c.k, rows, static_cast<int>(kernel), t.rows_per_warp,
                        t.k_split);
        // Store.
        auto d_y = poisoned<float>(rows * c.n_out);
        GemvFp8Params p = w.params(d_x.as<float>(), d_y.as<float>(), rows);
        p.rows_per_warp = t.rows_per_warp;
        p.k_split = t.k_split;
        p.kernel = kernel;
        if (kernel == GemvFp8Kernel::kPipe) {  // rows_per_warp's values as k-parts per tile
          p.rows_per_warp = 0;
          p.pipe_parts = t.rows_per_warp;
        }
        launch_gemv_fp8(p, nullptr);
        const auto y = to_host<float>(d_y, rows * c.n_out);
        EXPECT_LT(rel_error(y, ref), tol) << where;
        if (mma) {
          EXPECT_EQ(count_outside_abs_dot(y, ref, absdot, kMmaAbsDotTol), 0u) << where;
        }
        // Add to a residual.
        const auto r0 = random_floats(rows * c.n_out, 40 + rows);
        std::vector<double> ref_add(ref.size());
        for (size_t i = 0; i < ref.size(); ++i) ref_add[i] = ref[i] + r0[i];
        auto d_r = to_device(r0);
        p.y = d_r.as<float>();
        p.epilogue = GemvEpilogue::kAddTo;
        launch_gemv_fp8(p, nullptr);
        const auto y_add = to_host<float>(d_r, rows * c.n_out);
        EXPECT_LT(rel_error(y_add, ref_add), tol) << where;
        if (mma) {
          EXPECT_EQ(count_outside_abs_dot(y_add, ref_add, absdot, kMmaAbsDotTol), 0u) << where;
        }
        // SiLU pairs (kSimt: not for one row per warp with all 8 warps on one row: odd
        // rows per block).
        if (c.n_out % 2 == 0 && (mma || !(t.rows_per_warp == 1 && t.k_split == 8))) {
          auto d_a = poisoned<float>(rows * c.n_out / 2);
          p.y = d_a.as<float>();
          p.epilogue = GemvEpilogue::kSiluPairs;
          launch_gemv_fp8(p, nullptr);
          EXPECT_LT(rel_error(to_host<float>(d_a, rows * c.n_out / 2),
                              silu_pairs_ref(ref, rows, c.n_out)),
                    tol)
              << where << " silu";
        }
      }
    }
  }
}

// Batch-1 decode with FP8 weights runs without norm kernels, as BF16 does: an FP8 o/down
// GEMV adds into the residual and sums each new row's squares, and the next FP8 GEMV
// normalises its x with them, against the CPU's float64 product of the dequantized
// weights and its RMSNorm (for the pipelined kernel, of x quantized per 128 columns, as it
// quantizes them). Both one-row kernels (streaming, pipelined) are launched directly, then
// LinearContext runs the chain (fuses_norm), and the pipelined kernel once more with the
// norm's sum of squares reduced by its own blocks.
TEST(CudaFp8, OneRowGemvsFuseTheNormChain) {
  QWEN3_SKIP_WITHOUT_GPU();
  enum class Path { kStream, kPipe, kPipeOwnSum, kContext };
  for (const DType dtype : {DType::kF8E4M3, DType::kF8E5M2}) {
    const int64_t k = 1024, hidden = 2560, n2 = 2 * 160;
    const Fp8Matrix w1(hidden, k, dtype, 71), w2(n2, hidden, dtype, 72);
    const auto nw = random_floats(hidden, 73);
    auto d_nw = to_device(nw);
    const auto x = random_floats(k, 74), r0 = random_floats(hidden, 75);
    auto d_x = to_device(x);
    // The chain's references: h = W1 x + r, then SiLU pairs of W2 RMSNorm(h) (`quantize`: x
    // and the normed h as the pipelined kernel quantizes them).
    struct Chain {
      std::vector<double> h, out;
      double ss = 0.0;
    };
    auto chain = [&](bool quantize) {
      Chain c;
      const auto prod = linear_ref(w1.dense, quantize ? act_quant_ref(x, 1, k) : x, 1, hidden, k);
      c.h.resize(prod.size());
      std::vector<float> h_f(prod.size());
      for (size_t i = 0; i < prod.size(); ++i) {
        c.h[i] = prod[i] + r0[i];
        h_f[i] = static_cast<float>(c.h[i]);
        c.ss += c.h[i] * c.h[i];
      }
      std::vector<float> hn(h_f.size());
      cpu::rms_norm(h_f.data(), nw.data(), 1, hidden, 1e-6, hn.data());
      c.out = silu_pairs_ref(
          linear_ref(w2.dense, quantize ? act_quant_ref(hn, 1, hidden) : hn, 1, n2, hidden), 1, n2);
      return c;
    };
    const Chain exact = chain(false), quantized = chain(true);
    const bool pipe_fits = gemv_fp8_pipe_supports(1, k, 128);
    for (const Path path : {Path::kStream, Path::kPipe, Path::kPipeOwnSum, Path::kContext}) {
      const bool pipe = path == Path::kPipe || path == Path::kPipeOwnSum ||
                        (path == Path::kContext && gemv_fp8_pipe_chosen(1, k, 128));
      if (pipe && !pipe_fits) continue;
      // In the second product the first one's error adds to its own; the pipelined kernel
      // quantizes the second x from the first product's output, where a code on a rounding
      // edge may land one step (2^-4 relative) from the reference's: 1e-2.
      const double tol1 = pipe ? kMmaRelTol : kSimtRelTol, tol2 = pipe ? 1e-2 : 2 * tol1;
      const Chain& ref = pipe ? quantized : exact;
      const std::string where = fmt::format("{} path {}", dtype_name(dtype), static_cast<int>(path));
      auto d_r = to_device(r0);
      auto d_ss = to_device(std::vector<float>(1, 0.0f));
      auto d_y = poisoned<float>(n2 / 2);
      if (path == Path::kContext) {
        LinearContext ctx(nullptr);
        ASSERT_TRUE(LinearContext::fuses_norm(w1.device(), 1) &&
                    LinearContext::fuses_norm(w2.device(), 1));
        ASSERT_FALSE(LinearContext::fuses_norm(w1.device(), 2));  // the tensor-core kernel
        ctx.run(w1.device(), {d_x.as<float>()}, 1, d_r.as<float>(), LinearOutput::kAddTo,
                d_ss.as<float>());
        ctx.run(w2.device(), {d_r.as<float>(), d_nw.as<float>(), 1e-6f, d_ss.as<float>()}, 1,
                d_y.as<float>(), LinearOutput::kSiluPairs);
      } else {
        auto launch = pipe ? launch_gemv_fp8_pipe : launch_gemv_fp8_stream;
        GemvParams p1 = w1.one_row_params(d_x.as<float>(), d_r.as<float>());
        p1.epilogue = GemvEpilogue::kAddTo;
        p1.sum_squares_out = d_ss.as<float>();
        launch(p1, nullptr);
        GemvParams p2 = w2.one_row_params(d_r.as<float>(), d_y.as<float>());
        p2.epilogue = GemvEpilogue::kSiluPairs;
        p2.norm_weight = d_nw.as<float>();
        p2.norm_eps = 1e-6f;
        p2.norm_sum_squares = path == Path::kPipeOwnSum ? nullptr : d_ss.as<float>();
        launch(p2, nullptr);
      }
      EXPECT_LT(rel_error(to_host<float>(d_r, hidden), ref.h), tol1) << where;
      EXPECT_LT(rel_error(to_host<float>(d_ss, 1), std::vector<double>{ref.ss}), tol1) << where;
      EXPECT_LT(rel_error(to_host<float>(d_y, n2 / 2), ref.out), tol2) << where;
      // The cost of quantizing x, against the float products (E4M3: 3 mantissa bits, ~2.5e-2
      // per product; here two products in a chain and the SiLU pairs' product of two
      // outputs: 6.5e-2 measured on an H200).
      if (pipe) {
        EXPECT_LT(rel_error(to_host<float>(d_y, n2 / 2), exact.out), 1e-1) << where;
      }
    }
  }
}

// The pipelined one-row kernel at every tiling (gemv_pipe_check.h), E4M3 and E5M2: with
// 10 chunks of 128 columns, slices of 10, 5, 3 (the last one 1) and 2, some parts empty,
// on 306 rows (the last round partly past the end); x quantized to E4M3 per 128 columns.
TEST(CudaFp8, PipeGemvEveryTiling) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t n_out = 306, k = 1280;
  ASSERT_TRUE(gemv_fp8_pipe_supports(1, k, 128));
  for (const DType dtype : {DType::kF8E4M3, DType::kF8E5M2}) {
    const Fp8Matrix w(n_out, k, dtype, 91);
    expect_pipe_gemv_every_tiling({.name = std::string(dtype_name(dtype)),
                                   .weights = w.one_row_params(nullptr, nullptr),
                                   .dense = w.dense,
                                   .launch = launch_gemv_fp8_pipe,
                                   .tol = kMmaRelTol,
                                   .abs_dot_tol = kMmaAbsDotTol,
                                   .quantize_x = true},
                                  92);
  }
}

// The tensor-core kernel decodes subnormal codes exactly (E4M3's land on f16
// subnormals): a matrix of nothing else, checked per element.
TEST(CudaFp8, MmaGemvKeepsSubnormalCodes) {
  QWEN3_SKIP_WITHOUT_GPU();
  for (const DType dtype : {DType::kF8E4M3, DType::kF8E5M2}) {
    const int64_t n_out = 48, k = 512;
    const int rows = 3;
    const Fp8Matrix w(n_out, k, dtype, 13, /*subnormal_only=*/true);
    const auto x = random_floats(rows * k, 7);
    const auto ref = linear_ref(w.dense, x, rows, n_out, k);
    const auto absdot = linear_abs_ref(w.dense, x, rows, n_out, k);
    auto d_x = to_device(x);
    auto d_y = poisoned<float>(rows * n_out);
    GemvFp8Params p = w.params(d_x.as<float>(), d_y.as<float>(), rows);
    p.kernel = GemvFp8Kernel::kMma;
    launch_gemv_fp8(p, nullptr);
    const auto y = to_host<float>(d_y, rows * n_out);
    EXPECT_LT(rel_error(y, ref), kMmaRelTol) << dtype_name(dtype);
    EXPECT_EQ(count_outside_abs_dot(y, ref, absdot, kMmaAbsDotTol), 0u) << dtype_name(dtype);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Fp8Gemv,
    ::testing::Values(Fp8Case{DType::kF8E4M3, 300, 2560}, Fp8Case{DType::kF8E5M2, 300, 2560},
                      Fp8Case{DType::kF8E4M3, 130, 208},  // partial blocks: rows and cols
                      Fp8Case{DType::kF8E5M2, 130, 208},
                      Fp8Case{DType::kF8E4M3, 37, 1040},  // odd n_out, 16-col last block
                      Fp8Case{DType::kF8E5M2, 64, 16},
                      Fp8Case{DType::kF8E4M3, 129, 9728}),
    [](const ::testing::TestParamInfo<Fp8Case>& p) {
      return fmt::format("{}_{}x{}", p.param.dtype == DType::kF8E4M3 ? "e4m3" : "e5m2",
                         p.param.n_out, p.param.k);
    });

// bf16(fp8 * scale) bit for bit as the CPU computes it (vector and scalar kernels).
TEST(CudaFp8, DequantToBf16IsExact) {
  QWEN3_SKIP_WITHOUT_GPU();
  for (const DType dtype : {DType::kF8E4M3, DType::kF8E5M2}) {
    const std::vector<std::pair<int64_t, int64_t>> shapes = {{130, 208}, {7, 100}, {3, 384}};
    for (const auto& [rows, cols] : shapes) {
      const Fp8Matrix w(rows, cols, dtype, 5);
      auto d_out = poisoned<uint16_t>(rows * cols);
      launch_dequant_fp8_to_bf16({.w = w.d_bytes.as<uint8_t>(),
                                  .row_scales = w.d_scales.as<float>(),
                                  .out = d_out.as<__nv_bfloat16>(),
                                  .rows = rows,
                                  .cols = cols,
                                  .scale_cols = w.host.scale_cols(),
                                  .block_in = 128,
                                  .dtype = dtype},
                                 nullptr);
      const auto out = to_host<uint16_t>(d_out, rows * cols);
      size_t bad = 0;
      for (size_t i = 0; i < out.size(); ++i) bad += out[i] != f32_to_bf16(w.dense[i]);
      EXPECT_EQ(bad, 0u) << dtype_name(dtype) << " " << rows << "x" << cols;
    }
  }
}

// LinearContext dispatches on the matrix dtype: GEMV for <= 8 rows, dequantize + cuBLAS
// above (and when forced), with the norm prologue and every epilogue.
TEST(CudaFp8, LinearContextRunsFp8BothPaths) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t n_out = 2 * 160, k = 384;
  const Fp8Matrix w(n_out, k, DType::kF8E4M3, 9);
  LinearContext ctx(nullptr);
  for (const int64_t rows : {int64_t{3}, int64_t{40}}) {
    const auto x = random_floats(rows * k, 50);
    const auto ref = linear_ref(w.dense, x, rows, n_out, k);
    auto d_x = to_device(x);
    for (const bool forced : {false, true}) {
      const bool cublas = forced || rows > kGemvMaxRows;
      // BF16 activations on the cuBLAS path; f16 ones in the (tensor-core) GEMV.
      const double tol = cublas ? 1e-2 : kMmaRelTol;
      auto d_y = poisoned<float>(rows * n_out);
      if (forced) {
        ctx.run_cublas(w.device(), d_x.as<float>(), rows, d_y.as<float>());
      } else {
        ctx.run(w.device(), d_x.as<float>(), rows, d_y.as<float>());
      }
      EXPECT_LT(rel_error(to_host<float>(d_y, rows * n_out), ref), tol) << rows << forced;
      auto d_a = poisoned<float>(rows * n_out / 2);
      if (forced) {
        ctx.run_cublas(w.device(), {d_x.as<float>()}, rows, d_a.as<float>(),
                       LinearOutput::kSiluPairs);
      } else {
        ctx.run(w.device(), {d_x.as<float>()}, rows, d_a.as<float>(), LinearOutput::kSiluPairs);
      }
      EXPECT_LT(rel_error(to_host<float>(d_a, rows * n_out / 2), silu_pairs_ref(ref, rows, n_out)),
                tol)
          << rows << forced << " silu";
    }
  }
}

// The upload keeps FP8 bytes (q | k | v stacked, gate/up interleaved) and expands the
// tile scales per row in the same order.
TEST(CudaFp8, WeightsKeepFp8BytesAndRowScales) {
  QWEN3_SKIP_WITHOUT_GPU();
  const auto w = Qwen3Weights::load(qwen3::test::fixture_model("fp8_e4m3"));
  const CudaWeights cw(*w, nullptr);
  const LayerWeights& l = w->layers()[1];
  const CudaLayerWeights& d = cw.layers()[1];
  for (const DeviceMatrix* m : {&d.qkv, &d.o, &d.gate_up, &d.down}) {
    EXPECT_EQ(m->dtype, DType::kF8E4M3);
    EXPECT_EQ(m->block_in, 128);
  }
  const int64_t hidden = w->config().hidden_size, sc = l.gate_proj.scale_cols();
  const int64_t gu_rows = d.gate_up.rows;
  ASSERT_EQ(gu_rows, 2 * l.gate_proj.rows);
  std::vector<uint8_t> bytes(static_cast<size_t>(gu_rows * hidden));
  std::vector<float> scales(static_cast<size_t>(gu_rows * sc));
  QWEN3_CUDA_CHECK(cudaDeviceSynchronize());
  QWEN3_CUDA_CHECK(
      cudaMemcpy(bytes.data(), d.gate_up.fp8, bytes.size(), cudaMemcpyDeviceToHost));
  QWEN3_CUDA_CHECK(cudaMemcpy(scales.data(), d.gate_up.row_scales, scales.size() * 4,
                              cudaMemcpyDeviceToHost));
  for (int64_t r = 0; r < gu_rows; ++r) {
    const WeightMatrix& src = r % 2 == 0 ? l.gate_proj : l.up_proj;
    const int64_t sr = r / 2;
    ASSERT_TRUE(std::equal(bytes.begin() + r * hidden, bytes.begin() + (r + 1) * hidden,
                           src.data + sr * hidden))
        << "gate_up row " << r;
    for (int64_t j = 0; j < sc; ++j)
      ASSERT_EQ(scales[r * sc + j], src.scale_inv[(sr / src.block_out) * sc + j])
          << "gate_up row " << r << " block " << j;
  }
  // q | k | v: the first k_proj row follows the last q_proj row.
  const int64_t q_rows = l.q_proj.rows;
  std::vector<uint8_t> row(static_cast<size_t>(hidden));
  QWEN3_CUDA_CHECK(cudaMemcpy(row.data(), d.qkv.fp8 + q_rows * hidden, row.size(),
                              cudaMemcpyDeviceToHost));
  EXPECT_TRUE(std::equal(row.begin(), row.end(), l.k_proj.data));
  float s = 0;
  QWEN3_CUDA_CHECK(cudaMemcpy(&s, d.qkv.row_scales + q_rows * sc, 4, cudaMemcpyDeviceToHost));
  EXPECT_EQ(s, l.k_proj.scale_inv[0]);
}

}  // namespace
}  // namespace qwen3::cuda::test

namespace qwen3::cuda::test {
namespace {

// Above the GEMV's rows, E4M3 weights with 128-wide blocks take cuBLASLt's block-scaled
// FP8 GEMM on Hopper: against the float64 product of the dequantized weights and the
// quantized activations (so a wrong scale layout or group shows at once: scales vary per
// row block, column block and activation group), for every epilogue and the fused norm,
// at row counts that are and are not multiples of 4 / 16.
TEST(CudaFp8, BlockScaledGemmMatchesTheQuantizedProduct) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t n_out = 2 * 176, k = 640;
  const Fp8Matrix w(n_out, k, DType::kF8E4M3, 31);
  LinearContext ctx(nullptr);
  if (!ctx.takes_fp8_gemm(w.device_lt(), 40)) {
    GTEST_SKIP() << "no block-scaled FP8 GEMM on this GPU (needs compute capability 9.0)";
  }
  EXPECT_FALSE(ctx.takes_fp8_gemm(w.device(), 40)) << "without lt_scales";
  const auto norm_w = random_floats(k, 77);
  for (const int64_t rows : {int64_t{9}, int64_t{40}, int64_t{64}, int64_t{100}, int64_t{333}}) {
    ASSERT_TRUE(ctx.takes_fp8_gemm(w.device_lt(), rows)) << rows;
    auto x = random_floats(rows * k, 60 + rows);
    for (int64_t i = 0; i < rows * k; ++i)  // group magnitudes from 2^-6 to 2^6
      x[i] *= std::ldexp(1.0f, static_cast<int>((i / 128 * 5 + i / k) % 13) - 6);
    auto d_x = to_device(x);
    // The norm's input: RMSNorm(x) * norm_w in the CPU's order, then quantized.
    std::vector<float> normed(x.size());
    for (int64_t m = 0; m < rows; ++m) {
      double ss = 0;
      for (int64_t i = 0; i < k; ++i) ss += static_cast<double>(x[m * k + i]) * x[m * k + i];
      const float inv = 1.0f / std::sqrt(static_cast<float>(ss) / static_cast<float>(k) + 1e-6f);
      for (int64_t i = 0; i < k; ++i) normed[m * k + i] = norm_w[i] * (x[m * k + i] * inv);
    }
    auto d_norm = to_device(norm_w);
    for (const bool norm : {false, true}) {
      const auto ref =
          linear_ref(w.dense, act_quant_ref(norm ? normed : x, rows, k), rows, n_out, k);
      const LinearInput in{.x = d_x.as<float>(),
                           .norm_weight = norm ? d_norm.as<float>() : nullptr,
                           .eps = 1e-6f};
      const std::string where = fmt::format("rows {} norm {}", rows, norm);
      auto d_y = poisoned<float>(rows * n_out);
      ctx.run(w.device_lt(), in, rows, d_y.as<float>());
      const auto y = to_host<float>(d_y, rows * n_out);
      EXPECT_LT(rel_error(y, ref), 2e-3) << where;
      // Against the unquantized activations: the cost of quantizing them (E4M3: 3 bits).
      const auto exact = linear_ref(w.dense, norm ? normed : x, rows, n_out, k);
      const double q_err = rel_error(y, exact);
      EXPECT_LT(q_err, 6e-2) << where;
      std::printf("[fp8 gemm %s] vs quantized-x product %.2e, vs float x %.2e\n", where.c_str(),
                  rel_error(y, ref), q_err);
      const auto r0 = random_floats(rows * n_out, 90 + rows);
      auto d_r = to_device(r0);
      ctx.run(w.device_lt(), in, rows, d_r.as<float>(), LinearOutput::kAddTo);
      std::vector<double> ref_add(ref.size());
      for (size_t i = 0; i < ref.size(); ++i) ref_add[i] = ref[i] + r0[i];
      EXPECT_LT(rel_error(to_host<float>(d_r, rows * n_out), ref_add), 2e-3) << where << " add";
      auto d_a = poisoned<float>(rows * n_out / 2);
      ctx.run(w.device_lt(), in, rows, d_a.as<float>(), LinearOutput::kSiluPairs);
      EXPECT_LT(rel_error(to_host<float>(d_a, rows * n_out / 2), silu_pairs_ref(ref, rows, n_out)),
                2e-3)
          << where << " silu";
      // The MLP in BF16 (LinearContext::mlp_in_bf16): the same products rounded to BF16,
      // the SiLU output rounded into BF16 (two roundings of 2^-9 on top of the 2e-3).
      ASSERT_TRUE(ctx.takes_fp8_gemm(w.device_lt(), rows, true)) << where << " BF16 output";
      auto d_ab = poisoned<uint16_t>(rows * n_out / 2);
      ctx.run_silu_pairs_bf16(w.device_lt(), in, rows, d_ab.as<__nv_bfloat16>());
      const auto ab = to_host<uint16_t>(d_ab, rows * n_out / 2);
      std::vector<float> abf(ab.size());
      for (size_t i = 0; i < ab.size(); ++i) abf[i] = bf16_to_f32(ab[i]);
      EXPECT_LT(rel_error(abf, silu_pairs_ref(ref, rows, n_out)), 8e-3) << where << " silu bf16";
      if (!norm) {  // a BF16 input: quantized as it is
        auto xb = x;
        const auto bits = to_bf16(xb);
        auto d_xb = to_device(bits);
        const auto ref_b = linear_ref(w.dense, act_quant_ref(xb, rows, k), rows, n_out, k);
        auto d_yb = poisoned<float>(rows * n_out);
        ctx.run(w.device_lt(), {.x_bf16 = d_xb.as<__nv_bfloat16>()}, rows, d_yb.as<float>());
        EXPECT_LT(rel_error(to_host<float>(d_yb, rows * n_out), ref_b), 2e-3) << where << " bf16 x";
      }
    }
  }
  // Switched off, the same call dequantizes for cuBLAS (BF16 activations).
  ctx.set_fp8_gemm(false);
  EXPECT_FALSE(ctx.takes_fp8_gemm(w.device_lt(), 40));
}

}  // namespace
}  // namespace qwen3::cuda::test
