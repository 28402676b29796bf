// Warp-specialised prefill attention, see attention_ws.h. Per CTA (one work item x one KV
// head, kAttnMaxQueries queries = two consumer warpgroups of 64):
//   * producer (warpgroup 0, registers lowered by setmaxnreg; warp 0 for K, warp 1 for V):
//     for each tile of kTile keys, waits until both consumers have released the stage it
//     refills (mbarriers empty_k / empty_v), then issues one TMA box per paged block and
//     64-dim half, a lane per block (its block-table entry read a tile ahead), completing
//     on full_k / full_v;
//   * consumers (warpgroups 1 and 2, registers raised): Q rounded to BF16 into shared memory
//     once; then per tile j, in turn with the other warpgroup (named barriers 1 and 2: a
//     warpgroup issues only after the other has issued its own): S(j) = Q K(j)^T and
//     O += P(j - 1) V(j - 1) issued together, S(j) waited for, K(j) released, tile j's
//     online softmax in registers while P(j - 1) V(j - 1) runs, V(j - 1) released, O
//     rescaled. With 64-key tiles P alternates between two register arrays (no copy the
//     compiler could fold into the in-flight operand; attention_mma.cuh, NOTES round T
//     item 3); 128-key tiles have the registers for one, packed after the product.
// Every tile is computed by both warpgroups (ptxas serializes wgmma behind branches); rows
// that see none of a tile's keys feed P = 0. Keys past the item's range are read from the
// last block in range (the pool is zeroed at creation, so they are finite) and masked.
#include <cuda.h>
#include <cudaTypedefs.h>

#include <atomic>
#include <cstdint>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/attention_mma.cuh"
#include "backends/cuda/kernels/attention_ws.h"
#include "backends/cuda/kernels/decode_persistent_sync.cuh"
#include "backends/cuda/kernels/launch.h"
#include "backends/cuda/kernels/wgmma.cuh"

namespace qwen3::cuda {
namespace {

using mma_attn::RowState;

constexpr int kHd = 128;
constexpr int kWsThreads = 3 * 128;  // producer warpgroup + two consumer warpgroups
constexpr int kMinBoxRows = 16;      // rows of a TMA box at least (a paged block, or the tile)

template <int kTile, int kStages>
struct WsSmem {
  static constexpr int kQ = kAttnMaxQueries * kHd * 2;  // Q, BF16, 128-byte swizzled
  static constexpr int kSub = kTile * 128;              // one 64-dim half of a K / V tile
  static constexpr int kKv = kHd / 64 * kSub;           // one K or V tile
  static constexpr int kBars = kQ + 2 * kStages * kKv;  // then 4 x kStages mbarriers
  static constexpr size_t kBytes = 1024 + kBars + 4 * kStages * sizeof(uint64_t);
};

struct WsParams {
  CUtensorMap k_map;  // the layer's K pool as [pool_rows, kv_dim] BF16, boxes of 64 x box_rows
  CUtensorMap v_map;
  PagedAttentionParams p;
  int box_rows;  // min(block_size, kTile)
};

// Device code of this translation unit has wgmma (read once by the host: an sm_90a build
// loaded on this device).
__device__ const int kWsHasWgmma = QWEN3_HAVE_WGMMA;

#if QWEN3_HAVE_WGMMA
constexpr int kConsumerThreads = 2 * 128;
// setmaxnreg moves registers within the CTA's launch allocation (168 per thread at 384
// threads): 40 + 2 x 232 = 3 x 168, or the consumers' increase waits forever.
constexpr int kProducerRegs = 40, kConsumerRegs = 232;

__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap* map, int c0, int c1,
                                            uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, "
      "{%2, %3}], [%4];" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(smem_u32(bar))
      : "memory");
}
__device__ __forceinline__ void named_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(threads) : "memory");
}
#endif

