// Random rows' draws by radix selection over many blocks per row (see sampling_mass.h).
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
// The selections, in launch order: the top_k prefix (by count), the top_p prefix (by mass),
// then the draw (by mass, strictly above its target).
constexpr int kTopK = 0, kTopP = 1, kDraw = 2, kSelections = 3;
// Fixed point: a weight (<= 1) is 2^shift units, shift <= this (weights below 2^-45 count
// as zero; doubles summing a row lose them too).
constexpr int kMaxShift = 44;
// A top_k row's keys are gathered into a list when at most this many qualify, so that its
// selections read the list with one block instead of the whole row with many: first the
// keys at or above a bound that cannot exceed the top_k-th key (the top_k-th largest of the
// slices' maxima: those top_k slices hold top_k keys at least that large), for every
// selection; failing that (top_k above the slice count, or too many keys at the bound),
// after the top_k selection the keys at or above the top_k-th, for top_p and the draw.
constexpr uint32_t kCandCap = 1024;
constexpr int kMaxSlices = 64;  // rows of up to 64 slices (262,144 entries) get the bound

// One row's state across the passes (zeroed before the first).
struct MassRow {
  uint32_t max_key;                                 // order key of the best logit (atomicMax)
  uint32_t arrivals[kSelections * kLevels];         // blocks done with each selection's level
  u64 total;                                        // mass of the whole row
  u64 minp_mass;                                    // mass of the tokens at or above min_p's floor
  u64 mass_above_k;                                 // mass of the keys above the top_k-th
  u64 kept_p;                                       // mass of the top_p prefix
  u64 target[kSelections];                          // each selection's target (count or mass)
  u64 acc[kSelections];                             // what the keys above the fixed digits hold
  uint32_t prefix[kSelections], mask[kSelections];  // the key bits fixed so far
  uint32_t key_k, n_k;      // the top_k-th key; how many tokens at it are among the top_k
  uint32_t tie_key, tie_m;  // tie_m > 0: the draw is the tie_m-th id at tie_key
  uint32_t n_pre;           // keys gathered at or above the bound (over kCandCap: unused)
  uint32_t n_post;          // keys gathered at or above the top_k-th (over kCandCap: unused)
};
constexpr size_t kRowStateBytes = 256;
static_assert(sizeof(MassRow) <= kRowStateBytes);

// Per row: the state, [kSelections][kLevels][kBins] histograms (counts for top_k, masses
// for the others), [1024] inverted lowest ids (the draw's last level), [kCandCap] ids of
// the gathered keys, [kMaxSlices] the slices' largest keys.
constexpr size_t kHistEntries = kSelections * kLevels * kBins;
constexpr size_t kRowBytes = kRowStateBytes + kHistEntries * sizeof(u64) +
                             (1024 + kCandCap + kMaxSlices) * sizeof(uint32_t);

struct MassArgs {
  SamplingParamsGpu p;
  int64_t row0;
  uint8_t* scratch;  // [chunk] rows of kRowBytes
  int shift;         // fixed point: mass = weight * 2^shift
};

struct RowView {
  MassRow* st;
  u64* hist;          // [kSelections][kLevels][kBins]
  uint32_t* min_inv;  // [1024]
  uint32_t* cand;       // [kCandCap]
  uint32_t* slice_max;  // [kMaxSlices]
};

__device__ RowView row_view(const MassArgs& a, int64_t i) {
  uint8_t* base = a.scratch + static_cast<size_t>(i) * kRowBytes;
  u64* hist = reinterpret_cast<u64*>(base + kRowStateBytes);
  auto* min_inv = reinterpret_cast<uint32_t*>(hist + kHistEntries);
  return {reinterpret_cast<MassRow*>(base), hist, min_inv, min_inv + 1024,
          min_inv + 1024 + kCandCap};
}

// A row's weight of logit v, as the host weighs it on the row's path.
struct Weigh {
  float top;
  double inv_t, scale;
  bool top_k;
  __device__ double weight(float v) const {
    return top_k ? top_k_weight(v, top, inv_t) : full_weight(v, top, inv_t);
  }
  __device__ u64 mass(float v) const { return __double2ull_rn(weight(v) * scale); }
};

template <typename T, typename Op>
__device__ T block_reduce(T v, Op op, T* scratch) {  // scratch: kThreads / 32 entries
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();  // scratch may still be read by a previous call
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < kThreads / 32; ++w) v = op(v, scratch[w]);
  return v;
}

