// CUDA backend benchmark (one GPU): the copy-bandwidth roofline, the decode GEMV's
// bandwidth at Qwen3-4B shapes, batch-1 decode tokens/s at a given context as a share
// of the roofline (copy bandwidth / weight bytes per token), batched decode, and
// prefill tokens/s. Drives CudaRunner directly with scheduler-shaped steps (logits
// copied to the host every step, no sampling). Writes a JSON summary. The GEMV lines
// include FP8 (E4M3) matrices of the model's shapes; --fp8-model runs the same model
// benchmarks on an FP8 checkpoint too (created by --init-random when missing), its
// results under "fp8" in the JSON.
//
//   qwen3_cuda_bench --model DIR [--fp8-model DIR] [--init-random qwen3-4b] [--json out.json]
//   qwen3_cuda_bench --attention-only 1   (paged attention alone: no model, no --model)
//   qwen3_cuda_bench --attention-only decode   (decode rows only, with the copy bandwidth)
//   qwen3_cuda_bench --attention-only prefill   (causal prompts on the tensor-core kernel
//     only, each as a share of the BF16 matmul rate measured first)
//   qwen3_cuda_bench --model DIR --profile-decode N [--profile-batch B] [--profile-sampled 1]
//     (N decode steps of B rows, sampled on the GPU, between cudaProfilerStart / Stop: ncu)
//   qwen3_cuda_bench --model DIR --profile-prefill N   (one N-token prefill step, the same)
//   qwen3_cuda_bench --model DIR --prefill-only 1   (the BF16 matmul rate and the prefill lines)
//   qwen3_cuda_bench --grid-sync N   (the persistent decoder's grid barrier alone, N times)
#include <cuda_profiler_api.h>
#include <cuda_runtime_api.h>
#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/attention_plan.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_runner.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/attention_ws.h"
#include "backends/cuda/kernels/gemv.h"
#include "backends/cuda/kernels/gemv_fp8.h"
#include "backends/cuda/kernels/launch.h"
#include "core/dtype.h"
#include "core/error.h"
#include "grid_sync_bench.h"
#include "model/init_random.h"
#include "model/weights.h"

namespace qwen3::cuda {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Device-to-device copy of `bytes`, counting bytes read + written, median of 20.
double copy_bandwidth(size_t bytes) {
  DeviceBuffer a(bytes, "bench copy src"), b(bytes, "bench copy dst");
  QWEN3_CUDA_CHECK(cudaMemset(a.get(), 1, bytes));
  cudaEvent_t e0, e1;
  QWEN3_CUDA_CHECK(cudaEventCreate(&e0));
  QWEN3_CUDA_CHECK(cudaEventCreate(&e1));
  std::vector<float> ms;
  for (int i = 0; i < 25; ++i) {
    QWEN3_CUDA_CHECK(cudaEventRecord(e0));
    QWEN3_CUDA_CHECK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice));
    QWEN3_CUDA_CHECK(cudaEventRecord(e1));
    QWEN3_CUDA_CHECK(cudaEventSynchronize(e1));
    float t = 0;
    QWEN3_CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
    if (i >= 5) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return 2.0 * static_cast<double>(bytes) / (ms[ms.size() / 2] * 1e-3);
}

