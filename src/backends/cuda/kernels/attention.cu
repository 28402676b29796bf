#include <cfloat>
#include <type_traits>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/attention_decode.h"
#include "backends/cuda/kernels/attention_mma.cuh"
#include "backends/cuda/kernels/attention_ws.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/kv_fp8.cuh"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kQueriesPerWarp = kAttnSimtQueries / kWarps;
constexpr int kSimtParts = (kAttnMaxQueries + kAttnSimtQueries - 1) / kAttnSimtQueries;

template <int HD>
struct AttnSmem {
  static constexpr int kKStride = HD + 4;  // float4 rows, conflict-free across lanes
  static constexpr size_t kQ = size_t{kAttnSimtQueries} * HD;
  static constexpr size_t kK = size_t{kAttnTile} * kKStride;
  static constexpr size_t kV = size_t{kAttnTile} * HD;
  static constexpr size_t kBytes = (kQ + kK + kV) * sizeof(float);
};

__device__ __forceinline__ float4 load4(const float* p) {
  return *reinterpret_cast<const float4*>(p);
}
__device__ __forceinline__ float4 load4(const __nv_bfloat16* p) {
  const uint2 u = *reinterpret_cast<const uint2*>(p);
  return make_float4(bf16_lo(u.x), bf16_hi(u.x), bf16_lo(u.y), bf16_hi(u.y));
}
// The stored E4M3 values, unscaled (the kernel folds the scales in).
__device__ __forceinline__ float4 load4(const __nv_fp8_e4m3* p) {
  return kv_fp8x4_to_float4(*reinterpret_cast<const uint32_t*>(p));
}