// Row r of the launch when it is a random row: its parameters and the block's slice.
struct Slice {
  SamplingRowParams rp;
  const float* row;
  int64_t begin, end;
};
// The block's slice is blockIdx.x's (the one-block list kernel reads lists, not slices).
__device__ bool random_row(const MassArgs& a, int64_t r, Slice& s) {
  s.rp = a.p.rows[r];
  if (s.rp.temperature == 0.0) return false;
  s.row = a.p.logits + r * a.p.vocab;
  s.begin = static_cast<int64_t>(blockIdx.x) * kSlice;
  s.end = s.begin + kSlice < a.p.vocab ? s.begin + kSlice : a.p.vocab;
  return true;
}

// A thread's share of its block's slice: elements begin + threadIdx.x + q * kThreads, all
// loaded before any is used, and the same number of them for every thread (the count
// passes' warp-wide __match_any_sync needs every lane). Past the row's end: index -1.
constexpr int kPerThread = static_cast<int>(kSlice / kThreads);
static_assert(kSlice % kThreads == 0);
struct SliceVals {
  float x[kPerThread];
  __device__ explicit SliceVals(const Slice& s) {
#pragma unroll
    for (int q = 0; q < kPerThread; ++q) {
      const int64_t j = s.begin + threadIdx.x + q * kThreads;
      x[q] = j < s.end ? s.row[j] : 0.0f;
    }
  }
  __device__ static int64_t index(const Slice& s, int q) {
    const int64_t j = s.begin + threadIdx.x + q * kThreads;
    return j < s.end ? j : -1;
  }
};

// The row's best logit, and the weighing relative to it (false: everything is masked).
__device__ bool weigh_row(const MassArgs& a, const Slice& s, const MassRow& st, Weigh& w) {
  w.top = key_value(st.max_key);
  w.inv_t = 1.0 / s.rp.temperature;
  w.scale = ldexp(1.0, a.shift);
  w.top_k = top_k_path(s.rp, a.p.vocab);
  return w.top > neg_inf();
}

__global__ void __launch_bounds__(kThreads) mass_max_kernel(MassArgs a) {
  const int64_t i = blockIdx.y;
  Slice s;
  if (!random_row(a, a.row0 + i, s)) return;
  uint32_t m = 0;
  const SliceVals vals(s);
#pragma unroll
  for (int q = 0; q < kPerThread; ++q)
    if (SliceVals::index(s, q) >= 0) m = max(m, order_key(clean_logit(vals.x[q])));
  __shared__ uint32_t scratch[kThreads / 32];
  m = block_reduce(
      m, [](uint32_t x, uint32_t y) { return max(x, y); }, scratch);
  if (threadIdx.x == 0) {
    const RowView v = row_view(a, i);
    atomicMax(&v.st->max_key, m);
    if (blockIdx.x < kMaxSlices) v.slice_max[blockIdx.x] = m;
  }
}

__global__ void __launch_bounds__(kThreads) mass_total_kernel(MassArgs a) {
  const int64_t i = blockIdx.y, r = a.row0 + i;
  Slice s;
  if (!random_row(a, r, s)) return;
  const RowView v = row_view(a, i);
  Weigh w;
  if (!weigh_row(a, s, *v.st, w)) {  // everything masked: the lowest id, as the host
    if (blockIdx.x == 0 && threadIdx.x == 0) a.p.tokens[r] = 0;
    return;
  }
  // min_p's floor: the host compares top_k weights (double) with min_p, full-row weights
  // (float) with float(min_p). Logits more than a margin below where the weight reaches the
  // floor are skipped (their exp is not needed; weights only grow with the logit).
  const bool min_p = s.rp.min_p > 0.0;
  const double floor = w.top_k ? s.rp.min_p : static_cast<double>(static_cast<float>(s.rp.min_p));
  const double cut = min_p ? (log(floor) - 1e-3) / w.inv_t : 0.0;  // in logit units
  if (w.top_k && !min_p) return;  // no total needed: the candidates' mass comes later
  u64 total = 0, minp = 0;
  const SliceVals vals(s);
#pragma unroll
  for (int q = 0; q < kPerThread; ++q) {
    if (SliceVals::index(s, q) < 0) continue;
    const float v = clean_logit(vals.x[q]);
    if (w.top_k && !(min_p && static_cast<double>(v) - w.top >= cut)) continue;
    const double x = w.weight(v);
    const u64 m = __double2ull_rn(x * w.scale);
    total += m;
    if (min_p && x >= floor) minp += m;
  }
  __shared__ u64 scratch[kThreads / 32];
  auto add = [](u64 x, u64 y) { return x + y; };
  total = block_reduce(total, add, scratch);
  minp = block_reduce(minp, add, scratch);
  if (threadIdx.x == 0) {
    atomicAdd(&v.st->total, total);
    if (minp > 0) atomicAdd(&v.st->minp_mass, minp);
  }
}

