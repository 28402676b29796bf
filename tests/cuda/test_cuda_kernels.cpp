// Each CUDA kernel against a CPU reference on random (never zero) inputs, outputs
// poisoned before the launch. Tolerances: ||out - ref|| / ||ref|| (float32 kernels 1e-5,
// BF16-activation cuBLAS path 1e-2 against the float32 reference).
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "backends/cpu/cpu_ops.h"
#include "backends/cuda/attention_plan.h"
#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/elementwise.h"
#include "backends/cuda/kernels/gemv.h"
#include "backends/cuda/kernels/gemv_pipe.h"
#include "backends/cuda/kernels/linear.h"
#include "backends/cuda/kernels/rope_kv.h"
#include "cuda/attention_test_util.h"
#include "cuda/cuda_test_util.h"
#include "cuda/gemv_pipe_check.h"
#include "model/rope.h"

namespace qwen3::cuda::test {
namespace {

// The pipelined one-row BF16 GEMV's tolerance (see Bf16PipeGemvEveryTiling).
constexpr double kBf16PipeTol = 3e-5;

TEST(CudaKernels, EmbeddingGathersRows) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t vocab = 50, hidden = 96, rows = 7;
  auto table = random_floats(vocab * hidden, 1);
  const auto bits = to_bf16(table);
  const std::vector<int32_t> tokens = {3, 0, 49, 3, 17, 8, 22};
  auto d_table = to_device(bits);
  auto d_tok = to_device(tokens);
  auto d_out = poisoned<float>(rows * hidden);
  launch_embedding({d_table.as<__nv_bfloat16>(), d_tok.as<int32_t>(), d_out.as<float>(), rows,
                    hidden},
                   nullptr);
  const auto out = to_host<float>(d_out, rows * hidden);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < hidden; ++i)
      ASSERT_EQ(out[r * hidden + i], table[tokens[r] * hidden + i]);
}

// Dims that are multiples of 4 take the register kernel (1 to 8 float4s per thread),
// 130 the one-value-per-thread one.
TEST(CudaKernels, AddRmsNormMatchesCpu) {
  QWEN3_SKIP_WITHOUT_GPU();
  for (const int64_t dim : {64, 130, 192, 2560, 5120}) {
    const int64_t rows = 5;
    const auto h = random_floats(rows * dim, 2), b = random_floats(rows * dim, 3);
    const auto w = random_floats(dim, 4);
    std::vector<float> sum(h.size());
    for (size_t i = 0; i < h.size(); ++i) sum[i] = h[i] + b[i];
    std::vector<float> ref(h.size());
    cpu::rms_norm(sum.data(), w.data(), rows, dim, 1e-6, ref.data());

    auto d_h = to_device(h), d_b = to_device(b), d_w = to_device(w);
    auto d_out = poisoned<float>(rows * dim);
    launch_add_rms_norm({d_h.as<float>(), d_b.as<float>(), d_w.as<float>(), nullptr,
                         d_out.as<float>(), rows, dim, 1e-6f, true},
                        nullptr);
    EXPECT_LT(rel_error(to_host<float>(d_out, rows * dim), ref), 1e-5) << dim;
    EXPECT_LT(rel_error(to_host<float>(d_h, rows * dim), sum), 1e-7) << dim;

    // Rows picked by index, no residual, h untouched (the final norm's use).
    const std::vector<int32_t> idx = {4, 1};
    auto d_idx = to_device(idx);
    auto d_out2 = poisoned<float>(2 * dim);
    launch_add_rms_norm({d_h.as<float>(), nullptr, d_w.as<float>(), d_idx.as<int32_t>(),
                         d_out2.as<float>(), 2, dim, 1e-6f, false},
                        nullptr);
    const auto out2 = to_host<float>(d_out2, 2 * dim);
    std::vector<float> ref2;
    ref2.insert(ref2.end(), ref.begin() + 4 * dim, ref.begin() + 5 * dim);
    ref2.insert(ref2.end(), ref.begin() + 1 * dim, ref.begin() + 2 * dim);
    EXPECT_LT(rel_error(out2, ref2), 1e-5) << dim;

    // BF16 output (the cuBLAS path's input): each value the float32 result rounded, so
    // within half a BF16 step (2^-9 relative) of the float32 reference.
    auto d_h2 = to_device(h);
    auto d_bf = poisoned<uint16_t>(rows * dim);
    launch_add_rms_norm({d_h2.as<float>(), d_b.as<float>(), d_w.as<float>(), nullptr, nullptr, rows,
                         dim, 1e-6f, false, d_bf.as<__nv_bfloat16>()},
                        nullptr);
    const auto bf = to_host<uint16_t>(d_bf, rows * dim);
    size_t far = 0;
    for (size_t i = 0; i < bf.size(); ++i)
      far += !(std::abs(bf16_to_f32(bf[i]) - ref[i]) <=
               (0x1.0p-8f + 1e-5f) * std::abs(ref[i]) + 1e-30f);
    EXPECT_EQ(far, 0u) << dim;
    EXPECT_LT(rel_error(to_host<float>(d_h2, rows * dim), h), 1e-30) << "h written" << dim;
  }
}

