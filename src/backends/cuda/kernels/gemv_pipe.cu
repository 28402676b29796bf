#include <algorithm>
#include <cstdlib>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/fp8_act_quant.cuh"
#include "backends/cuda/kernels/gemv_pipe.h"
#include "backends/cuda/kernels/launch.h"
#include "backends/cuda/kernels/mma_sync.cuh"

namespace qwen3::cuda {
namespace {

// Why a ring: at batch 1 the FP8 GEMVs that load into registers (gemv.cu, gemv_fp8.cu)
// keep 4 KB per warp in flight and stream about half of the copy bandwidth, the rate
// the BF16 GEMV reaches with twice the bytes per load; cp.async into shared memory keeps
// 16 KB per warp in flight at no register cost.
// Why FP8 tensor-core products: decoding FP8 codes to f16 costs an instruction per two
// bytes at least, and an SM issues 4 instructions per cycle where the copy bandwidth
// brings ~14 bytes per cycle per SM (H200), so any decoding GEMV is issue-bound (the f16
// version of this kernel streamed ~1 TB/s on an H200, ncu). mma.m16n8k32 takes E4M3 /
// E5M2 codes as they are; x is quantized to E4M3 per 128-wide group first, exactly as the
// FP8 GEMM quantizes its activations (fp8_act_quant.cuh): the checkpoint's "dynamic"
// activation scheme, the same codes in prefill and decode.
//
// Work: a chunk is 128 bytes of a weight row (128 FP8 or 64 BF16 columns). The matrix is
// cut into rounds of rr = (8 / ks) * (16 / parts) consecutive rows; block b takes rounds
// b, b + grid, ... (the grid is one block per SM). In a round, warp w = tile * ks + slice
// computes tile `tile` (16 / parts rows) over slice `slice` of the chunks (lc chunks
// each). One mma tile is 16 rows of A: mma row rho is weight row rho % (16 / parts) of the
// tile, over k-part rho / (16 / parts); a step multiplies one chunk per part (part p:
// chunk slice * lc + step * parts + p), with B column n = x of part n's chunk, so
// C[rho][part(rho)] is the wanted partial and the other columns are discarded. (parts > 1
// spreads short matrices over more warps: the o and down projections have 2,560 rows,
// 160 tiles of 16 for 132 SMs.)
// Fragments (g = lane / 4, t = lane % 4): lane (g, t) holds mma rows g and g + 8; for a
// chunk it copies the 16 bytes at byte 16t + 64h (h = 0, 1) of both rows. FP8
// (mma.m16n8k32 on the codes): words 2m and 2m + 1 of row g's piece are a0 / a2 of mma
// 2h + m, row g + 8's a1 / a3, and x's E4M3 words at the same columns b0 / b1; the weight
// block's scale times x's group scale is applied to the product. BF16 (mma.m16n8k16):
// words 2m and 2m + 1 are A's column pairs (2t, 2t+1) and (2t+8, 2t+9) of mma 2h + m, x
// = hi + lo, two BF16 values (relative error ~2^-17), multiplied by two mmas into the
// same accumulators. Lanes g < parts read B (x of part g's chunk) from shared memory.
// Ring: each lane copies and later reads only its own 4 x 16 bytes per step (cp.async
// groups are per thread), so the pipeline needs no barrier: step e waits for its group
// and refills its slot with step e + kDepth.
constexpr int kBf16 = 0, kE4M3 = 1, kE5M2 = 2;  // weight formats (template F)
constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kChunkBytes = 128;  // bytes of one step per mma row
template <int F>
constexpr int kChunkCols = F == kBf16 ? 64 : 128;
constexpr int kDepth = 8;                // steps per warp in flight
constexpr int kSlotBytes = 4 * 32 * 16;  // one step of a warp: [piece][lane] x 16 bytes
constexpr int kRingBytes = kWarps * kDepth * kSlotBytes;
constexpr int kPartialBytes = 2 * kWarps * 16 * 4;  // two rounds' partial sums
constexpr int kGroup = 128;                         // FP8: x's quantization group = one chunk

// x in shared memory: FP8 weights: k E4M3 codes, then k / 128 group scales; BF16: hi and
// lo BF16 words (4 bytes per column).
__host__ __device__ constexpr int64_t x_smem_bytes(int64_t k, bool fp8) {
  return fp8 ? k + k / kGroup * 4 : 4 * k;
}

struct PipeShape {
  int ks;          // k-slices per tile (warps sharing a tile)
  int parts;       // k-parts per mma tile: the tile holds 16 / parts weight rows
  int lc;          // chunks per slice
  int steps;       // steps per warp and round: ceil(lc / parts)
  int64_t rounds;  // ceil(n_out / rows per round)
};

// Position of one mma row of this lane in step (round, step).
struct RowAt {
  int64_t row;
  int chunk;
  bool valid;
};

template <int F>
__global__ void __launch_bounds__(kThreads, 1)
    gemv_pipe_kernel(const GemvParams p, const PipeShape s) {
  constexpr bool kFp8 = F != kBf16;
  constexpr int kCols = kChunkCols<F>;
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ float scratch[32];
  uint4* ring = reinterpret_cast<uint4*>(smem);
  // x (x_smem_bytes): E4M3 codes + group scales (FP8 weights) or BF16x2 hi words then lo
  // words (BF16 weights).
  uint32_t* xw_smem = reinterpret_cast<uint32_t*>(smem + kRingBytes);
  float* x_scale = reinterpret_cast<float*>(smem + kRingBytes + p.k);  // FP8
  // Partial sums [2][warp][rho]: round r uses half r % 2, so one barrier per round suffices.
  float* partial = reinterpret_cast<float*>(smem + kRingBytes + x_smem_bytes(p.k, kFp8));
  pdl_trigger();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int k = static_cast<int>(p.k);
  const int chunks = k / kCols;
  const int tile_rows = 16 / s.parts;
  const int rr = kWarps / s.ks * tile_rows;
  const int tile = warp / s.ks, slice = warp % s.ks;
  const int c_beg = slice * s.lc, c_end = min(chunks, c_beg + s.lc);
  const int64_t my_rounds = blockIdx.x < s.rounds ? (s.rounds - 1 - blockIdx.x) / gridDim.x + 1 : 0;
  const int64_t steps_total = my_rounds * s.steps;
  const int64_t row_bytes = p.k * (kFp8 ? 1 : 2);
  const uint8_t* w = kFp8 ? p.w_fp8 : reinterpret_cast<const uint8_t*>(p.w);
  // Rows g and g + 8 of the mma tile: weight row within the tile, k-part.
  const int ra = g % tile_rows, pa = g / tile_rows;
  const int rb = (g + 8) % tile_rows, pb = (g + 8) / tile_rows;
  auto at = [&](int64_t round, int step, int r, int part) {
    RowAt a;
    a.row = round * rr + tile * tile_rows + r;
    a.chunk = c_beg + step * s.parts + part;
    a.valid = a.row < p.n_out && a.chunk < c_end;
    return a;
  };
  const uint32_t my_ring = smem_u32(ring) + warp * kDepth * kSlotBytes + lane * 16;

  // Producer cursor: the step issued next (its round and step within the round).
  int64_t issue_round = blockIdx.x;
  int issue_step = 0;
  int64_t issued = 0;
  auto issue_next = [&]() {
    if (issued < steps_total) {
      const uint32_t dst = my_ring + static_cast<uint32_t>(issued % kDepth) * kSlotBytes;
      const RowAt a = at(issue_round, issue_step, ra, pa), b = at(issue_round, issue_step, rb, pb);
      const uint8_t* src_a = w + (a.valid ? a.row * row_bytes + a.chunk * kChunkBytes + 16 * t : 0);
      const uint8_t* src_b = w + (b.valid ? b.row * row_bytes + b.chunk * kChunkBytes + 16 * t : 0);
      cp_async16(dst, src_a, a.valid);
      cp_async16(dst + 512, src_a + 64, a.valid);
      cp_async16(dst + 1024, src_b, b.valid);
      cp_async16(dst + 1536, src_b + 64, b.valid);
      if (++issue_step == s.steps) {
        issue_step = 0;
        issue_round += gridDim.x;
      }
    }
    ++issued;
    cp_async_commit();  // empty groups past the end keep the count kDepth ahead
  };
  // The weights do not depend on the previous kernel: the first steps fly while it ends.
#pragma unroll 1
  for (int i = 0; i < kDepth; ++i) issue_next();
  pdl_wait();

  // x (normed as the CPU does it: w * (x * inv_rms)) into shared memory.
  const float4* x4 = reinterpret_cast<const float4*>(p.x);
  float inv = 1.0f;
  if (p.norm_weight != nullptr) {
    float ss;
    if (p.norm_sum_squares != nullptr) {
      ss = p.norm_sum_squares[0];
    } else {
      float v = 0.0f;
      for (int i = threadIdx.x; i < k / 4; i += kThreads) {
        const float4 a = x4[i];
        v += a.x * a.x + a.y * a.y + a.z * a.z + a.w * a.w;
      }
      ss = block_sum(v, scratch);
    }
    inv = 1.0f / sqrtf(ss / static_cast<float>(k) + p.norm_eps);
  }
  if constexpr (kFp8) {
    // Warp w quantizes groups w, w + 8, ... (fp8_act_quant.cuh), loading four groups' x
    // (and norm weights) before the first reduction.
    const int groups = k / kGroup;
    const float4* n4 = reinterpret_cast<const float4*>(p.norm_weight);
#pragma unroll 1
    for (int g0 = warp; g0 < groups; g0 += 4 * kWarps) {
      float4 v[4], nw[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const int gi = g0 + u * kWarps;
        v[u] = nw[u] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (gi < groups) {
          v[u] = x4[gi * 32 + lane];
          if (n4 != nullptr) nw[u] = __ldg(n4 + gi * 32 + lane);
        }
      }
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const int gi = g0 + u * kWarps;
        if (gi >= groups) break;  // warp-uniform
        float4 a = v[u];
        if (n4 != nullptr) {
          const float4 n = nw[u];
          a = make_float4(n.x * (a.x * inv), n.y * (a.y * inv), n.z * (a.z * inv),
                          n.w * (a.w * inv));
        }
        float scale;
        xw_smem[gi * 32 + lane] = quantize_group_e4m3(a, scale);
        if (lane == 0) x_scale[gi] = scale;
      }
    }
  } else {
    for (int i = threadIdx.x; i < k / 4; i += kThreads) {
      float4 a = x4[i];
      if (p.norm_weight != nullptr) {
        const float4 n = __ldg(reinterpret_cast<const float4*>(p.norm_weight) + i);
        a = make_float4(n.x * (a.x * inv), n.y * (a.y * inv), n.z * (a.z * inv), n.w * (a.w * inv));
      }
      const uint32_t h0 = pack_bf16(a.x, a.y), h1 = pack_bf16(a.z, a.w);
      reinterpret_cast<uint2*>(xw_smem)[i] = make_uint2(h0, h1);
      reinterpret_cast<uint2*>(xw_smem + k / 2)[i] =
          make_uint2(pack_bf16(a.x - bf16_lo(h0), a.y - bf16_hi(h0)),
                     pack_bf16(a.z - bf16_lo(h1), a.w - bf16_hi(h1)));
    }
  }
  __syncthreads();

