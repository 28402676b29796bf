#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/fp8_convert.cuh"
#include "backends/cuda/kernels/gemv_fp8.h"
#include "backends/cuda/kernels/gemv_pipe.h"
#include "backends/cuda/kernels/launch.h"
#include "backends/cuda/kernels/mma_sync.cuh"

namespace qwen3::cuda {
namespace {

constexpr int kWarps = 8;           // warps per block

// ---- Tensor-core kernel (kMma) -------------------------------------------------------
//
// One warp computes a 16-row tile of W against all M activation rows with
// mma.sync.m16n8k16.row.col.f32.f16.f16.f32: A = W (16 rows x 16 k), B = x^T (16 k x 8
// activation rows; columns m >= M are zero), C = f32 [16 W rows x 8 activation rows].
// Fragment layouts (PTX ISA, g = lane / 4, t = lane % 4; a register holds two f16, the
// lower k in its low half):
//   A: a0 (row g,   k 2t, 2t+1)   a1 (row g+8, k 2t, 2t+1)
//      a2 (row g,   k 2t+8, 2t+9) a3 (row g+8, k 2t+8, 2t+9)
//   B: b0 (k 2t, 2t+1, col g)     b1 (k 2t+8, 2t+9, col g)
//   C: c0, c1 (row g, cols 2t, 2t+1)   c2, c3 (row g+8, cols 2t, 2t+1)
// A dot product does not change when the same permutation of k is applied to W and x,
// so the loads are coalesced and the logical k follows them. A chunk is 128 columns:
// lane (g, t) loads the 16 bytes at columns 16t + 64s (s = 0, 1) of rows g and g+8, so
// the 4 lanes of a group cover 64 contiguous bytes per s and a row's 128 bytes per chunk.
// 32-bit word j (columns base + 4j .. 4j+3, base = 16t + 64s) of those 16 bytes feeds one
// mma: logical k {2t, 2t+1} <- columns base + 4j + {0, 1} and logical k {2t+8, 2t+9} <-
// base + 4j + {2, 3}, in A (both rows) and in B (x row m = g) alike. Every logical k of
// the 8 mmas of a chunk names a distinct column, so each chunk is an exact 128-term dot
// product per (row, m) pair. A chunk lies inside one scale block (128 | block_in): it
// accumulates into a fresh C, then total += scale(row, block) * C in f32.
constexpr int kChunk = 128;  // columns per chunk
// Chunks whose loads a lane issues together (4 x 16 bytes each): 2, or 4 (launch_mma).
constexpr int kMaxUnroll = 4;

// A block's 8 warps form (8 / k_split) 16-row tiles x k_split slices (warp = tile *
// k_split + slice); slice s takes chunks s, s + k_split, ... of its tile. Rows past
// n_out load the last row (clamped) and are not stored; columns past k (k % 128 != 0)
// load zero weights and zero x.
template <int M, bool kE5M2, int kUnroll>
__global__ void __launch_bounds__(kWarps * 32) gemv_fp8_mma_kernel(const GemvFp8Params p) {
  __shared__ float partial[kWarps][4][32];  // C fragments of the k-slices, [warp][reg][lane]
  pdl_trigger();
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int ks = p.k_split;
  const int slice = warp % ks;
  const int64_t row0 = (static_cast<int64_t>(blockIdx.x) * (kWarps / ks) + warp / ks) * 16;
  const int64_t na = min(row0 + g, p.n_out - 1), nb = min(row0 + g + 8, p.n_out - 1);
  const uint8_t* wa = p.w + na * p.k + 16 * t;
  const uint8_t* wb = p.w + nb * p.k + 16 * t;
  const float* sa = p.row_scales + na * p.scale_cols;
  const float* sb = p.row_scales + nb * p.scale_cols;
  // Offsets within a row fit 32 bits (k < 2^31): fewer registers than int64 indices.
  const int k = static_cast<int>(p.k);
  const int chunks = (k + kChunk - 1) / kChunk;
  const int scale_shift = __ffs(p.block_in / kChunk) - 1;  // chunk -> scale column

  // Weights do not depend on the previous kernel: start the first chunks moving (one
  // 128-byte line per row and chunk), then wait for x.
  if (t == 0) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = slice + u * ks;
      if (c < chunks) {
        prefetch_l2(wa + c * kChunk);
        prefetch_l2(wb + c * kChunk);
      }
    }
  }
  pdl_wait();