// Slices per row, and whether a row's top_k has the bound (see kCandCap).
__host__ __device__ int64_t slices_of(int64_t vocab) { return (vocab + kSlice - 1) / kSlice; }
__device__ bool has_bound(const SamplingRowParams& rp, int64_t vocab) {
  return slices_of(vocab) <= kMaxSlices && rp.top_k <= slices_of(vocab);
}

// Where selection `sel` of a row reads its keys: its slices (many blocks) or one of its
// lists (one block; `n` keys).
enum class Source { kSlices, kPreList, kPostList };
struct Items {
  Source from = Source::kSlices;
  uint32_t n = 0;
};
__device__ Items list_items(int sel, const Weigh& w, const MassRow& st,
                            const SamplingRowParams& rp, int64_t vocab) {
  if (!w.top_k) return {};
  if (has_bound(rp, vocab) && st.n_pre >= 1 && st.n_pre <= kCandCap)
    return {Source::kPreList, st.n_pre};
  if (sel != kTopK && st.n_post >= 1 && st.n_post <= kCandCap)
    return {Source::kPostList, st.n_post};
  return {};
}

// Appends the block's keys at or above `floor_key` to the row's list (count `n`).
__device__ void gather_slice(const Slice& s, const RowView& v, uint32_t floor_key, uint32_t* n) {
  const SliceVals vals(s);
#pragma unroll
  for (int q = 0; q < kPerThread; ++q) {
    const int64_t j = SliceVals::index(s, q);
    if (j < 0 || order_key(clean_logit(vals.x[q])) < floor_key) continue;
    const uint32_t at = atomicAdd(n, 1u);
    if (at < kCandCap) v.cand[at] = static_cast<uint32_t>(j);
  }
}

// A top_k row's keys into one of its lists. kPreList (before the top_k selection): the
// keys at or above the bound, the top_k-th largest slice maximum (ties in slice order).
// kPostList (after it, for the rows without a pre-list): the keys at or above the top_k-th
// (ties past the top_k included, as the level kernels see them).
__global__ void __launch_bounds__(kThreads) mass_gather_kernel(MassArgs a, Source list) {
  const int64_t i = blockIdx.y;
  Slice s;
  if (!random_row(a, a.row0 + i, s)) return;
  const RowView v = row_view(a, i);
  Weigh w;
  if (!weigh_row(a, s, *v.st, w) || !w.top_k) return;
  if (list == Source::kPostList) {
    if (list_items(kTopK, w, *v.st, s.rp, a.p.vocab).from == Source::kSlices)
      gather_slice(s, v, v.st->key_k, &v.st->n_post);
    return;
  }
  if (!has_bound(s.rp, a.p.vocab)) return;
  __shared__ uint32_t bound;
  const auto slices = static_cast<int>(slices_of(a.p.vocab));
  if (threadIdx.x < slices) {
    const uint32_t m = v.slice_max[threadIdx.x];
    int rank = 0;
    for (int b = 0; b < slices; ++b) {
      const uint32_t o = v.slice_max[b];
      rank += o > m || (o == m && b < static_cast<int>(threadIdx.x));
    }
    if (rank == s.rp.top_k - 1) bound = m;
  }
  __syncthreads();
  gather_slice(s, v, bound, &v.st->n_pre);
}

using WalkScan = cub::BlockScan<u64, kThreads>;

