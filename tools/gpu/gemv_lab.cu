// GEMV lab (issues 7/8, decode): times decode-shaped y = W x kernels back to back inside
// a CUDA graph (as in the decoder: PDL launches, weights cold in L2 because each launch
// reads another copy of the matrix) and prints weight GB/s against the device-to-device
// copy, for the project's BF16 GEMV (src/backends/cuda/kernels/gemv.cu) over its rows per
// warp and k-splits, and its FP8 tensor-core GEMV (gemv_fp8.cu) over load batch and
// k-split, at the Qwen3-4B shapes; results checked against a float64 host reference.
// With "stream", also a TMA bulk-copy kernel (1 CTA per SM, rows copied with
// cp.async.bulk into a ring of shared-memory stages, all warps consuming each stage) and
// its copy-only / math-only halves: on the H200 (2026-11-30) the copies alone ran at
// 89-107 % of copy bandwidth but the math at 1.2-1.5 TB/s (8 warps per SM cannot hide the
// x loads), so the register kernel was kept. A measuring tool, not product code:
//
//   bash tools/gpu/gemv_lab.sh            # builds it there; /tmp/gemv_lab M [stream]
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/gemv.h"
#include "backends/cuda/kernels/gemv_fp8.h"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda {
[[noreturn]] void throw_cuda_error(cudaError_t code, const char* call, const char* file, int line) {
  std::fprintf(stderr, "%s: %s (%s:%d)\n", call, cudaGetErrorString(code), file, line);
  std::exit(1);
}
[[noreturn]] void throw_shape_error(const char* kernel, const char* message, bool) {
  std::fprintf(stderr, "%s: %s\n", kernel, message);
  std::exit(1);
}
}  // namespace qwen3::cuda

using namespace qwen3::cuda;

#define CK(x)                                                                         \
  do {                                                                                \
    cudaError_t e_ = (x);                                                             \
    if (e_ != cudaSuccess) {                                                          \
      std::fprintf(stderr, "%s: %s line %d\n", #x, cudaGetErrorString(e_), __LINE__); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

namespace {

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(bar)), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_u32(bar)),
               "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t phase) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
        : "=r"(done)
        : "r"(smem_u32(bar)), "r"(phase)
        : "memory");
  } while (!done);
}
__device__ __forceinline__ void bulk_copy(void* dst, const void* src, uint32_t bytes, uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
          smem_u32(dst)),
      "l"(src), "r"(bytes), "r"(smem_u32(bar))
      : "memory");
}

// TMA diagnosis: mode 1 = bulk copies only (no math), mode 2 = math only (no copies).
struct StreamParams {
  const __nv_bfloat16* w;
  const float* x;
  float* y;
  int n, k;
  int rows_per_stage, stages;  // ring of `stages` buffers of rows_per_stage rows
  int mode;  // 0 normal, 1 copies only, 2 math only
};

constexpr int kThreads = 256;
constexpr int kMaxStageRows = 32;