TEST(CudaKernels, SiluMulMatchesCpu) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t rows = 3, inter = 1000;
  const auto gu = random_floats(rows * 2 * inter, 5, 3.0f);  // rows of (gate_i, up_i) pairs
  std::vector<float> ref(rows * inter), gate(inter), up(inter);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < inter; ++i) {
      gate[i] = gu[r * 2 * inter + 2 * i];
      up[i] = gu[r * 2 * inter + 2 * i + 1];
    }
    cpu::silu_mul(gate.data(), up.data(), inter, ref.data() + r * inter);
  }
  auto d_gu = to_device(gu);
  auto d_out = poisoned<float>(rows * inter);
  launch_silu_mul({d_gu.as<float>(), d_out.as<float>(), rows, inter}, nullptr);
  EXPECT_LT(rel_error(to_host<float>(d_out, rows * inter), ref), 1e-6);
}

// BF16 pairs in, BF16 out, float32 in between: equal to the CPU's SiLU product of the
// same BF16 values, rounded (within a BF16 step); an odd count and an offset of one pair
// (not 16-byte aligned) cover the one-pair loop besides the four-pair one.
TEST(CudaKernels, SiluMulBf16MatchesCpu) {
  QWEN3_SKIP_WITHOUT_GPU();
  for (const int64_t offset : {0, 1}) {
    const int64_t n = 3 * 1001;  // rows x inter of output values
    auto gu = random_floats(2 * (n + offset), 50 + offset, 3.0f);
    const auto bits = to_bf16(gu);
    std::vector<float> ref(n), gate(n), up(n);
    for (int64_t i = 0; i < n; ++i) {
      gate[i] = gu[2 * (offset + i)];
      up[i] = gu[2 * (offset + i) + 1];
    }
    cpu::silu_mul(gate.data(), up.data(), n, ref.data());
    auto d_gu = to_device(bits);
    auto d_out = poisoned<uint16_t>(n + offset);
    launch_silu_mul_bf16(d_gu.as<__nv_bfloat16>() + 2 * offset, d_out.as<__nv_bfloat16>() + offset,
                         n, nullptr);
    const auto out = to_host<uint16_t>(d_out, n + offset);
    size_t far = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float o = bf16_to_f32(out[offset + i]);
      far += !(std::abs(o - ref[i]) <= (0x1.0p-8f + 1e-5f) * std::abs(ref[i]) + 1e-6f);
    }
    EXPECT_EQ(far, 0u) << offset;
    if (offset == 1) {
      EXPECT_EQ(out[0], 0xffff) << "wrote before its output";
    }
  }
}

