#include <algorithm>
#include <cmath>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/decode_persistent.h"
#include "backends/cuda/kernels/decode_persistent_sync.cuh"
#include "backends/cuda/kernels/fp8_convert.cuh"
#include "backends/cuda/kernels/kv_fp8.cuh"
#include "backends/cuda/kernels/launch.h"
#include "backends/cuda/kernels/rope_kv.cuh"

namespace qwen3::cuda {
namespace {

constexpr int kConsumerWarps = kPersistentConsumerWarps;
constexpr int kConsumers = kConsumerWarps * 32;
constexpr int kThreads = kConsumers + 32;  // + the producer warp
constexpr int kSlotBytes = 24 * 1024;      // default ring slot: whole rows of one matrix + scales
constexpr int kMaxSlots = 16;
constexpr int kMaxGroup = 4;       // query heads per KV head
constexpr int kMinSplitKeys = 16;  // fewest keys per split-KV item (round S swept 16-1,024)
constexpr int kKeysPerLoad = 4;    // keys whose K and V a warp loads together
constexpr int kMergeBatch = 8;     // partial results an online merge loads at once
constexpr int kMaxRope = 64;       // rotation pairs per head (head_dim 128)

// Weight formats: BF16 (8 weights per 16-byte load), E4M3, E5M2 (16).
constexpr int kBf16 = 0, kE4M3 = 1, kE5M2 = 2;
template <int F>
constexpr int kWBytes = F == kBf16 ? 2 : 1;
template <int F>
constexpr int kPer = F == kBf16 ? 8 : 16;
template <int F>
constexpr int kPiece = 32 * kPer<F>;  // columns of one warp-wide load

struct Args {
  PersistentDecodeParams p;
  int slots;       // ring slots
  int x_floats;    // shared floats of the activation vector / attention scratch
  int max_splits;  // split-KV items per KV head at most
};

// The four matrices of a layer: rows, columns, and the rows that stay together (the
// gate/up pairs of the SiLU epilogue).
struct StageDims {
  int rows, cols, unit;
};
__host__ __device__ inline StageDims stage_dims(const PersistentShape& s, int st) {
  const int q = s.heads * s.head_dim, kv = s.kv_heads * s.head_dim;
  switch (st) {
    case 0:
      return {q + 2 * kv, s.hidden, 1};
    case 1:
      return {s.hidden, q, 1};
    case 2:
      return {2 * s.inter, s.hidden, 2};
    default:
      return {s.hidden, s.inter, 1};
  }
}
__host__ __device__ inline bool is_fp8(const PersistentShape& s) {
  return s.wdtype != DType::kBF16;
}
__host__ __device__ inline int scale_cols(const PersistentShape& s, int cols) {
  return is_fp8(s) ? (cols + s.block_in - 1) / s.block_in : 0;
}
// Rows of stage st in one slot (0: a row does not fit): the weights, then the rows'
// scales copied from the 16-byte boundary below them (up to 30 bytes of slack).
__host__ __device__ inline int slot_bytes(const PersistentShape& s) {
  return s.slot_bytes > 0 ? s.slot_bytes : kSlotBytes;
}
__host__ __device__ inline int slot_rows(const PersistentShape& s, int st) {
  const StageDims d = stage_dims(s, st);
  const int wbytes = is_fp8(s) ? 1 : 2;
  const int per_row = d.cols * wbytes + scale_cols(s, d.cols) * 4;
  return (slot_bytes(s) - 32) / per_row / d.unit * d.unit;
}
// The FP8 scales of rows rs.. of stage st (the producer copies them from the 16-byte
// boundary below; a consumer finds them that many bytes into the slot's scale part).
__device__ inline uintptr_t scales_at(const PersistentLayer& layer, int st, int rs, int sc) {
  return reinterpret_cast<uintptr_t>(layer.scales[st] + static_cast<int64_t>(rs) * sc);
}
// This block's rows of a stage: an even share of the units, in order.
__device__ inline void block_rows(const StageDims& d, int& r0, int& r1) {
  const long long units = d.rows / d.unit;
  r0 = static_cast<int>(units * blockIdx.x / gridDim.x) * d.unit;
  r1 = static_cast<int>(units * (blockIdx.x + 1) / gridDim.x) * d.unit;
}

// Profiling (PersistentDecodeParams::profile): block 0's thread 0 adds the nanoseconds of
// each kind of region; the producer adds the time it waited for a free slot.
enum Region { kLoadX, kQkv, kO, kGateUp, kDown, kGridSync, kAttention, kProducerWait, kFullWait };
static_assert(kFullWait + 1 == kPersistentProfileRegions, "kPersistentProfileNames, in order");
__device__ __forceinline__ uint64_t now_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
struct Stamp {
  unsigned long long* prof;  // nullptr: off (and on every block but 0, thread 0)
  uint64_t t = 0;
  __device__ void start() {
    if (prof != nullptr) t = now_ns();
  }
  __device__ void add(Region r) {
    if (prof == nullptr) return;
    const uint64_t n = now_ns();
    prof[r] += n - t;
    t = n;
  }
};

// ---- producer: every weight row this block uses, in order, into the ring -------------
template <int F>
__device__ void produce(const Args& a, uint8_t* ring, uint64_t* full, uint64_t* empty, int* issued,
                        unsigned long long* wait_ns) {
  const PersistentShape& s = a.p.shape;
  int chunk = 0;
  for (int l = 0; l < a.p.num_layers; ++l) {
    const PersistentLayer& layer = a.p.layers[l];
    for (int st = 0; st < 4; ++st) {
      const StageDims d = stage_dims(s, st);
      const int rows_per_slot = slot_rows(s, st);
      const int rb = d.cols * kWBytes<F>;
      const int sc = scale_cols(s, d.cols);
      int r0, r1;
      block_rows(d, r0, r1);
      const auto* w = static_cast<const uint8_t*>(layer.w[st]);
      for (int rs = r0; rs < r1; rs += rows_per_slot, ++chunk) {
        const int nr = min(rows_per_slot, r1 - rs);
        const int slot = chunk % a.slots;
        if (chunk >= a.slots) {
          const uint64_t t = wait_ns != nullptr ? now_ns() : 0;
          mbar_wait(&empty[slot], (chunk / a.slots - 1) & 1);
          if (wait_ns != nullptr) *wait_ns += now_ns() - t;
        }
        const auto wbytes = static_cast<uint32_t>(nr * rb);
        uint8_t* dst = ring + slot * slot_bytes(s);
        uint32_t sbytes = 0;
        const uint8_t* ssrc = nullptr;
        if constexpr (F != kBf16) {
          const uintptr_t lo = scales_at(layer, st, rs, sc);
          const uintptr_t hi = lo + static_cast<uintptr_t>(nr) * sc * 4;
          ssrc = reinterpret_cast<const uint8_t*>(lo & ~uintptr_t{15});
          sbytes = static_cast<uint32_t>(((hi + 15) & ~uintptr_t{15}) - (lo & ~uintptr_t{15}));
        }
        mbar_expect_tx(&full[slot], wbytes + sbytes);
        const uint8_t* src = w + static_cast<int64_t>(rs) * rb;
        bulk_copy_g2s(dst, src, wbytes, &full[slot]);
        if (sbytes != 0) bulk_copy_g2s(dst + wbytes, ssrc, sbytes, &full[slot]);
        store_release_shared(issued, chunk + 1);
      }
    }
  }
}

// ---- consumers -------------------------------------------------------------------------

// Where x's 4-float group g sits in shared memory: lane l of a warp-wide load reads the
// kPer<F> consecutive values it multiplies as float4s 32 apart (no bank conflicts).
template <int F>
__device__ inline int x_slot(int g) {
  const int e = 4 * g;
  const int piece = e / kPiece<F>, r = e - piece * kPiece<F>;
  const int lane = r / kPer<F>, q = (r - lane * kPer<F>) / 4;
  return piece * (kPiece<F> / 4) + q * 32 + lane;
}

// xs = src (n floats, another block's output: read past L1), or RMSNorm(src) * norm_w.
template <int F>
__device__ void load_x(const float* src, int n, const float* norm_w, float eps, float* xs,
                       float* misc) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  auto* x4 = reinterpret_cast<float4*>(xs);
  const auto* s4 = reinterpret_cast<const float4*>(src);
  float ss = 0.0f;
  for (int g = threadIdx.x; g < n / 4; g += kConsumers) {
    const float4 v = __ldcg(s4 + g);
    ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    x4[x_slot<F>(g)] = v;
  }
  if (norm_w != nullptr) {
    ss = warp_sum(ss);
    if (lane == 0) misc[warp] = ss;
    consumer_sync(kConsumers);
    float total = 0.0f;
#pragma unroll
    for (int w = 0; w < kConsumerWarps; ++w) total += misc[w];
    const float inv = 1.0f / sqrtf(total / static_cast<float>(n) + eps);
    const auto* w4 = reinterpret_cast<const float4*>(norm_w);
    for (int g = threadIdx.x; g < n / 4; g += kConsumers) {  // the CPU's order: w * (x * inv)
      float4& v = x4[x_slot<F>(g)];
      const float4 nw = __ldg(w4 + g);
      v = make_float4(nw.x * (v.x * inv), nw.y * (v.y * inv), nw.z * (v.z * inv),
                      nw.w * (v.w * inv));
    }
  }
  consumer_sync(kConsumers);
}

// One 16-byte load of row r's weights at column col dotted with x there (the block scale
// applied for FP8).
template <int F>
__device__ __forceinline__ float dot_load(const uint8_t* sw, int rb, int r, int col,
                                          const float4* x4, int pc, int lane, const float* scl,
                                          int sc, int block_shift) {
  constexpr float kFix = F == kE4M3 ? 0x1p8f : 1.0f;  // E4M3 decodes to value * 2^-8
  const uint4 w = *reinterpret_cast<const uint4*>(sw + r * rb + col * kWBytes<F>);
  const float4* xp = x4 + pc * (kPiece<F> / 4) + lane;
  if constexpr (F == kBf16) {
    return dot_bf16x8(w, xp[0], xp[32]);
  } else {
    float xv[16];
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const float4 v = xp[32 * q];
      xv[4 * q] = v.x, xv[4 * q + 1] = v.y, xv[4 * q + 2] = v.z, xv[4 * q + 3] = v.w;
    }
    return dot_fp8x16<F == kE5M2>(w, xv) * (scl[r * sc + (col >> block_shift)] * kFix);
  }
}