// The first target of selection `sel` (its level 0), from what earlier kernels summed.
__device__ u64 first_target(int sel, const SamplingRowParams& rp, const MassRow& st,
                            const Weigh& w) {
  if (sel == kTopK) return static_cast<u64>(rp.top_k);
  // The candidates' mass: the top_k prefix's, or the whole row's.
  const u64 base = w.top_k ? __ldcg(&st.mass_above_k) +
                                 u64{__ldcg(&st.n_k)} * w.mass(key_value(__ldcg(&st.key_k)))
                           : __ldcg(&st.total);
  if (sel == kTopP) {  // the first prefix whose mass reaches top_p of the candidates'
    const double t = ceil(rp.top_p * static_cast<double>(base));
    return t < 1.0 ? 1 : (t >= static_cast<double>(base) ? base : static_cast<u64>(t));
  }
  u64 kept = base;
  if (rp.top_p < 1.0) kept = min(kept, __ldcg(&st.kept_p));
  if (rp.min_p > 0.0) kept = min(kept, __ldcg(&st.minp_mass));
  const u64 t = static_cast<u64>(floor(rp.u * static_cast<double>(kept)));
  return t < kept ? t : kept - 1;  // the draw: the first token whose running mass exceeds it
}

// One digit pass of selection `sel` at `level` over row i of the chunk: a histogram of
// what the row's keys that share the digits fixed so far hold (one each for top_k, their
// mass otherwise) by their next digit; the last block to finish picks the digit where the
// running sum, best first, reaches the target, and after the last digit resolves the
// tokens at that key. Blocks of the many-block kernel read slices of the row; a row whose
// selection reads a list (list_items) is read from it by one block (in any order: the
// histograms are sums and min_inv a maximum, so the result is the same). Block-uniform:
// every thread returns together or reaches the end.
__device__ void level_pass(const MassArgs& a, int64_t i, int sel, int level, Source source) {
  const int64_t r = a.row0 + i;
  Slice s;
  if (!random_row(a, r, s)) return;
  if (sel == kTopK && !top_k_path(s.rp, a.p.vocab)) return;
  if (sel == kTopP && !(s.rp.top_p < 1.0)) return;
  const RowView v = row_view(a, i);
  MassRow& st = *v.st;
  Weigh w;
  if (!weigh_row(a, s, st, w)) return;
  const Items items = list_items(sel, w, st, s.rp, a.p.vocab);
  if (items.from != source) return;  // another kernel's row
  const bool listed = source != Source::kSlices;
  const uint32_t n_list = items.n;
  const unsigned blocks = listed ? 1u : gridDim.x;
  const int shift = level_shift(level), bins = level_bins(level);
  const uint32_t prefix = level == 0 ? 0u : st.prefix[sel];
  const uint32_t mask = level == 0 ? 0u : st.mask[sel];
  const bool counting = sel == kTopK;  // every candidate counts, whatever its weight
  const bool want_min = sel == kDraw && level == kLevels - 1;
  u64* g_hist = v.hist + (sel * kLevels + level) * kBins;

  __shared__ u64 hist[kBins];
  auto* counts = reinterpret_cast<uint32_t*>(hist);  // counting: 32-bit (faster atomics)
  __shared__ uint32_t min_inv[1024];
  for (int b = threadIdx.x; b < bins; b += kThreads) hist[b] = 0;
  if (want_min)
    for (int b = threadIdx.x; b < 1024; b += kThreads) min_inv[b] = 0;
  __syncthreads();
  // On top_k rows, top_p and the draw see only the candidates: keys at or above the
  // top_k-th (ties there past the top_k come after the target, whose mass is below the
  // candidates').
  const uint32_t floor_key = !counting && w.top_k ? st.key_k : 0u;
  // The first mass selection on a top_k row also sums the mass above the top_k-th key (its
  // target needs the candidates' mass: that plus the ties taken at the key).
  const bool sum_above =
      w.top_k && level == 0 && (sel == kTopP || (sel == kDraw && !(s.rp.top_p < 1.0)));
  u64 above = 0;
  // A key's bin at this level, ~0u when it does not share the fixed digits or lies below
  // the candidates.
  auto digit_of = [&](uint32_t k) {
    return (k & mask) == prefix && k >= floor_key ? (k >> shift) & static_cast<uint32_t>(bins - 1)
                                                  : ~0u;
  };
  // One key: into the histogram (and the draw's lowest ids).
  auto add_mass = [&](int64_t j, float x) {
    const uint32_t k = order_key(x);
    const uint32_t d = digit_of(k);
    if (d == ~0u) return;
    const u64 m = w.mass(x);
    if (m == 0) return;  // never reached by a mass target
    atomicAdd(&hist[d], m);
    if (sum_above && k > floor_key) above += m;
    if (want_min) atomicMax(&min_inv[d], ~static_cast<uint32_t>(j));
  };
  if (listed) {
    for (uint32_t t = threadIdx.x; t < n_list; t += kThreads) {
      const int64_t j = v.cand[t];
      const float x = clean_logit(s.row[j]);
      if (!counting) {
        add_mass(j, x);
      } else if (const uint32_t d = digit_of(order_key(x)); d != ~0u) {
        atomicAdd(&counts[d], 1u);
      }
    }
  } else {
    const SliceVals vals(s);
#pragma unroll
    for (int q = 0; q < kPerThread; ++q) {
      const int64_t j = SliceVals::index(s, q);
      if (!counting) {
        if (j >= 0) add_mass(j, clean_logit(vals.x[q]));
        continue;
      }
      // Counting: the lanes of a warp that share a digit add once (the first digits of a
      // row's keys fall in few bins).
      const uint32_t d = j >= 0 ? digit_of(order_key(clean_logit(vals.x[q]))) : ~0u;
      const unsigned peers = __match_any_sync(0xffffffffu, d);
      if (d != ~0u && static_cast<int>(threadIdx.x & 31) == __ffs(static_cast<int>(peers)) - 1)
        atomicAdd(&counts[d], static_cast<uint32_t>(__popc(peers)));
    }
  }
  __syncthreads();
  for (int b = threadIdx.x; b < bins; b += kThreads) {
    const u64 h = counting ? counts[b] : hist[b];
    if (h != 0) atomicAdd(&g_hist[b], h);
    if (want_min && min_inv[b] != 0) atomicMax(&v.min_inv[b], min_inv[b]);
  }
  if (sum_above) {  // before this block arrives: the last block reads the sum
    __shared__ u64 scratch[kThreads / 32];
    above = block_reduce(
        above, [](u64 x, u64 y) { return x + y; }, scratch);
    if (threadIdx.x == 0 && above != 0) atomicAdd(&st.mass_above_k, above);
  }
  __threadfence();
  __syncthreads();
  __shared__ bool last;
  if (threadIdx.x == 0) {
    last = atomicAdd(&st.arrivals[sel * kLevels + level], 1u) == blocks - 1;
  }
  __syncthreads();
  if (!last) return;
  __threadfence();

  // The last block: the walk over the digits, best (highest) first.
  const bool strict = sel == kDraw;  // the draw: sum > target; the prefixes: sum >= target
  const u64 target = level == 0 ? first_target(sel, s.rp, st, w) : __ldcg(&st.target[sel]);
  const u64 acc = level == 0 ? 0 : __ldcg(&st.acc[sel]);
  const int per = bins / kThreads;  // bins per thread: 8 or 4
  const int d0 = bins - 1 - per * static_cast<int>(threadIdx.x);
  u64 h[8];
  u64 local = 0;
#pragma unroll
  for (int k = 0; k < 8; ++k) {
    h[k] = k < per ? __ldcg(&g_hist[d0 - k]) : 0;
    local += h[k];
  }
  __shared__ typename WalkScan::TempStorage scan;
  __shared__ int s_digit;
  __shared__ u64 s_acc;
  if (threadIdx.x == 0) s_digit = -1;
  u64 before = 0;
  WalkScan(scan).ExclusiveSum(local, before);
  __syncthreads();
  u64 cum = acc + before;
  auto reached = [&](u64 x) { return strict ? x > target : x >= target; };
#pragma unroll
  for (int k = 0; k < 8; ++k) {
    if (k < per && !reached(cum) && reached(cum + h[k])) {
      s_digit = d0 - k;
      s_acc = cum;
    }
    cum += k < per ? h[k] : 0;
  }
  __syncthreads();
  if (threadIdx.x != 0 || s_digit < 0) return;  // no crossing: cannot happen with exact sums
  const int digit = s_digit;
  const uint32_t key = prefix | (static_cast<uint32_t>(digit) << shift);
  if (level == 0) st.target[sel] = target;
  if (level + 1 < kLevels) {
    st.prefix[sel] = key;
    st.mask[sel] = mask | (static_cast<uint32_t>(bins - 1) << shift);
    st.acc[sel] = s_acc;
    return;
  }
  // The key is fixed: its tokens count one each / weigh the same, so the target is
  // reached at the n-th of them in id order, n by arithmetic.
  const u64 each = counting ? 1 : w.mass(key_value(key));
  const u64 gap = target - s_acc;
  const u64 n = strict ? gap / each + 1 : (gap + each - 1) / each;
  if (sel == kTopK) {
    st.key_k = key;
    st.n_k = static_cast<uint32_t>(n);
  } else if (sel == kTopP) {
    st.kept_p = s_acc + n * each;
  } else if (n == 1) {
    a.p.tokens[r] = static_cast<int32_t>(~__ldcg(&v.min_inv[digit]));
  } else {
    st.tie_key = key;
    st.tie_m = static_cast<uint32_t>(n);
  }
}

