// GPU sampling (see sampling.h): the host sampler's semantics, stage by stage.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/sampling.h"
#include "backends/cuda/kernels/sampling_common.cuh"
#include "backends/cuda/kernels/sampling_mass.h"

namespace qwen3::cuda {
namespace {

using namespace sampling_detail;  // NOLINT(google-build-using-namespace)

constexpr int kThreads = 512;  // one block per row
constexpr size_t kAlign = 256;

template <typename T>
__device__ T block_sum(T v, T* scratch) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  v = threadIdx.x < kThreads / 32 ? scratch[threadIdx.x] : T(0);
  if (threadIdx.x < 32)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x == 0) scratch[0] = v;
  __syncthreads();
  const T total = scratch[0];
  __syncthreads();
  return total;
}

__device__ float block_max(float v, float* scratch) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  v = threadIdx.x < kThreads / 32 ? scratch[threadIdx.x] : neg_inf();
  if (threadIdx.x < 32)
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (threadIdx.x == 0) scratch[0] = v;
  __syncthreads();
  const float m = scratch[0];
  __syncthreads();
  return m;
}

// ---- stage 2: sparse edits ----

struct EditArgs {
  SamplingParamsGpu p;
  int64_t row0;
};

__global__ void __launch_bounds__(kThreads) sampling_edit_kernel(EditArgs a) {
  const int64_t i = blockIdx.x;
  const int64_t r = a.row0 + i;
  const SamplingRowParams rp = a.p.rows[r];
  const int64_t vocab = a.p.vocab;
  float* row = a.p.logits + r * vocab;
  if (threadIdx.x == 0) {  // in order: a repeated id adds its values one after another
    for (int32_t j = rp.bias_begin; j < rp.bias_end; ++j) row[a.p.bias_ids[j]] += a.p.bias_values[j];
  }
  __syncthreads();
  for (int32_t j = rp.mask_begin + threadIdx.x; j < rp.mask_end; j += kThreads)
    row[a.p.ids[j]] = neg_inf();
  __syncthreads();
  for (int32_t j = rp.rep_begin + threadIdx.x; j < rp.rep_end; j += kThreads) {
    const double l = row[a.p.ids[j]];
    row[a.p.ids[j]] =
        static_cast<float>(l > 0 ? l / rp.repetition_penalty : l * rp.repetition_penalty);
  }
  __syncthreads();
  for (int32_t j = rp.freq_begin + threadIdx.x; j < rp.freq_end; j += kThreads) {
    const int32_t t = a.p.ids[j];
    row[t] = static_cast<float>(row[t] - rp.frequency_penalty * a.p.counts[j] -
                                rp.presence_penalty);
  }
}

// ---- stage 3: greedy rows ----

__global__ void __launch_bounds__(kThreads) sampling_argmax_kernel(SamplingParamsGpu p,
                                                                    int64_t row0) {
  const int64_t r = row0 + blockIdx.x;
  if (p.rows[r].temperature != 0.0) return;
  const float* row = p.logits + r * p.vocab;
  float best = neg_inf();
  int32_t best_id = std::numeric_limits<int32_t>::max();
  for (int64_t j = threadIdx.x; j < p.vocab; j += kThreads) {
    float v = row[j];
    if (isnan(v)) v = neg_inf();
    if (v > best || (v == best && j < best_id)) {
      best = v;
      best_id = static_cast<int32_t>(j);
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, o);
    const int32_t oid = __shfl_xor_sync(0xffffffffu, best_id, o);
    if (ov > best || (ov == best && oid < best_id)) {
      best = ov;
      best_id = oid;
    }
  }
  __shared__ float s_val[kThreads / 32];
  __shared__ int32_t s_id[kThreads / 32];
  if ((threadIdx.x & 31) == 0) {
    s_val[threadIdx.x >> 5] = best;
    s_id[threadIdx.x >> 5] = best_id;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kThreads / 32; ++w) {
      if (s_val[w] > best || (s_val[w] == best && s_id[w] < best_id)) {
        best = s_val[w];
        best_id = s_id[w];
      }
    }
    p.tokens[r] = best_id;
  }
}

// ---- stage 6: raw logprobs ----

__global__ void __launch_bounds__(kThreads) sampling_logprob_kernel(SamplingParamsGpu p,
                                                                     int64_t row0,
                                                                     const float* raw) {
  const int64_t i = blockIdx.x;
  const int64_t r = row0 + i;
  if (!p.rows[r].want_logprob) {
    if (threadIdx.x == 0) p.logprobs[r] = 0.0f;
    return;
  }
  const float* row = raw + i * p.vocab;
  __shared__ float s_max[32];
  __shared__ double s_sum[32];
  float m = neg_inf();
  for (int64_t j = threadIdx.x; j < p.vocab; j += kThreads) m = row[j] > m ? row[j] : m;
  const float top = block_max(m, s_max);
  double sum = 0;
  if (isfinite(top)) {
    for (int64_t j = threadIdx.x; j < p.vocab; j += kThreads) sum += full_weight(row[j], top, 1.0);
  }
  sum = block_sum(sum, s_sum);
  if (threadIdx.x == 0) {
    const double lse = isfinite(top) ? top + log(sum) : static_cast<double>(top);
    p.logprobs[r] = static_cast<float>(row[p.tokens[r]] - lse);
  }
}