// One matrix: this block's rows, from the ring. A warp takes whole units (a row, or a
// gate/up pair) in turn (unit j to warp j mod warps): each lane accumulates its columns
// over the row, one warp sum per row, the warp stores the result; the warp finishing a
// slot's last unit frees the slot. No block barrier: warps work on different slots at once.
template <int F, int kUnit>
__device__ void gemv_stage(const Args& a, int st, const PersistentLayer& layer, const uint8_t* ring,
                           const float* xs, int* done, int* issued, uint64_t* full, uint64_t* empty,
                           int& chunk, unsigned long long* wait_ns) {
  const PersistentShape& s = a.p.shape;
  const StageDims d = stage_dims(s, st);
  const int rows_per_slot = slot_rows(s, st);
  const int units_per_slot = rows_per_slot / kUnit;
  const int rb = d.cols * kWBytes<F>;
  const int sc = scale_cols(s, d.cols);
  const int pieces = (d.cols + kPiece<F> - 1) / kPiece<F>;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const auto* x4 = reinterpret_cast<const float4*>(xs);
  const int block_shift = F == kBf16 ? 0 : __ffs(s.block_in) - 1;
  int r0, r1;
  block_rows(d, r0, r1);
  const int units = (r1 - r0) / kUnit;
  for (int u = warp; u < units; u += kConsumerWarps) {
    const int c = u / units_per_slot;  // the slot's chunk within the stage
    const int rs = r0 + c * rows_per_slot;
    const int nr = min(rows_per_slot, r1 - rs);
    const int r = (u - c * units_per_slot) * kUnit;  // first row of the unit in the slot
    const int slot = (chunk + c) % a.slots;
    {
      const uint64_t t = wait_ns != nullptr && lane == 0 ? now_ns() : 0;
      // Warps work on up to `warps` slots at once, which may be more than the ring holds:
      // wait until the producer armed this chunk's fill (so the slot's barrier is in this
      // chunk's phase, not an earlier one of the same parity), then for the data.
      while (load_acquire_shared(issued) <= chunk + c) {
      }
      mbar_wait(&full[slot], ((chunk + c) / a.slots) & 1);
      if (wait_ns != nullptr && lane == 0) *wait_ns += now_ns() - t;
    }
    const uint8_t* sw = ring + slot * slot_bytes(s);
    const float* scl = nullptr;
    if constexpr (F != kBf16) {
      scl = reinterpret_cast<const float*>(sw + nr * rb + (scales_at(layer, st, rs, sc) & 15));
    }
    float acc[kUnit] = {};
    int pc = 0;
    // Full pieces two at a time (their loads issued together), then the rest.
    const int full_pieces = d.cols / kPiece<F>;
    for (; pc + 2 <= full_pieces; pc += 2) {
      const int col = pc * kPiece<F> + lane * kPer<F>;
#pragma unroll
      for (int k = 0; k < kUnit; ++k) {
        const float p0 = dot_load<F>(sw, rb, r + k, col, x4, pc, lane, scl, sc, block_shift);
        const float p1 =
            dot_load<F>(sw, rb, r + k, col + kPiece<F>, x4, pc + 1, lane, scl, sc, block_shift);
        acc[k] += p0 + p1;
      }
    }
    for (; pc < pieces; ++pc) {
      const int col = pc * kPiece<F> + lane * kPer<F>;
      if (col < d.cols) {
#pragma unroll
        for (int k = 0; k < kUnit; ++k)
          acc[k] += dot_load<F>(sw, rb, r + k, col, x4, pc, lane, scl, sc, block_shift);
      }
    }
#pragma unroll
    for (int k = 0; k < kUnit; ++k) acc[k] = warp_sum(acc[k]);
    if (lane == 0) {
      const int row = rs + r;
      if constexpr (kUnit == 2) {  // gate/up pair -> silu(gate) * up
        __stcg(a.p.act + row / 2, acc[0] / (1.0f + expf(-acc[0])) * acc[1]);
      } else if (st == 0) {
        __stcg(a.p.qkv + row, acc[0]);
      } else {  // o, down: into the residual stream (each row has one owner block)
        __stcg(a.p.h + row, __ldcg(a.p.h + row) + acc[0]);
      }
      // This warp's reads of the slot are done; the slot's last unit frees it.
      if (atomicAdd(&done[slot], 1) == nr / kUnit - 1) {
        done[slot] = 0;
        mbar_arrive(&empty[slot]);
      }
    }
  }
  chunk += (r1 - r0 + rows_per_slot - 1) / rows_per_slot;
}

