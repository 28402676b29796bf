// The batch-1 decoder as one persistent kernel (Hopper): every layer of a single decode
// row (qkv, q/k norm + RoPE + KV write, split-KV attention, o, gate_up + SiLU, down, with
// both RMSNorms) in one launch of one block per SM, grid-wide barriers between the stages
// that depend on each other. A producer warp streams each block's rows of every weight
// matrix, in the order the block will use them, into a ring of shared-memory slots with
// bulk copies (cp.async.bulk + mbarrier) and runs ahead of the consumers across stage and
// layer boundaries: the weights of the next matrix arrive while the grid waits at a
// barrier or runs the attention, which is what separate kernels per matrix cannot do.
// The embedding before and the final norm + lm_head after stay their own kernels.
// Opt-in (CudaRunnerOptions::persistent_decode, QWEN3_CUDA_PERSISTENT=1): on the H200 it
// streams the weights at ~3 TB/s inside its GEMV stages but its 5 grid barriers and the
// attention per layer cost more than the overlap saves, so batch-1 decode is still slower
// than the kernel-per-operation path (bench/cuda/NOTES.md round Q has the profile).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "backends/cuda/kv_dtype.h"
#include "core/dtype.h"

namespace qwen3::cuda {

// Consumer warps per block (+ one producer warp): 16 warps of up to 128 registers.
inline constexpr int kPersistentConsumerWarps = 15;

// One layer's device pointers; the kernel reads an array of them from device memory.
// Matrices as CudaLayerWeights holds them: qkv rows q | k | v, gate_up rows interleaved
// (gate_i, up_i); FP8 ones with per-row block scales [rows, ceil(cols / block_in)].
struct PersistentLayer {
  const void* w[4] = {};        // qkv, o, gate_up, down: BF16 or FP8 codes
  const float* scales[4] = {};  // FP8 only
  const float* input_norm = nullptr;
  const float* post_norm = nullptr;
  const float* q_norm = nullptr;
  const float* k_norm = nullptr;
  void* k_pool = nullptr;  // [slots, kv_heads * head_dim] of kv_dtype
  void* v_pool = nullptr;
  const float* k_scale = nullptr;  // FP8 pool: device float (nullptr: 1)
  const float* v_scale = nullptr;
};

// The geometry, which decides whether the kernel runs it (persistent_decode_supported)
// and how much shared memory it takes.
struct PersistentShape {
  int hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, inter = 0;
  DType wdtype = DType::kBF16;  // kBF16, kF8E4M3 or kF8E5M2
  int block_in = 0;             // FP8: scale block width
  int slot_bytes = 0;  // weight ring slot (a multiple of 16; 0: 24 KiB); tests set small ones
};

struct PersistentDecodeParams {
  PersistentShape shape;
  const PersistentLayer* layers = nullptr;  // device array [num_layers]
  int num_layers = 0;
  KvDtype kv_dtype = KvDtype::kBF16;
  int block_size = 0;               // KV block (tokens)
  float eps = 0.0f;                 // RMSNorm
  float scale = 0.0f;               // softmax
  const float* inv_freq = nullptr;  // [head_dim / 2]
  float rope_scaling = 1.0f;
  const int32_t* table = nullptr;     // the row's block table
  const int32_t* row_pos = nullptr;   // [1] the new token's position
  const int64_t* row_slot = nullptr;  // [1] its KV slot
  float* h = nullptr;     // [hidden] the residual stream: in the embedding, out the last layer's
  float* qkv = nullptr;   // [(heads + 2 kv_heads) head_dim]
  float* attn = nullptr;  // [heads head_dim]
  float* act = nullptr;   // [inter]
  float* partials = nullptr;     // [persistent_decode_partials(shape)] split-KV partial outputs
  unsigned* counters = nullptr;  // [kv_heads] zero at launch (each stage leaves them zero)
  unsigned* barrier = nullptr;   // [1] zeroed by the launcher before each launch
  // Optional [kPersistentProfileRegions]: block 0 adds the nanoseconds it spent per region
  // (kPersistentProfileNames), accumulated over launches.
  unsigned long long* profile = nullptr;
  // Optional [barriers per step][grid]: each block's arrival time (ns) at each grid barrier
  // of the step, overwritten by every launch (persistent_decode_barriers says how many).
  unsigned long long* arrivals = nullptr;
};

inline constexpr int kPersistentProfileRegions = 9;
// The regions' names, in the profile array's order.
inline constexpr const char* kPersistentProfileNames[kPersistentProfileRegions] = {
    "load x",
    "qkv",
    "o",
    "gate_up",
    "down",
    "grid barriers",
    "attention",
    "producer waits",
    "slot waits (thread 0)"};

// Whether this device (compute capability 9.0+, enough opt-in shared memory) and this
// geometry (head_dim 64 or 128, a row of every matrix fits a ring slot, ...) can run it;
// true also lets the kernel take its shared memory on this device (once, before launching).
bool persistent_decode_supported(const PersistentShape& s);
// The grid barriers of a layer, each named by the stage before it.
inline constexpr int kPersistentBarriersPerLayer = 5;
inline constexpr const char* kPersistentBarrierNames[kPersistentBarriersPerLayer] = {
    "qkv", "attention", "o", "gate_up", "down"};
// Grid barriers per step (PersistentDecodeParams::arrivals' rows): every layer's but the
// last one's last.
inline int persistent_decode_barriers(int num_layers) {
  return kPersistentBarriersPerLayer * num_layers - 1;
}
// Blocks of a launch on this device (one per SM).
int persistent_decode_blocks();
// Floats of PersistentDecodeParams::partials for this geometry on this device.
size_t persistent_decode_partials(const PersistentShape& s);
// Zeroes p.barrier, then launches (one block per SM); persistent_decode_supported(p.shape)
// must have returned true on this device first.
void launch_persistent_decode(const PersistentDecodeParams& p, cudaStream_t stream);

}  // namespace qwen3::cuda