// ---- workspace ----

struct Workspace {
  float* raw;  // [chunk, vocab] the rows before the edits (logprobs)
  void* mass;  // launch_mass_draw's scratch
  size_t total;
};

size_t align_up(size_t b) { return (b + kAlign - 1) / kAlign * kAlign; }

Workspace layout(void* base, int64_t rows, int64_t vocab) {
  const int64_t chunk = std::min(rows, kSamplingChunkRows);
  auto* b = static_cast<uint8_t*>(base);
  Workspace w{};
  size_t off = 0;
  auto take = [&](size_t bytes) {
    uint8_t* at = b ? b + off : nullptr;
    off += align_up(bytes);
    return static_cast<void*>(at);
  };
  w.raw = static_cast<float*>(take(static_cast<size_t>(chunk * vocab) * sizeof(float)));
  w.mass = take(mass_draw_bytes(chunk));
  w.total = off;
  return w;
}

void check_row(const SamplingRowParams& r, int64_t vocab, int64_t num_ids, int64_t num_bias) {
  constexpr const char* kName = "sampling";
  check_shape(r.temperature >= 0.0 && std::isfinite(r.temperature), kName,
              "temperature must be finite and >= 0");
  check_shape(r.top_p > 0.0 && r.top_p <= 1.0, kName, "top_p must be in (0, 1]");
  check_shape(r.min_p >= 0.0 && r.min_p <= 1.0, kName, "min_p must be in [0, 1]");
  check_shape(r.u >= 0.0 && r.u < 1.0, kName, "u must be in [0, 1)");
  check_shape(r.top_k >= 0 && r.top_k <= vocab, kName, "top_k must be in [0, vocab]");
  auto range_ok = [](int32_t b, int32_t e, int64_t n) { return 0 <= b && b <= e && e <= n; };
  check_shape(range_ok(r.bias_begin, r.bias_end, num_bias), kName, "bias range out of bounds");
  check_shape(range_ok(r.mask_begin, r.mask_end, num_ids) &&
                  range_ok(r.rep_begin, r.rep_end, num_ids) &&
                  range_ok(r.freq_begin, r.freq_end, num_ids),
              kName, "id range out of bounds");
}

}  // namespace

size_t sampling_workspace_bytes(int64_t rows, int64_t vocab) {
  return layout(nullptr, std::max<int64_t>(rows, 1), vocab).total;
}

void launch_sampling(const SamplingParamsGpu& p, cudaStream_t stream) {
  constexpr const char* kName = "sampling";
  check_shape(p.num_rows >= 1 && p.vocab >= 1, kName, "needs rows >= 1 and vocab >= 1");
  check_shape(p.vocab < std::numeric_limits<int32_t>::max(), kName,
              "vocab too large for 32-bit token ids", true);
  check_shape(p.logits && p.rows && p.host_rows && p.tokens && p.logprobs && p.workspace, kName,
              "null pointer");
  check_shape(p.workspace_bytes >= sampling_workspace_bytes(p.num_rows, p.vocab), kName,
              "workspace too small (see sampling_workspace_bytes)");
  check_shape(reinterpret_cast<uintptr_t>(p.workspace) % kAlign == 0, kName,
              "workspace must be 256-byte aligned");
  for (int64_t r = 0; r < p.num_rows; ++r) check_row(p.host_rows[r], p.vocab, p.num_ids, p.num_bias);

  const Workspace w = layout(p.workspace, p.num_rows, p.vocab);
  for (int64_t row0 = 0; row0 < p.num_rows; row0 += kSamplingChunkRows) {
    const int64_t chunk = std::min(kSamplingChunkRows, p.num_rows - row0);
    const auto cv = static_cast<size_t>(chunk * p.vocab);
    bool any_random = false, any_logprob = false, any_top_k = false, any_top_p = false;
    for (int64_t r = row0; r < row0 + chunk; ++r) {
      const SamplingRowParams& hr = p.host_rows[r];
      const bool random = hr.temperature != 0.0;
      any_random |= random;
      any_logprob |= hr.want_logprob != 0;
      any_top_k |= random && top_k_path(hr, p.vocab);
      any_top_p |= random && hr.top_p < 1.0;
    }
    if (any_logprob) {
      QWEN3_CUDA_CHECK(cudaMemcpyAsync(w.raw, p.logits + row0 * p.vocab, cv * sizeof(float),
                                       cudaMemcpyDeviceToDevice, stream));
    }
    const dim3 grid(static_cast<unsigned>(chunk));
    sampling_edit_kernel<<<grid, kThreads, 0, stream>>>(EditArgs{p, row0});
    QWEN3_CUDA_CHECK_LAUNCH("sampling_edit_kernel");
    sampling_argmax_kernel<<<grid, kThreads, 0, stream>>>(p, row0);
    QWEN3_CUDA_CHECK_LAUNCH("sampling_argmax_kernel");
    if (any_random) launch_mass_draw(p, row0, chunk, w.mass, any_top_k, any_top_p, stream);
    sampling_logprob_kernel<<<grid, kThreads, 0, stream>>>(p, row0, w.raw);
    QWEN3_CUDA_CHECK_LAUNCH("sampling_logprob_kernel");
  }
}

}  // namespace qwen3::cuda