// KV elements: kD consecutive ones at index i of a pool of dtype kv, as floats x scale
// (FP8) / stored from floats as qk_norm_rope_kv stores them (rope_kv.cuh).
template <int kD, KvDtype kv>
__device__ inline void load_kv(const void* pool, int64_t i, float scale, float (&out)[kD]) {
  if constexpr (kv == KvDtype::kBF16) {
    const auto* p = static_cast<const __nv_bfloat16*>(pool) + i;
    if constexpr (kD == 4) {
      const uint2 u = *reinterpret_cast<const uint2*>(p);
      out[0] = bf16_lo(u.x), out[1] = bf16_hi(u.x), out[2] = bf16_lo(u.y), out[3] = bf16_hi(u.y);
    } else {
      const uint32_t u = *reinterpret_cast<const uint32_t*>(p);
      out[0] = bf16_lo(u), out[1] = bf16_hi(u);
    }
  } else if constexpr (kv == KvDtype::kF32) {
    const float* p = static_cast<const float*>(pool) + i;
#pragma unroll
    for (int j = 0; j < kD; ++j) out[j] = p[j];
  } else {
    const auto* p = static_cast<const uint8_t*>(pool) + i;
    if constexpr (kD == 4) {
      const float4 f = kv_fp8x4_to_float4(*reinterpret_cast<const uint32_t*>(p));
      out[0] = f.x * scale, out[1] = f.y * scale, out[2] = f.z * scale, out[3] = f.w * scale;
    } else {
      const float2 f = kv_fp8x2_to_float2(*reinterpret_cast<const uint16_t*>(p));
      out[0] = f.x * scale, out[1] = f.y * scale;
    }
  }
}
template <int kD, KvDtype kv>
__device__ inline void store_kv_run(void* pool, int64_t i, const float (&y)[kD], float scale) {
  if constexpr (kv == KvDtype::kBF16) {
    store_run(static_cast<__nv_bfloat16*>(pool) + i, y, scale);
  } else if constexpr (kv == KvDtype::kF32) {
    store_run(static_cast<float*>(pool) + i, y, scale);
  } else {
    store_run(static_cast<__nv_fp8_e4m3*>(pool) + i, y, scale);
  }
}

