// An in-process engine from a model folder and vLLM-named options: weights, tokenizer,
// generation config, the CPU runner with its paged KV pool, and the AsyncEngine. Used by
// `qwen3 bench throughput|latency`; one place for "model dir + flags -> engine".
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/async_engine.h"
#include "model/config.h"

namespace qwen3 {

class Qwen3Weights;
namespace text {
class Tokenizer;
}

// Flags with vLLM's names and meanings (`vllm serve` / `vllm bench throughput`).
struct EngineOptions {
  std::string model_dir;
  int64_t max_model_len = 0;  // 0 = the model's context, capped by the KV pool
  int64_t max_num_seqs = 256;
  int64_t max_num_batched_tokens = 2048;
  int64_t max_queued_requests = 4096;
  bool enable_prefix_caching = true;
  // KV pool budget, e.g. "4GiB"; empty: kDefaultCpuKvCache on the CPU, and on CUDA what
  // gpu_memory_utilization leaves (kv_cache_budget).
  std::string kv_cache_memory;
  double gpu_memory_utilization = 0.9;  // share of the GPU's memory this engine may use
  int64_t num_gpu_blocks_override = 0;  // > 0: exactly this many KV blocks
  int64_t block_size = 16;              // tokens per KV block
  std::string device = "auto";          // cpu | cuda | auto (backends/runner_factory.h)
  std::string kv_cache_dtype = "auto";  // auto | bf16 | fp8 (parse_kv_cache_dtype)
  int tensor_parallel_size = 1;         // GPUs the model is split over (CUDA + NCCL)
  // Sliding-window attention with sinks (sched/batch.h AttentionWindow); window 0: off.
  int64_t attention_window = 0;
  int64_t attention_sinks = -1;         // -1: kDefaultAttentionSinks with a window
  bool load_tokenizer = true;           // when the folder has tokenizer.json; false: token ids only
};

inline constexpr const char* kDefaultCpuKvCache = "4GiB";
inline constexpr int64_t kDefaultAttentionSinks = 4;  // StreamingLLM's four first tokens
// GPU memory kept out of the KV budget for activations, logits, cuBLAS and CUDA graphs.
inline constexpr int64_t kCudaActivationReserve = int64_t{2} << 30;

// Bytes for the KV pool and where they come from, for the startup log.
struct KvBudget {
  int64_t bytes = 0;
  std::string source;  // "--kv-cache-memory 4GiB" or "--gpu-memory-utilization 0.90: ..."
};

// None with --num-gpu-blocks-override; --kv-cache-memory when given (or on the CPU, its
// default); on CUDA otherwise vLLM's rule: gpu_memory_utilization x total GPU memory -
// memory already in use - the weights - kCudaActivationReserve. Throws kOutOfMemory when
// that leaves nothing. With tensor parallelism: one GPU's (device 0's) budget, with its
// share of the weights; every GPU holds as many blocks, each of its share of the KV heads.
KvBudget kv_cache_budget(const EngineOptions& o, const Qwen3Weights& weights);

// The AttentionWindow of `o` (off without a window), unchecked: the CLI checks it with
// check_attention_window (sched/batch.h) before loading, the Engine when it is built.
AttentionWindow attention_window(const EngineOptions& o);

// KV blocks for `o` (the pool's null block included): num_gpu_blocks_override, else
// budget / bytes per block, capped at what max_num_seqs sequences of max_model_len
// tokens can use (with an attention window: hold at once, kv_tokens_held). Throws
// kOutOfMemory (naming --kv-cache-memory) when the budget holds fewer than 2 blocks,
// kInvalidArgument for bad sizes.
int64_t kv_cache_blocks(const EngineOptions& o, const ModelConfig& model, const KvBudget& budget);

// The EngineConfig of `o`; eos ids from generation_config.json, else config.json.
EngineConfig engine_config(const EngineOptions& o, const ModelConfig& model,
                           const GenerationConfig& gen);

// Members are destroyed engine first (it holds pointers to the rest).
struct EngineBundle {
  std::shared_ptr<const Qwen3Weights> weights;
  std::unique_ptr<text::Tokenizer> tokenizer;  // null: not asked for, or no tokenizer.json
  GenerationConfig generation;
  int64_t kv_blocks = 0;
  int64_t kv_tokens = 0;  // (kv_blocks - 1) * block_size: usable tokens
  KvBudget kv_budget;
  double load_seconds = 0;  // weights + tokenizer + engine start
  std::unique_ptr<AsyncEngine> engine;

  const ModelConfig& model_config() const;
};

// Loads and starts; throws Error (kIo / kInvalidModel / kOutOfMemory / kInvalidArgument)
// naming the file or flag at fault.
EngineBundle build_engine(const EngineOptions& o);

}  // namespace qwen3