// Round to nearest even, bit for bit the host's conversion, at any count and alignment.
TEST(CudaKernels, F32ToBf16RoundsLikeTheHost) {
  QWEN3_SKIP_WITHOUT_GPU();
  for (const int64_t offset : {0, 1, 3}) {
    const int64_t n = 4099;
    auto x = random_floats(n + offset, 60 + offset, 100.0f);
    x[offset] = 1.0f + 0x1.0p-8f;          // a tie: stays 1.0
    x[offset + 1] = 1.0f + 3 * 0x1.0p-8f;  // a tie: rounds up to the even 1.0 + 2^-6
    auto d_x = to_device(x);
    auto d_out = poisoned<uint16_t>(n + offset);
    launch_f32_to_bf16(d_x.as<float>() + offset, d_out.as<__nv_bfloat16>() + offset, n, nullptr);
    const auto out = to_host<uint16_t>(d_out, n + offset);
    size_t bad = 0;
    for (int64_t i = 0; i < n; ++i) bad += out[offset + i] != f32_to_bf16(x[offset + i]);
    EXPECT_EQ(bad, 0u) << offset;
  }
}

// y = x W^T in float64 from BF16 weights (as floats) and float32 x.
TEST(CudaKernels, GemvMatchesReferenceForOneToEightRows) {
  QWEN3_SKIP_WITHOUT_GPU();
  struct Shape {
    int64_t n_out, k;
  };
  // 4100 x 1024: more row tiles than resident blocks, so blocks loop over tiles.
  for (const Shape s : {Shape{300, 2560}, Shape{37, 1032}, Shape{64, 8}, Shape{129, 9728},
                        Shape{4100, 1024}}) {
    auto w = random_floats(s.n_out * s.k, 6);
    const auto bits = to_bf16(w);
    auto d_w = to_device(bits);
    for (int rows = 1; rows <= kGemvMaxRows; ++rows) {
      const auto x = random_floats(rows * s.k, 7 + rows);
      auto d_x = to_device(x);
      auto d_y = poisoned<float>(rows * s.n_out);
      launch_gemv_bf16({d_w.as<__nv_bfloat16>(), d_x.as<float>(), d_y.as<float>(), s.n_out, s.k,
                        rows},
                       nullptr);
      const double err =
          rel_error(to_host<float>(d_y, rows * s.n_out), linear_ref(w, x, rows, s.n_out, s.k));
      EXPECT_LT(err, 1e-5) << s.n_out << "x" << s.k << " rows " << rows;
    }
  }
}

TEST(CudaKernels, CublasLinearMatchesReference) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t n_out = 384, k = 512;
  auto w = random_floats(n_out * k, 8);
  const auto bits = to_bf16(w);
  auto d_w = to_device(bits);
  LinearContext ctx(nullptr);
  for (const int64_t rows : {int64_t{3}, int64_t{9}, int64_t{100}}) {
    auto x = random_floats(rows * k, 9);
    auto d_x = to_device(x);
    auto d_y = poisoned<float>(rows * n_out);
    ctx.run_cublas({d_w.as<__nv_bfloat16>(), n_out, k}, d_x.as<float>(), rows, d_y.as<float>());
    const auto y = to_host<float>(d_y, rows * n_out);
    // Against float32 x: BF16 rounding of x only.
    EXPECT_LT(rel_error(y, linear_ref(w, x, rows, n_out, k)), 1e-2) << rows;
    // Against BF16-rounded x: accumulation order only.
    to_bf16(x);
    EXPECT_LT(rel_error(y, linear_ref(w, x, rows, n_out, k)), 1e-5) << rows;
  }
}