  const int scale_shift = kFp8 ? __ffs(p.block_in / kChunkCols<F>) - 1 : 0;  // chunk -> scale
  const uint4* my_slots = ring + warp * kDepth * (kSlotBytes / 16) + lane;
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  int64_t round = blockIdx.x;
  int step = 0;
#pragma unroll 1
  for (int64_t e = 0; e < steps_total; ++e) {
    const RowAt a = at(round, step, ra, pa), b = at(round, step, rb, pb);
    float sa = 1.0f, sb = 1.0f;  // BF16: no scales
    if constexpr (kFp8) {
      sa = a.valid ? __ldg(p.row_scales + a.row * p.scale_cols + (a.chunk >> scale_shift)) *
                         x_scale[a.chunk]
                   : 0.0f;
      sb = b.valid ? __ldg(p.row_scales + b.row * p.scale_cols + (b.chunk >> scale_shift)) *
                         x_scale[b.chunk]
                   : 0.0f;
    }
    const int cx = c_beg + step * s.parts + g;  // B column g: x of part g's chunk
    const bool x_ok = g < s.parts && cx < c_end;
    cp_async_wait<kDepth - 1>();
    const uint4* slot = my_slots + (e % kDepth) * (kSlotBytes / 16);
    float cf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if constexpr (kFp8) {
      const uint4 wa0 = slot[0], wa1 = slot[32], wb0 = slot[64], wb1 = slot[96];
      uint4 x0 = make_uint4(0u, 0u, 0u, 0u), x1 = x0;
      if (x_ok) {  // chunk cx's codes at bytes 16t and 64 + 16t
        const uint4* xv = reinterpret_cast<const uint4*>(xw_smem) + cx * (kGroup / 16) + t;
        x0 = xv[0];
        x1 = xv[4];
      }
      constexpr bool kE5 = F == kE5M2;
      mma_fp8<kE5>(cf, wa0.x, wb0.x, wa0.y, wb0.y, x0.x, x0.y);
      mma_fp8<kE5>(cf, wa0.z, wb0.z, wa0.w, wb0.w, x0.z, x0.w);
      mma_fp8<kE5>(cf, wa1.x, wb1.x, wa1.y, wb1.y, x1.x, x1.y);
      mma_fp8<kE5>(cf, wa1.z, wb1.z, wa1.w, wb1.w, x1.z, x1.w);
    } else {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const uint4 wa = slot[32 * h], wb = slot[64 + 32 * h];
        const uint32_t wra[4] = {wa.x, wa.y, wa.z, wa.w}, wrb[4] = {wb.x, wb.y, wb.z, wb.w};
        // x words of this piece's columns: chunk cx, byte 16t + 64h of the row.
        const int col = cx * kCols + (16 * t + 64 * h) / 2;
        uint4 hi = make_uint4(0u, 0u, 0u, 0u), lo = hi;
        if (x_ok) {
          hi = *reinterpret_cast<const uint4*>(xw_smem + col / 2);
          lo = *reinterpret_cast<const uint4*>(xw_smem + k / 2 + col / 2);
        }
        const uint32_t xh[4] = {hi.x, hi.y, hi.z, hi.w}, xl[4] = {lo.x, lo.y, lo.z, lo.w};
#pragma unroll
        for (int jj = 0; jj < 2; ++jj) {
          const uint32_t af[4] = {wra[2 * jj], wrb[2 * jj], wra[2 * jj + 1], wrb[2 * jj + 1]};
          mma_bf16(cf, af, xh[2 * jj], xh[2 * jj + 1]);
          mma_bf16(cf, af, xl[2 * jj], xl[2 * jj + 1]);
        }
      }
    }
    acc[0] = fmaf(sa, cf[0], acc[0]);
    acc[1] = fmaf(sa, cf[1], acc[1]);
    acc[2] = fmaf(sb, cf[2], acc[2]);
    acc[3] = fmaf(sb, cf[3], acc[3]);
    issue_next();  // into the slot just read (its values are in registers)
    if (++step < s.steps) continue;