// A partial softmax result of one output element: running maximum, sum of weights, the
// weighted sum of values (l = 0: no keys).
struct Softmax {
  float m, l, o;
};
// The merge of n partial results (fetch(i) returns the i-th), kMergeBatch fetched at once
// so that their loads (L2 round trips for the split-KV partials) overlap.
template <typename Fetch>
__device__ __forceinline__ Softmax merge_softmax(int n, Fetch&& fetch) {
  Softmax r{-INFINITY, 0.0f, 0.0f};
  for (int i0 = 0; i0 < n; i0 += kMergeBatch) {
    Softmax part[kMergeBatch];
#pragma unroll
    for (int j = 0; j < kMergeBatch; ++j)
      part[j] = i0 + j < n ? fetch(i0 + j) : Softmax{-INFINITY, 0.0f, 0.0f};
#pragma unroll
    for (int j = 0; j < kMergeBatch; ++j) {
      if (part[j].l > 0.0f) {
        const float mn = fmaxf(r.m, part[j].m);
        const float fa = expf(r.m - mn), fb = expf(part[j].m - mn);
        r = {mn, fmaf(part[j].l, fb, r.l * fa), fmaf(part[j].o, fb, r.o * fa)};
      }
    }
  }
  return r;
}

// Split-KV attention of the one decode row: item (KV head, split) per block; q/k norm +
// RoPE of its query heads (and, in the split holding the new position, of the new key,
// written to the pool with the new value); warps take 4 keys at a time with an online
// softmax per query head; the block combines its warps, and the last split of a KV head
// to finish merges the splits into attn.
template <int kD, KvDtype kKv>
__device__ __noinline__ void attention_stage(const Args& a, const PersistentLayer& layer, float* xs,
                                             const float2* rope, float* misc) {
  const PersistentDecodeParams& p = a.p;
  const PersistentShape& s = p.shape;
  constexpr int kHd = 32 * kD;
  const int group = s.heads / s.kv_heads;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int pos = *p.row_pos;
  const int len = pos + 1;
  const int splits = max(1, min(a.max_splits, (len + kMinSplitKeys - 1) / kMinSplitKeys));
  const int span = (len + splits - 1) / splits;
  const int items = s.kv_heads * splits;
  const int q_dim = s.heads * kHd, kv_dim = s.kv_heads * kHd;
  float* qs = xs;                          // [group][hd] normed, rotated queries
  float* raw = qs + group * kHd;           // [group + 1][hd] their inputs (+ the key's)
  float* wpart = raw + (group + 1) * kHd;  // [warps][group][hd + 2]: o, m, l
  const auto cos_sin = [&](int f) { return rope[f]; };
  constexpr bool fp8 = kKv == KvDtype::kFp8E4M3;
  const float k_scale = fp8 ? kv_scale_or_one(layer.k_scale) : 1.0f;
  const float v_scale = fp8 ? kv_scale_or_one(layer.v_scale) : 1.0f;
  for (int item = blockIdx.x; item < items; item += gridDim.x) {
    const int kvh = item / splits, sp = item - kvh * splits;
    const int t0 = sp * span, t1 = min(len, t0 + span);
    const bool owns_new = t0 <= pos && pos < t1;
    if (warp < group || (warp == group && owns_new)) {
      const float* src = p.qkv + (warp < group ? (kvh * group + warp) * kHd : q_dim + kvh * kHd);
      float* r = raw + warp * kHd;
#pragma unroll
      for (int j = 0; j < kD; ++j) r[lane * kD + j] = __ldcg(src + lane * kD + j);
      __syncwarp();
      if (warp < group) {
        float* qd = qs + warp * kHd;
        norm_rope_head_regs<kD>(r, layer.q_norm, p.eps, cos_sin, [&](int i, const auto& y) {
#pragma unroll
          for (int j = 0; j < kD; ++j) qd[i + j] = y[j];
        });
      } else {
        const int64_t off = *p.row_slot * kv_dim + static_cast<int64_t>(kvh) * kHd;
        norm_rope_head_regs<kD>(r, layer.k_norm, p.eps, cos_sin, [&](int i, const auto& y) {
          store_kv_run<kD, kKv>(layer.k_pool, off + i, y, k_scale);
        });
        float v[kD];
#pragma unroll
        for (int j = 0; j < kD; ++j)
          v[j] = __ldcg(p.qkv + q_dim + kv_dim + kvh * kHd + lane * kD + j);
        store_kv_run<kD, kKv>(layer.v_pool, off + lane * kD, v, v_scale);
      }
    }
    consumer_sync(kConsumers);  // queries in shared memory, the new K / V in the pool

    float q[kMaxGroup][kD], o[kMaxGroup][kD], m[kMaxGroup], l[kMaxGroup];
#pragma unroll
    for (int j = 0; j < kMaxGroup; ++j) {
      m[j] = -INFINITY;
      l[j] = 0.0f;
#pragma unroll
      for (int e = 0; e < kD; ++e) {
        q[j][e] = j < group ? qs[j * kHd + lane * kD + e] : 0.0f;
        o[j][e] = 0.0f;
      }
    }
    const int64_t head_off = static_cast<int64_t>(kvh) * kHd + lane * kD;
    for (int tb = t0 + warp * kKeysPerLoad; tb < t1; tb += kConsumerWarps * kKeysPerLoad) {
      float kk[kKeysPerLoad][kD], vv[kKeysPerLoad][kD];
#pragma unroll
      for (int u = 0; u < kKeysPerLoad; ++u) {
        const int t = min(tb + u, t1 - 1);  // past the split: a repeat, not used
        const int64_t slot =
            static_cast<int64_t>(__ldg(p.table + t / p.block_size)) * p.block_size +
            t % p.block_size;
        load_kv<kD, kKv>(layer.k_pool, slot * kv_dim + head_off, k_scale, kk[u]);
        load_kv<kD, kKv>(layer.v_pool, slot * kv_dim + head_off, v_scale, vv[u]);
      }
#pragma unroll
      for (int u = 0; u < kKeysPerLoad; ++u) {
        if (tb + u >= t1) break;  // warp-uniform
#pragma unroll
        for (int j = 0; j < kMaxGroup; ++j) {
          if (j >= group) break;
          float dot = 0.0f;
#pragma unroll
          for (int e = 0; e < kD; ++e) dot = fmaf(q[j][e], kk[u][e], dot);
          const float score = warp_sum(dot) * p.scale;
          const float mn = fmaxf(m[j], score);
          const float alpha = expf(m[j] - mn);
          const float pe = expf(score - mn);
          l[j] = l[j] * alpha + pe;
#pragma unroll
          for (int e = 0; e < kD; ++e) o[j][e] = fmaf(pe, vv[u][e], o[j][e] * alpha);
          m[j] = mn;
        }
      }
    }
    const int stride = kHd + 2;
#pragma unroll
    for (int j = 0; j < kMaxGroup; ++j) {
      if (j >= group) break;
      float* wp = wpart + (warp * group + j) * stride;
#pragma unroll
      for (int e = 0; e < kD; ++e) wp[lane * kD + e] = o[j][e];
      if (lane == 0) wp[kHd] = m[j], wp[kHd + 1] = l[j];
    }
    consumer_sync(kConsumers);
    for (int idx = threadIdx.x; idx < group * kHd; idx += kConsumers) {
      const int j = idx / kHd, dd = idx - j * kHd;
      const Softmax r = merge_softmax(kConsumerWarps, [&](int w) {
        const float* wp = wpart + (w * group + j) * stride;
        return Softmax{wp[kHd], wp[kHd + 1], wp[dd]};
      });
      if (splits == 1) {
        __stcg(p.attn + (kvh * group + j) * kHd + dd, r.o / r.l);
      } else {
        float* pp =
            p.partials + (static_cast<int64_t>(kvh * a.max_splits + sp) * group + j) * stride;
        __stcg(pp + dd, r.o);
        if (dd == 0) __stcg(pp + kHd, r.m), __stcg(pp + kHd + 1, r.l);
      }
    }
    if (splits > 1) {
      __threadfence();
      consumer_sync(kConsumers);
      if (threadIdx.x == 0) {
        const unsigned before = atomicAdd(p.counters + kvh, 1u);
        misc[0] = before == static_cast<unsigned>(splits - 1) ? 1.0f : 0.0f;
      }
      consumer_sync(kConsumers);
      if (misc[0] != 0.0f) {  // the last split of this KV head: merge them all
        __threadfence();
        for (int idx = threadIdx.x; idx < group * kHd; idx += kConsumers) {
          const int j = idx / kHd, dd = idx - j * kHd;
          const float* base =
              p.partials + (static_cast<int64_t>(kvh * a.max_splits) * group + j) * stride;
          const int64_t step = static_cast<int64_t>(group) * stride;
          const Softmax r = merge_softmax(splits, [&](int q2) {
            const float* pq = base + q2 * step;
            return Softmax{__ldcg(pq + kHd), __ldcg(pq + kHd + 1), __ldcg(pq + dd)};
          });
          __stcg(p.attn + (kvh * group + j) * kHd + dd, r.o / r.l);
        }
        if (threadIdx.x == 0) atomicExch(p.counters + kvh, 0u);
      }
    }
    consumer_sync(kConsumers);  // shared scratch and misc[0] are reused by the next item
  }
}