// The fused forms: RMSNorm prologue, residual-add epilogue, SiLU-pair epilogue, through
// both the GEMV (<= 8 rows) and cuBLAS (forced) paths of LinearContext.
TEST(CudaKernels, LinearFusedNormResidualAndSiluPairs) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t n_out = 2 * 200, k = 2560;
  auto w = random_floats(n_out * k, 30);
  const auto bits = to_bf16(w);
  const auto nw = random_floats(k, 31);
  auto d_w = to_device(bits);
  auto d_nw = to_device(nw);
  LinearContext ctx(nullptr);
  for (const int64_t rows : {int64_t{1}, int64_t{3}, int64_t{8}}) {
    const auto h = random_floats(rows * k, 32 + rows);
    std::vector<float> xn(h.size());
    cpu::rms_norm(h.data(), nw.data(), rows, k, 1e-6, xn.data());
    const auto ref = linear_ref(w, xn, rows, n_out, k);
    auto d_h = to_device(h);
    for (const bool cublas : {false, true}) {
      // run() takes the GEMV up to kGemvBf16Rows rows (float32 x, 1e-5; one row on the
      // pipelined kernel where chosen, kBf16PipeTol), cuBLAS above (x rounded to BF16, 1e-2).
      const double tol = cublas || rows > kGemvBf16Rows   ? 1e-2
                         : gemv_bf16_pipe_chosen(rows, k) ? kBf16PipeTol
                                                          : 1e-5;
      const LinearInput in{d_h.as<float>(), d_nw.as<float>(), 1e-6f};
      // Norm prologue, plain store.
      auto d_y = poisoned<float>(rows * n_out);
      if (cublas) {
        ctx.run_cublas({d_w.as<__nv_bfloat16>(), n_out, k}, in, rows, d_y.as<float>());
      } else {
        ctx.run({d_w.as<__nv_bfloat16>(), n_out, k}, in, rows, d_y.as<float>());
      }
      EXPECT_LT(rel_error(to_host<float>(d_y, rows * n_out), ref), tol) << rows << cublas;
      if (!cublas) {  // the GEMV's own fused norm prologue
        auto d_y2 = poisoned<float>(rows * n_out);
        ctx.run_gemv_fused_norm({d_w.as<__nv_bfloat16>(), n_out, k}, in, rows, d_y2.as<float>());
        EXPECT_LT(rel_error(to_host<float>(d_y2, rows * n_out), ref), 1e-5) << rows;
      }
      // Residual add: y starts as r, ends as r + x W^T.
      const auto r0 = random_floats(rows * n_out, 40);
      auto d_r = to_device(r0);
      std::vector<double> ref_add(ref.size());
      for (size_t i = 0; i < ref.size(); ++i) ref_add[i] = ref[i] + r0[i];
      if (cublas) {
        ctx.run_cublas({d_w.as<__nv_bfloat16>(), n_out, k}, in, rows, d_r.as<float>(),
                       LinearOutput::kAddTo);
      } else {
        ctx.run({d_w.as<__nv_bfloat16>(), n_out, k}, in, rows, d_r.as<float>(),
                LinearOutput::kAddTo);
      }
      EXPECT_LT(rel_error(to_host<float>(d_r, rows * n_out), ref_add), tol) << rows << cublas;
      // SiLU pairs: rows (2i, 2i + 1) are (gate_i, up_i).
      std::vector<double> ref_act(rows * n_out / 2);
      for (int64_t m = 0; m < rows; ++m)
        for (int64_t i = 0; i < n_out / 2; ++i) {
          const double g = ref[m * n_out + 2 * i], u = ref[m * n_out + 2 * i + 1];
          ref_act[m * n_out / 2 + i] = g / (1.0 + std::exp(-g)) * u;
        }
      auto d_act = poisoned<float>(rows * n_out / 2);
      if (cublas) {
        ctx.run_cublas({d_w.as<__nv_bfloat16>(), n_out, k}, in, rows, d_act.as<float>(),
                       LinearOutput::kSiluPairs);
      } else {
        ctx.run({d_w.as<__nv_bfloat16>(), n_out, k}, in, rows, d_act.as<float>(),
                LinearOutput::kSiluPairs);
      }
      EXPECT_LT(rel_error(to_host<float>(d_act, rows * n_out / 2), ref_act), tol) << rows << cublas;
    }
  }
}

