#include "engine/logits_ops.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace qwen3 {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Rows are scanned in blocks this long: a branch-free "any element above the threshold?"
// test per block (vectorised), a scalar look only at the few blocks that pass.
constexpr int64_t kScanBlock = 32;
// top_candidates keeps a heap while m <= vocab / kHeapFraction, else partitions the row.
constexpr int64_t kHeapFraction = 16;

// Below this many candidates select_mass_prefix sorts the rest of its range.
constexpr size_t kSelectSortBelow = 32;
// weighted_candidates works in blocks this long (exps vectorised, sums in double per block).
constexpr size_t kExpBlock = 64;

float clean(float v) { return std::isnan(v) ? kNegInf : v; }

// exp(x) for x <= 0 within ~2 ulp (Cephes expf), 0 below -87 (and for -inf / NaN); plain
// arithmetic so that loops over it vectorise.
inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const bool live = x >= -87.0f;
  x = live ? x : 0.0f;
  const float n = (x * kLog2e + kRound) - kRound;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const float scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return live ? y * scale : 0.0f;
}

// Calls on_hit(i) for each i in [begin, end) with p[i] > threshold, in order; on_hit may
// raise threshold (it is re-read after every hit).
template <typename OnHit>
void scan_above(const float* p, int64_t begin, int64_t end, const float& threshold, OnHit on_hit) {
  int64_t i = begin;
  for (; i + kScanBlock <= end; i += kScanBlock) {
    const float t = threshold;
    int hit = 0;
    for (int64_t j = 0; j < kScanBlock; ++j) hit |= p[i + j] > t;
    if (!hit) continue;
    for (int64_t j = i; j < i + kScanBlock; ++j)
      if (p[j] > threshold) on_hit(j);
  }
  for (; i < end; ++i)
    if (p[i] > threshold) on_hit(i);
}

// The m best by a heap of m candidates whose front is the worst kept one; a later token
// with an equal logit is worse than every kept one (higher id), so only "> worst" enters.
void select_by_heap(std::span<const float> row, int64_t m, std::vector<LogitCandidate>& out) {
  for (int64_t i = 0; i < m; ++i)
    out.push_back({clean(row[static_cast<size_t>(i)]), static_cast<int32_t>(i)});
  std::make_heap(out.begin(), out.end(), candidate_better<LogitCandidate>);
  float worst = out.front().logit;
  scan_above(row.data(), m, std::ssize(row), worst, [&](int64_t i) {
    std::pop_heap(out.begin(), out.end(), candidate_better<LogitCandidate>);
    out.back() = {row[static_cast<size_t>(i)], static_cast<int32_t>(i)};
    std::push_heap(out.begin(), out.end(), candidate_better<LogitCandidate>);
    worst = out.front().logit;
  });
}

void select_by_partition(std::span<const float> row, int64_t m, std::vector<LogitCandidate>& out) {
  out.resize(row.size());
  for (size_t i = 0; i < row.size(); ++i) out[i] = {clean(row[i]), static_cast<int32_t>(i)};
  std::nth_element(out.begin(), out.begin() + m, out.end(), candidate_better<LogitCandidate>);
  out.resize(static_cast<size_t>(m));
}

size_t checked_index(int64_t id, size_t vocab) {
  QWEN3_CHECK(id >= 0 && static_cast<uint64_t>(id) < vocab);
  return static_cast<size_t>(id);
}

}  // namespace

void apply_logit_bias(std::span<float> row, std::span<const std::pair<int32_t, float>> bias) {
  for (const auto& [id, value] : bias) row[checked_index(id, row.size())] += value;
}

void mask_tokens(std::span<float> row, std::span<const int64_t> ids) {
  for (int64_t id : ids) row[checked_index(id, row.size())] = kNegInf;
}

void apply_repetition_penalty(std::span<float> row, std::span<const int32_t> prompt,
                              std::span<const int32_t> output, double penalty,
                              std::vector<uint8_t>& seen) {
  if (seen.size() < row.size()) seen.assign(row.size(), 0);
  auto visit = [&](int32_t id) {
    const size_t t = checked_index(id, row.size());
    if (seen[t]) return;
    seen[t] = 1;
    const double l = row[t];
    row[t] = static_cast<float>(l > 0 ? l / penalty : l * penalty);
  };
  for (int32_t id : prompt) visit(id);
  for (int32_t id : output) visit(id);
  for (int32_t id : prompt) seen[static_cast<size_t>(id)] = 0;
  for (int32_t id : output) seen[static_cast<size_t>(id)] = 0;
}

void apply_frequency_presence(std::span<float> row, std::span<const int32_t> output,
                              double frequency, double presence, std::vector<int32_t>& counts) {
  if (counts.size() < row.size()) counts.assign(row.size(), 0);
  for (int32_t id : output) ++counts[checked_index(id, row.size())];
  for (int32_t id : output) {
    const size_t t = static_cast<size_t>(id);
    if (counts[t] == 0) continue;  // a repeat, already done
    row[t] = static_cast<float>(row[t] - frequency * counts[t] - presence);
    counts[t] = 0;
  }
}

int32_t argmax_lowest_id(std::span<const float> row) {
  if (row.empty()) return 0;
  int64_t best = 0;
  float best_logit = clean(row[0]);
  scan_above(row.data(), 1, std::ssize(row), best_logit, [&](int64_t i) {
    best = i;
    best_logit = row[static_cast<size_t>(i)];
  });
  return static_cast<int32_t>(best);
}

