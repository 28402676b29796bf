// Hopper warpgroup MMA (wgmma.mma_async, sm_90a only) for the kernels that use it: the
// shared-memory descriptors of K-major and MN-major operands in the 128-byte swizzled
// layout, and the m64n64k16 / m64n128k16 BF16 products with A in registers or shared memory.
// QWEN3_HAVE_WGMMA is 1 only when compiling for sm_90a; callers keep an mma.sync path for
// everything else.
//
// 128-byte swizzled K-major tile (what swizzle128_offset writes and the descriptor reads):
// rows of 64 BF16 (128 bytes) of the K dimension; the 16-byte chunk c of row r is stored at
// chunk c ^ (r % 8); 8-row groups are 1,024 bytes apart (the descriptor's stride offset);
// the tile starts on a 1,024-byte boundary. A K extent wider than 64 is several such tiles
// (`rows * 128` bytes apart); a k16 step inside one starts 32 bytes further.
#pragma once

#include <cstdint>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QWEN3_HAVE_WGMMA 1
#else
#define QWEN3_HAVE_WGMMA 0
#endif

namespace qwen3::cuda::wgmma {

// Byte offset of 16-byte chunk `c` (0..7) of row `r` in a 128-byte swizzled tile.
__device__ __forceinline__ uint32_t swizzle128_offset(int r, int c) {
  return static_cast<uint32_t>(r * 128 + ((c ^ (r & 7)) << 4));
}

// Descriptor of a 128-byte swizzled operand starting at shared address `addr`: start >> 4,
// leading offset `leading_bytes` >> 4, stride offset 1,024 >> 4 (8-row groups), swizzle
// mode 1 (128 bytes).
__device__ __forceinline__ uint64_t desc_sw128(uint32_t addr, uint32_t leading_bytes) {
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) |
         (static_cast<uint64_t>((leading_bytes >> 4) & 0x3FFF) << 16) |
         (uint64_t{1024 >> 4} << 32) | (uint64_t{1} << 62);
}

// K-major (a tile's start plus 32 bytes per k16 step): the leading offset is unused by this
// layout and set to 1 (16 bytes).
__device__ __forceinline__ uint64_t desc_k_major_sw128(uint32_t addr) {
  return desc_sw128(addr, 16);
}

// MN-major (N-contiguous, imm-trans-b = 1) B operand: rows of 64 BF16 along N, one row per
// k, 8-row groups 1,024 bytes apart, 64-column blocks of N `n_block_bytes` apart (the
// leading offset); a k16 step starts 2,048 bytes (16 rows) further.
__device__ __forceinline__ uint64_t desc_mn_major_sw128(uint32_t addr, uint32_t n_block_bytes) {
  return desc_sw128(addr, n_block_bytes);
}

// One instruction without operands (a memory clobber), or nothing off sm_90a.
#if QWEN3_HAVE_WGMMA
#define QWEN3_WGMMA_INSN(text) asm volatile(text ::: "memory")
#else
#define QWEN3_WGMMA_INSN(text) ((void)0)
#endif
__device__ __forceinline__ void fence() { QWEN3_WGMMA_INSN("wgmma.fence.sync.aligned;\n"); }
__device__ __forceinline__ void commit() { QWEN3_WGMMA_INSN("wgmma.commit_group.sync.aligned;\n"); }
__device__ __forceinline__ void wait_all() {
  QWEN3_WGMMA_INSN("wgmma.wait_group.sync.aligned 0;\n");
}
// All but the most recent committed group have completed.
__device__ __forceinline__ void wait_all_but_one() {
  QWEN3_WGMMA_INSN("wgmma.wait_group.sync.aligned 1;\n");
}
// Shared-memory stores of the generic proxy (st.shared, cp.async) made visible to wgmma's
// reads (the async proxy); each writing thread runs it before the barrier that publishes.
__device__ __forceinline__ void fence_proxy_async() {
  QWEN3_WGMMA_INSN("fence.proxy.async.shared::cta;\n");
}

// Keeps the compiler from moving reads or writes of accumulator registers across the
// asynchronous product (issued before, read after wait_all).
template <int N>
__device__ __forceinline__ void pin(float (&d)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i) {
    asm volatile("" : "+f"(d[i][0]), "+f"(d[i][1]), "+f"(d[i][2]), "+f"(d[i][3])::"memory");
  }
}

// The same for A-operand registers an in-flight product reads.
template <int N>
__device__ __forceinline__ void pin(uint32_t (&a)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i) {
    asm volatile("" : "+r"(a[i][0]), "+r"(a[i][1]), "+r"(a[i][2]), "+r"(a[i][3])::"memory");
  }
}

