// GPU sampling (see sampling.h): the host sampler's semantics, stage by stage.
#include <cub/block/block_scan.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>

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
constexpr int kItems = 4;      // consecutive elements per thread in a scan tile
constexpr int kTile = kThreads * kItems;
constexpr size_t kAlign = 256;

// The top_k weight of the host's candidate_weights: double.
__device__ __forceinline__ double top_k_weight(float v, float top, double inv_t) {
  return v == top ? 1.0 : exp((static_cast<double>(v) - top) * inv_t);
}

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

// ---- stage 2: sparse edits, then (random rows) cleaning and the sort's ids ----

struct EditArgs {
  SamplingParamsGpu p;
  int64_t row0;
  int32_t* sort_ids;   // [chunk, vocab]; null when the chunk selects instead of sorting
  int32_t* seg_begin;  // [chunk]
  int32_t* seg_end;    // [chunk]
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
  const bool random = rp.temperature != 0.0;
  if (threadIdx.x == 0) {
    a.seg_begin[i] = static_cast<int32_t>(i * vocab);
    a.seg_end[i] = static_cast<int32_t>(random ? (i + 1) * vocab : i * vocab);
  }
  // Only the sort needs the row cleaned in place (NaN -> -inf, -0 -> +0: equal logits)
  // and its ids; the selections clean as they read.
  if (!random || a.sort_ids == nullptr) return;
  __syncthreads();
  int32_t* ids = a.sort_ids + i * vocab;
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    row[j] = clean_logit(row[j]);
    ids[j] = static_cast<int32_t>(j);
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

// ---- stage 5: random rows, over the sorted row ----

using BlockScan = cub::BlockScan<double, kThreads>;

struct ScanResult {
  int64_t index;  // the first i with cum(i) >= need (> need when strict); n if none
  double sum;     // the sum of all n weights when none reached `need`
};

// Walks w(0..n) in tiles, best first, and stops at the first tile where the running sum
// reaches `need`. Every thread gets the same result. The running sum before a tile lives
// in each thread's registers (the scan gives every thread the tile's total), so the only
// shared state is the index found.
template <typename Weight>
__device__ ScanResult scan_until(int64_t n, Weight w, double need, bool strict,
                                 BlockScan::TempStorage& temp, long long* s_found) {
  __syncthreads();  // the previous call's result may still be being read
  if (threadIdx.x == 0) *s_found = n;
  __syncthreads();
  double carry = 0;
  for (int64_t base = 0; base < n; base += kTile) {
    double v[kItems];
    double local = 0;
    const int64_t first = base + static_cast<int64_t>(threadIdx.x) * kItems;
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      v[k] = first + k < n ? w(first + k) : 0.0;
      local += v[k];
    }
    double before = 0, tile_sum = 0;
    BlockScan(temp).ExclusiveSum(local, before, tile_sum);
    double cum = carry + before;
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      if (first + k >= n) break;
      cum += v[k];
      if (strict ? cum > need : cum >= need) {
        atomicMin(s_found, static_cast<long long>(first + k));
        break;
      }
    }
    __syncthreads();
    const bool done = *s_found < n;
    __syncthreads();  // every thread has read s_found before the next tile may lower it
    carry += tile_sum;
    if (done) break;
  }
  return {*s_found, carry};
}