// The MLP with BF16 activations (what prefill steps run): gate/up products and the SiLU
// output in BF16 (run_silu_pairs_bf16, norm prologue), then down_proj reading them as
// x_bf16 into the residual stream. Against float64: BF16 rounding of x, the products and
// the SiLU output (1e-2); down_proj against the float64 product of the BF16 values the
// GPU wrote: accumulation order only (1e-5).
TEST(CudaKernels, LinearBf16MlpMatchesReference) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t hidden = 256, inter = 384, rows = 37;
  auto wgu = random_floats(2 * inter * hidden, 70, 0.05f),
       wd = random_floats(hidden * inter, 71, 0.05f);
  const auto gu_bits = to_bf16(wgu), d_bits = to_bf16(wd);
  const auto nw = random_floats(hidden, 72);
  const auto h = random_floats(rows * hidden, 73);
  const auto r0 = random_floats(rows * hidden, 74);
  auto d_wgu = to_device(gu_bits), d_wd = to_device(d_bits), d_nw = to_device(nw);
  auto d_h = to_device(h), d_r = to_device(r0);
  LinearContext ctx(nullptr);
  const DeviceMatrix gate_up{d_wgu.as<__nv_bfloat16>(), 2 * inter, hidden};
  const DeviceMatrix down{d_wd.as<__nv_bfloat16>(), hidden, inter};
  ASSERT_TRUE(ctx.mlp_in_bf16(gate_up, down, rows));
  ASSERT_FALSE(ctx.mlp_in_bf16(gate_up, down, 1));  // the GEMV's rows stay float32
  auto d_act = poisoned<uint16_t>(rows * inter);
  ctx.run_silu_pairs_bf16(gate_up, {d_h.as<float>(), d_nw.as<float>(), 1e-6f}, rows,
                          d_act.as<__nv_bfloat16>());
  ctx.run(down, {.x_bf16 = d_act.as<__nv_bfloat16>()}, rows, d_r.as<float>(), LinearOutput::kAddTo);
  const auto act_bits = to_host<uint16_t>(d_act, rows * inter);
  const auto out = to_host<float>(d_r, rows * hidden);

  std::vector<float> xn(h.size());
  cpu::rms_norm(h.data(), nw.data(), rows, hidden, 1e-6, xn.data());
  const auto gu = linear_ref(wgu, xn, rows, 2 * inter, hidden);
  std::vector<float> act_ref(rows * inter), act_gpu(rows * inter);
  for (int64_t i = 0; i < rows * inter; ++i) {
    const double g = gu[2 * i], u = gu[2 * i + 1];
    act_ref[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
    act_gpu[i] = bf16_to_f32(act_bits[i]);
  }
  EXPECT_LT(rel_error(act_gpu, act_ref), 1e-2);
  auto ref_of = [&](const std::vector<float>& act) {
    auto y = linear_ref(wd, act, rows, hidden, inter);
    for (size_t i = 0; i < y.size(); ++i) y[i] += r0[i];
    return y;
  };
  EXPECT_LT(rel_error(out, ref_of(act_ref)), 1e-2);
  EXPECT_LT(rel_error(out, ref_of(act_gpu)), 1e-5);
  // A BF16 input is refused where the product is not a BF16 one (the GEMV's rows).
  EXPECT_THROW(ctx.run(down, {.x_bf16 = d_act.as<__nv_bfloat16>()}, 1, d_r.as<float>()),
               std::exception);
}

// The pipelined one-row BF16 GEMV at every tiling (gemv_pipe_check.h; 20 chunks of 64
// columns: slices of 20, 10, 5, 3 with the last 2, some parts empty; 306 rows): x enters
// the tensor cores as two BF16 values (hi + lo, ~2^-17 relative) and they accumulate in
// float32, so it is held to kBf16PipeTol of float64 (the CUDA-core GEMV: 1e-5).
TEST(CudaKernels, Bf16PipeGemvEveryTiling) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t n_out = 306, k = 1280;
  ASSERT_TRUE(gemv_bf16_pipe_supports(1, k));
  auto w = random_floats(n_out * k, 81);
  auto d_w = to_device(to_bf16(w));  // w is BF16-rounded in place
  GemvParams weights{
      .w = d_w.as<__nv_bfloat16>(), .x = nullptr, .y = nullptr, .n_out = n_out, .k = k, .rows = 1};
  expect_pipe_gemv_every_tiling({.name = "bf16",
                                 .weights = weights,
                                 .dense = w,
                                 .launch = launch_gemv_bf16_pipe,
                                 .tol = kBf16PipeTol},
                                82);
}