// CTA b owns rows [b * n / grid, (b + 1) * n / grid); thread 0 keeps `stages` bulk copies
// of rows_per_stage rows in flight; the 256 threads split each stage into 16-byte units
// (a warp's 32 consecutive units lie in one row when k % 256 == 0), reduce per row with
// shuffles and shared atomics; threads < rows write y after the stage's barrier.
template <int M>
__global__ void __launch_bounds__(kThreads) gemv_stream(const StreamParams p) {
  extern __shared__ __align__(128) uint8_t smem[];
  __shared__ uint64_t full[16];
  __shared__ float row_acc[2][kMaxStageRows][M];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int r0 = static_cast<int>(static_cast<int64_t>(blockIdx.x) * p.n / gridDim.x);
  const int r1 = static_cast<int>(static_cast<int64_t>(blockIdx.x + 1) * p.n / gridDim.x);
  const int rows = r1 - r0;
  const int S = p.rows_per_stage;
  const int nst = (rows + S - 1) / S;
  const size_t row_bytes = static_cast<size_t>(p.k) * 2;
  const size_t stage_bytes = row_bytes * S;
  auto issue = [&](int i) {
    const int s = i % p.stages;
    const int nr = min(S, rows - i * S);
    const uint32_t bytes = static_cast<uint32_t>(row_bytes * nr);
    mbar_expect_tx(&full[s], bytes);
    bulk_copy(smem + s * stage_bytes, p.w + static_cast<size_t>(r0 + i * S) * p.k, bytes, &full[s]);
  };
  if (tid == 0) {
    for (int s = 0; s < p.stages; ++s) mbar_init(&full[s], 1);
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  for (int t = tid; t < 2 * kMaxStageRows * M; t += kThreads) (&row_acc[0][0][0])[t] = 0.0f;
  __syncthreads();
  if (tid == 0 && p.mode != 2)
    for (int i = 0; i < min(p.stages, nst); ++i) issue(i);
  pdl_trigger();
  pdl_wait();
  const int upr = p.k / 8;  // 16-byte units per row
  for (int i = 0; i < nst; ++i) {
    const int s = i % p.stages;
    const int nr = min(S, rows - i * S);
    if (p.mode != 2) mbar_wait(&full[s], (i / p.stages) & 1);
    const uint4* buf = reinterpret_cast<const uint4*>(smem + s * stage_bytes);
    const int units = p.mode == 1 ? 0 : nr * upr;
    float acc[M];
#pragma unroll
    for (int m = 0; m < M; ++m) acc[m] = 0.0f;
    int cur = -1;
    for (int base = warp * 32; base < units; base += kThreads) {  // units % 32 == 0
      const int r = base / upr;  // warp-uniform
      if (r != cur) {
        if (cur >= 0) {
#pragma unroll
          for (int m = 0; m < M; ++m) {
            const float v = warp_sum(acc[m]);
            if (lane == 0) atomicAdd(&row_acc[i & 1][cur][m], v);
            acc[m] = 0.0f;
          }
        }
        cur = r;
      }
      const uint4 wv = buf[base + lane];
      const int c = (base + lane - r * upr) * 8;
#pragma unroll
      for (int m = 0; m < M; ++m) {
        const float4* xv = reinterpret_cast<const float4*>(p.x + static_cast<size_t>(m) * p.k + c);
        acc[m] += dot_bf16x8(wv, __ldg(xv), __ldg(xv + 1));
      }
    }
    if (cur >= 0) {
#pragma unroll
      for (int m = 0; m < M; ++m) {
        const float v = warp_sum(acc[m]);
        if (lane == 0) atomicAdd(&row_acc[i & 1][cur][m], v);
      }
    }
    __syncthreads();
    if (tid == 0 && i + p.stages < nst && p.mode != 2) issue(i + p.stages);
    if (tid < nr * M) {
      const int r = tid / M, m = tid % M;
      const float v = row_acc[i & 1][r][m];
      row_acc[i & 1][r][m] = 0.0f;
      p.y[static_cast<size_t>(m) * p.n + r0 + i * S + r] = v;
    }
  }
}

template <int M>
void launch_stream(const StreamParams& p, int grid, cudaStream_t st) {
  const size_t smem = static_cast<size_t>(p.k) * 2 * p.rows_per_stage * p.stages;
  static bool set = false;
  if (!set) {
    CK(cudaFuncSetAttribute(gemv_stream<M>, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024));
    set = true;
  }
  launch_kernel("gemv_stream", gemv_stream<M>, dim3(grid), dim3(kThreads), smem, st, p);
}

// E4M3 code -> float (no NaN codes are generated).
float e4m3_to_float(uint8_t b) {
  const int sign = b >> 7, e = (b >> 3) & 15, m = b & 7;
  const float v = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(1.0f + m / 8.0f, e - 7);
  return sign ? -v : v;
}

struct Shape {
  const char* name;
  int n, k;
};

double copy_gbs() {
  size_t bytes = 1ull << 31;
  void *a, *b;
  CK(cudaMalloc(&a, bytes));
  CK(cudaMalloc(&b, bytes));
  CK(cudaMemset(a, 1, bytes));
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<float> ms;
  for (int i = 0; i < 15; ++i) {
    cudaEventRecord(e0);
    cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float t;
    cudaEventElapsedTime(&t, e0, e1);
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  cudaFree(a);
  cudaFree(b);
  return 2.0 * bytes / (ms[ms.size() / 2] * 1e-3) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const int M = argc > 1 ? std::atoi(argv[1]) : 1;
  const bool with_stream = argc > 2 && std::string(argv[2]) == "stream";  // the TMA kernel too
  int sms = 0;
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const double copy = copy_gbs();
  std::printf("copy %.0f GB/s, %d SMs, M=%d\n", copy, sms, M);
  const Shape shapes[] = {{"qkv", 6144, 2560},
                          {"o", 2560, 4096},
                          {"gate_up", 19456, 2560},
                          {"down", 2560, 9728},
                          {"lm_head", 151936, 2560}};
  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  std::mt19937 rng(1);
  for (const Shape& sh : shapes) {
    const size_t elems = static_cast<size_t>(sh.n) * sh.k;
    const size_t bytes = elems * 2;
    const int copies = static_cast<int>(std::max<size_t>(2, (600ull << 20) / bytes + 1));
    std::vector<__nv_bfloat16> hw(elems);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    for (auto& v : hw) v = __float2bfloat16(d(rng) * 0.05f);
    std::vector<float> hx(static_cast<size_t>(M) * sh.k);
    for (auto& v : hx) v = d(rng);
    std::vector<__nv_bfloat16*> w(copies);
    for (int c = 0; c < copies; ++c) {
      CK(cudaMalloc(&w[c], bytes));
      CK(cudaMemcpy(w[c], hw.data(), bytes, cudaMemcpyHostToDevice));
    }
    float *x, *y;
    CK(cudaMalloc(&x, hx.size() * 4));
    CK(cudaMalloc(&y, static_cast<size_t>(M) * sh.n * 4));
    CK(cudaMemcpy(x, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice));
    std::vector<double> ref(static_cast<size_t>(M) * sh.n);
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < sh.n; ++n) {
        double s = 0;
        for (int k = 0; k < sh.k; ++k)
          s += static_cast<double>(__bfloat162float(hw[static_cast<size_t>(n) * sh.k + k])) *
               hx[static_cast<size_t>(m) * sh.k + k];
        ref[static_cast<size_t>(m) * sh.n + n] = s;
      }
    auto measure = [&](const std::string& label, auto&& launch, double moved = 0) {
      if (moved == 0) moved = static_cast<double>(bytes);
      CK(cudaMemset(y, 0, static_cast<size_t>(M) * sh.n * 4));
      launch(w[0]);
      CK(cudaStreamSynchronize(st));
      CK(cudaGetLastError());
      std::vector<float> hy(static_cast<size_t>(M) * sh.n);
      CK(cudaMemcpy(hy.data(), y, hy.size() * 4, cudaMemcpyDeviceToHost));
      double err = 0, mag = 0;
      for (size_t i = 0; i < hy.size(); ++i) {
        err = std::max(err, std::fabs(hy[i] - ref[i]));
        mag = std::max(mag, std::fabs(ref[i]));
      }
      const int launches = std::max(copies, 36 / std::max(1, static_cast<int>(bytes >> 28)));
      cudaGraph_t g;
      cudaGraphExec_t ge;
      CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
      for (int i = 0; i < launches; ++i) launch(w[i % copies]);
      CK(cudaStreamEndCapture(st, &g));
      CK(cudaGraphInstantiate(&ge, g, 0));
      cudaEvent_t e0, e1;
      cudaEventCreate(&e0);
      cudaEventCreate(&e1);
      std::vector<float> ms;
      for (int it = 0; it < 7; ++it) {
        cudaEventRecord(e0, st);
        cudaGraphLaunch(ge, st);
        cudaEventRecord(e1, st);
        CK(cudaEventSynchronize(e1));
        float t;
        cudaEventElapsedTime(&t, e0, e1);
        if (it > 0) ms.push_back(t / launches);
      }
      std::sort(ms.begin(), ms.end());
      const double us = ms[ms.size() / 2] * 1e3;
      const double gbs = moved / (us * 1e-6) / 1e9;
      std::printf("%-8s %-34s %8.2f us %7.0f GB/s %5.1f %% of copy  max|err| %.2e (rel %.1e)\n",
                  sh.name, label.c_str(), us, gbs, 100 * gbs / copy, err, err / mag);
      cudaGraphExecDestroy(ge);
      cudaGraphDestroy(g);
      cudaEventDestroy(e0);
      cudaEventDestroy(e1);
    };
    measure("project (launcher's choice)", [&](auto* wp) {
      launch_gemv_bf16({wp, x, y, sh.n, sh.k, M, 0, 0}, st);
    });
    {  // the decoder's RMSNorm prologue and epilogues around the same kernel (norm weight 1
       // and sum of squares k: the prologue's y is W x to float rounding; the epilogues'
       // error column does not compare like with like)
      float *nw, *ss, *ss_out;
      const std::vector<float> ones(sh.k, 1.0f), sums(M, static_cast<float>(sh.k));
      CK(cudaMalloc(&nw, sh.k * 4));
      CK(cudaMalloc(&ss, M * 4));
      CK(cudaMalloc(&ss_out, M * 4));
      CK(cudaMemcpy(nw, ones.data(), sh.k * 4, cudaMemcpyHostToDevice));
      CK(cudaMemcpy(ss, sums.data(), M * 4, cudaMemcpyHostToDevice));
      auto variant = [&](const char* label, GemvEpilogue epilogue, bool norm) {
        measure(label, [&](auto* wp) {
          GemvParams p{wp, x, y, sh.n, sh.k, M};
          if (norm) {
            p.norm_weight = nw;
            p.norm_eps = 1e-6f;
            p.norm_sum_squares = ss;
          }
          p.epilogue = epilogue;
          if (epilogue == GemvEpilogue::kAddTo) p.sum_squares_out = ss_out;
          launch_gemv_bf16(p, st);
        });
      };
      variant("project + RMSNorm prologue", GemvEpilogue::kStore, true);
      variant("project + add-to + sum of squares", GemvEpilogue::kAddTo, false);
      variant("project + prologue + SiLU pairs", GemvEpilogue::kSiluPairs, true);
      cudaFree(nw);
      cudaFree(ss);
      cudaFree(ss_out);
    }
    // LAB_PRODUCT_ONLY: no BF16 tiling sweep, and for FP8 the launchers' choices and the
    // streaming kernel's sweep.
    const bool product_only = std::getenv("LAB_PRODUCT_ONLY") != nullptr;
    if (!product_only)
    for (int r : {1, 2, 4})
      for (int ks : {1, 2, 4, 8}) {
        if (sh.k / ks < 256) continue;
        measure("project R=" + std::to_string(r) + " ks=" + std::to_string(ks), [&](auto* wp) {
          launch_gemv_bf16({wp, x, y, sh.n, sh.k, M, r, ks}, st);
        });
      }
    if (with_stream) {
    const size_t row_bytes = static_cast<size_t>(sh.k) * 2;
    for (int mode : {0, 1, 2})
      for (int stage_kb : {16, 48}) {
        const int per_sm = 1, stages = 4;
        int S = static_cast<int>(std::max<size_t>(1, (stage_kb << 10) / row_bytes));
        S = std::min(S, kMaxStageRows);
        const size_t smem = row_bytes * S * stages;
        if (smem > 200 * 1024) continue;
        StreamParams p{nullptr, x, y, sh.n, sh.k, S, stages, mode};
        char label[96];
        std::snprintf(label, sizeof label, "stream%s %dx%d rows (%zu KB)",
                      mode == 1 ? " copy-only" : mode == 2 ? " math-only" : "", stages, S, smem >> 10);
        measure(label, [&](auto* wp) {
          StreamParams q = p;
          q.w = wp;
          switch (M) {
            case 1: launch_stream<1>(q, sms * per_sm, st); break;
            default: launch_stream<4>(q, sms * per_sm, st); break;
          }
        });
      }
    }
    {  // FP8 E4M3, 128-column scale blocks, the project's kernels
      const int sc = (sh.k + 127) / 128;
      std::vector<uint8_t> hq(elems);
      std::vector<float> hs(static_cast<size_t>(sh.n) * sc);
      std::uniform_int_distribution<int> bd(0, 255);
      for (auto& v : hq) {
        int b = bd(rng);
        if ((b & 0x7f) == 0x7f) b &= 0xfe;  // not NaN
        v = static_cast<uint8_t>(b);
      }
      for (auto& v : hs) v = 1.0f / 64 * (1.0f + 0.5f * d(rng));
      const int qcopies = static_cast<int>(std::max<size_t>(2, (600ull << 20) / elems + 1));
      std::vector<uint8_t*> q(qcopies);
      float* scales;
      for (auto& ptr : q) {
        CK(cudaMalloc(&ptr, elems));
        CK(cudaMemcpy(ptr, hq.data(), elems, cudaMemcpyHostToDevice));
      }
      CK(cudaMalloc(&scales, hs.size() * 4));
      CK(cudaMemcpy(scales, hs.data(), hs.size() * 4, cudaMemcpyHostToDevice));
      std::vector<float> lut(256);
      for (int i = 0; i < 256; ++i) lut[i] = e4m3_to_float(static_cast<uint8_t>(i));
      for (int m = 0; m < M; ++m)
        for (int n = 0; n < sh.n; ++n) {
          double acc = 0;
          for (int k = 0; k < sh.k; ++k)
            acc += static_cast<double>(lut[hq[static_cast<size_t>(n) * sh.k + k]]) *
                   hs[static_cast<size_t>(n) * sc + k / 128] * hx[static_cast<size_t>(m) * sh.k + k];
          ref[static_cast<size_t>(m) * sh.n + n] = acc;
        }
      const double fp8_bytes = static_cast<double>(elems) + hs.size() * 4.0;
      // kMma: `tune` is the load batch (mma_unroll); kSimt, the streaming kernel of gemv.cu:
      // rows per warp. 0: the launcher's choice.
      auto fp8 = [&](GemvFp8Kernel kernel, int tune, int ks) {
        char label[96];
        std::snprintf(label, sizeof label, kernel == GemvFp8Kernel::kMma ? "fp8 mma unroll=%d ks=%d"
                                                                         : "fp8 stream R=%d ks=%d",
                      tune, ks);
        int qi = 0;
        measure(label, [&](auto* wp) {
          (void)wp;
          GemvFp8Params p{};
          p.w = q[qi++ % qcopies];
          p.row_scales = scales;
          p.x = x;
          p.y = y;
          p.n_out = sh.n;
          p.k = sh.k;
          p.scale_cols = sc;
          p.block_in = 128;
          p.rows = M;
          p.k_split = ks;
          (kernel == GemvFp8Kernel::kMma ? p.mma_unroll : p.rows_per_warp) = tune;
          p.kernel = kernel;
          launch_gemv_fp8(p, st);
        }, fp8_bytes);
      };
      if (product_only) {
        fp8(GemvFp8Kernel::kMma, 0, 0);
      } else {
        for (int unroll : {2, 4}) {
          if (unroll == 4 && M != 1) continue;
          for (int ks : {0, 1, 2, 4, 8}) fp8(GemvFp8Kernel::kMma, unroll, ks);
        }
      }
      fp8(GemvFp8Kernel::kSimt, 0, 0);
      for (int r : {1, 2, 4})
        for (int ks : {1, 2, 4, 8})
          if (sh.k / ks >= 512) fp8(GemvFp8Kernel::kSimt, r, ks);
      for (auto* ptr : q) cudaFree(ptr);
      cudaFree(scales);
    }
    for (auto* p : w) cudaFree(p);
    cudaFree(x);
    cudaFree(y);
  }
  return 0;
}
