// Full-row draws by mass selection (see sampling_mass.h).
#include <algorithm>
#include <cub/block/block_scan.cuh>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/sampling_common.cuh"
#include "backends/cuda/kernels/sampling_mass.h"

namespace qwen3::cuda {
namespace {

using namespace sampling_detail;  // NOLINT(google-build-using-namespace)
using u64 = unsigned long long;

constexpr int kThreads = 256;
constexpr int64_t kSlice = 4096;  // elements of a row per block
constexpr int kLevels = 3;        // digit passes: bits 31..21, 20..10, 9..0
constexpr int kBins = 2048;       // the widest digit's bins
__host__ __device__ constexpr int level_shift(int level) {
  return level == 0 ? 21 : level == 1 ? 10 : 0;
}
__host__ __device__ constexpr int level_bins(int level) { return level < 2 ? 2048 : 1024; }
constexpr int kTopP = 0, kDraw = 1;  // the two selections: the top_p prefix, then the draw

// One row's state across the passes (zeroed before the first).
struct MassRow {
  uint32_t max_key;                // order key of the best logit (atomicMax)
  uint32_t arrivals[2 * kLevels];  // blocks done with each selection's level
  u64 total;                       // mass of the whole row
  u64 minp_mass;                   // mass of the tokens with weight >= float(min_p)
  u64 kept_p;                      // mass of the top_p prefix
  u64 target[2];                   // each selection's target mass
  u64 acc[2];                      // mass of the keys above the current digits
  uint32_t prefix[2], mask[2];     // the key bits fixed so far
  uint32_t tie_key, tie_m;         // tie_m > 0: the draw is the tie_m-th id at tie_key
};
constexpr size_t kRowStateBytes = 128;
static_assert(sizeof(MassRow) <= kRowStateBytes);

// Per row: the state, then [2 selections][kLevels][kBins] masses, then [1024] inverted
// lowest ids (the draw's last level).
constexpr size_t kRowBytes =
    kRowStateBytes + 2 * kLevels * kBins * sizeof(u64) + 1024 * sizeof(uint32_t);

struct MassArgs {
  SamplingParamsGpu p;
  int64_t row0;
  uint8_t* scratch;  // [chunk] rows of kRowBytes
  int shift;         // fixed point: mass = weight * 2^shift
};

struct RowView {
  MassRow* st;
  u64* hist;          // [2][kLevels][kBins]
  uint32_t* min_inv;  // [1024]
};

__device__ RowView row_view(const MassArgs& a, int64_t i) {
  uint8_t* base = a.scratch + static_cast<size_t>(i) * kRowBytes;
  u64* hist = reinterpret_cast<u64*>(base + kRowStateBytes);
  return {reinterpret_cast<MassRow*>(base), hist,
          reinterpret_cast<uint32_t*>(hist + 2 * kLevels * kBins)};
}

__device__ __forceinline__ u64 fixed_mass(double w, double scale) {
  return __double2ull_rn(w * scale);
}

template <typename T, typename Op>
__device__ T block_reduce(T v, Op op, T* scratch) {  // scratch: kThreads / 32 entries
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < kThreads / 32; ++w) v = op(v, scratch[w]);
  return v;
}

// The block's slice of row r, or false when r is not drawn here.
struct Slice {
  const float* row;
  int64_t begin, end;
};
__device__ bool mass_row(const MassArgs& a, int64_t r, Slice& s) {
  if (row_path(a.p.rows[r], a.p.vocab) != RowPath::kMass) return false;
  s.row = a.p.logits + r * a.p.vocab;
  s.begin = static_cast<int64_t>(blockIdx.x) * kSlice;
  s.end = s.begin + kSlice < a.p.vocab ? s.begin + kSlice : a.p.vocab;
  return true;
}

__global__ void __launch_bounds__(kThreads) mass_max_kernel(MassArgs a) {
  const int64_t i = blockIdx.y;
  Slice s;
  if (!mass_row(a, a.row0 + i, s)) return;
  uint32_t m = 0;
  for (int64_t j = s.begin + threadIdx.x; j < s.end; j += kThreads)
    m = max(m, order_key(clean_logit(s.row[j])));
  __shared__ uint32_t scratch[kThreads / 32];
  m = block_reduce(
      m, [](uint32_t x, uint32_t y) { return max(x, y); }, scratch);
  if (threadIdx.x == 0) atomicMax(&row_view(a, i).st->max_key, m);
}

__global__ void __launch_bounds__(kThreads) mass_total_kernel(MassArgs a) {
  const int64_t i = blockIdx.y, r = a.row0 + i;
  Slice s;
  if (!mass_row(a, r, s)) return;
  const SamplingRowParams rp = a.p.rows[r];
  const RowView v = row_view(a, i);
  const float top = key_value(v.st->max_key);
  if (!(top > neg_inf())) {  // everything masked: the lowest id, as the host
    if (blockIdx.x == 0 && threadIdx.x == 0) a.p.tokens[r] = 0;
    return;
  }
  const double inv_t = 1.0 / rp.temperature, scale = ldexp(1.0, a.shift);
  const double min_p_floor = static_cast<float>(rp.min_p);  // the host's float floor
  u64 total = 0, minp = 0;
  for (int64_t j = s.begin + threadIdx.x; j < s.end; j += kThreads) {
    const double w = full_weight(clean_logit(s.row[j]), top, inv_t);
    const u64 m = fixed_mass(w, scale);
    total += m;
    if (rp.min_p > 0.0 && w >= min_p_floor) minp += m;
  }
  __shared__ u64 scratch[kThreads / 32];
  auto add = [](u64 x, u64 y) { return x + y; };
  total = block_reduce(total, add, scratch);
  __syncthreads();
  minp = block_reduce(minp, add, scratch);
  if (threadIdx.x == 0) {
    atomicAdd(&v.st->total, total);
    if (minp > 0) atomicAdd(&v.st->minp_mass, minp);
  }
}

using WalkScan = cub::BlockScan<u64, kThreads>;

// One digit pass of selection `sel` at `level`: histogram of the mass of the row's keys
// that share the digits fixed so far, by their next digit; the last block to finish picks
// the digit where the running mass (best first) crosses the target.
__global__ void __launch_bounds__(kThreads) mass_level_kernel(MassArgs a, int sel, int level) {
  const int64_t i = blockIdx.y, r = a.row0 + i;
  Slice s;
  if (!mass_row(a, r, s)) return;
  const SamplingRowParams rp = a.p.rows[r];
  if (sel == kTopP && !(rp.top_p < 1.0)) return;
  const RowView v = row_view(a, i);
  MassRow& st = *v.st;
  const float top = key_value(st.max_key);
  if (!(top > neg_inf())) return;
  const double inv_t = 1.0 / rp.temperature, scale = ldexp(1.0, a.shift);
  const int shift = level_shift(level), bins = level_bins(level);
  const uint32_t prefix = level == 0 ? 0u : st.prefix[sel];
  const uint32_t mask = level == 0 ? 0u : st.mask[sel];
  const bool want_min = sel == kDraw && level == kLevels - 1;
  u64* g_hist = v.hist + (sel * kLevels + level) * kBins;

  __shared__ u64 hist[kBins];
  __shared__ uint32_t min_inv[1024];
  for (int b = threadIdx.x; b < bins; b += kThreads) hist[b] = 0;
  if (want_min)
    for (int b = threadIdx.x; b < 1024; b += kThreads) min_inv[b] = 0;
  __syncthreads();
  for (int64_t j = s.begin + threadIdx.x; j < s.end; j += kThreads) {
    const float x = clean_logit(s.row[j]);
    const uint32_t k = order_key(x);
    if ((k & mask) != prefix) continue;
    const u64 m = fixed_mass(full_weight(x, top, inv_t), scale);
    if (m == 0) continue;  // never drawn
    const uint32_t d = (k >> shift) & static_cast<uint32_t>(bins - 1);
    atomicAdd(&hist[d], m);
    if (want_min) atomicMax(&min_inv[d], ~static_cast<uint32_t>(j));
  }
  __syncthreads();
  for (int b = threadIdx.x; b < bins; b += kThreads) {
    if (hist[b] != 0) atomicAdd(&g_hist[b], hist[b]);
    if (want_min && min_inv[b] != 0) atomicMax(&v.min_inv[b], min_inv[b]);
  }
  __threadfence();
  __syncthreads();
  __shared__ bool last;
  if (threadIdx.x == 0) last = atomicAdd(&st.arrivals[sel * kLevels + level], 1u) == gridDim.x - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();

  // The last block: the target (first level), then the walk over the digits, best first.
  const bool strict = sel == kDraw;  // the draw: mass > u * kept; top_p: mass >= p * total
  u64 target, acc;
  if (level == 0) {
    const u64 total = __ldcg(&st.total);
    if (sel == kTopP) {
      const double t = ceil(rp.top_p * static_cast<double>(total));
      target = t < 1.0 ? 1 : (t >= static_cast<double>(total) ? total : static_cast<u64>(t));
    } else {
      u64 kept = total;
      if (rp.top_p < 1.0) kept = min(kept, __ldcg(&st.kept_p));
      if (rp.min_p > 0.0) kept = min(kept, __ldcg(&st.minp_mass));
      const u64 t = static_cast<u64>(floor(rp.u * static_cast<double>(kept)));
      target = t < kept ? t : kept - 1;
    }
    acc = 0;
  } else {
    target = __ldcg(&st.target[sel]);
    acc = __ldcg(&st.acc[sel]);
  }
  const int per = bins / kThreads;  // bins per thread: 8 or 4, highest digits first
  const int d0 = bins - 1 - per * static_cast<int>(threadIdx.x);
  u64 m[8];
  u64 local = 0;
#pragma unroll
  for (int k = 0; k < 8; ++k) {
    m[k] = k < per ? __ldcg(&g_hist[d0 - k]) : 0;
    local += m[k];
  }
  __shared__ typename WalkScan::TempStorage scan;
  __shared__ int s_digit;
  __shared__ u64 s_acc;
  if (threadIdx.x == 0) {
    s_digit = -1;
    s_acc = acc;
  }
  u64 before = 0;
  WalkScan(scan).ExclusiveSum(local, before);
  __syncthreads();
  u64 cum = acc + before;
  auto reached = [&](u64 x) { return strict ? x > target : x >= target; };
#pragma unroll
  for (int k = 0; k < 8; ++k) {
    if (k < per && !reached(cum) && reached(cum + m[k])) {
      s_digit = d0 - k;
      s_acc = cum;
    }
    cum += k < per ? m[k] : 0;
  }
  __syncthreads();
  if (threadIdx.x != 0 || s_digit < 0) return;  // no crossing: cannot happen with exact sums
  const uint32_t key = prefix | (static_cast<uint32_t>(s_digit) << shift);
  acc = s_acc;
  if (level == 0) st.target[sel] = target;
  if (level + 1 < kLevels) {
    st.prefix[sel] = key;
    st.mask[sel] = mask | (static_cast<uint32_t>(bins - 1) << shift);
    st.acc[sel] = acc;
    return;
  }
  // The key is fixed: its tokens have one weight each, so the target is reached at the
  // n-th of them in id order, n from the arithmetic.
  const u64 w = fixed_mass(full_weight(key_value(key), top, inv_t), scale);
  const u64 gap = target - acc;
  const u64 n = strict ? gap / w + 1 : (gap + w - 1) / w;
  if (sel == kTopP) {
    st.kept_p = acc + n * w;
  } else if (n == 1) {
    a.p.tokens[r] = static_cast<int32_t>(~__ldcg(&v.min_inv[s_digit]));
  } else {
    st.tie_key = key;
    st.tie_m = static_cast<uint32_t>(n);
  }
}

using CountScan = cub::BlockScan<int, kThreads>;

// The draw landed on the n-th (n > 1) of several equal logits: that one in id order.
__global__ void __launch_bounds__(kThreads) mass_tie_kernel(MassArgs a) {
  const int64_t i = blockIdx.x, r = a.row0 + i;
  if (row_path(a.p.rows[r], a.p.vocab) != RowPath::kMass) return;
  const MassRow& st = *row_view(a, i).st;
  const auto n = static_cast<int>(st.tie_m);
  if (n == 0) return;
  const uint32_t key = st.tie_key;
  const float* row = a.p.logits + r * a.p.vocab;
  __shared__ typename CountScan::TempStorage scan;
  int taken = 0;
  for (int64_t base = 0; base < a.p.vocab && taken < n; base += kThreads) {
    const int64_t j = base + threadIdx.x;
    const int tie = j < a.p.vocab && order_key(clean_logit(row[j])) == key ? 1 : 0;
    int rank = 0, tile = 0;
    CountScan(scan).ExclusiveSum(tie, rank, tile);
    if (tie && taken + rank == n - 1) a.p.tokens[r] = static_cast<int32_t>(j);
    taken += tile;
    __syncthreads();  // scan storage is reused
  }
}

}  // namespace