template <int kTile, int kStages>
__global__ void __launch_bounds__(kWsThreads, 1)
    paged_attention_ws_kernel(const __grid_constant__ WsParams w) {
#if QWEN3_HAVE_WGMMA
  using S = WsSmem<kTile, kStages>;
  constexpr int kKeyTiles = kTile / 8, kDimTiles = kHd / 8, kKSteps = kHd / 16;
  const PagedAttentionParams& p = w.p;
  extern __shared__ uint4 smem_u4[];
  char* smem = reinterpret_cast<char*>(smem_u4);
  smem += (1024 - (smem_u32(smem) & 1023)) & 1023;
  char* q_s = smem;
  char* kv_s = smem + S::kQ;  // stage st: K at kv_s + st * 2 * S::kKv, V S::kKv further
  uint64_t* full_k = reinterpret_cast<uint64_t*>(smem + S::kBars);
  uint64_t* full_v = full_k + kStages;
  uint64_t* empty_k = full_v + kStages;
  uint64_t* empty_v = empty_k + kStages;

  pdl_trigger();
  pdl_wait();
  const int kvh = static_cast<int>(blockIdx.x % p.kv_heads);
  const AttnWorkItem item = mma_attn::cta_work_item(p);
  const int group = p.heads / p.kv_heads;
  const int nq = item.num_rows * group;
  const int kv_stop = mma_attn::item_kv_stop(p, item);
  const int num_tiles = (kv_stop + kTile - 1) / kTile;

  if (threadIdx.x == 0) {
    for (int st = 0; st < kStages; ++st) {
      mbar_init(&full_k[st], 1);
      mbar_init(&full_v[st], 1);
      mbar_init(&empty_k[st], kConsumerThreads);
      mbar_init(&empty_v[st], kConsumerThreads);
    }
    mbar_fence_init();
  }
  __syncthreads();

  if (threadIdx.x < 128) {
    // Producer.
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kProducerRegs));
    // Warp 0 copies the K tiles, warp 1 the V tiles (each waits only for its own stage's
    // release: a V stage is freed a product later than its K); lane b issues box b of a
    // tile and reads its block-table entry a tile ahead.
    if (threadIdx.x >= 64) return;
    const int lane = threadIdx.x & 31;
    const bool is_v = threadIdx.x >= 32;
    const CUtensorMap* map = is_v ? &w.v_map : &w.k_map;
    uint64_t* full = is_v ? full_v : full_k;
    uint64_t* empty = is_v ? empty_v : empty_k;
    const int32_t* table = p.block_tables + static_cast<int64_t>(item.seq) * p.max_blocks;
    const int bs = p.block_size, rows = w.box_rows, boxes = kTile / rows;
    const int last_blk = (kv_stop - 1) / bs;
    // Pool row of this lane's box of tile j (blocks past the range: the last one in it).
    auto fetch = [&](int j) {
      const int pos = j * kTile + lane * rows;
      return lane < boxes ? __ldg(table + min(pos / bs, last_blk)) * bs + pos % bs : 0;
    };
    int cur = fetch(0);
    const int col = kvh * kHd;
    for (int j = 0; j < num_tiles; ++j) {
      const int nxt = j + 1 < num_tiles ? fetch(j + 1) : 0;
      const int st = j % kStages;
      const uint32_t dst = smem_u32(kv_s + st * 2 * S::kKv) + (is_v ? S::kKv : 0);
      // The consumers' release of tile j - kStages.
      if (j >= kStages) mbar_wait(&empty[st], ((j / kStages) & 1) ^ 1);
      if (lane == 0) mbar_expect_tx(&full[st], S::kKv);
      __syncwarp();
      if (lane < boxes) {
#pragma unroll
        for (int h = 0; h < kHd / 64; ++h)
          tma_load_2d(dst + h * S::kSub + lane * rows * 128, map, col + h * 64, cur, &full[st]);
      }
      cur = nxt;
    }
    return;
  }

  // Consumers: warpgroup c of 64 queries, warp 0..7 of the 8 consumer warps.
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kConsumerRegs));
  const int ct = threadIdx.x - 128;
  const int c = ct >> 7;
  const int lane = ct & 31, warp = ct >> 5;
  const int g = lane >> 2;
  const int64_t q_stride = static_cast<int64_t>(p.heads) * kHd;

  // This warpgroup's Q rows (float32) -> BF16 in shared memory, unscaled.
  for (int idx = ct & 127; idx < 64 * kHd / 4; idx += 128) {
    const int qi = c * 64 + idx / (kHd / 4);
    const int d = (idx % (kHd / 4)) * 4;
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    if (qi < nq) {
      const int64_t row = item.row_begin + qi / group;
      const int head = kvh * group + qi % group;
      v = *reinterpret_cast<const float4*>(p.q + row * q_stride + head * kHd + d);
    }
    *reinterpret_cast<uint2*>(q_s + mma_attn::tile_offset<kAttnMaxQueries>(qi, d >> 3) +
                              (d & 7) * 2) = make_uint2(pack_bf16(v.x, v.y), pack_bf16(v.z, v.w));
  }
  wgmma::fence_proxy_async();
  named_sync(3 + c, 128);

  const int qi0 = warp * 16 + g, qi1 = qi0 + 8;
  const int pos0 = qi0 < nq ? p.row_pos[item.row_begin + qi0 / group] : -1;
  const int pos1 = qi1 < nq ? p.row_pos[item.row_begin + qi1 / group] : -1;
  const bool warp_active = warp * 16 < nq;  // else every row is padding (masked)
  const int warp_min_pos = warp_active ? p.row_pos[item.row_begin + warp * 16 / group] : -1;
  const bool warp_has_padding = warp * 16 + 15 >= nq;
  const float scale_log2 = p.scale * 1.4426950408889634f;

  float o[kDimTiles][4];