template <typename KV, int HD>
__global__ void __launch_bounds__(kWarps * 32)
    paged_attention_kernel(const PagedAttentionParams p) {
  constexpr int kDpl = HD / 32;  // output dims per lane: lane + 32 * d
  using S = AttnSmem<HD>;
  extern __shared__ float4 smem4[];
  float* q_s = reinterpret_cast<float*>(smem4);
  float* k_s = q_s + S::kQ;
  float* v_s = k_s + S::kK;

  pdl_trigger();
  pdl_wait();
  const AttnWorkItem item = p.items[blockIdx.x];
  const int kvh = blockIdx.y;
  const int group = p.heads / p.kv_heads;
  // This CTA's part of the item: queries [q0, q0 + nq) of its num_rows * group.
  const int q0 = static_cast<int>(blockIdx.z) * kAttnSimtQueries;
  const int nq = min(item.num_rows * group - q0, kAttnSimtQueries);
  if (nq <= 0) return;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int64_t q_stride = static_cast<int64_t>(p.heads) * HD;
  const int64_t kv_dim = static_cast<int64_t>(p.kv_heads) * HD;
  // FP8 pool: the K scale goes into q's scale, the V scale into the output (attention.h).
  constexpr bool kFp8 = std::is_same_v<KV, __nv_fp8_e4m3>;
  const float q_scale = kFp8 ? p.scale * kv_scale_or_one(p.k_scale) : p.scale;
  const float v_scale = kFp8 ? kv_scale_or_one(p.v_scale) : 1.0f;

  for (int idx = threadIdx.x; idx < nq * HD; idx += blockDim.x) {
    const int qi = idx / HD;
    const int d = idx - qi * HD;
    const int64_t row = item.row_begin + (q0 + qi) / group;
    const int head = kvh * group + (q0 + qi) % group;
    q_s[idx] = p.q[row * q_stride + head * HD + d] * q_scale;
  }
  const int last_pos = p.row_pos[item.row_begin + (q0 + nq - 1) / group];
  const int kv_stop = min(item.kv_end, last_pos + 1);
  const int32_t* table = p.block_tables + static_cast<int64_t>(item.seq) * p.max_blocks;
  const KV* kp = static_cast<const KV*>(p.k_pool) + kvh * HD;
  const KV* vp = static_cast<const KV*>(p.v_pool) + kvh * HD;

  float o[kQueriesPerWarp][kDpl];
  float m[kQueriesPerWarp], l[kQueriesPerWarp];
  int qpos[kQueriesPerWarp];
#pragma unroll
  for (int i = 0; i < kQueriesPerWarp; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
    const int qi = warp + i * kWarps;
    qpos[i] = qi < nq ? p.row_pos[item.row_begin + (q0 + qi) / group] : -1;
#pragma unroll
    for (int d = 0; d < kDpl; ++d) o[i][d] = 0.0f;
  }

  // Each thread moves kLoads 4-element pieces of K and V per tile, all loads issued
  // before the first shared-memory store (a loop of dependent load/store pairs would
  // pay one memory latency per piece).
  constexpr int kVecPerRow = HD / 4;
  constexpr int kLoads = kAttnTile * kVecPerRow / (kWarps * 32);
  static_assert(kAttnTile * kVecPerRow % (kWarps * 32) == 0);
  for (int t0 = 0; t0 < kv_stop; t0 += kAttnTile) {
    float4 kr[kLoads], vr[kLoads];
#pragma unroll
    for (int i = 0; i < kLoads; ++i) {
      const int idx = threadIdx.x + i * kWarps * 32;
      const int j = idx / kVecPerRow;
      const int d = (idx - j * kVecPerRow) * 4;
      const int pos = t0 + j;
      kr[i] = vr[i] = make_float4(0.f, 0.f, 0.f, 0.f);
      if (pos < kv_stop) {
        const int64_t slot =
            static_cast<int64_t>(table[pos / p.block_size]) * p.block_size + pos % p.block_size;
        kr[i] = load4(kp + slot * kv_dim + d);
        vr[i] = load4(vp + slot * kv_dim + d);
      }
    }
    __syncthreads();  // previous tile fully used (and q_s written, first time)
#pragma unroll
    for (int i = 0; i < kLoads; ++i) {
      const int idx = threadIdx.x + i * kWarps * 32;
      const int j = idx / kVecPerRow;
      const int d = (idx - j * kVecPerRow) * 4;
      *reinterpret_cast<float4*>(k_s + j * S::kKStride + d) = kr[i];
      *reinterpret_cast<float4*>(v_s + j * HD + d) = vr[i];
    }
    __syncthreads();

#pragma unroll
    for (int i = 0; i < kQueriesPerWarp; ++i) {
      const int qi = warp + i * kWarps;
      if (qi >= nq) continue;
      const float* qv = q_s + qi * HD;
      const float* k0 = k_s + lane * S::kKStride;
      const float* k1 = k_s + (lane + 32) * S::kKStride;
      float s0 = 0.f, s1 = 0.f;
#pragma unroll 8
      for (int d = 0; d < HD; d += 4) {
        const float4 a = load4(qv + d);
        const float4 b0 = load4(k0 + d);
        const float4 b1 = load4(k1 + d);
        s0 = fmaf(a.x, b0.x, fmaf(a.y, b0.y, fmaf(a.z, b0.z, fmaf(a.w, b0.w, s0))));
        s1 = fmaf(a.x, b1.x, fmaf(a.y, b1.y, fmaf(a.z, b1.z, fmaf(a.w, b1.w, s1))));
      }
      const int key0 = t0 + lane, key1 = t0 + lane + 32;
      if (key0 > qpos[i] || key0 >= kv_stop) s0 = -INFINITY;
      if (key1 > qpos[i] || key1 >= kv_stop) s1 = -INFINITY;
      const float tile_max = warp_max(fmaxf(s0, s1));
      if (tile_max == -INFINITY) continue;  // warp-uniform: no visible key in this tile
      const float m_new = fmaxf(m[i], tile_max);
      const float corr = __expf(m[i] - m_new);
      const float p0 = __expf(s0 - m_new);
      const float p1 = __expf(s1 - m_new);
      l[i] = l[i] * corr + warp_sum(p0 + p1);
      m[i] = m_new;
#pragma unroll
      for (int d = 0; d < kDpl; ++d) o[i][d] *= corr;
#pragma unroll 8
      for (int jj = 0; jj < 32; ++jj) {
        const float pa = __shfl_sync(0xffffffffu, p0, jj);
        const float pb = __shfl_sync(0xffffffffu, p1, jj);
#pragma unroll
        for (int d = 0; d < kDpl; ++d) {
          o[i][d] = fmaf(pa, v_s[jj * HD + lane + 32 * d], o[i][d]);
          o[i][d] = fmaf(pb, v_s[(jj + 32) * HD + lane + 32 * d], o[i][d]);
        }
      }
    }
  }

#pragma unroll
  for (int i = 0; i < kQueriesPerWarp; ++i) {
    const int qi = warp + i * kWarps;
    if (qi >= nq) continue;
    const int64_t row = item.row_begin + (q0 + qi) / group;
    const int head = kvh * group + (q0 + qi) % group;
    const float inv = l[i] > 0.f ? v_scale / l[i] : 0.f;
    float* dst = p.out + row * q_stride + head * HD;
#pragma unroll
    for (int d = 0; d < kDpl; ++d) dst[lane + 32 * d] = o[i][d] * inv;
  }
}