size_t mass_draw_bytes(int64_t rows) { return static_cast<size_t>(rows) * kRowBytes; }

void launch_mass_draw(const SamplingParamsGpu& p, int64_t row0, int64_t chunk, void* scratch,
                      bool any_top_p, cudaStream_t stream) {
  QWEN3_CUDA_CHECK(cudaMemsetAsync(scratch, 0, mass_draw_bytes(chunk), stream));
  // Fixed point: the row's mass (<= vocab, weights <= 1) stays below 2^62.
  int log2_vocab = 0;
  while ((int64_t{1} << log2_vocab) < p.vocab) ++log2_vocab;
  const MassArgs a{p, row0, static_cast<uint8_t*>(scratch), std::min(52, 62 - log2_vocab)};
  const dim3 grid(static_cast<unsigned>((p.vocab + kSlice - 1) / kSlice),
                  static_cast<unsigned>(chunk));
  mass_max_kernel<<<grid, kThreads, 0, stream>>>(a);
  QWEN3_CUDA_CHECK_LAUNCH("mass_max_kernel");
  mass_total_kernel<<<grid, kThreads, 0, stream>>>(a);
  QWEN3_CUDA_CHECK_LAUNCH("mass_total_kernel");
  for (const int sel : {kTopP, kDraw}) {
    if (sel == kTopP && !any_top_p) continue;
    for (int level = 0; level < kLevels; ++level) {
      mass_level_kernel<<<grid, kThreads, 0, stream>>>(a, sel, level);
      QWEN3_CUDA_CHECK_LAUNCH("mass_level_kernel");
    }
  }
  mass_tie_kernel<<<static_cast<unsigned>(chunk), kThreads, 0, stream>>>(a);
  QWEN3_CUDA_CHECK_LAUNCH("mass_tie_kernel");
}

}  // namespace qwen3::cuda