template <int F, int kD>
__global__ void __launch_bounds__(kThreads, 1)
    persistent_decode_kernel(const __grid_constant__ Args a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  extern __shared__ __align__(128) uint8_t smem[];
  const PersistentDecodeParams& p = a.p;
  uint8_t* ring = smem;
  float* xs = reinterpret_cast<float*>(smem + a.slots * slot_bytes(p.shape));
  float* misc = xs + a.x_floats;                        // [32]
  auto* rope = reinterpret_cast<float2*>(misc + 32);    // [kMaxRope] the step's rotations
  int* done = reinterpret_cast<int*>(rope + kMaxRope);  // [kMaxSlots] units finished per slot
  int* issued = done + kMaxSlots;                 // [2] chunks the producer armed (+ pad)
  auto* full = reinterpret_cast<uint64_t*>(issued + 2);
  uint64_t* empty = full + kMaxSlots;
  const bool profiled = p.profile != nullptr && blockIdx.x == 0;
  if (threadIdx.x == 0) {
    for (int i = 0; i < a.slots; ++i) {
      mbar_init(&full[i], 1);
      mbar_init(&empty[i], 1);
    }
    for (int i = 0; i < kMaxSlots; ++i) done[i] = 0;
    *issued = 0;
    mbar_fence_init();
  }
  __syncthreads();
  if (threadIdx.x >= kConsumers) {  // the producer warp: one lane issues the copies
    if (threadIdx.x == kConsumers)
      produce<F>(a, ring, full, empty, issued, profiled ? p.profile + kProducerWait : nullptr);
    return;
  }
  const PersistentShape& s = p.shape;
  const int q_dim = s.heads * s.head_dim;
  // Every layer rotates by the same angles (one position): computed once, kept here
  // (sinf / cosf's range reduction inlined into the attention cost more than its keys).
  for (int f = threadIdx.x; f < s.head_dim / 2; f += kConsumers)
    rope[f] = rope_cos_sin(p.inv_freq, f, static_cast<float>(*p.row_pos), p.rope_scaling);
  consumer_sync(kConsumers);
  int chunk = 0;
  unsigned target = 0;
  Stamp stamp{profiled && threadIdx.x == 0 ? p.profile : nullptr};
  unsigned long long* full_wait = stamp.prof != nullptr ? stamp.prof + kFullWait : nullptr;
  // Where this block's arrival at the next barrier is stamped (`crossed`: the barriers so
  // far times the grid, grid_sync's target before it).
  const auto arrival = [&](unsigned crossed) -> unsigned long long* {
    return p.arrivals == nullptr ? nullptr : p.arrivals + crossed + blockIdx.x;
  };
  stamp.start();
  for (int l = 0; l < p.num_layers; ++l) {
    const PersistentLayer& layer = p.layers[l];
    load_x<F>(p.h, s.hidden, layer.input_norm, p.eps, xs, misc);
    stamp.add(kLoadX);
    gemv_stage<F, 1>(a, 0, layer, ring, xs, done, issued, full, empty, chunk, full_wait);
    stamp.add(kQkv);
    grid_sync(p.barrier, target, kConsumers, arrival(target));
    stamp.add(kGridSync);
    switch (p.kv_dtype) {  // one instance each: no other dtype's code between its lines
      case KvDtype::kBF16:
        attention_stage<kD, KvDtype::kBF16>(a, layer, xs, rope, misc);
        break;
      case KvDtype::kF32:
        attention_stage<kD, KvDtype::kF32>(a, layer, xs, rope, misc);
        break;
      default:
        attention_stage<kD, KvDtype::kFp8E4M3>(a, layer, xs, rope, misc);
    }
    stamp.add(kAttention);
    grid_sync(p.barrier, target, kConsumers, arrival(target));
    stamp.add(kGridSync);
    load_x<F>(p.attn, q_dim, nullptr, p.eps, xs, misc);
    stamp.add(kLoadX);
    gemv_stage<F, 1>(a, 1, layer, ring, xs, done, issued, full, empty, chunk, full_wait);
    stamp.add(kO);
    grid_sync(p.barrier, target, kConsumers, arrival(target));
    stamp.add(kGridSync);
    load_x<F>(p.h, s.hidden, layer.post_norm, p.eps, xs, misc);
    stamp.add(kLoadX);
    gemv_stage<F, 2>(a, 2, layer, ring, xs, done, issued, full, empty, chunk, full_wait);
    stamp.add(kGateUp);
    grid_sync(p.barrier, target, kConsumers, arrival(target));
    stamp.add(kGridSync);
    load_x<F>(p.act, s.inter, nullptr, p.eps, xs, misc);
    stamp.add(kLoadX);
    gemv_stage<F, 1>(a, 3, layer, ring, xs, done, issued, full, empty, chunk, full_wait);
    stamp.add(kDown);
    if (l + 1 < p.num_layers) grid_sync(p.barrier, target, kConsumers, arrival(target));
    stamp.add(kGridSync);
  }
#endif
}