    // End of a round: C[rho][part(rho)] of every warp to shared memory, summed over slices
    // and parts per weight row, then the epilogue. The next round writes the other half of
    // `partial`; the one after this half again, once every thread has passed the next
    // round's barrier, i.e. finished reading it here.
    float* half = partial + (round / gridDim.x % 2) * (kWarps * 16);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int rho = g + 8 * (j >> 1), n = 2 * t + (j & 1);
      if (n == rho / tile_rows) half[warp * 16 + rho] = acc[j];
      acc[j] = 0.0f;
    }
    __syncthreads();
    auto row_sum = [&](int lr) {
      const int tl = lr / tile_rows, r = lr % tile_rows;
      float v = 0.0f;
      for (int sl = 0; sl < s.ks; ++sl)
        for (int q = 0; q < s.parts; ++q) v += half[(tl * s.ks + sl) * 16 + r + q * tile_rows];
      return v;
    };
    const int64_t row0 = round * rr;
    const int tid = threadIdx.x;
    if (p.epilogue == GemvEpilogue::kSiluPairs) {
      if (tid < rr / 2 && row0 + 2 * tid + 1 < p.n_out) {
        const float gate = row_sum(2 * tid), up = row_sum(2 * tid + 1);
        p.y[(row0 + 2 * tid) / 2] = gate / (1.0f + expf(-gate)) * up;
      }
    } else {
      float sq = 0.0f;
      if (tid < rr && row0 + tid < p.n_out) {
        float* dst = p.y + row0 + tid;
        const float v = (p.epilogue == GemvEpilogue::kAddTo ? *dst : 0.0f) + row_sum(tid);
        *dst = v;
        sq = v * v;
      }
      if (p.sum_squares_out != nullptr && warp * 32 < rr) {  // warp-uniform
        sq = warp_sum(sq);
        if (lane == 0) atomicAdd(p.sum_squares_out, sq);
      }
    }
    step = 0;
    round += gridDim.x;
  }
}