#pragma unroll
  for (int n = 0; n < kDimTiles; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  RowState r0, r1;
  float s[kKeyTiles][4];
  // P in two arrays whose roles alternate per tile (tile j's packed while P(j - 1) V(j - 1)
  // runs) where registers allow (64-key tiles); in one, packed after that product, with
  // 128-key tiles (pf2 then unused).
  constexpr bool kTwoP = kTile == 64;
  uint32_t pf[kTile / 16][4], pf2[kTile / 16][4];

  // Tile t0's probabilities for this warp's rows in s, the rows' O correction factors in
  // c0 / c1 (mma_attn::softmax_rows). No branch around it for warps whose rows see none of
  // the tile (the mask gives them P = 0): an accumulator written on a warp-divergent path
  // makes ptxas serialize the wgmma.
  const mma_attn::WarpRows rows{pos0, pos1, warp_min_pos, warp_has_padding};
  auto next_p = [&](int t0, float& c0, float& c1) {
    mma_attn::softmax_rows(s, t0, kv_stop, rows, r0, r1, scale_log2, c0, c1);
  };
  auto pack_p = [&](uint32_t(&pb)[kTile / 16][4]) { mma_attn::pack_p(s, pb); };
  // Descriptors: a base per operand and tile plus constant steps (the start address is the
  // low 14 bits, >> 4, and no step carries out of them); the Q base passes through an
  // opaque copy per tile so that the compiler does not keep all 8 steps' descriptors live.
  const uint64_t q_desc = wgmma::desc_k_major_sw128(smem_u32(q_s) + c * 64 * 128);
  // S = Q K^T of this warpgroup's 64 queries and the K tile of stage st (committed).
  auto issue_s = [&](int st) {
    uint64_t qd = q_desc;
    asm volatile("mov.b64 %0, %0;" : "+l"(qd));
    const uint64_t kd = wgmma::desc_k_major_sw128(smem_u32(kv_s + st * 2 * S::kKv));
    wgmma::fence();
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk) {
      // A k16 step is 32 bytes inside a 64-dim half; the halves are whole tiles apart.
      const uint32_t off = (kk & 3) * 32;
      wgmma::m64nk16_bf16_ss(s, qd + (((kk >> 2) * (kAttnMaxQueries * 128) + off) >> 4),
                             kd + (((kk >> 2) * S::kSub + off) >> 4), kk > 0);
    }
    wgmma::commit();
  };
  // O += P V with the V tile of stage st (committed); a k16 step is 16 rows (2,048 bytes).
  auto issue_pv = [&](int st, const uint32_t(&pa)[kTile / 16][4]) {
    const uint64_t vd =
        wgmma::desc_mn_major_sw128(smem_u32(kv_s + st * 2 * S::kKv + S::kKv), S::kSub);
#pragma unroll
    for (int k2 = 0; k2 < kTile / 16; ++k2)
      wgmma::m64nk16_bf16_rs_tb(o, pa[k2], vd + ((k2 * 16 * 128) >> 4));
    wgmma::commit();
  };
  // Turns on the tensor cores: warpgroup c issues after named barrier 1 + c, which the
  // other warpgroup arrives at once it has issued (warpgroup 1 once ahead, for warpgroup
  // 0's first tile; its own last arrival, which nobody would wait for, is left out).
  auto my_turn = [&] { named_sync(1 + c, kConsumerThreads); };
  auto pass_turn = [&](int j) {
    if (!(c == 1 && j == num_tiles - 1)) named_arrive(2 - c, kConsumerThreads);
  };
  if (c == 1) named_arrive(1, kConsumerThreads);

  float c0, c1;
  mbar_wait(&full_k[0], 0);
  my_turn();
  issue_s(0);
  pass_turn(0);
  wgmma::wait_all();
  wgmma::pin(s);
  mbar_arrive(&empty_k[0]);
  next_p(0, c0, c1);
  pack_p(pf);
  // Tile j >= 1: S(j) and P(j - 1) V(j - 1) with P(j - 1) in pa; P(j) into pb.
  auto tile_step = [&](int j, uint32_t(&pa)[kTile / 16][4], uint32_t(&pb)[kTile / 16][4]) {
    const int st = j % kStages, prev = (j - 1) % kStages;
    mbar_wait(&full_k[st], (j / kStages) & 1);
    mbar_wait(&full_v[prev], ((j - 1) / kStages) & 1);
    my_turn();
    issue_s(st);
    issue_pv(prev, pa);
    pass_turn(j);
    wgmma::wait_all_but_one();  // S(j)
    wgmma::pin(s);
    mbar_arrive(&empty_k[st]);
    next_p(j * kTile, c0, c1);
    if constexpr (kTwoP) pack_p(pb);
    wgmma::wait_all();  // P(j - 1) V(j - 1): O and pa free again
    wgmma::pin(o);
    wgmma::pin(pa);
    if constexpr (!kTwoP) pack_p(pb);  // pb is pa
    mbar_arrive(&empty_v[prev]);
    mma_attn::rescale_o(o, c0, c1);
  };
  auto last_pv = [&](const uint32_t(&pa)[kTile / 16][4]) {
    const int st = (num_tiles - 1) % kStages;
    mbar_wait(&full_v[st], ((num_tiles - 1) / kStages) & 1);
    wgmma::fence();
    issue_pv(st, pa);
    wgmma::wait_all();
    wgmma::pin(o);
    mbar_arrive(&empty_v[st]);
  };
  int j = 1;
  if constexpr (kTwoP) {
    for (; j + 1 < num_tiles; j += 2) {
      tile_step(j, pf, pf2);
      tile_step(j + 1, pf2, pf);
    }
    if (j < num_tiles) {
      tile_step(j, pf, pf2);
      last_pv(pf2);
    } else {
      last_pv(pf);
    }
  } else {
    for (; j < num_tiles; ++j) tile_step(j, pf, pf);
    last_pv(pf);
  }

  mma_attn::store_o(o, r0, r1, qi0, nq, p.out, q_stride, item.row_begin, group, kvh, 1.0f);