// The activation vectors (each in whole warp-wide pieces: x_slot places a partial last
// piece's values anywhere in it) or the attention's scratch, whichever is larger.
int x_floats(const PersistentShape& s) {
  const int group = s.heads / s.kv_heads;
  const int attn =
      group * s.head_dim + (group + 1) * s.head_dim + kConsumerWarps * group * (s.head_dim + 2);
  const int piece = is_fp8(s) ? kPiece<kE4M3> : kPiece<kBf16>;
  const int n = std::max({s.hidden, s.heads * s.head_dim, s.inter});
  return std::max((n + piece - 1) / piece * piece, (attn + 3) / 4 * 4);
}
size_t fixed_smem(const PersistentShape& s) {
  return static_cast<size_t>(x_floats(s)) * 4 + 32 * 4 + kMaxRope * 8 + (kMaxSlots + 2) * 4 +
         2 * kMaxSlots * 8;
}
int ring_slots(const PersistentShape& s) {
  const size_t fixed = fixed_smem(s);
  const size_t optin = smem_optin();
  if (optin <= fixed) return 0;
  return static_cast<int>(std::min<size_t>(kMaxSlots, (optin - fixed) / slot_bytes(s)));
}
int max_splits(const PersistentShape& s) { return std::max(1, num_sms() / s.kv_heads); }

