#include "engine/engine_builder.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "backends/runner_factory.h"
#include "core/error.h"
#include "core/parse.h"
#include "kv/kv_cache_manager.h"
#include "model/weights.h"
#include "tokenizer/tokenizer.h"

namespace qwen3 {

KvBudget kv_cache_budget(const EngineOptions& o, const Qwen3Weights& weights) {
  if (o.num_gpu_blocks_override > 0) return {0, "--num-gpu-blocks-override"};
  const Device device = resolve_device(parse_device(o.device));
  if (device != Device::kCuda || !o.kv_cache_memory.empty()) {
    const std::string size = o.kv_cache_memory.empty() ? kDefaultCpuKvCache : o.kv_cache_memory;
    return {static_cast<int64_t>(parse_size(size, "--kv-cache-memory")),
            fmt::format("--kv-cache-memory {}", size)};
  }
  if (o.gpu_memory_utilization <= 0 || o.gpu_memory_utilization > 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--gpu-memory-utilization must be in (0, 1], got {}",
                o.gpu_memory_utilization);
  }
  const GpuMemory m = gpu_memory();
  if (m.total == 0) {
    QWEN3_THROW(ErrorCode::kUnavailable,
                "--device cuda: no usable GPU, or this build has no CUDA backend; use --device "
                "cpu or auto");
  }
  const int64_t in_use = m.total - m.free;
  const int64_t w = device_weight_bytes(device, weights, o.tensor_parallel_size);
  const auto allowed =
      static_cast<int64_t>(o.gpu_memory_utilization * static_cast<double>(m.total));
  const int64_t bytes = allowed - in_use - w - kCudaActivationReserve;
  constexpr double kGiB = 1 << 30;
  const std::string source = fmt::format(
      "--gpu-memory-utilization {:.2f}: {:.1f} of {:.1f} GiB - {:.1f} GiB in use - {:.1f} GiB "
      "weights - {:.1f} GiB activations",
      o.gpu_memory_utilization, allowed / kGiB, m.total / kGiB, in_use / kGiB, w / kGiB,
      kCudaActivationReserve / kGiB);
  if (bytes <= 0) {
    QWEN3_THROW(ErrorCode::kOutOfMemory,
                "no GPU memory left for the KV cache ({}); raise "
                "--gpu-memory-utilization or pass --kv-cache-memory",
                source);
  }
  return {bytes, source};
}

int64_t kv_cache_blocks(const EngineOptions& o, const ModelConfig& model, const KvBudget& kv) {
  if (o.block_size < 1 || o.block_size > 1024 || o.max_num_seqs < 1 || o.max_model_len < 0 ||
      o.num_gpu_blocks_override < 0) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--block-size must be in 1..1024, --max-num-seqs >= 1, --max-model-len and "
                "--num-gpu-blocks-override >= 0");
  }
  if (o.num_gpu_blocks_override > 0) return o.num_gpu_blocks_override;
  const int64_t per_block =
      kv_bytes_per_block(parse_device(o.device), model, o.block_size,
                         parse_kv_cache_dtype(o.kv_cache_dtype), o.tensor_parallel_size);
  const int64_t budget = kv.bytes;
  const int64_t max_len = o.max_model_len > 0 ? o.max_model_len : model.max_position_embeddings;
  const int64_t held =
      kv_tokens_held(max_len, o.max_num_batched_tokens, o.block_size, attention_window(o));
  const int64_t needed = o.max_num_seqs * ((held + o.block_size - 1) / o.block_size) + 1;
  const int64_t blocks = std::min(budget / per_block, needed);
  if (blocks < 2) {
    QWEN3_THROW(ErrorCode::kOutOfMemory,
                "the KV cache budget ({}) holds {} KV blocks of {} bytes; raise --kv-cache-memory",
                kv.source, blocks, per_block);
  }
  return blocks;
}

AttentionWindow attention_window(const EngineOptions& o) {
  const int64_t default_sinks = o.attention_window > 0 ? kDefaultAttentionSinks : 0;
  return {.window = o.attention_window,
          .sinks = o.attention_sinks == -1 ? default_sinks : o.attention_sinks};
}

EngineConfig engine_config(const EngineOptions& o, const ModelConfig& model,
                           const GenerationConfig& gen) {
  EngineConfig e;
  e.attention_window = attention_window(o);
  e.max_model_len = o.max_model_len;
  e.max_num_seqs = o.max_num_seqs;
  e.max_num_batched_tokens = o.max_num_batched_tokens;
  e.max_queued_requests = o.max_queued_requests;
  e.enable_prefix_caching = o.enable_prefix_caching;
  e.eos_token_ids = gen.eos_token_ids.empty() ? model.eos_token_ids : gen.eos_token_ids;
  return e;
}

const ModelConfig& EngineBundle::model_config() const { return weights->config(); }

EngineBundle build_engine(const EngineOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  EngineBundle b;
  b.weights = Qwen3Weights::load(o.model_dir);
  const ModelConfig& c = b.weights->config();
  if (o.load_tokenizer &&
      std::filesystem::exists(std::filesystem::path(o.model_dir) / "tokenizer.json")) {
    b.tokenizer = text::Tokenizer::load(o.model_dir);
  }
  b.generation = GenerationConfig::load(o.model_dir);
  b.kv_budget = kv_cache_budget(o, *b.weights);
  b.kv_blocks = kv_cache_blocks(o, c, b.kv_budget);
  b.kv_tokens = (b.kv_blocks - 1) * o.block_size;
  auto runner = make_runner(parse_device(o.device), *b.weights, b.kv_blocks, o.block_size,
                            parse_kv_cache_dtype(o.kv_cache_dtype), o.tensor_parallel_size);
  b.engine = std::make_unique<AsyncEngine>(engine_config(o, c, b.generation), std::move(runner),
                                           b.tokenizer.get(), c);
  b.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return b;
}

}  // namespace qwen3