// The card's BF16 matmul rate, the prefill ceiling: n x n x n through cuBLAS (BF16 in and
// out, float32 accumulation, as torch's a @ b), random data, median of 20 after 3.
double matmul_tflops(int n = 8192) {
  const size_t elems = static_cast<size_t>(n) * n;
  DeviceBuffer a(elems * 2, "bench matmul A"), b(elems * 2, "bench matmul B"),
      c(elems * 2, "bench matmul C");
  {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<uint16_t> host(elems);
    for (auto& v : host) v = f32_to_bf16(u(rng));
    QWEN3_CUDA_CHECK(cudaMemcpy(a.get(), host.data(), elems * 2, cudaMemcpyHostToDevice));
    QWEN3_CUDA_CHECK(cudaMemcpy(b.get(), host.data(), elems * 2, cudaMemcpyHostToDevice));
  }
  cublasHandle_t handle = nullptr;
  QWEN3_CUBLAS_CHECK(cublasCreate(&handle));
  cudaEvent_t e0, e1;
  QWEN3_CUDA_CHECK(cudaEventCreate(&e0));
  QWEN3_CUDA_CHECK(cudaEventCreate(&e1));
  const float alpha = 1.0f, beta = 0.0f;
  std::vector<float> ms;
  for (int i = 0; i < 23; ++i) {
    QWEN3_CUDA_CHECK(cudaEventRecord(e0));
    QWEN3_CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a.get(),
                                    CUDA_R_16BF, n, b.get(), CUDA_R_16BF, n, &beta, c.get(),
                                    CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    QWEN3_CUDA_CHECK(cudaEventRecord(e1));
    QWEN3_CUDA_CHECK(cudaEventSynchronize(e1));
    float t = 0;
    QWEN3_CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
    if (i >= 3) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cublasDestroy(handle);
  return 2.0 * n * static_cast<double>(n) * n / (ms[ms.size() / 2] * 1e-3) / 1e12;
}

// Bytes a product streams from W: the weights, plus the per-row scales for FP8.
double weight_bytes_of(const DeviceMatrix& w) {
  if (!w.is_fp8()) return static_cast<double>(w.rows * w.cols * 2);
  return static_cast<double>(w.rows * w.cols + w.rows * w.scale_cols() * 4);
}

// A real weight matrix times `rows` activation rows: the GEMV (BF16 or FP8, by the
// matrix's dtype) with rows_per_warp R (0: the launcher's choice), or cuBLAS when R < 0
// (FP8: dequantize + cuBLAS). Returns weight GB/s (median of 25).
double linear_bandwidth(LinearContext& ctx, const DeviceMatrix& w, int rows, int r) {
  DeviceBuffer x(static_cast<size_t>(rows * w.cols) * 4, "bench x");
  DeviceBuffer y(static_cast<size_t>(rows * w.rows) * 4, "bench y");
  QWEN3_CUDA_CHECK(cudaMemset(x.get(), 0x3c, x.bytes()));  // 0.0115f: not zero
  cudaEvent_t e0, e1;
  QWEN3_CUDA_CHECK(cudaEventCreate(&e0));
  QWEN3_CUDA_CHECK(cudaEventCreate(&e1));
  std::vector<float> ms;
  for (int i = 0; i < 30; ++i) {
    QWEN3_CUDA_CHECK(cudaEventRecord(e0));
    if (r < 0) {
      ctx.run_cublas(w, x.as<float>(), rows, y.as<float>());
    } else if (w.is_fp8()) {
      launch_gemv_fp8({.w = w.fp8, .row_scales = w.row_scales, .x = x.as<float>(),
                       .y = y.as<float>(), .n_out = w.rows, .k = w.cols,
                       .scale_cols = w.scale_cols(), .block_in = static_cast<int>(w.block_in),
                       .dtype = w.dtype, .rows = rows, .rows_per_warp = r % 16,
                       .k_split = r / 16},
                      nullptr);
    } else {
      launch_gemv_bf16({w.data, x.as<float>(), y.as<float>(), w.rows, w.cols, rows, r % 16, r / 16},
                       nullptr);
    }
    QWEN3_CUDA_CHECK(cudaEventRecord(e1));
    QWEN3_CUDA_CHECK(cudaEventSynchronize(e1));
    float t = 0;
    QWEN3_CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
    if (i >= 5) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return weight_bytes_of(w) / (ms[ms.size() / 2] * 1e-3) / 1e9;
}

// An FP8 (E4M3, block 128) matrix of `like`'s shape: random bytes without NaN codes,
// scales 1/64. Owns its device memory.
struct BenchFp8Matrix {
  DeviceBuffer bytes, scales;
  DeviceMatrix m;
  explicit BenchFp8Matrix(const DeviceMatrix& like) {
    m = {.rows = like.rows, .cols = like.cols, .dtype = DType::kF8E4M3, .block_in = 128};
    bytes = DeviceBuffer(static_cast<size_t>(m.rows * m.cols), "bench fp8 weights");
    scales = DeviceBuffer(static_cast<size_t>(m.rows * m.scale_cols()) * 4, "bench fp8 scales");
    QWEN3_CUDA_CHECK(cudaMemset(bytes.get(), 0x3a, bytes.bytes()));  // 1.25 in E4M3
    std::vector<float> s(static_cast<size_t>(m.rows * m.scale_cols()), 1.0f / 64);
    QWEN3_CUDA_CHECK(cudaMemcpy(scales.get(), s.data(), s.size() * 4, cudaMemcpyHostToDevice));
    m.fp8 = bytes.as<uint8_t>();
    m.row_scales = scales.as<float>();
  }
};

struct Seq {
  std::vector<int32_t> table;
  int64_t len = 0;
};

// Steps of `n` sequences: prefill `context` tokens each (chunks of <= chunk tokens per
// step), then `steps` decode steps; returns decode tokens/s (all sequences).
struct DecodeResult {
  double tok_s = 0;
  double step_ms = 0;
  double gpu_ms = 0;  // GPU time per step (plan upload excluded), mean
};
// sample: decode steps also sample every row on the GPU (execute_and_sample) with these
// parameters, as the engine does (nullptr: logits come back to the host, unsampled).
DecodeResult run_decode(CudaRunner& runner, int64_t vocab, int n, int64_t context, int steps,
                        int64_t chunk, const SamplingParams* sample = nullptr) {
  const int64_t bs = runner.block_size();
  const int64_t blocks_each = (context + steps + bs) / bs + 1;
  std::vector<Seq> seqs(n);
  int32_t next = 1;
  for (auto& s : seqs)
    for (int64_t b = 0; b < blocks_each; ++b) s.table.push_back(next++);
  if (next > runner.num_kv_blocks()) QWEN3_THROW(ErrorCode::kInternal, "bench: pool too small");
  std::mt19937 rng(1);
  auto tok = [&] { return static_cast<int32_t>(rng() % vocab); };
  for (int64_t done = 0; done < context;) {  // prefill, chunked
    SchedulerOutput step;
    const int64_t take = std::min(context - done, std::max<int64_t>(chunk / n, 1));
    for (int i = 0; i < n; ++i) {
      ScheduledSeq s{.seq_id = static_cast<uint64_t>(i), .tokens = {}, .start_pos = done, .block_table = seqs[i].table};
      for (int64_t t = 0; t < take; ++t) s.tokens.push_back(tok());
      s.want_logits = done + take == context;
      step.total_tokens += take;
      step.seqs.push_back(std::move(s));
    }
    runner.execute(step);
    done += take;
  }
  Clock::time_point t0;
  double gpu_ms = 0;
  for (int k = -3; k < steps; ++k) {  // 3 warm-up steps
    if (k == 0) t0 = Clock::now();
    SchedulerOutput step;
    for (int i = 0; i < n; ++i) {
      const int64_t pos = context + k + 3;
      step.seqs.push_back({.seq_id = static_cast<uint64_t>(i), .tokens = {tok()}, .start_pos = pos,
                           .block_table = seqs[i].table, .want_logits = true});
      step.total_tokens += 1;
    }
    if (sample) {
      std::vector<SamplerRow> rows(static_cast<size_t>(n));
      for (SamplerRow& r : rows) {
        r.params = sample;
        r.seed = static_cast<uint64_t>(k + 3);
      }
      runner.execute_and_sample(step, rows);
    } else {
      runner.execute(step);
    }
    if (k >= 0) gpu_ms += runner.last_step_gpu_ms();
  }
  const double s = seconds_since(t0);
  return {n * steps / s, s / steps * 1e3, gpu_ms / steps};
}

// Attention alone at Qwen3-4B shapes (32 q heads, 8 KV heads, head_dim 128, a BF16 or
// FP8 E4M3 pool with scales 1, block size 16): `num_seqs` sequences of `rows` new tokens after `start` cached ones
// (a causal prompt: 1, n, 0; a decode batch: b, 1, context; split-KV merges included).
// Prints time and TFLOP/s counting 4 * rows * kv_avg * heads * head_dim (median of 10,
// of 3 from 5e13 FLOP up).
// heads_per_cta: the decode CTA shape (0: the planner's choice).
double attention_tflops(int num_seqs, int64_t rows, int64_t start, int num_sms, KvDtype kv,
                        int heads_per_cta = 0) {
  const int heads = 32, kv_heads = 8, hd = 128, bs = 16;
  const int32_t blocks = static_cast<int32_t>((start + rows + bs - 1) / bs);
  const int64_t n = num_seqs * rows;
  std::vector<int32_t> table(size_t(num_seqs) * blocks), row_pos;
  std::vector<AttnSeq> seqs;
  double kv_sum = 0;
  for (int i = 0; i < num_seqs; ++i) {
    for (int32_t b = 0; b < blocks; ++b) table[size_t(i) * blocks + b] = i * blocks + b + 1;
    for (int64_t t = 0; t < rows; ++t) {
      row_pos.push_back(static_cast<int32_t>(start + t));
      kv_sum += double(start + t + 1);
    }
    seqs.push_back({static_cast<int32_t>(i * rows), static_cast<int32_t>(rows),
                    static_cast<int32_t>(start)});
  }
  const AttentionPlan plan =
      plan_attention(seqs, heads / kv_heads, kv_heads, num_sms, kDecodeSplitTokens, heads_per_cta);
  const size_t pool_bytes = size_t(num_seqs * blocks + 1) * bs * kv_heads * hd * kv_dtype_size(kv);
  const size_t partials = size_t(std::max(plan.num_partials, 1));
  const size_t counters =
      size_t(std::max(plan.num_split_rows, 1)) * kv_heads *
      decode_attention_quads(heads / kv_heads, plan.decode_heads_per_cta);
  DeviceBuffer k(pool_bytes, "bench k"), v(pool_bytes, "bench v");
  DeviceBuffer q(size_t(n) * heads * hd * 4, "bench q"), out(size_t(n) * heads * hd * 4, "bench out");
  DeviceBuffer po(partials * heads * hd * 4, "bench partial o"), pl(partials * heads * 4, "bench lse");
  DeviceBuffer cnt(counters * sizeof(int), "bench counters");
  DeviceBuffer d_table(table.size() * 4, "bench table"), d_pos(row_pos.size() * 4, "bench pos");
  DeviceBuffer d_items(std::max<size_t>(plan.items.size(), 1) * sizeof(AttnWorkItem), "bench items");
  DeviceBuffer d_dec(std::max<size_t>(plan.decode.size(), 1) * sizeof(AttnDecodeItem), "bench decode");
  QWEN3_CUDA_CHECK(cudaMemset(k.get(), 0x3c, pool_bytes));
  QWEN3_CUDA_CHECK(cudaMemset(v.get(), 0x3d, pool_bytes));
  QWEN3_CUDA_CHECK(cudaMemset(q.get(), 0x3c, q.bytes()));
  QWEN3_CUDA_CHECK(cudaMemset(cnt.get(), 0, cnt.bytes()));
  QWEN3_CUDA_CHECK(cudaMemcpy(d_table.get(), table.data(), table.size() * 4, cudaMemcpyHostToDevice));
  QWEN3_CUDA_CHECK(cudaMemcpy(d_pos.get(), row_pos.data(), row_pos.size() * 4, cudaMemcpyHostToDevice));
  QWEN3_CUDA_CHECK(cudaMemcpy(d_items.get(), plan.items.data(),
                              plan.items.size() * sizeof(AttnWorkItem), cudaMemcpyHostToDevice));
  QWEN3_CUDA_CHECK(cudaMemcpy(d_dec.get(), plan.decode.data(),
                              plan.decode.size() * sizeof(AttnDecodeItem), cudaMemcpyHostToDevice));
  const PagedAttentionParams p{.q = q.as<float>(),
                               .k_pool = k.get(),
                               .v_pool = v.get(),
                               .kv_dtype = kv,
                               .block_tables = d_table.as<int32_t>(),
                               .max_blocks = blocks,
                               .row_pos = d_pos.as<int32_t>(),
                               .items = d_items.as<AttnWorkItem>(),
                               .num_items = static_cast<int>(plan.items.size()),
                               .decode_items = d_dec.as<AttnDecodeItem>(),
                               .num_decode_items = static_cast<int>(plan.decode.size()),
                               .out = out.as<float>(),
                               .partial_o = po.as<float>(),
                               .partial_lse = pl.as<float>(),
                               .decode_counters = cnt.as<int>(),
                               .decode_heads_per_cta = plan.decode_heads_per_cta,
                               .heads = heads,
                               .kv_heads = kv_heads,
                               .head_dim = hd,
                               .block_size = bs,
                               .pool_rows = int64_t{num_seqs * blocks + 1} * bs,
                               .scale = 1.0f / std::sqrt(float(hd))};
  cudaEvent_t e0, e1;
  QWEN3_CUDA_CHECK(cudaEventCreate(&e0));
  QWEN3_CUDA_CHECK(cudaEventCreate(&e1));
  // Launches of a second or more (128K prompts): one warm-up, three timed.
  const double flops = 4.0 * kv_sum * heads * hd;
  const int warmup = flops > 5e13 ? 1 : 2, reps = flops > 5e13 ? 3 : 10;
  std::vector<float> ms;
  for (int i = 0; i < warmup + reps; ++i) {
    QWEN3_CUDA_CHECK(cudaEventRecord(e0));
    launch_paged_attention(p, nullptr);
    QWEN3_CUDA_CHECK(cudaEventRecord(e1));
    QWEN3_CUDA_CHECK(cudaEventSynchronize(e1));
    float t = 0;
    QWEN3_CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
    if (i >= warmup) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  const double s = ms[ms.size() / 2] * 1e-3;
  const double kv_gb =
      double(num_seqs) * double(start + rows) * kv_heads * hd * 2 * double(kv_dtype_size(kv)) / 1e9;
  fmt::print(
      "attention {} x {} rows after {} (h32 kv8 d128, {} pool, {} kernel): {:.3f} ms, "
      "{:.1f} TFLOP/s, KV {:.0f} GB/s\n",
      num_seqs, rows, start, kv_dtype_name(kv),
      rows == 1
          ? fmt::format("decode {}, {} head(s) per CTA",
                        decode_attention_uses_mma(p) ? "mma" : "simt", plan.decode_heads_per_cta)
      : paged_attention_uses_mma(p) ? (paged_attention_ws_applies(p) ? "warp-specialised" : "mma")
                                    : "simt",
      s * 1e3, flops / s / 1e12, kv_gb / s);
  return flops / s / 1e12;
}

// Prefill prompts of 512/4096/32768 (and 131,072: issue 9's long context) tokens with the
// tensor-core kernel and then the SIMT one (up to 4,096) unless decode_only, then decode
// batches (contexts up to 262,144) on the tensor-core and the SIMT decode kernel (four-head
// CTAs) and the one-head SIMT CTAs, each over a BF16 and an FP8 pool. Decode lines' KV GB/s compare
// with the copy bandwidth.
void bench_attention(int num_sms, bool decode_only) {
  for (const bool mma : {true, false}) {
    set_paged_attention_mma(mma);
    for (int64_t n : {512, 4096, 32768, 131072}) {
      for (const KvDtype kv : {KvDtype::kBF16, KvDtype::kFp8E4M3}) {
        if (!decode_only && (mma || n < 32768)) attention_tflops(1, n, 0, num_sms, kv);
      }
    }
  }
  const std::pair<int, int64_t> decodes[] = {{1, 512},   {1, 4096},  {1, 32768}, {1, 262144},
                                             {16, 4096}, {64, 4096}, {16, 32768}};
  for (const auto& [b, context] : decodes) {
    for (const KvDtype kv : {KvDtype::kBF16, KvDtype::kFp8E4M3}) {
      for (const bool mma : {true, false}) {
        set_paged_attention_mma(mma);
        for (const int heads_per_cta : {1, kDecodeHeadsPerCta}) {
          // One-head CTAs run the SIMT kernel either way: once.
          if (!mma || heads_per_cta != 1)
            attention_tflops(b, 1, context - 1, num_sms, kv, heads_per_cta);
        }
      }
    }
  }
  set_paged_attention_mma(true);
}

// Causal prompts of 4,096 / 32,768 / 131,072 tokens on the tensor-core kernel, BF16 and FP8
// pools, each as a share of the BF16 matmul rate measured first in the same process
// (issue 9: >= 50 % at 131,072).
void bench_prefill_attention(int num_sms) {
  const double matmul = matmul_tflops();
  fmt::print("BF16 matmul 8192^3 (cuBLAS): {:.0f} TFLOP/s\n", matmul);
  for (int64_t n : {4096, 32768, 131072}) {
    for (const KvDtype kv : {KvDtype::kBF16, KvDtype::kFp8E4M3}) {
      const double tflops = attention_tflops(1, n, 0, num_sms, kv);
      fmt::print("  = {:.1f}% of matmul\n", 100 * tflops / matmul);
    }
  }
}

// One step of `tokens` prompt tokens (a fresh sequence); returns seconds (median of 3).
// Median wall time of three `tokens`-token prefill steps after one warm-up (`runs` = 1:
// the warm-up's alone, e.g. inside a profiler range).
double run_prefill(CudaRunner& runner, int64_t vocab, int64_t tokens, int runs = 4) {
  const int64_t bs = runner.block_size();
  Seq s;
  for (int64_t b = 0; b < (tokens + bs - 1) / bs; ++b) s.table.push_back(static_cast<int32_t>(b + 1));
  std::mt19937 rng(2);
  ScheduledSeq q{.seq_id = 99, .tokens = {}, .start_pos = 0, .block_table = s.table, .want_logits = true};
  for (int64_t t = 0; t < tokens; ++t) q.tokens.push_back(static_cast<int32_t>(rng() % vocab));
  SchedulerOutput step;
  step.seqs.push_back(q);
  step.total_tokens = tokens;
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    runner.execute(step);
    if (i > 0 || runs == 1) times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// The benchmarks of one checkpoint (BF16 or FP8): GEMV bandwidth at its shapes, decode
// batch 1 and batched, prefill. Prints as it goes; returns the JSON members (no braces).
// What --profile-decode runs between cudaProfilerStart / Stop: `steps` decode steps of
// `batch` rows, sampled on the GPU as served requests are (Qwen3's generation_config) when
// `sampled`.
// --profile-prefill N: one N-token prefill step there instead (after one outside).
// --prefill-only: the prefill lines alone (512, 4,096 and 16,384 tokens), nothing else.
struct ProfileRun {
  int steps = 0;
  int batch = 1;
  bool sampled = false;
  int64_t prefill_tokens = 0;
  bool prefill_only = false;
};

// Qwen3's generation_config sampling (what `serve` applies by default).
SamplingParams qwen3_default_sampling() {
  SamplingParams sp;
  sp.temperature = 0.7;
  sp.top_k = 20;
  sp.top_p = 0.8;
  return sp;
}

std::string bench_model(const std::string& dir, double copy_bw, int64_t context,
                        const ProfileRun& profile) {
  auto t0 = Clock::now();
  const auto weights = Qwen3Weights::load(dir);
  const double map_s = seconds_since(t0);
  const ModelConfig& c = weights->config();
  fmt::print("== model {} ({})\n", dir, c.quant.fp8 ? "FP8" : "BF16");
  const int64_t blocks = (8 * 2 + 4096 / 16) * 16 + 64;  // 64 x 2K-token seqs or one 4K prefill
  t0 = Clock::now();
  CudaRunner runner(*weights, std::min<int64_t>(blocks, 6000), 16);
  const double upload_s = seconds_since(t0);
  const double weight_bytes = static_cast<double>(weights->matrix_bytes());
  if (profile.steps > 0) {  // for ncu --profile-from-start off: decode steps, no graphs
    runner.set_cuda_graphs(false);
    const SamplingParams sp = qwen3_default_sampling();
    const SamplingParams* sample = profile.sampled ? &sp : nullptr;
    run_decode(runner, c.vocab_size, profile.batch, context, 2, 2048, sample);
    QWEN3_CUDA_CHECK(cudaProfilerStart());
    run_decode(runner, c.vocab_size, profile.batch, context, profile.steps, 2048, sample);
    QWEN3_CUDA_CHECK(cudaProfilerStop());
    return {};
  }
  if (profile.prefill_tokens > 0) {  // one prefill step for ncu, after a warm-up one
    run_prefill(runner, c.vocab_size, profile.prefill_tokens, 1);
    QWEN3_CUDA_CHECK(cudaProfilerStart());
    run_prefill(runner, c.vocab_size, profile.prefill_tokens, 1);
    QWEN3_CUDA_CHECK(cudaProfilerStop());
    return {};
  }
  const double roofline = copy_bw / weight_bytes;
  fmt::print("weights: {:.2f} GB streamed per token; mapped in {:.2f} s, uploaded in {:.2f} s; "
             "roofline {:.1f} tok/s\n",
             weight_bytes / 1e9, map_s, upload_s, roofline);

  std::string gemv_json, batch_json;
  DecodeResult d0, dn, d1;
  if (!profile.prefill_only) {
    const CudaLayerWeights& l0 = runner.weights().layers()[0];
    std::vector<std::pair<std::string, DeviceMatrix>> shapes = {
        {"qkv", l0.qkv},
        {"o", l0.o},
        {"gate_up", l0.gate_up},
        {"down", l0.down},
        {"lm_head", runner.weights().lm_head()}};
    // FP8 matrices of the layer shapes, for a BF16 model (an FP8 model's are its own).
    std::vector<std::unique_ptr<BenchFp8Matrix>> fp8_mats;
    if (!l0.qkv.is_fp8()) {
      for (size_t i = 0; i < 4; ++i) {
        fp8_mats.push_back(std::make_unique<BenchFp8Matrix>(shapes[i].second));
        shapes.push_back({shapes[i].first + "_fp8", fp8_mats.back()->m});
      }
    }
    LinearContext ctx(nullptr);
    struct Variant {
      int rows, r;  // r: GEMV rows per warp (0 = default), -1 = cuBLAS
    };
    // r = rows_per_warp + 16 * k_split (0 = the launcher's choice); -1 = cuBLAS.
    const Variant variants[] = {{1, 0},   {1, 16 + 1}, {1, 32 + 1}, {1, 64 + 1}, {1, 128 + 1},
                                {1, 2},   {2, 0},      {4, 0},      {8, 0},      {8, -1},
                                {16, -1}, {32, -1},    {64, -1}};
    for (const auto& [name, m] : shapes) {
      std::string line = fmt::format("linear {:11s} {} [{} x {}] GB/s:", name,
                                     m.is_fp8() ? dtype_name(m.dtype) : "BF16", m.rows, m.cols);
      for (const Variant v : variants) {
        const double gbs = linear_bandwidth(ctx, m, v.rows, v.r);
        line += fmt::format(" {}{}={:.0f}", v.r < 0 ? "cublas" : "gemv",
                            v.r > 0 ? fmt::format("R{}K{}", v.r % 16, v.r / 16) : "", gbs);
        line += fmt::format("(m{}, {:.0f}%)", v.rows, 100 * gbs * 1e9 / copy_bw);
        gemv_json += fmt::format(
            "{}{{\"name\":\"{}\",\"dtype\":\"{}\",\"n\":{},\"k\":{},\"rows\":{},"
            "\"kernel\":\"{}\",\"gb_s\":{:.1f},\"pct_copy\":{:.1f}}}",
            gemv_json.empty() ? "" : ",", name, m.is_fp8() ? dtype_name(m.dtype) : "BF16", m.rows,
            m.cols, v.rows, v.r < 0 ? "cublas" : fmt::format("gemv_r{}_k{}", v.r % 16, v.r / 16),
            gbs, 100 * gbs * 1e9 / copy_bw);
      }
      fmt::print("{}\n", line);
    }

    runner.set_cuda_graphs(false);
    d0 = run_decode(runner, c.vocab_size, 1, context, 64, 2048);
    fmt::print(
        "decode batch 1 @ context {}, no CUDA graphs, PDL: {:.1f} tok/s ({:.2f} ms/step, GPU "
        "{:.2f} ms)\n",
        context, d0.tok_s, d0.step_ms, d0.gpu_ms);
    set_pdl_enabled(false);
    runner.set_cuda_graphs(true);
    dn = run_decode(runner, c.vocab_size, 1, context, 64, 2048);
    fmt::print(
        "decode batch 1 @ context {}, CUDA graphs, no PDL: {:.1f} tok/s ({:.2f} ms/step, GPU "
        "{:.2f} ms)\n",
        context, dn.tok_s, dn.step_ms, dn.gpu_ms);
    set_pdl_enabled(true);
    runner.set_cuda_graphs(true);
    d1 = run_decode(runner, c.vocab_size, 1, context, 128, 2048);
    fmt::print(
        "decode batch 1 @ context {}, CUDA graphs + PDL: {:.1f} tok/s ({:.2f} ms/step, GPU "
        "{:.2f} ms) = {:.1f}% of roofline; {} graphs captured\n",
        context, d1.tok_s, d1.step_ms, d1.gpu_ms, 100 * d1.tok_s / roofline,
        runner.graphs_captured());
    for (int n : {4, 8, 16, 32, 64}) {
      const DecodeResult db = run_decode(runner, c.vocab_size, n, context, 32, 8192);
      fmt::print("decode batch {} @ context {}: {:.0f} tok/s ({:.2f} ms/step, GPU {:.2f} ms)\n", n,
                 context, db.tok_s, db.step_ms, db.gpu_ms);
      batch_json +=
          fmt::format("{}{{\"batch\":{},\"tok_s\":{:.1f},\"step_ms\":{:.3f},\"gpu_ms\":{:.3f}}}",
                      batch_json.empty() ? "" : ",", n, db.tok_s, db.step_ms, db.gpu_ms);
    }
    {  // with sampling on the GPU, as served requests are
      const SamplingParams sp = qwen3_default_sampling();
      for (int n : {1, 64}) {
        const DecodeResult ds = run_decode(runner, c.vocab_size, n, context, 32, 8192, &sp);
        fmt::print("decode batch {} @ context {} + GPU sampling: {:.0f} tok/s ({:.2f} ms/step)\n",
                   n, context, ds.tok_s, ds.step_ms);
      }
    }
  }  // !prefill_only
  std::string prefill_json;
  double linear_weights = 0;  // weights of the linears (2 FLOP each per token)
  {
    auto count = [&](const WeightMatrix& m) { linear_weights += static_cast<double>(m.rows * m.cols); };
    count(weights->lm_head());
    for (const auto& l : weights->layers())
      for (const WeightMatrix* m : {&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_proj,
                                    &l.up_proj, &l.down_proj})
        count(*m);
  }
  const double matmul = matmul_tflops();
  fmt::print("BF16 matmul 8192^3 (cuBLAS, the prefill ceiling): {:.0f} TFLOP/s\n", matmul);
  for (int64_t tokens : {int64_t{512}, int64_t{4096}, int64_t{16384}}) {
    if (tokens > 4096 && !profile.prefill_only) break;
    const double s = run_prefill(runner, c.vocab_size, tokens);
    const double flops = 2.0 * linear_weights * tokens;  // linears only (2 FLOP per weight)
    fmt::print(
        "prefill {} tokens: {:.1f} ms, {:.0f} tok/s, {:.0f} TFLOP/s in the linears' count "
        "= {:.1f}% of matmul\n",
        tokens, s * 1e3, tokens / s, flops / s / 1e12, 100 * flops / s / 1e12 / matmul);
    prefill_json += fmt::format(
        "{}{{\"tokens\":{},\"ms\":{:.2f},\"tok_s\":{:.1f},\"tflop_s\":{:.1f},\"pct_matmul\":{:.1f}}"
        "}",
        prefill_json.empty() ? "" : ",", tokens, s * 1e3, tokens / s, flops / s / 1e12,
        100 * flops / s / 1e12 / matmul);
  }
  return fmt::format(
      "\"weight_gb_per_token\":{:.4f},\"roofline_tok_s\":{:.1f},\"load\":{{\"map_s\":{:.3f},"
      "\"upload_s\":{:.3f}}},\"gemv\":[{}],\"decode_b1\":{{\"context\":{},\"tok_s\":{:.1f},"
      "\"step_ms\":{:.3f},\"gpu_ms\":{:.3f},\"pct_roofline\":{:.1f},\"no_graphs_tok_s\":{:.1f},"
      "\"graphs_no_pdl_tok_s\":{:.1f}}},\"decode_batched\":[{}],\"matmul_bf16_tflop_s\":{:.1f},"
      "\"prefill\":[{}]",
      weight_bytes / 1e9, roofline, map_s, upload_s, gemv_json, context, d1.tok_s, d1.step_ms,
      d1.gpu_ms, 100 * d1.tok_s / roofline, d0.tok_s, dn.tok_s, batch_json, matmul, prefill_json);
}

int run(int argc, char** argv) {
  std::string model, fp8_model, like, json_path;
  int64_t context = 512;
  // "1": the attention kernels alone; "decode": decode rows only; "prefill": prompts only
  std::string attention_only;
  int grid_sync_iters = 0;
  ProfileRun profile;  // steps > 0: only run that many decode steps inside cudaProfilerStart/Stop
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--model") model = argv[i + 1];
    else if (a == "--fp8-model") fp8_model = argv[i + 1];
    else if (a == "--profile-decode") profile.steps = std::stoi(argv[i + 1]);
    else if (a == "--profile-batch") profile.batch = std::stoi(argv[i + 1]);
    else if (a == "--profile-sampled") profile.sampled = std::string(argv[i + 1]) == "1";
    else if (a == "--profile-prefill")
      profile.prefill_tokens = std::stoll(argv[i + 1]);
    else if (a == "--prefill-only")
      profile.prefill_only = std::string(argv[i + 1]) == "1";
    else if (a == "--init-random") like = argv[i + 1];
    else if (a == "--json") json_path = argv[i + 1];
    else if (a == "--context") context = std::stoll(argv[i + 1]);
    else if (a == "--attention-only")
      attention_only = argv[i + 1];
    else if (a == "--grid-sync")
      grid_sync_iters = std::stoi(argv[i + 1]);
    else QWEN3_THROW(ErrorCode::kInvalidArgument, "unknown flag {}", a);
  }
  if (attention_only != "" && attention_only != "1" && attention_only != "decode" &&
      attention_only != "prefill") {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--attention-only takes 1, decode or prefill, not {}", attention_only);
  }
  if (grid_sync_iters > 0) {
    const GridSyncTimes t = time_grid_sync(grid_sync_iters);
    fmt::print(
        "grid barrier alone ({} blocks x 15 warps, {} in a row): grid_sync {:.2f} us, "
        "without the poll's sleep {:.2f} us, without sleep and fence {:.2f} us\n",
        t.blocks, grid_sync_iters, t.grid_sync_us, t.no_sleep_us, t.no_fence_us);
    return 0;
  }
  if (model.empty() && attention_only.empty()) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--model DIR is required");
  }
  cudaDeviceProp prop{};
  QWEN3_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  fmt::print("device: {} ({} SMs, {:.0f} GiB)\n", prop.name, prop.multiProcessorCount,
             prop.totalGlobalMem / 1073741824.0);
  // The FP8 checkpoint shares the BF16 one's seed: the same weights, quantized.
  for (const bool fp8 : {false, true}) {
    const std::string& dir = fp8 ? fp8_model : model;
    if (like.empty() || dir.empty() || std::filesystem::exists(dir)) continue;
    const auto t0 = Clock::now();
    InitRandomOptions o;
    o.config = config_from_like(like);
    o.seed = 1;
    o.fp8 = fp8;
    o.out_dir = dir;
    init_random_checkpoint(o);
    fmt::print("init-random --like {}{} -> {} in {:.1f} s\n", like, fp8 ? " --fp8" : "", dir,
               seconds_since(t0));
  }
  if (!attention_only.empty()) {  // the kernels alone, no model
    if (attention_only == "decode") {
      fmt::print("device-to-device copy: {:.0f} GB/s (read + write)\n",
                 copy_bandwidth(size_t{2} << 30) / 1e9);
    }
    if (attention_only == "prefill") {
      bench_prefill_attention(prop.multiProcessorCount);
    } else {
      bench_attention(prop.multiProcessorCount, attention_only == "decode");
    }
    return 0;
  }
  const double copy_bw = copy_bandwidth(size_t{2} << 30);
  fmt::print("device-to-device copy: {:.0f} GB/s (read + write)\n", copy_bw / 1e9);

  const std::string main_json = bench_model(model, copy_bw, context, profile);
  if (profile.steps > 0 || profile.prefill_tokens > 0 || profile.prefill_only) return 0;
  bench_attention(prop.multiProcessorCount, false);
  std::string fp8_json;
  if (!fp8_model.empty()) fp8_json = bench_model(fp8_model, copy_bw, context, ProfileRun{});
  if (!json_path.empty()) {
    FILE* f = std::fopen(json_path.c_str(), "w");
    if (!f) QWEN3_THROW(ErrorCode::kIo, "cannot write {}", json_path);
    fmt::print(f, "{{\"device\":\"{}\",\"copy_gb_s\":{:.1f},{}{}}}\n", prop.name,
               copy_bw / 1e9, main_json,
               fp8_json.empty() ? "" : fmt::format(",\"fp8\":{{{}}}", fp8_json));
    std::fclose(f);
  }
  return 0;
}

}  // namespace
}  // namespace qwen3::cuda

int main(int argc, char** argv) {
  try {
    return qwen3::cuda::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