using KernelFn = void (*)(Args);
KernelFn pick_kernel(const PersistentShape& s) {
  const int f = s.wdtype == DType::kBF16 ? kBf16 : s.wdtype == DType::kF8E4M3 ? kE4M3 : kE5M2;
  const bool d4 = s.head_dim == 128;
  switch (f) {  // one visible switch over the instances
    case kBf16:
      return d4 ? persistent_decode_kernel<kBf16, 4> : persistent_decode_kernel<kBf16, 2>;
    case kE4M3:
      return d4 ? persistent_decode_kernel<kE4M3, 4> : persistent_decode_kernel<kE4M3, 2>;
    default:
      return d4 ? persistent_decode_kernel<kE5M2, 4> : persistent_decode_kernel<kE5M2, 2>;
  }
}

}  // namespace

namespace {

// What the kernel needs of the geometry and the device, without touching the device.
bool shape_supported(const PersistentShape& s) {
  if (compute_capability() < 90) return false;
  if (s.head_dim != 64 && s.head_dim != 128) return false;
  if (s.kv_heads <= 0 || s.heads % s.kv_heads != 0 || s.heads / s.kv_heads > kMaxGroup)
    return false;
  if (s.wdtype != DType::kBF16 && s.wdtype != DType::kF8E4M3 && s.wdtype != DType::kF8E5M2)
    return false;
  if (is_fp8(s) && (s.block_in < 16 || (s.block_in & (s.block_in - 1)) != 0)) return false;
  // Whole 16-byte loads of every row (FP8 16 columns, BF16 8) and float4 activations.
  const int align = is_fp8(s) ? 16 : 8;
  for (int n : {s.hidden, s.heads * s.head_dim, s.inter})
    if (n <= 0 || n % align != 0) return false;
  for (int st = 0; st < 4; ++st)
    if (slot_rows(s, st) < stage_dims(s, st).unit) return false;
  return slot_bytes(s) % 16 == 0 && slot_bytes(s) >= 64 && ring_slots(s) >= 3;
}

size_t kernel_smem(const PersistentShape& s) {
  return fixed_smem(s) + static_cast<size_t>(ring_slots(s)) * slot_bytes(s);
}

}  // namespace

