// CUDA backend benchmark (one GPU): the copy-bandwidth roofline, the decode GEMV's
// bandwidth at Qwen3-4B shapes, batch-1 decode tokens/s at a given context as a share
// of the roofline (copy bandwidth / weight bytes per token), batched decode, and
// prefill tokens/s. Drives CudaRunner directly with scheduler-shaped steps (logits
// copied to the host every step, no sampling). Writes a JSON summary.
//
//   qwen3_cuda_bench --model DIR [--init-random qwen3-4b] [--json out.json]
#include <cuda_profiler_api.h>
#include <cuda_runtime_api.h>
#include <fmt/core.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_runner.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/kernels/gemv.h"
#include "backends/cuda/kernels/launch.h"
#include "core/error.h"
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

// A real weight matrix times `rows` activation rows: the GEMV with rows_per_warp R
// (0: the launcher's choice), or cuBLAS when R < 0. Returns weight GB/s (median of 25).
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
  return static_cast<double>(w.rows * w.cols * 2) / (ms[ms.size() / 2] * 1e-3) / 1e9;
}

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
DecodeResult run_decode(CudaRunner& runner, int64_t vocab, int n, int64_t context, int steps,
                        int64_t chunk) {
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
    runner.execute(step);
    if (k >= 0) gpu_ms += runner.last_step_gpu_ms();
  }
  const double s = seconds_since(t0);
  return {n * steps / s, s / steps * 1e3, gpu_ms / steps};
}