template <typename KV, int HD>
void launch_typed(const PagedAttentionParams& p, cudaStream_t stream) {
  constexpr size_t smem = AttnSmem<HD>::kBytes;
  allow_dynamic_smem<paged_attention_kernel<KV, HD>>(smem);
  const dim3 grid(static_cast<unsigned>(p.num_items), static_cast<unsigned>(p.kv_heads),
                  static_cast<unsigned>(kSimtParts));
  launch_kernel("paged_attention_kernel", paged_attention_kernel<KV, HD>, grid, dim3(kWarps * 32),
                smem, stream, p);
}

template <typename KV>
void launch_head_dim(const PagedAttentionParams& p, cudaStream_t stream) {
  switch (p.head_dim) {
    case 32:
      return launch_typed<KV, 32>(p, stream);
    case 64:
      return launch_typed<KV, 64>(p, stream);
    case 128:
      return launch_typed<KV, 128>(p, stream);
    case 256:
      return launch_typed<KV, 256>(p, stream);
    default:
      check_shape(false, "paged_attention", "head_dim must be 32, 64, 128 or 256", true);
  }
}

bool g_mma_enabled = true;  // set_paged_attention_mma

bool device_has_bf16_mma() { return compute_capability() >= 80; }

bool g_small_smem = false;  // set_paged_attention_small_smem

// P V on wgmma in the four-stage prefill ring (set_paged_attention_pv_wgmma;
// QWEN3_CUDA_PV_WGMMA=0 turns it off in a whole process, for A/B timing).
bool& pv_wgmma_flag() {
  static bool on = env_flag("QWEN3_CUDA_PV_WGMMA", true);
  return on;
}

// Shared memory the tensor-core kernel may size its ring by (0 under
// set_paged_attention_small_smem: the two-stage ring).
size_t attention_smem() { return g_small_smem ? 0 : smem_optin(); }

void launch_prefill(const PagedAttentionParams& p, cudaStream_t stream) {
  if (p.num_items <= 0) return;
  if (paged_attention_uses_mma(p)) {
    if (paged_attention_ws_applies(p)) return launch_paged_attention_ws(p, stream);
    const bool fp8 = p.kv_dtype == KvDtype::kFp8E4M3;
    const size_t smem = attention_smem();
    const bool pv = pv_wgmma_flag();
    if (p.head_dim == 64) {
      return fp8 ? mma_attn::launch_mma<64, true>(p, smem, pv, stream)
                 : mma_attn::launch_mma<64, false>(p, smem, pv, stream);
    }
    return fp8 ? mma_attn::launch_mma<128, true>(p, smem, pv, stream)
               : mma_attn::launch_mma<128, false>(p, smem, pv, stream);
  }
  switch (p.kv_dtype) {
    case KvDtype::kBF16:
      return launch_head_dim<__nv_bfloat16>(p, stream);
    case KvDtype::kF32:
      return launch_head_dim<float>(p, stream);
    case KvDtype::kFp8E4M3:
      return launch_head_dim<__nv_fp8_e4m3>(p, stream);
  }
}

}  // namespace

void set_paged_attention_mma(bool on) { g_mma_enabled = on; }
void set_paged_attention_small_smem(bool on) { g_small_smem = on; }
void set_paged_attention_pv_wgmma(bool on) { pv_wgmma_flag() = on; }

bool paged_attention_uses_mma(const PagedAttentionParams& p) {
  return g_mma_enabled && (p.kv_dtype == KvDtype::kBF16 || p.kv_dtype == KvDtype::kFp8E4M3) &&
         (p.head_dim == 64 || p.head_dim == 128) && device_has_bf16_mma();
}

bool decode_attention_uses_mma(const PagedAttentionParams& p) {
  // QWEN3_CUDA_DECODE_MMA=0: the SIMT decode kernel in a whole process (A/B timing).
  static const bool env_on = env_flag("QWEN3_CUDA_DECODE_MMA", true);
  return g_mma_enabled && env_on && p.decode_heads_per_cta == kDecodeHeadsPerCta &&
         (p.kv_dtype == KvDtype::kBF16 || p.kv_dtype == KvDtype::kFp8E4M3) &&
         (p.head_dim == 32 || p.head_dim == 64 || p.head_dim == 128) && device_has_bf16_mma();
}

void launch_paged_attention(const PagedAttentionParams& p, cudaStream_t stream) {
  check_shape(
      p.kv_heads > 0 && p.heads % p.kv_heads == 0 && p.heads / p.kv_heads <= kAttnMaxQueries,
      "paged_attention", "heads must be a multiple of kv_heads, group <= 128", true);
  launch_prefill(p, stream);
  launch_decode_attention(p, stream);
}

}  // namespace qwen3::cuda