bool persistent_decode_supported(const PersistentShape& s) {
  if (!shape_supported(s)) return false;
  // Lets the kernel take its shared memory (launches rely on it) and checks that one
  // block fits on an SM.
  const KernelFn k = pick_kernel(s);
  const size_t smem = kernel_smem(s);
  if (cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(smem)) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  int blocks = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, k, kThreads, smem) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return blocks >= 1;
}

int persistent_decode_blocks() { return num_sms(); }

size_t persistent_decode_partials(const PersistentShape& s) {
  const int group = s.heads / std::max(s.kv_heads, 1);
  return static_cast<size_t>(s.kv_heads) * max_splits(s) * group * (s.head_dim + 2);
}

void launch_persistent_decode(const PersistentDecodeParams& p, cudaStream_t stream) {
  check_shape(shape_supported(p.shape), "persistent_decode",
              "needs compute capability 9.0, head_dim 64 or 128, <= 4 query heads per KV "
              "head and rows that fit a ring slot");
  const Args a{.p = p,
               .slots = ring_slots(p.shape),
               .x_floats = x_floats(p.shape),
               .max_splits = max_splits(p.shape)};
  const size_t smem = kernel_smem(p.shape);
  QWEN3_CUDA_CHECK(cudaMemsetAsync(p.barrier, 0, sizeof(unsigned), stream));
  // Every block must be resident at once (grid barriers).
  const CooperativeLaunch launch(kThreads, smem, stream);
  check_cuda(cudaLaunchKernelEx(&launch.cfg, pick_kernel(p.shape), a), "persistent_decode_kernel",
             __FILE__, __LINE__);
}

}  // namespace qwen3::cuda