// The first i in [0, n) with !(w(i) >= floor) (weights are non-increasing): n if none.
template <typename Weight>
__device__ int64_t first_below(int64_t n, Weight w, double floor) {
  int64_t lo = 0, hi = n;  // w(i) >= floor for i < lo; the answer is in [lo, hi]
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (w(mid) >= floor) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

struct DrawArgs {
  SamplingParamsGpu p;
  int64_t row0;
  const float* keys;  // [chunk, vocab] each random row sorted, best first
  const int32_t* ids; // [chunk, vocab] their token ids
  bool selected;      // keys / ids hold the selection's top_k entries: only kSelect rows
};

template <typename Weight>
__device__ int64_t draw_sorted(int64_t n, bool top_k_path, Weight w, const SamplingRowParams& rp,
                               BlockScan::TempStorage& temp, long long* s_found) {
  const double total = scan_until(n, w, INFINITY, false, temp, s_found).sum;
  // Weights are > 0 for i < positive (the full path keeps only those): >= the least
  // positive double.
  const int64_t positive = first_below(n, w, 4.9406564584124654e-324);
  int64_t kept = top_k_path ? n : positive;
  bool cut = false;
  if (rp.top_p < 1.0) {
    const ScanResult s = scan_until(n, w, rp.top_p * total, false, temp, s_found);
    if (s.index < n && s.index + 1 < kept) {
      kept = s.index + 1;
      cut = true;
    }
  }
  if (rp.min_p > 0.0) {
    // top_k: w < min_p * w[0] (double, w[0] = 1); full: w < float(min_p), as the host's floor.
    const double floor = top_k_path ? rp.min_p : static_cast<double>(static_cast<float>(rp.min_p));
    const int64_t m = std::max<int64_t>(first_below(n, w, floor), 1);
    if (m < kept) {
      kept = m;
      cut = true;
    }
  }
  if (!top_k_path && (rp.top_p < 1.0 || rp.min_p > 0.0)) cut = true;  // host sums the kept set
  const double kept_mass = cut ? scan_until(kept, w, INFINITY, false, temp, s_found).sum
                               : total;
  const ScanResult d = scan_until(kept, w, rp.u * kept_mass, true, temp, s_found);
  if (d.index < kept) return d.index;
  // Rounding left the target unreached: the last candidate with a positive weight.
  return std::max<int64_t>(std::min(kept, positive), 1) - 1;
}

__global__ void __launch_bounds__(kThreads) sampling_draw_kernel(DrawArgs a) {
  const int64_t i = blockIdx.x;
  const int64_t r = a.row0 + i;
  const SamplingRowParams rp = a.p.rows[r];
  if (rp.temperature == 0.0) return;
  const int64_t vocab = a.p.vocab;
  if (a.selected && row_path(rp, vocab) != RowPath::kSelect) return;
  const float* s = a.keys + i * vocab;
  const int32_t* ids = a.ids + i * vocab;
  __shared__ BlockScan::TempStorage temp;
  __shared__ long long s_found;
  const float top = s[0];
  if (!(top > neg_inf())) {  // everything masked: the lowest id, as the host
    if (threadIdx.x == 0) a.p.tokens[r] = ids[0];
    return;
  }
  const double inv_t = 1.0 / rp.temperature;
  const bool top_k_path = rp.top_k >= 1 && rp.top_k < vocab;
  int64_t k;
  if (top_k_path) {
    auto w = [&](int64_t j) { return top_k_weight(s[j], top, inv_t); };
    k = draw_sorted(rp.top_k, true, w, rp, temp, &s_found);
  } else {
    auto w = [&](int64_t j) { return full_weight(s[j], top, inv_t); };
    k = draw_sorted(vocab, false, w, rp, temp, &s_found);
  }
  if (threadIdx.x == 0) a.p.tokens[r] = ids[k];
}

// ---- stage 4 (top_k rows): the top_k candidates without sorting the vocabulary ----
//
// When every random row of a chunk asks for 1 <= top_k <= kSelectMax (< vocab), the draw
// needs only each row's first top_k entries of the sorted order: key descending, ties by
// id ascending (the stable radix sort's order over ids 0..vocab-1). One block per row
// finds the top_k-th largest key by radix selection (four 8-bit passes over the row),
// gathers the keys above it and, in id order, as many equal to it as top_k still needs,
// and sorts those few in shared memory. Same output as the sort for those entries.

struct SelectArgs {
  SamplingParamsGpu p;
  int64_t row0;
  float* keys;   // [chunk, vocab]: each random row's first top_k entries, best first
  int32_t* ids;  // [chunk, vocab]: their token ids
};

using CountScan = cub::BlockScan<int, kThreads>;

__global__ void __launch_bounds__(kThreads) sampling_select_kernel(SelectArgs a) {
  const int64_t i = blockIdx.x;
  const int64_t r = a.row0 + i;
  const SamplingRowParams rp = a.p.rows[r];
  const int64_t vocab = a.p.vocab;
  if (row_path(rp, vocab) != RowPath::kSelect) return;
  const float* row = a.p.logits + r * vocab;
  const int k = static_cast<int>(rp.top_k);
  __shared__ uint32_t hist[256];
  __shared__ uint32_t s_prefix, s_need, s_ties, s_count;
  __shared__ uint32_t skey[kSelectMax];
  __shared__ int32_t sid[kSelectMax];
  __shared__ CountScan::TempStorage scan_temp;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  // Radix selection: after the pass at `shift`, `prefix` holds the top bits of the
  // top_k-th largest key and `need` how many keys with those bits belong to the top_k.
  uint32_t prefix = 0, mask = 0, need = static_cast<uint32_t>(k);
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int t = threadIdx.x; t < 256; t += kThreads) hist[t] = 0;
    __syncthreads();
    for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
      const uint32_t u = order_key(clean_logit(row[j]));
      if ((u & mask) == prefix) atomicAdd(&hist[(u >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (warp == 0) {  // lane l owns digits 255 - 8l .. 248 - 8l, highest first
      uint32_t c[8], local = 0;
#pragma unroll
      for (int d = 0; d < 8; ++d) local += c[d] = hist[255 - 8 * lane - d];
      uint32_t incl = local;  // inclusive sum over lanes 0..lane (higher digits first)
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const uint32_t v = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += v;
      }
      const uint32_t before = incl - local;
      const unsigned hit = __ballot_sync(0xffffffffu, before < need && incl >= need);
      if (lane == __ffs(hit) - 1) {
        uint32_t acc = before;
        int d = 0;
        while (acc + c[d] < need) acc += c[d++];
        const uint32_t digit = 255u - 8u * lane - d;
        s_prefix = prefix | (digit << shift);
        s_need = need - acc;
        s_ties = c[d];
      }
    }
    __syncthreads();
    prefix = s_prefix;
    need = s_need;
    mask |= 255u << shift;
  }
  // prefix is now the top_k-th largest key T: k - need keys are above it, and the top_k
  // takes the `need` lowest ids among the s_ties keys equal to it.
  const uint32_t ties = s_ties;
  if (threadIdx.x == 0) s_count = 0;
  __syncthreads();
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    const uint32_t u = order_key(clean_logit(row[j]));
    if (u > prefix || (u == prefix && ties == need)) {
      const uint32_t slot = atomicAdd(&s_count, 1u);
      skey[slot] = u;
      sid[slot] = static_cast<int32_t>(j);
    }
  }
  if (ties != need) {  // block-uniform: rank the ties in id order, tile by tile
    __syncthreads();
    const uint32_t above = s_count;
    int taken = 0;
    for (int64_t base = 0; base < vocab && taken < static_cast<int>(need); base += kThreads) {
      const int64_t j = base + threadIdx.x;
      const int tie = j < vocab && order_key(clean_logit(row[j])) == prefix ? 1 : 0;
      int rank = 0, tile_ties = 0;
      CountScan(scan_temp).ExclusiveSum(tie, rank, tile_ties);
      if (tie && taken + rank < static_cast<int>(need)) {
        skey[above + taken + rank] = prefix;
        sid[above + taken + rank] = static_cast<int32_t>(j);
      }
      taken += tile_ties;
      __syncthreads();  // scan_temp is reused
    }
  }
  __syncthreads();
  // Bitonic sort of the k candidates (padded to a power of two with entries that sort
  // last): key descending, id ascending.
  int n = 1;
  while (n < k) n <<= 1;
  for (int t = k + threadIdx.x; t < n; t += kThreads) {
    skey[t] = 0u;
    sid[t] = INT32_MAX;
  }
  __syncthreads();
  auto before = [&](int x, int y) {  // entry x sorts before entry y
    return skey[x] > skey[y] || (skey[x] == skey[y] && sid[x] < sid[y]);
  };
  for (int size = 2; size <= n; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      for (int t = threadIdx.x; t < n / 2; t += kThreads) {
        const int x = 2 * stride * (t / stride) + t % stride, y = x + stride;
        const bool forward = (x & size) == 0;
        if (forward ? before(y, x) : before(x, y)) {
          const uint32_t ku = skey[x];
          skey[x] = skey[y];
          skey[y] = ku;
          const int32_t id = sid[x];
          sid[x] = sid[y];
          sid[y] = id;
        }
      }
      __syncthreads();
    }
  }
  for (int t = threadIdx.x; t < k; t += kThreads) {
    a.keys[i * vocab + t] = key_value(skey[t]);
    a.ids[i * vocab + t] = sid[t];
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
  float* raw;
  float* keys_alt;
  int32_t* ids_a;
  int32_t* ids_b;
  int32_t* seg_begin;
  int32_t* seg_end;
  void* cub_temp;
  size_t cub_bytes;
  void* mass;  // launch_mass_draw's scratch
  size_t total;
};