#else
  __trap();
#endif
}

// The driver's tensor-map encoder, looked up once through the runtime (no libcuda link).
PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult found{};
    const cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000,
                                                           cudaEnableDefault, &found);
    return e == cudaSuccess && found == cudaDriverEntryPointSuccess
               ? reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f)
               : nullptr;
  }();
  return fn;
}

// A BF16 pool [rows, cols] as a 2-D tensor map of boxes 64 columns x box_rows rows,
// 128-byte swizzled (what wgmma's K-major and MN-major descriptors read).
CUtensorMap pool_map(const void* base, int64_t rows, int64_t cols, int box_rows) {
  CUtensorMap map{};
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(cols) * 2};
  const cuuint32_t box[2] = {64, static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t elem_strides[2] = {1, 1};
  const CUresult r = tensor_map_encoder()(
      &map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<void*>(base), dims, strides, box,
      elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  check_shape(r == CUDA_SUCCESS, "paged_attention_ws", "cuTensorMapEncodeTiled failed", false);
  return map;
}

// Keys per tile: 128 in two stages, or 64 in four (QWEN3_CUDA_ATTN_WS_TILE64=1 or
// set_paged_attention_ws; A/B timing).
int& ws_tile() {
  static int tile = env_flag("QWEN3_CUDA_ATTN_WS_TILE64", false) ? 64 : 128;
  return tile;
}

template <int kTile, int kStages>
void launch_ws(const PagedAttentionParams& p, cudaStream_t stream) {
  constexpr size_t smem = WsSmem<kTile, kStages>::kBytes;
  constexpr auto kernel = paged_attention_ws_kernel<kTile, kStages>;
  allow_dynamic_smem<kernel>(smem);
  const int box_rows = p.block_size < kTile ? p.block_size : kTile;
  const int64_t cols = int64_t{p.kv_heads} * kHd;
  WsParams w{};
  w.k_map = pool_map(p.k_pool, p.pool_rows, cols, box_rows);
  w.v_map = pool_map(p.v_pool, p.pool_rows, cols, box_rows);
  w.p = p;
  w.box_rows = box_rows;
  const dim3 grid(static_cast<unsigned>(p.num_items) * static_cast<unsigned>(p.kv_heads));
  launch_kernel("paged_attention_ws_kernel", kernel, grid, dim3(kWsThreads), smem, stream, w);
}

bool& ws_flag() {
  static bool on = env_flag("QWEN3_CUDA_ATTN_WS", true);
  return on;
}

// Whether the loaded device code has wgmma (asked once per process, on the current device).
bool ws_code_loaded() {
  static const bool has = [] {
    if (compute_capability() != 90 || tensor_map_encoder() == nullptr) return false;
    int v = 0;
    return cudaMemcpyFromSymbol(&v, kWsHasWgmma, sizeof v) == cudaSuccess && v == 1;
  }();
  return has;
}

}  // namespace

bool paged_attention_ws_applies(const PagedAttentionParams& p) {
  const int tile = ws_tile(), bs = p.block_size;
  const bool blocks_fit =
      bs > 0 && (bs >= tile ? bs % tile == 0 : tile % bs == 0 && bs >= kMinBoxRows);
  return ws_flag() && p.kv_dtype == KvDtype::kBF16 && p.head_dim == kHd && p.pool_rows > 0 &&
         blocks_fit && ws_code_loaded();
}

void launch_paged_attention_ws(const PagedAttentionParams& p, cudaStream_t stream) {
  // Deeper rings (three 128-key stages, six 64-key ones) and no turns measured slower, see
  // bench/cuda/NOTES.md round U.
  if (ws_tile() == 64) return launch_ws<64, 4>(p, stream);
  launch_ws<128, 2>(p, stream);
}

bool paged_attention_ws_enabled() { return ws_flag(); }
int paged_attention_ws_tile() { return ws_tile(); }

void set_paged_attention_ws(bool on, int tile_keys) {
  check_shape(tile_keys == 64 || tile_keys == 128, "paged_attention_ws",
              "tile_keys must be 64 or 128");
  ws_flag() = on;
  ws_tile() = tile_keys;
}

}  // namespace qwen3::cuda