// The decode chain without norm kernels: a kAddTo GEMV leaves y and each row's sum of
// squares; the next GEMV normalises its input with those sums (LinearInput::sum_squares).
TEST(CudaKernels, LinearSumOfSquaresFeedsTheNextNorm) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t k = 1024, hidden = 2560, n2 = 2 * 300;
  auto w1 = random_floats(hidden * k, 50), w2 = random_floats(n2 * hidden, 51);  // BF16-rounded below
  const auto nw = random_floats(hidden, 52);
  auto d_w1 = to_device(to_bf16(w1));
  auto d_w2 = to_device(to_bf16(w2));
  auto d_nw = to_device(nw);
  LinearContext ctx(nullptr);
  for (int64_t rows = 1; rows <= kGemvBf16Rows; ++rows) {
    // One row takes the pipelined kernel where QWEN3_GEMV_BF16_PIPE=1 chose it.
    const double tol = gemv_bf16_pipe_chosen(rows, k) ? kBf16PipeTol : 1e-5;
    const DeviceMatrix m1{d_w1.as<__nv_bfloat16>(), hidden, k};
    const DeviceMatrix m2{d_w2.as<__nv_bfloat16>(), n2, hidden};
    ASSERT_TRUE(LinearContext::fuses_norm(m1, rows) && LinearContext::fuses_norm(m2, rows));
    const auto x = random_floats(rows * k, 53 + rows), r0 = random_floats(rows * hidden, 60 + rows);
    auto d_x = to_device(x);
    auto d_r = to_device(r0);
    auto d_ss = to_device(std::vector<float>(static_cast<size_t>(rows), 0.0f));
    ctx.run(m1, {d_x.as<float>()}, rows, d_r.as<float>(), LinearOutput::kAddTo, d_ss.as<float>());
    const auto prod = linear_ref(w1, x, rows, hidden, k);
    std::vector<double> h_ref(prod.size());
    std::vector<float> h_f(prod.size());
    std::vector<double> ss_ref(static_cast<size_t>(rows), 0.0);
    for (size_t i = 0; i < prod.size(); ++i) {
      h_ref[i] = prod[i] + r0[i];
      h_f[i] = static_cast<float>(h_ref[i]);
      ss_ref[i / hidden] += h_ref[i] * h_ref[i];
    }
    EXPECT_LT(rel_error(to_host<float>(d_r, rows * hidden), h_ref), tol) << rows;
    EXPECT_LT(rel_error(to_host<float>(d_ss, rows), ss_ref), tol) << rows;
    // The consumer: RMSNorm(h) * nw, then W2, without a norm kernel.
    std::vector<float> hn(h_f.size());
    cpu::rms_norm(h_f.data(), nw.data(), rows, hidden, 1e-6, hn.data());
    const auto ref2 = linear_ref(w2, hn, rows, n2, hidden);
    auto d_y = poisoned<float>(rows * n2);
    ctx.run(m2, {d_r.as<float>(), d_nw.as<float>(), 1e-6f, d_ss.as<float>()}, rows,
            d_y.as<float>());
    EXPECT_LT(rel_error(to_host<float>(d_y, rows * n2), ref2), tol) << rows;
  }
}

template <typename KV>
float kv_at(const std::vector<KV>& pool, size_t i) {
  if constexpr (std::is_same_v<KV, float>) {
    return pool[i];
  } else {
    return bf16_to_f32(pool[i]);
  }
}

class QkNormRopeKv : public ::testing::TestWithParam<std::tuple<int, KvDtype>> {};