// Ring, x in shared memory (x_smem_bytes), partial sums.
size_t smem_bytes(int64_t k, bool fp8) {
  return kRingBytes + static_cast<size_t>(x_smem_bytes(k, fp8)) + kPartialBytes;
}

// FP8 weights need the FP8 tensor-core products (compute capability 8.9+).
bool fits(int64_t rows, int64_t k, int64_t cols, bool fp8) {
  return rows == 1 && k > 0 && k % cols == 0 && k <= INT32_MAX / 4 &&
         smem_bytes(k, fp8) + 32 * sizeof(float) <= smem_optin() &&
         (!fp8 || compute_capability() >= 89);
}

// What a round's end (a block barrier, the partial sums, the epilogue) costs, in weight bytes
// streamed per block meanwhile: QWEN3_GEMV_PIPE_ROUND_BYTES, read once (for tuning). 64 KiB
// was fastest on an H200 (batch-1 FP8 decode of Qwen3-4B: 0 -> 266 tok/s, 16 KiB -> 336,
// 64 KiB -> 366, 256 KiB and more -> 351; bench/cuda/NOTES.md round N).
int64_t round_cost_bytes() {
  static const int64_t bytes = [] {
    const char* v = std::getenv("QWEN3_GEMV_PIPE_ROUND_BYTES");
    return v != nullptr && *v != '\0' ? std::max<int64_t>(0, std::atoll(v)) : int64_t{65536};
  }();
  return bytes;
}