// One step of `tokens` prompt tokens (a fresh sequence); returns seconds (median of 3).
double run_prefill(CudaRunner& runner, int64_t vocab, int64_t tokens) {
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
  for (int i = 0; i < 4; ++i) {
    const auto t0 = Clock::now();
    runner.execute(step);
    if (i > 0) times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int run(int argc, char** argv) {
  std::string model, like, json_path;
  int64_t context = 512;
  int profile_steps = 0;  // > 0: only run that many decode steps inside cudaProfilerStart/Stop
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--model") model = argv[i + 1];
    else if (a == "--profile-decode") profile_steps = std::stoi(argv[i + 1]);
    else if (a == "--init-random") like = argv[i + 1];
    else if (a == "--json") json_path = argv[i + 1];
    else if (a == "--context") context = std::stoll(argv[i + 1]);
    else QWEN3_THROW(ErrorCode::kInvalidArgument, "unknown flag {}", a);
  }
  if (model.empty()) QWEN3_THROW(ErrorCode::kInvalidArgument, "--model DIR is required");
  cudaDeviceProp prop{};
  QWEN3_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  fmt::print("device: {} ({} SMs, {:.0f} GiB)\n", prop.name, prop.multiProcessorCount,
             prop.totalGlobalMem / 1073741824.0);
  if (!like.empty() && !std::filesystem::exists(model)) {
    const auto t0 = Clock::now();
    InitRandomOptions o;
    o.config = config_from_like(like);
    o.seed = 1;
    o.out_dir = model;
    init_random_checkpoint(o);
    fmt::print("init-random --like {} -> {} in {:.1f} s\n", like, model, seconds_since(t0));
  }
  const double copy_bw = copy_bandwidth(size_t{2} << 30);
  fmt::print("device-to-device copy: {:.0f} GB/s (read + write)\n", copy_bw / 1e9);

  auto t0 = Clock::now();
  const auto weights = Qwen3Weights::load(model);
  const double map_s = seconds_since(t0);
  const ModelConfig& c = weights->config();
  const int64_t blocks = (8 * 2 + 4096 / 16) * 16 + 64;  // 64 x 2K-token seqs or one 4K prefill
  t0 = Clock::now();
  CudaRunner runner(*weights, std::min<int64_t>(blocks, 6000), 16);
  const double upload_s = seconds_since(t0);
  const double weight_bytes = static_cast<double>(weights->matrix_bytes());
  if (profile_steps > 0) {  // for ncu --profile-from-start off: decode steps, no graphs
    runner.set_cuda_graphs(false);
    run_decode(runner, c.vocab_size, 1, context, 2, 2048);
    QWEN3_CUDA_CHECK(cudaProfilerStart());
    run_decode(runner, c.vocab_size, 1, context, profile_steps, 2048);
    QWEN3_CUDA_CHECK(cudaProfilerStop());
    return 0;
  }
  const double roofline = copy_bw / weight_bytes;
  fmt::print("weights: {:.2f} GB streamed per token; mapped in {:.2f} s, uploaded in {:.2f} s; "
             "roofline {:.1f} tok/s\n",
             weight_bytes / 1e9, map_s, upload_s, roofline);

  std::string gemv_json;
  const CudaLayerWeights& l0 = runner.weights().layers()[0];
  const std::pair<const char*, DeviceMatrix> shapes[] = {{"qkv", l0.qkv}, {"o", l0.o},
                                                         {"gate_up", l0.gate_up}, {"down", l0.down},
                                                         {"lm_head", runner.weights().lm_head()}};
  LinearContext ctx(nullptr);
  struct Variant {
    int rows, r;  // r: GEMV rows per warp (0 = default), -1 = cuBLAS
  };
  // r = rows_per_warp + 16 * k_split (0 = the launcher's choice); -1 = cuBLAS.
  const Variant variants[] = {{1, 0}, {1, 16 + 1}, {1, 32 + 1}, {1, 64 + 1}, {1, 128 + 1},
                              {1, 2}, {2, 0}, {4, 0}, {8, 0}, {8, -1}, {16, -1}, {32, -1},
                              {64, -1}};
  for (const auto& [name, m] : shapes) {
    std::string line = fmt::format("linear {:8s} [{} x {}] GB/s:", name, m.rows, m.cols);
    for (const Variant v : variants) {
      const double gbs = linear_bandwidth(ctx, m, v.rows, v.r);
      line += fmt::format(" {}{}={:.0f}", v.r < 0 ? "cublas" : "gemv",
                          v.r > 0 ? fmt::format("R{}K{}", v.r % 16, v.r / 16) : "", gbs);
      line += fmt::format("(m{})", v.rows);
      gemv_json += fmt::format(
          "{}{{\"name\":\"{}\",\"n\":{},\"k\":{},\"rows\":{},\"kernel\":\"{}\",\"gb_s\":{:.1f},"
          "\"pct_copy\":{:.1f}}}",
          gemv_json.empty() ? "" : ",", name, m.rows, m.cols, v.rows,
          v.r < 0 ? "cublas" : fmt::format("gemv_r{}_k{}", v.r % 16, v.r / 16), gbs,
          100 * gbs * 1e9 / copy_bw);
    }
    fmt::print("{}\n", line);
  }

  runner.set_cuda_graphs(false);
  const DecodeResult d0 = run_decode(runner, c.vocab_size, 1, context, 64, 2048);
  fmt::print("decode batch 1 @ context {}, no CUDA graphs, PDL: {:.1f} tok/s ({:.2f} ms/step, GPU {:.2f} ms)\n",
             context, d0.tok_s, d0.step_ms, d0.gpu_ms);
  set_pdl_enabled(false);
  runner.set_cuda_graphs(true);
  const DecodeResult dn = run_decode(runner, c.vocab_size, 1, context, 64, 2048);
  fmt::print("decode batch 1 @ context {}, CUDA graphs, no PDL: {:.1f} tok/s ({:.2f} ms/step, GPU {:.2f} ms)\n",
             context, dn.tok_s, dn.step_ms, dn.gpu_ms);
  set_pdl_enabled(true);
  runner.set_cuda_graphs(true);
  const DecodeResult d1 = run_decode(runner, c.vocab_size, 1, context, 128, 2048);
  fmt::print("decode batch 1 @ context {}, CUDA graphs + PDL: {:.1f} tok/s ({:.2f} ms/step, GPU "
             "{:.2f} ms) = {:.1f}% of roofline; {} graphs captured\n",
             context, d1.tok_s, d1.step_ms, d1.gpu_ms, 100 * d1.tok_s / roofline,
             runner.graphs_captured());
  std::string batch_json;
  for (int n : {4, 8, 16, 32, 64}) {
    const DecodeResult db = run_decode(runner, c.vocab_size, n, context, 32, 8192);
    fmt::print("decode batch {} @ context {}: {:.0f} tok/s ({:.2f} ms/step, GPU {:.2f} ms)\n", n,
               context, db.tok_s, db.step_ms, db.gpu_ms);
    batch_json += fmt::format("{}{{\"batch\":{},\"tok_s\":{:.1f},\"step_ms\":{:.3f},\"gpu_ms\":{:.3f}}}",
                              batch_json.empty() ? "" : ",", n, db.tok_s, db.step_ms, db.gpu_ms);
  }
  std::string prefill_json;
  for (int64_t tokens : {512, 4096}) {
    const double s = run_prefill(runner, c.vocab_size, tokens);
    const double flops = 2.0 * weight_bytes / 2 * tokens;  // linears only (2 FLOP per weight)
    fmt::print("prefill {} tokens: {:.1f} ms, {:.0f} tok/s, {:.0f} TFLOP/s in the linears' count\n",
               tokens, s * 1e3, tokens / s, flops / s / 1e12);
    prefill_json += fmt::format("{}{{\"tokens\":{},\"ms\":{:.2f},\"tok_s\":{:.1f},\"tflop_s\":{:.1f}}}",
                                prefill_json.empty() ? "" : ",", tokens, s * 1e3, tokens / s,
                                flops / s / 1e12);
  }
  if (!json_path.empty()) {
    FILE* f = std::fopen(json_path.c_str(), "w");
    if (!f) QWEN3_THROW(ErrorCode::kIo, "cannot write {}", json_path);
    fmt::print(f,
               "{{\"device\":\"{}\",\"copy_gb_s\":{:.1f},\"weight_gb_per_token\":{:.4f},"
               "\"roofline_tok_s\":{:.1f},\"load\":{{\"map_s\":{:.3f},\"upload_s\":{:.3f}}},"
               "\"gemv\":[{}],\"decode_b1\":{{\"context\":{},\"tok_s\":{:.1f},\"step_ms\":{:.3f},"
               "\"gpu_ms\":{:.3f},\"pct_roofline\":{:.1f},\"no_graphs_tok_s\":{:.1f},\"graphs_no_pdl_tok_s\":{:.1f}}},\"decode_batched\":[{}],\"prefill\":[{}]}}\n",
               prop.name, copy_bw / 1e9, weight_bytes / 1e9, roofline, map_s, upload_s, gemv_json,
               context, d1.tok_s, d1.step_ms, d1.gpu_ms, 100 * d1.tok_s / roofline, d0.tok_s,
               dn.tok_s, batch_json,
               prefill_json);
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
