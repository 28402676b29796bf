#include "cli/engine_flags.h"

#include <omp.h>

#include "backends/runner_factory.h"
#include "cli/commands.h"

namespace qwen3::cli {

void add_engine_flags(CLI::App& sub, EngineOptions& e, int& threads) {
  sub.add_option("--model", e.model_dir, "Model folder (default: $QWEN3_MODEL or models/default)");
  sub.add_option("--max-model-len", e.max_model_len,
                 "Context length; 0: the model's, capped by the KV cache")
      ->capture_default_str();
  sub.add_option("--max-num-seqs", e.max_num_seqs, "Sequences per engine step")
      ->capture_default_str();
  sub.add_option("--max-num-batched-tokens", e.max_num_batched_tokens, "Tokens per engine step")
      ->capture_default_str();
  sub.add_option("--kv-cache-memory", e.kv_cache_memory,
                 "KV cache budget, e.g. 4GiB (default: 4GiB on the CPU; on CUDA what "
                 "--gpu-memory-utilization leaves after the weights)");
  sub.add_option("--gpu-memory-utilization", e.gpu_memory_utilization,
                 "Share of the GPU's memory for weights, activations and the KV cache (CUDA)")
      ->capture_default_str();
  sub.add_option("--device", e.device,
                 "Backend: cpu, cuda or auto (cuda when this build has it and a GPU is usable)")
      ->capture_default_str();
  sub.add_option("--num-gpu-blocks-override", e.num_gpu_blocks_override,
                 "KV blocks, overriding --kv-cache-memory (0: off)");
  sub.add_option("--block-size", e.block_size, "Tokens per KV block")->capture_default_str();
  sub.add_option("--kv-cache-dtype", e.kv_cache_dtype,
                 "auto | bf16 | fp8 (= fp8_e4m3, CUDA: half the KV memory of bf16, scales 1.0)")
      ->capture_default_str();
  sub.add_option("--tensor-parallel-size", e.tensor_parallel_size,
                 "GPUs to split the model over (CUDA, NCCL): heads and MLP N ways")
      ->capture_default_str();
  sub.add_option("--attention-window", e.attention_window,
                 "Sliding-window attention over the last W tokens plus the sinks, freeing the "
                 "KV blocks outside it (an approximation; 0: full attention)")
      ->capture_default_str();
  sub.add_option("--attention-sinks", e.attention_sinks,
                 "First tokens every query still sees with --attention-window (default 4)");
  sub.add_flag("--enable-prefix-caching,!--no-enable-prefix-caching", e.enable_prefix_caching,
               "Reuse KV blocks of shared prompt prefixes (default on)");
  sub.add_option("--threads", threads, "CPU compute threads (0: all cores)")->capture_default_str();
}

void prepare_engine(EngineOptions& e, int threads) {
  // Before anything loads: a KV dtype the device cannot hold names the flag (exit 2).
  check_kv_cache_dtype(parse_device(e.device), parse_kv_cache_dtype(e.kv_cache_dtype));
  check_tensor_parallel(parse_device(e.device), e.tensor_parallel_size);
  check_attention_window(attention_window(e));
  if (e.model_dir.empty()) e.model_dir = default_model_dir();
  if (threads > 0) omp_set_num_threads(threads);
}

}  // namespace qwen3::cli