// The tiling whose busiest block costs least: its rows' bytes plus round_bytes per round
// (short rounds, a few rows each, balance the blocks best but end rounds most often), then
// the fewest steps per warp (masked steps load nothing but hold a ring slot).
PipeShape choose_shape(int64_t n_out, int chunks, int64_t row_bytes, int64_t round_bytes,
                       int64_t grid, int force_ks, int force_parts, bool pairs) {
  PipeShape best{};
  int64_t best_cost = INT64_MAX, best_steps = INT64_MAX;
  for (int ks = 1; ks <= kWarps; ks *= 2) {
    if ((force_ks > 0 && ks != force_ks) || (force_ks <= 0 && ks > chunks)) continue;
    const int lc = (chunks + ks - 1) / ks;
    for (int parts = 1; parts <= 8; parts *= 2) {
      if ((force_parts > 0 && parts != force_parts) || (force_parts <= 0 && parts > lc)) continue;
      const int rr = kWarps / ks * (16 / parts);
      if (pairs && rr % 2 != 0) continue;
      PipeShape c{ks, parts, lc, (lc + parts - 1) / parts, (n_out + rr - 1) / rr};
      const int64_t per_block = (c.rounds + grid - 1) / grid;
      const int64_t cost = per_block * (rr * row_bytes + round_bytes), steps = per_block * c.steps;
      if (cost < best_cost || (cost == best_cost && steps < best_steps)) {
        best = c;
        best_cost = cost;
        best_steps = steps;
      }
    }
  }
  return best;
}