// The accumulator operands of 8-column tiles n .. n + 7 (32 floats) of `d`.
#define QWEN3_WGMMA_ACC8(n)                                                       \
  "+f"(d[n][0]), "+f"(d[n][1]), "+f"(d[n][2]), "+f"(d[n][3]), "+f"(d[n + 1][0]),  \
      "+f"(d[n + 1][1]), "+f"(d[n + 1][2]), "+f"(d[n + 1][3]), "+f"(d[n + 2][0]), \
      "+f"(d[n + 2][1]), "+f"(d[n + 2][2]), "+f"(d[n + 2][3]), "+f"(d[n + 3][0]), \
      "+f"(d[n + 3][1]), "+f"(d[n + 3][2]), "+f"(d[n + 3][3]), "+f"(d[n + 4][0]), \
      "+f"(d[n + 4][1]), "+f"(d[n + 4][2]), "+f"(d[n + 4][3]), "+f"(d[n + 5][0]), \
      "+f"(d[n + 5][1]), "+f"(d[n + 5][2]), "+f"(d[n + 5][3]), "+f"(d[n + 6][0]), \
      "+f"(d[n + 6][1]), "+f"(d[n + 6][2]), "+f"(d[n + 6][3]), "+f"(d[n + 7][0]), \
      "+f"(d[n + 7][1]), "+f"(d[n + 7][2]), "+f"(d[n + 7][3])

// d (64 x 64, float32; this thread's part in mma.sync's C layout per 8-column tile) =
// (accumulate ? d : 0) + a (64 x 16 BF16 in registers, mma.sync's A layout per warp) x
// b (16 x 64 from the descriptor: K-major, or MN-major with kTransB, imm-trans-b = 1).
// Off sm_90a it traps: callers test QWEN3_HAVE_WGMMA.
template <bool kTransB = false>
__device__ __forceinline__ void m64n64k16_bf16_rs([[maybe_unused]] float (&d)[8][4],
                                                  [[maybe_unused]] const uint32_t (&a)[4],
                                                  [[maybe_unused]] uint64_t b_desc,
                                                  [[maybe_unused]] bool accumulate) {
#if QWEN3_HAVE_WGMMA
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, "
      "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "{%32, %33, %34, %35}, %36, p, 1, 1, %38;\n}\n"
      : QWEN3_WGMMA_ACC8(0)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b_desc), "r"(accumulate ? 1 : 0),
        "n"(kTransB ? 1 : 0));
#else
  __trap();
#endif
}

// The same with b 16 x 128 (d: 16 tiles of 8 columns).
template <bool kTransB = false>
__device__ __forceinline__ void m64n128k16_bf16_rs([[maybe_unused]] float (&d)[16][4],
                                                   [[maybe_unused]] const uint32_t (&a)[4],
                                                   [[maybe_unused]] uint64_t b_desc,
                                                   [[maybe_unused]] bool accumulate) {
#if QWEN3_HAVE_WGMMA
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, "
      "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, "
      "%50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "{%64, %65, %66, %67}, %68, p, 1, 1, %70;\n}\n"
      : QWEN3_WGMMA_ACC8(0), QWEN3_WGMMA_ACC8(8)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b_desc), "r"(accumulate ? 1 : 0),
        "n"(kTransB ? 1 : 0));
#else
  __trap();
#endif
}
// d (64 x 8 NT, float32) = (accumulate ? d : 0) + a (64 x 16 from a K-major descriptor) x
// b (16 x 8 NT from a K-major descriptor): both operands in shared memory.
template <int NT>
__device__ __forceinline__ void m64nk16_bf16_ss([[maybe_unused]] float (&d)[NT][4],
                                                [[maybe_unused]] uint64_t a_desc,
                                                [[maybe_unused]] uint64_t b_desc,
                                                [[maybe_unused]] bool accumulate) {
  static_assert(NT == 8 || NT == 16);
#if QWEN3_HAVE_WGMMA
  if constexpr (NT == 8) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, "
        "%18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
        "%32, %33, p, 1, 1, 0, 0;\n}\n"
        : QWEN3_WGMMA_ACC8(0)
        : "l"(a_desc), "l"(b_desc), "r"(accumulate ? 1 : 0));
  } else {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, "
        "%18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
        "%64, %65, p, 1, 1, 0, 0;\n}\n"
        : QWEN3_WGMMA_ACC8(0), QWEN3_WGMMA_ACC8(8)
        : "l"(a_desc), "l"(b_desc), "r"(accumulate ? 1 : 0));
  }
#else
  __trap();
#endif
}
#undef QWEN3_WGMMA_ACC8

// The one of the two that fits d: O (64 x HD) += P (64 x 16) V (16 x HD).
template <int NT>
__device__ __forceinline__ void m64nk16_bf16_rs_tb(float (&d)[NT][4], const uint32_t (&a)[4],
                                                  uint64_t b_desc) {
  static_assert(NT == 8 || NT == 16);
  if constexpr (NT == 8) {
    m64n64k16_bf16_rs<true>(d, a, b_desc, true);
  } else {
    m64n128k16_bf16_rs<true>(d, a, b_desc, true);
  }
}

}  // namespace qwen3::cuda::wgmma