void top_candidates(std::span<const float> row, int64_t m, std::vector<LogitCandidate>& out) {
  const int64_t vocab = std::ssize(row);
  m = std::clamp<int64_t>(m, 0, vocab);
  out.clear();
  if (m == 0) return;
  if (m * kHeapFraction <= vocab) {
    select_by_heap(row, m, out);
  } else {
    select_by_partition(row, m, out);
  }
  std::sort(out.begin(), out.end(), candidate_better<LogitCandidate>);
}

void candidate_weights(std::span<const LogitCandidate> c, double temperature,
                       std::vector<double>& w) {
  w.resize(c.size());
  if (c.empty()) return;
  const float top = c[0].logit;
  const double inv_t = 1.0 / temperature;  // inf for a denormal temperature: still 0 or 1
  for (size_t i = 0; i < c.size(); ++i)
    w[i] = c[i].logit == top ? 1.0 : std::exp((double{c[i].logit} - top) * inv_t);
}

float max_logit(std::span<const float> row) {
  const float* p = row.data();
  float top = kNegInf;
#pragma omp simd reduction(max : top)
  for (size_t i = 0; i < row.size(); ++i) top = p[i] > top ? p[i] : top;
  return top;
}

CandidateMass weighted_candidates(std::span<const float> row, float max_logit, double temperature,
                                  float floor, std::vector<WeightedCandidate>& out) {
  out.clear();
  CandidateMass mass;
  // The exponent in double: a float product would round 1 / temperature once for the whole
  // row, a bias of up to ~1e-6 in every weight far below the best.
  const double inv_t = 1.0 / temperature;
  const double top = max_logit;
  const float* p = row.data();
  float w[kExpBlock];
  for (size_t b = 0; b < row.size(); b += kExpBlock) {
    const size_t len = std::min(kExpBlock, row.size() - b);
    float sum = 0;
    int any = 0;
#pragma omp simd reduction(+ : sum) reduction(| : any)
    for (size_t j = 0; j < len; ++j) {
      const float v = p[b + j];
      const double x = (v - top) * inv_t;  // <= 0; -inf or NaN for -inf / NaN logits
      w[j] = v == max_logit ? 1.0f : exp_nonpositive(static_cast<float>(x > -100.0 ? x : -100.0));
      sum += w[j];
      any |= w[j] >= floor;
    }
    mass.total += sum;
    if (!any) continue;
    for (size_t j = 0; j < len; ++j) {
      if (w[j] < floor || !(w[j] > 0.0f)) continue;
      out.push_back({p[b + j], static_cast<int32_t>(b + j), w[j]});
      mass.kept += w[j];
    }
  }
  return mass;
}

size_t select_mass_prefix(std::span<WeightedCandidate> c, double need, bool strict) {
  auto reaches = [&](double sum) { return strict ? sum > need : sum >= need; };
  auto better = candidate_better<WeightedCandidate>;
  size_t lo = 0, hi = c.size();
  double below = 0;  // the mass of c[0, lo), each better than all of c[lo, hi)
  // Median-of-three quickselect; a budget of rounds bounds bad pivots (then it sorts).
  for (int rounds = 64; hi - lo > kSelectSortBelow && rounds > 0; --rounds) {
    WeightedCandidate* f = c.data();
    const size_t mid = lo + (hi - lo) / 2, last = hi - 1;
    if (better(f[mid], f[lo])) std::swap(f[mid], f[lo]);
    if (better(f[last], f[lo])) std::swap(f[last], f[lo]);
    if (better(f[mid], f[last])) std::swap(f[mid], f[last]);  // f[last] = the median
    const WeightedCandidate pivot = f[last];
    WeightedCandidate* split = std::partition(
        f + lo, f + last, [&](const WeightedCandidate& x) { return better(x, pivot); });
    double front = 0;
    for (WeightedCandidate* x = f + lo; x != split; ++x) front += x->weight;
    const auto at = static_cast<size_t>(split - f);
    std::swap(f[at], f[last]);  // the pivot between the better and the worse
    if (reaches(below + front)) {
      hi = at;
    } else if (reaches(below + front + pivot.weight)) {
      return at + 1;
    } else {
      below += front + pivot.weight;
      lo = at + 1;
    }
  }
  std::sort(c.begin() + static_cast<std::ptrdiff_t>(lo),
            c.begin() + static_cast<std::ptrdiff_t>(hi), better);
  for (size_t i = lo; i < hi; ++i) {
    below += c[i].weight;
    if (reaches(below)) return i + 1;
  }
  return hi;  // rounding kept the sum short of a crossing the round above saw: its last
}

size_t top_p_prefix(std::span<const double> w, double total, double top_p) {
  const double need = top_p * total;
  double cum = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    cum += w[i];
    if (cum >= need) return i + 1;
  }
  return 0;
}

size_t min_p_prefix(std::span<const double> w, double min_p) {
  if (w.empty()) return 0;
  const double floor = min_p * w[0];
  for (size_t i = 0; i < w.size(); ++i)
    if (w[i] < floor) return i;
  return w.size();
}

size_t inverse_cdf(std::span<const double> w, double target) {
  double cum = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    cum += w[i];
    if (cum > target) return i;
  }
  return w.size();
}

double log_sum_exp(std::span<const float> row) {
  const float top = max_logit(row);
  if (!std::isfinite(top)) return top;
  std::vector<WeightedCandidate> none;
  const CandidateMass mass =
      weighted_candidates(row, top, 1.0, 2.0f, none);  // floor > 1: none kept
  return top + std::log(mass.total);
}

}  // namespace qwen3