  const bool x_lane = g < M;  // B column g is activation row g; zero for g >= M
  const float* xrow = p.x + (x_lane ? g : 0) * p.k + 16 * t;
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int c0 = slice; c0 < chunks; c0 += kUnroll * ks) {
    uint4 w[kUnroll][2][2];  // [chunk][row g, g+8][s]
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int s = 0; s < 2; ++s) {
        const int c = c0 + u * ks;
        const int off = c * kChunk + 64 * s;
        const bool ok = c < chunks && off + 16 * t < k;
        w[u][0][s] = ok ? load_stream(wa + off) : make_uint4(0u, 0u, 0u, 0u);
        w[u][1][s] = ok ? load_stream(wb + off) : make_uint4(0u, 0u, 0u, 0u);
      }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = c0 + u * ks;
      if (c >= chunks) break;  // warp-uniform
      float cf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
      for (int s = 0; s < 2; ++s) {
        const int off = c * kChunk + 64 * s;
        const bool ok = x_lane && off + 16 * t < k;
        const float4* xv = reinterpret_cast<const float4*>(xrow + off);
        const uint32_t ra[4] = {w[u][0][s].x, w[u][0][s].y, w[u][0][s].z, w[u][0][s].w};
        const uint32_t rb[4] = {w[u][1][s].x, w[u][1][s].y, w[u][1][s].z, w[u][1][s].w};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const float4 xj = ok ? __ldg(xv + j) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
          mma_16816(cf, fp8x2_to_f16x2<kE5M2>(ra[j], 0), fp8x2_to_f16x2<kE5M2>(rb[j], 0),
                    fp8x2_to_f16x2<kE5M2>(ra[j], 1), fp8x2_to_f16x2<kE5M2>(rb[j], 1),
                    f32x2_to_f16x2_sat(xj.x, xj.y), f32x2_to_f16x2_sat(xj.z, xj.w));
        }
      }
      const int sc = c >> scale_shift;
      const float scale_a = __ldg(sa + sc), scale_b = __ldg(sb + sc);
      acc[0] = fmaf(scale_a, cf[0], acc[0]);
      acc[1] = fmaf(scale_a, cf[1], acc[1]);
      acc[2] = fmaf(scale_b, cf[2], acc[2]);
      acc[3] = fmaf(scale_b, cf[3], acc[3]);
    }
  }
  if (ks > 1) {  // block-uniform
#pragma unroll
    for (int j = 0; j < 4; ++j) partial[warp][j][lane] = acc[j];
    __syncthreads();
    if (slice != 0) return;
    for (int s = 1; s < ks; ++s)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[j] += partial[warp + s][j][lane];
  }
  constexpr float kFix = kE5M2 ? 1.0f : 0x1p8f;  // E4M3 codes were read as value * 2^-8
#pragma unroll
  for (int j = 0; j < 4; ++j) acc[j] *= kFix;

  // This thread holds rows row0 + g + 8r (r = 0, 1) x activation rows 2t + e: acc[2r + e].
  if (p.epilogue == GemvEpilogue::kSiluPairs) {
    // Gate/up pairs are rows (2i, 2i+1) of the tile: g even and g + 1, i.e. lane ^ 4.
    float up[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) up[j] = __shfl_xor_sync(0xffffffffu, acc[j], 4);
    if (g % 2 != 0) return;
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int64_t n = row0 + g + 8 * r;
        const int m = 2 * t + e;
        if (m < M && n + 1 < p.n_out) {
          const float gate = acc[2 * r + e];
          p.y[m * (p.n_out / 2) + n / 2] = gate / (1.0f + expf(-gate)) * up[2 * r + e];
        }
      }
    return;
  }