// Many blocks per row: the selections of rows that read no list.
__global__ void __launch_bounds__(kThreads) mass_level_kernel(MassArgs a, int sel, int level) {
  level_pass(a, blockIdx.y, sel, level, Source::kSlices);
}

// One block per row whose list is `source`: its selections (top_k too for the list taken
// before it), every level, in turn.
__global__ void __launch_bounds__(kThreads) mass_list_kernel(MassArgs a, Source source) {
  for (int sel = source == Source::kPreList ? kTopK : kTopP; sel <= kDraw; ++sel)
    for (int level = 0; level < kLevels; ++level) {
      level_pass(a, blockIdx.x, sel, level, source);
      __syncthreads();  // the next pass reads what this one's walk wrote
    }
}

using CountScan = cub::BlockScan<int, kThreads>;

// The draw landed on the n-th (n > 1) of several equal logits: that one in id order.
__global__ void __launch_bounds__(kThreads) mass_tie_kernel(MassArgs a) {
  const int64_t i = blockIdx.x, r = a.row0 + i;
  if (a.p.rows[r].temperature == 0.0) return;
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
                      bool any_top_k, bool any_top_p, cudaStream_t stream) {
  QWEN3_CUDA_CHECK(cudaMemsetAsync(scratch, 0, mass_draw_bytes(chunk), stream));
  // Fixed point: the row's mass (<= vocab, weights <= 1) stays below 2^62.
  int log2_vocab = 0;
  while ((int64_t{1} << log2_vocab) < p.vocab) ++log2_vocab;
  const MassArgs a{p, row0, static_cast<uint8_t*>(scratch), std::min(kMaxShift, 62 - log2_vocab)};
  const dim3 grid(static_cast<unsigned>((p.vocab + kSlice - 1) / kSlice),
                  static_cast<unsigned>(chunk));
  mass_max_kernel<<<grid, kThreads, 0, stream>>>(a);
  QWEN3_CUDA_CHECK_LAUNCH("mass_max_kernel");
  mass_total_kernel<<<grid, kThreads, 0, stream>>>(a);
  QWEN3_CUDA_CHECK_LAUNCH("mass_total_kernel");
  // top_k rows: gather under the bound; every selection of the rows whose list holds runs
  // in the list kernel, the top_k selection of the others over their slices, then those
  // gather at the top_k-th key for top_p and the draw (the list kernel again).
  const auto chunk_blocks = static_cast<unsigned>(chunk);
  if (any_top_k) {
    mass_gather_kernel<<<grid, kThreads, 0, stream>>>(a, Source::kPreList);
    QWEN3_CUDA_CHECK_LAUNCH("mass_gather_kernel");
    mass_list_kernel<<<chunk_blocks, kThreads, 0, stream>>>(a, Source::kPreList);
    QWEN3_CUDA_CHECK_LAUNCH("mass_list_kernel");
  }
  for (int sel = 0; sel < kSelections; ++sel) {
    if ((sel == kTopK && !any_top_k) || (sel == kTopP && !any_top_p)) continue;
    for (int level = 0; level < kLevels; ++level) {
      mass_level_kernel<<<grid, kThreads, 0, stream>>>(a, sel, level);
      QWEN3_CUDA_CHECK_LAUNCH("mass_level_kernel");
    }
    if (sel == kTopK) {
      mass_gather_kernel<<<grid, kThreads, 0, stream>>>(a, Source::kPostList);
      QWEN3_CUDA_CHECK_LAUNCH("mass_gather_kernel");
      mass_list_kernel<<<chunk_blocks, kThreads, 0, stream>>>(a, Source::kPostList);
      QWEN3_CUDA_CHECK_LAUNCH("mass_list_kernel");
    }
  }
  mass_tie_kernel<<<static_cast<unsigned>(chunk), kThreads, 0, stream>>>(a);
  QWEN3_CUDA_CHECK_LAUNCH("mass_tie_kernel");
}

}  // namespace qwen3::cuda