TEST_P(QkNormRopeKv, MatchesCpuNormAndRope) {
  QWEN3_SKIP_WITHOUT_GPU();
  const auto [hd, kv_dtype] = GetParam();
  const ModelConfig c = attention_config(4, 2, hd);
  const RopeTable rope = RopeTable::build(c);
  const int64_t rows = 6, bs = 16, blocks = 8;
  const int64_t q_dim = c.q_dim(), kv_dim = c.kv_dim(), width = q_dim + 2 * kv_dim;
  const auto qkv = random_floats(rows * width, 10);
  const auto qn = random_floats(hd, 11), kn = random_floats(hd, 12);
  const std::vector<int32_t> pos = {0, 1, 2, 77, 1000, 3999};
  const std::vector<int64_t> slot = {5, 17, 18, 100, 127, 64};
  auto d_qkv = to_device(qkv), d_qn = to_device(qn), d_kn = to_device(kn);
  auto d_freq = to_device(rope.inv_freq);
  auto d_pos = to_device(pos);
  auto d_slot = to_device(slot);
  auto d_q = poisoned<float>(rows * q_dim);
  const size_t pool_elems = blocks * bs * kv_dim;
  auto d_k = poisoned<float>(pool_elems), d_v = poisoned<float>(pool_elems);
  launch_qk_norm_rope_kv({d_qkv.as<float>(), d_qn.as<float>(), d_kn.as<float>(),
                          d_freq.as<float>(), rope.attention_scaling, d_pos.as<int32_t>(),
                          d_slot.as<int64_t>(), d_q.as<float>(), d_k.get(), d_v.get(), kv_dtype,
                          rows, 4, 2, hd, 1e-6f},
                         nullptr);
  const auto q = to_host<float>(d_q, rows * q_dim);
  const double kv_tol = kv_dtype == KvDtype::kBF16 ? 1e-2 : 1e-5;
  std::vector<float> kf(pool_elems), vf(pool_elems);
  if (kv_dtype == KvDtype::kBF16) {
    const auto kb = to_host<uint16_t>(d_k, pool_elems), vb = to_host<uint16_t>(d_v, pool_elems);
    for (size_t i = 0; i < pool_elems; ++i) kf[i] = kv_at(kb, i), vf[i] = kv_at(vb, i);
  } else {
    kf = to_host<float>(d_k, pool_elems);
    vf = to_host<float>(d_v, pool_elems);
  }
  std::vector<float> cos(hd / 2), sin(hd / 2);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> qr(qkv.begin() + r * width, qkv.begin() + r * width + q_dim);
    std::vector<float> kr(qkv.begin() + r * width + q_dim, qkv.begin() + r * width + q_dim + kv_dim);
    std::vector<float> vr(qkv.begin() + r * width + q_dim + kv_dim, qkv.begin() + (r + 1) * width);
    cpu::rms_norm(qr.data(), qn.data(), 4, hd, 1e-6, qr.data());
    cpu::rms_norm(kr.data(), kn.data(), 2, hd, 1e-6, kr.data());
    rope.cos_sin(pos[r], cos.data(), sin.data());
    cpu::rope_apply(qr.data(), 4, hd, cos.data(), sin.data());
    cpu::rope_apply(kr.data(), 2, hd, cos.data(), sin.data());
    const std::vector<float> qo(q.begin() + r * q_dim, q.begin() + (r + 1) * q_dim);
    EXPECT_LT(rel_error(qo, qr), 1e-5) << "row " << r;
    const std::vector<float> ko(kf.begin() + slot[r] * kv_dim, kf.begin() + (slot[r] + 1) * kv_dim);
    const std::vector<float> vo(vf.begin() + slot[r] * kv_dim, vf.begin() + (slot[r] + 1) * kv_dim);
    EXPECT_LT(rel_error(ko, kr), kv_tol) << "row " << r;
    EXPECT_LT(rel_error(vo, vr), kv_tol) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, QkNormRopeKv,
                         ::testing::Combine(::testing::Values(32, 48, 64, 128, 256),
                                            ::testing::Values(KvDtype::kF32, KvDtype::kBF16)),
                         [](const ::testing::TestParamInfo<std::tuple<int, KvDtype>>& p) {
                           return fmt::format("d{}_{}", std::get<0>(p.param),
                                              kv_dtype_name(std::get<1>(p.param)));
                         });

}  // namespace
}  // namespace qwen3::cuda::test