#pragma unroll
  for (int r = 0; r < 2; ++r)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int64_t n = row0 + g + 8 * r;
      const int m = 2 * t + e;
      if (m < M && n < p.n_out) {
        float* dst = p.y + m * p.n_out + n;
        *dst = p.epilogue == GemvEpilogue::kAddTo ? *dst + acc[2 * r + e] : acc[2 * r + e];
      }
    }
}

// k_split for the tensor-core kernel: each warp streams its slice with `unroll` chunks
// of loads in flight, so the GPU is fullest when all warps are resident at once. Among
// the splits that leave every warp >= unroll chunks, take the one whose warps fill the
// resident slots best, counting a partial last wave as a full one (the smaller split on
// a tie). At 80-86 registers (2 blocks, 16 warps per SM; 2112 warps on 132 SMs) Qwen3-4B
// gets, with unroll 2: qkv 384 tiles x 4, o and down 160 x 8, gate_up 1216 x 8.
int mma_k_split(int64_t tiles, int64_t chunks, int blocks_per_sm, int unroll) {
  const int64_t resident = static_cast<int64_t>(blocks_per_sm) * num_sms() * kWarps;
  int best = 1;
  double best_fill = 0.0;
  for (int ks = 1; ks <= kWarps; ks *= 2) {
    if (ks > 1 && chunks < static_cast<int64_t>(unroll) * ks) break;
    const int64_t warps = tiles * ks;
    const int64_t waves = (warps + resident - 1) / resident;
    const double fill = static_cast<double>(warps) / static_cast<double>(waves * resident);
    if (fill > best_fill + 1e-9) {
      best = ks;
      best_fill = fill;
    }
  }
  return best;
}

template <int M, bool kE5M2, int kUnroll>
void launch_mma_unroll(GemvFp8Params p, cudaStream_t stream) {
  const int blocks_per_sm =
      resident_blocks_per_sm<gemv_fp8_mma_kernel<M, kE5M2, kUnroll>, kWarps * 32>();
  const int64_t tiles = (p.n_out + 15) / 16;
  if (p.k_split <= 0)
    p.k_split = mma_k_split(tiles, (p.k + kChunk - 1) / kChunk, blocks_per_sm, kUnroll);
  const int64_t tiles_per_block = kWarps / p.k_split;
  const auto blocks = static_cast<unsigned>((tiles + tiles_per_block - 1) / tiles_per_block);
  launch_kernel("gemv_fp8_mma_kernel", gemv_fp8_mma_kernel<M, kE5M2, kUnroll>, dim3(blocks),
                dim3(kWarps * 32), 0, stream, p);
}

// Load batch: 4 chunks for one x row and rows of 4096+ columns (o 8.5 vs 9.6 us, down
// 18.0 vs 19.7 on the H200, tools/gpu/gemv_lab.cu), else 2 (qkv 8.6 vs 10.9, gate_up
// 22.6 vs 24.3).
template <int M, bool kE5M2>
void launch_mma(const GemvFp8Params& p, cudaStream_t stream) {
  const int unroll = p.mma_unroll > 0 ? p.mma_unroll : (M == 1 && p.k >= 4096 ? 4 : 2);
  if constexpr (M == 1) {
    if (unroll == kMaxUnroll) return launch_mma_unroll<M, kE5M2, kMaxUnroll>(p, stream);
  }
  launch_mma_unroll<M, kE5M2, 2>(p, stream);
}

template <bool kE5M2>
void launch_dtype(const GemvFp8Params& p, cudaStream_t stream) {
  switch (p.rows) {  // one visible switch over the template instances
    case 1: return launch_mma<1, kE5M2>(p, stream);
    case 2: return launch_mma<2, kE5M2>(p, stream);
    case 3: return launch_mma<3, kE5M2>(p, stream);
    case 4: return launch_mma<4, kE5M2>(p, stream);
    case 5: return launch_mma<5, kE5M2>(p, stream);
    case 6: return launch_mma<6, kE5M2>(p, stream);
    case 7: return launch_mma<7, kE5M2>(p, stream);
    default: return launch_mma<8, kE5M2>(p, stream);
  }
}