size_t align_up(size_t b) { return (b + kAlign - 1) / kAlign * kAlign; }

size_t cub_sort_bytes(int64_t chunk, int64_t vocab) {
  cub::DoubleBuffer<float> keys(nullptr, nullptr);
  cub::DoubleBuffer<int32_t> vals(nullptr, nullptr);
  size_t bytes = 0;
  QWEN3_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
      nullptr, bytes, keys, vals, static_cast<int>(chunk * vocab), static_cast<int>(chunk),
      static_cast<const int32_t*>(nullptr), static_cast<const int32_t*>(nullptr)));
  return bytes;
}

Workspace layout(void* base, int64_t rows, int64_t vocab) {
  const int64_t chunk = std::min(rows, kSamplingSortRows);
  const auto cv = static_cast<size_t>(chunk * vocab);
  auto* b = static_cast<uint8_t*>(base);
  Workspace w{};
  size_t off = 0;
  auto take = [&](size_t bytes) {
    uint8_t* at = b ? b + off : nullptr;
    off += align_up(bytes);
    return static_cast<void*>(at);
  };
  w.raw = static_cast<float*>(take(cv * sizeof(float)));
  w.keys_alt = static_cast<float*>(take(cv * sizeof(float)));
  w.ids_a = static_cast<int32_t*>(take(cv * sizeof(int32_t)));
  w.ids_b = static_cast<int32_t*>(take(cv * sizeof(int32_t)));
  w.seg_begin = static_cast<int32_t*>(take(static_cast<size_t>(chunk) * sizeof(int32_t)));
  w.seg_end = static_cast<int32_t*>(take(static_cast<size_t>(chunk) * sizeof(int32_t)));
  w.cub_bytes = cub_sort_bytes(chunk, vocab);
  w.cub_temp = take(w.cub_bytes);
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
  check_shape(p.vocab * kSamplingSortRows < std::numeric_limits<int32_t>::max(), kName,
              "vocab too large for 32-bit sort offsets", true);
  check_shape(p.logits && p.rows && p.host_rows && p.tokens && p.logprobs && p.workspace, kName,
              "null pointer");
  check_shape(p.workspace_bytes >= sampling_workspace_bytes(p.num_rows, p.vocab), kName,
              "workspace too small (see sampling_workspace_bytes)");
  check_shape(reinterpret_cast<uintptr_t>(p.workspace) % kAlign == 0, kName,
              "workspace must be 256-byte aligned");
  for (int64_t r = 0; r < p.num_rows; ++r) check_row(p.host_rows[r], p.vocab, p.num_ids, p.num_bias);

  const Workspace w = layout(p.workspace, p.num_rows, p.vocab);
  for (int64_t row0 = 0; row0 < p.num_rows; row0 += kSamplingSortRows) {
    const int64_t chunk = std::min(kSamplingSortRows, p.num_rows - row0);
    const auto cv = static_cast<size_t>(chunk * p.vocab);
    bool any_logprob = false, any_select = false, any_mass = false, any_sort = false,
         any_top_p = false;
    for (int64_t r = row0; r < row0 + chunk; ++r) {
      const SamplingRowParams& hr = p.host_rows[r];
      const RowPath path = row_path(hr, p.vocab);
      any_logprob |= hr.want_logprob != 0;
      any_select |= path == RowPath::kSelect;
      any_mass |= path == RowPath::kMass;
      any_sort |= path == RowPath::kSort;
      any_top_p |= path == RowPath::kMass && hr.top_p < 1.0;
    }
    float* logits = p.logits + row0 * p.vocab;
    if (any_logprob) {
      QWEN3_CUDA_CHECK(cudaMemcpyAsync(w.raw, logits, cv * sizeof(float),
                                       cudaMemcpyDeviceToDevice, stream));
    }
    const dim3 grid(static_cast<unsigned>(chunk));
    sampling_edit_kernel<<<grid, kThreads, 0, stream>>>(
        EditArgs{p, row0, any_sort ? w.ids_a : nullptr, w.seg_begin, w.seg_end});
    QWEN3_CUDA_CHECK_LAUNCH("sampling_edit_kernel");
    sampling_argmax_kernel<<<grid, kThreads, 0, stream>>>(p, row0);
    QWEN3_CUDA_CHECK_LAUNCH("sampling_argmax_kernel");
    if (any_sort) {  // a top_k above kSelectMax: every random row of the chunk sorted
      cub::DoubleBuffer<float> keys(logits, w.keys_alt);
      cub::DoubleBuffer<int32_t> vals(w.ids_a, w.ids_b);
      size_t bytes = w.cub_bytes;
      QWEN3_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
          w.cub_temp, bytes, keys, vals, static_cast<int>(cv), static_cast<int>(chunk),
          static_cast<const int32_t*>(w.seg_begin), static_cast<const int32_t*>(w.seg_end), 0,
          static_cast<int>(sizeof(float) * 8), stream));
      sampling_draw_kernel<<<grid, kThreads, 0, stream>>>(
          DrawArgs{p, row0, keys.Current(), vals.Current(), false});
      QWEN3_CUDA_CHECK_LAUNCH("sampling_draw_kernel");
    } else {
      if (any_select) {
        sampling_select_kernel<<<grid, kThreads, 0, stream>>>(
            SelectArgs{p, row0, w.keys_alt, w.ids_b});
        QWEN3_CUDA_CHECK_LAUNCH("sampling_select_kernel");
        sampling_draw_kernel<<<grid, kThreads, 0, stream>>>(
            DrawArgs{p, row0, w.keys_alt, w.ids_b, true});
        QWEN3_CUDA_CHECK_LAUNCH("sampling_draw_kernel");
      }
      if (any_mass) launch_mass_draw(p, row0, chunk, w.mass, any_top_p, stream);
    }
    sampling_logprob_kernel<<<grid, kThreads, 0, stream>>>(p, row0, w.raw);
    QWEN3_CUDA_CHECK_LAUNCH("sampling_logprob_kernel");
  }
}

}  // namespace qwen3::cuda