template <int F>
void launch_format(const GemvParams& p, const char* name, cudaStream_t stream) {
  constexpr bool kFp8 = F != kBf16;
  check_shape(
      fits(p.rows, p.k, kChunkCols<F>, kFp8), name,
      kFp8
          ? "needs one row, compute capability 8.9+ and k a multiple of 128 that fits shared memory"
          : "needs one row and k a multiple of 64 that fits shared memory");
  const void* w = kFp8 ? static_cast<const void*>(p.w_fp8) : static_cast<const void*>(p.w);
  check_shape(
      reinterpret_cast<uintptr_t>(w) % 16 == 0 && reinterpret_cast<uintptr_t>(p.x) % 16 == 0 &&
          (p.norm_weight == nullptr || reinterpret_cast<uintptr_t>(p.norm_weight) % 16 == 0),
      name, "the weights, x and norm_weight must be 16-byte aligned");
  check_shape(p.epilogue != GemvEpilogue::kSiluPairs || p.n_out % 2 == 0, name,
              "SiLU pairs need an even n_out");
  check_shape(p.sum_squares_out == nullptr || p.epilogue == GemvEpilogue::kAddTo, name,
              "sum_squares_out needs the kAddTo epilogue");
  check_shape(p.norm_sum_squares == nullptr || p.norm_weight != nullptr, name,
              "norm_sum_squares needs norm_weight");
  check_shape(
      p.k_split == 0 || p.k_split == 1 || p.k_split == 2 || p.k_split == 4 || p.k_split == 8, name,
      "k_split must be 0, 1, 2, 4 or 8");
  check_shape(p.pipe_parts == 0 || p.pipe_parts == 1 || p.pipe_parts == 2 || p.pipe_parts == 4 ||
                  p.pipe_parts == 8,
              name, "pipe_parts must be 0, 1, 2, 4 or 8");
  if (p.n_out <= 0) return;
  const int64_t grid_max = num_sms();
  const PipeShape s = choose_shape(p.n_out, static_cast<int>(p.k / kChunkCols<F>),
                                   p.k * (kFp8 ? 1 : 2), round_cost_bytes(), grid_max, p.k_split,
                                   p.pipe_parts, p.epilogue == GemvEpilogue::kSiluPairs);
  const auto grid = static_cast<unsigned>(s.rounds < grid_max ? s.rounds : grid_max);
  // The attribute is set once per device, for the largest k that fits.
  allow_dynamic_smem<gemv_pipe_kernel<F>>(smem_optin() - 32 * sizeof(float));
  launch_kernel(name, gemv_pipe_kernel<F>, dim3(grid), dim3(kThreads), smem_bytes(p.k, kFp8),
                stream, p, s);
}

}  // namespace

bool gemv_fp8_pipe_supports(int64_t rows, int64_t k, int64_t block_in) {
  return fits(rows, k, kChunkCols<kE4M3>, true) && block_in % kChunkCols<kE4M3> == 0;
}

bool gemv_fp8_pipe_chosen(int64_t rows, int64_t k, int64_t block_in) {
  static const bool on = env_flag("QWEN3_GEMV_FP8_PIPE", false);
  return on && gemv_fp8_pipe_supports(rows, k, block_in);
}

bool gemv_bf16_pipe_supports(int64_t rows, int64_t k) {
  return fits(rows, k, kChunkCols<kBf16>, false);
}

bool gemv_bf16_pipe_chosen(int64_t rows, int64_t k) {
  static const bool on = env_flag("QWEN3_GEMV_BF16_PIPE", false);
  return on && gemv_bf16_pipe_supports(rows, k);
}

void launch_gemv_fp8_pipe(const GemvParams& p, cudaStream_t stream) {
  const char* name = "gemv_fp8_pipe";
  check_shape(
      p.block_in > 0 && p.block_in % kChunkCols<kE4M3> == 0 && (p.block_in & (p.block_in - 1)) == 0,
      name, "needs a power-of-two block_in that is a multiple of 128");
  check_shape(p.scale_cols == p.k / p.block_in + (p.k % p.block_in != 0), name,
              "scale_cols must be ceil(k / block_in)");
  if (p.e5m2) {
    launch_format<kE5M2>(p, name, stream);
  } else {
    launch_format<kE4M3>(p, name, stream);
  }
}

void launch_gemv_bf16_pipe(const GemvParams& p, cudaStream_t stream) {
  launch_format<kBf16>(p, "gemv_bf16_pipe", stream);
}

}  // namespace qwen3::cuda