// One thread per 16 weights of a row (cols % 16 == 0, 16 | block_in): 16-byte load,
// two 16-byte stores.
template <bool kE5M2>
__global__ void dequant_fp8_vec16_kernel(const DequantFp8Params p) {
  pdl_trigger();
  pdl_wait();
  const int64_t per_row = p.cols / 16;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= p.rows * per_row) return;
  const int64_t r = i / per_row, c = (i % per_row) * 16;
  float f[16];
  fp8x16_to_float<kE5M2>(load_stream(p.w + r * p.cols + c), f);
  const float s = p.row_scales[r * p.scale_cols + c / p.block_in];
  uint32_t packed[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(f[2 * j] * s, f[2 * j + 1] * s);
    packed[j] = *reinterpret_cast<const uint32_t*>(&v);
  }
  uint4* dst = reinterpret_cast<uint4*>(p.out + r * p.cols + c);
  dst[0] = make_uint4(packed[0], packed[1], packed[2], packed[3]);
  dst[1] = make_uint4(packed[4], packed[5], packed[6], packed[7]);
}

// Any shape: one thread per weight.
template <bool kE5M2>
__global__ void dequant_fp8_scalar_kernel(const DequantFp8Params p) {
  pdl_trigger();
  pdl_wait();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= p.rows * p.cols) return;
  const int64_t r = i / p.cols, c = i % p.cols;
  const float f = fp8_byte_to_float<kE5M2>(p.w[i], 0);
  p.out[i] = __float2bfloat16_rn(f * p.row_scales[r * p.scale_cols + c / p.block_in]);
}

// QWEN3_GEMV_FP8=simt selects the CUDA-core kernel wherever kAuto would pick the
// tensor-core one (read once).
bool simt_forced() {
  static const bool forced = [] {
    const char* v = std::getenv("QWEN3_GEMV_FP8");
    return v != nullptr && std::string_view(v) == "simt";
  }();
  return forced;
}

}  // namespace

bool gemv_fp8_takes_stream(int64_t rows, int64_t block_in) {
  return rows == 1 || block_in % kChunk != 0;
}

bool gemv_fp8_supports(int64_t rows, int64_t k, int64_t block_in) {
  return rows >= 1 && rows <= kGemvMaxRows && k % 16 == 0 && block_in >= 16 &&
         (block_in & (block_in - 1)) == 0;
}

void launch_gemv_fp8(const GemvFp8Params& p, cudaStream_t stream) {
  check_shape(gemv_fp8_supports(p.rows, p.k, p.block_in), "gemv_fp8",
              "needs 1..8 rows, k % 16 == 0 and a power-of-two block_in >= 16");
  check_shape(p.dtype == DType::kF8E4M3 || p.dtype == DType::kF8E5M2, "gemv_fp8",
              "dtype must be F8_E4M3 or F8_E5M2");
  check_shape(p.scale_cols == (p.k + p.block_in - 1) / p.block_in, "gemv_fp8",
              "scale_cols must be ceil(k / block_in)");
  check_shape(reinterpret_cast<uintptr_t>(p.w) % 16 == 0 &&
                  reinterpret_cast<uintptr_t>(p.x) % 16 == 0,
              "gemv_fp8", "w and x must be 16-byte aligned");
  check_shape(p.k_split == 0 || p.k_split == 1 || p.k_split == 2 || p.k_split == 4 ||
                  p.k_split == 8,
              "gemv_fp8", "k_split must be 0, 1, 2, 4 or 8");
  check_shape(p.mma_unroll == 0 || p.mma_unroll == 2 || (p.mma_unroll == 4 && p.rows == 1),
              "gemv_fp8", "mma_unroll must be 0, 2, or 4 with one row");
  GemvFp8Params q = p;
  const bool mma_fits = p.block_in % kChunk == 0;
  check_shape(p.kernel != GemvFp8Kernel::kMma || mma_fits, "gemv_fp8",
              "the tensor-core kernel needs block_in % 128 == 0");
  check_shape(p.k <= INT32_MAX - kChunk, "gemv_fp8", "k must fit 32 bits");
  check_shape(p.kernel != GemvFp8Kernel::kPipe || gemv_fp8_pipe_supports(p.rows, p.k, p.block_in),
              "gemv_fp8",
              "the pipelined kernel needs one row, compute capability 8.9+, k and block_in % 128 "
              "== 0");
  if (q.kernel == GemvFp8Kernel::kAuto) {
    q.kernel = simt_forced() ? GemvFp8Kernel::kSimt
               : p.rows_per_warp == 0 && gemv_fp8_pipe_chosen(p.rows, p.k, p.block_in)
                   ? GemvFp8Kernel::kPipe
               : gemv_fp8_takes_stream(p.rows, p.block_in) ? GemvFp8Kernel::kSimt
                                                           : GemvFp8Kernel::kMma;
  }
  check_shape(p.epilogue != GemvEpilogue::kSiluPairs || p.n_out % 2 == 0, "gemv_fp8",
              "SiLU pairs need an even n_out");
  if (q.kernel == GemvFp8Kernel::kSimt || q.kernel == GemvFp8Kernel::kPipe) {
    GemvParams s{.w = nullptr, .x = p.x, .y = p.y, .n_out = p.n_out, .k = p.k, .rows = p.rows,
                 .rows_per_warp = p.rows_per_warp, .k_split = p.k_split};
    s.epilogue = p.epilogue;
    s.w_fp8 = p.w;
    s.row_scales = p.row_scales;
    s.scale_cols = p.scale_cols;
    s.block_in = p.block_in;
    s.e5m2 = p.dtype == DType::kF8E5M2;
    if (q.kernel == GemvFp8Kernel::kPipe) {
      s.rows_per_warp = 0;
      s.pipe_parts = p.pipe_parts;
      launch_gemv_fp8_pipe(s, stream);
    } else {  // the streaming GEMV of gemv.cu
      launch_gemv_fp8_stream(s, stream);
    }
    return;
  }
  if (p.n_out <= 0) return;
  if (p.dtype == DType::kF8E5M2) {
    launch_dtype<true>(q, stream);
  } else {
    launch_dtype<false>(q, stream);
  }
}

void launch_dequant_fp8_to_bf16(const DequantFp8Params& p, cudaStream_t stream) {
  check_shape(p.dtype == DType::kF8E4M3 || p.dtype == DType::kF8E5M2, "dequant_fp8",
              "dtype must be F8_E4M3 or F8_E5M2");
  check_shape(p.block_in > 0 && p.scale_cols == (p.cols + p.block_in - 1) / p.block_in,
              "dequant_fp8", "scale_cols must be ceil(cols / block_in)");
  if (p.rows <= 0 || p.cols <= 0) return;
  const bool e5m2 = p.dtype == DType::kF8E5M2;
  constexpr int kThreads = 256;
  const bool vec = p.cols % 16 == 0 && p.block_in % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(p.w) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(p.out) % 16 == 0;
  const int64_t items = vec ? p.rows * (p.cols / 16) : p.rows * p.cols;
  const dim3 grid(static_cast<unsigned>((items + kThreads - 1) / kThreads));
  if (vec) {
    launch_kernel("dequant_fp8_vec16_kernel",
                  e5m2 ? dequant_fp8_vec16_kernel<true> : dequant_fp8_vec16_kernel<false>, grid,
                  dim3(kThreads), 0, stream, p);
  } else {
    launch_kernel("dequant_fp8_scalar_kernel",
                  e5m2 ? dequant_fp8_scalar_kernel<true> : dequant_fp8_scalar_kernel<false>, grid,
                  dim3(kThreads), 0, stream, p);
  }
}

}  // namespace qwen3::cuda
