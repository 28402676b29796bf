// `qwen3 serve [MODEL_DIR]`: the OpenAI-compatible server (src/server/) on the CPU or
// CUDA backend (--device), with vLLM's flag names.
#include <fmt/core.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>

#include "backends/runner_factory.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/parse.h"
#include "engine/engine_builder.h"
#include "kv/kv_cache_manager.h"
#include "model/weights.h"
#include "server/openai_response.h"
#include "server/server.h"

namespace qwen3::cli {
namespace {

struct ServeFlags {
  std::string model;
  std::string host = "0.0.0.0";
  int port = 8000;
  int64_t max_model_len = 0;
  int64_t max_num_seqs = 256;
  int64_t max_num_batched_tokens = 2048;
  int64_t max_queued_requests = 4096;
  double gpu_memory_utilization = 0.9;
  std::string dtype = "auto";
  std::string kv_cache_dtype = "auto";
  int tensor_parallel_size = 1;
  int64_t attention_window = 0;
  int64_t attention_sinks = -1;
  std::vector<std::string> served_model_name;
  std::string api_key;
  std::string chat_template;
  bool enable_prefix_caching = true;
  std::string kv_cache_memory;  // empty: EngineOptions' default for the device
  std::string device = "auto";
  int64_t num_gpu_blocks_override = 0;
  int64_t block_size = 16;
  int threads = 0;
  int http_threads = 2;
  std::string max_body_size = "16MiB";
  double http_timeout = 30;
};

EngineOptions engine_options(const ServeFlags& f, const std::string& dir);

// Everything that can be checked before the server starts, so a bad flag exits at once
// with a message instead of after the model has loaded.
void check_flags(const ServeFlags& f, const std::string& dir) {
  check_tensor_parallel(parse_device(f.device), f.tensor_parallel_size);
  check_attention_window(attention_window(engine_options(f, dir)));
  if (f.dtype != "auto" && f.dtype != "bfloat16" && f.dtype != "bf16") {
    QWEN3_THROW(ErrorCode::kUnsupported,
                "--dtype {}: the CPU backend runs the checkpoint's own weights (bf16 or fp8) "
                "in float32; use auto or bfloat16",
                f.dtype);
  }
  check_kv_cache_dtype(parse_device(f.device), parse_kv_cache_dtype(f.kv_cache_dtype));
  if (f.gpu_memory_utilization <= 0 || f.gpu_memory_utilization > 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--gpu-memory-utilization must be in (0, 1], got {}",
                f.gpu_memory_utilization);
  }
  if (f.port < 0 || f.port > 65535) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--port {} is not a TCP port", f.port);
  }
  if (f.block_size < 1 || f.block_size > 1024 || f.max_num_seqs < 1 ||
      f.max_num_batched_tokens < 1 || f.max_queued_requests < 0 || f.http_threads < 1 ||
      f.http_timeout <= 0 || f.num_gpu_blocks_override < 0 || f.max_model_len < 0) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--block-size (1..1024), --max-num-seqs, --max-num-batched-tokens, "
                "--http-threads and --http-timeout must be positive; --max-model-len, "
                "--max-queued-requests and --num-gpu-blocks-override non-negative");
  }
  if (parse_device(f.device) == Device::kCuda && !cuda_backend_available()) {
    QWEN3_THROW(ErrorCode::kUnavailable,
                "--device cuda: no usable GPU, or this build has no CUDA backend; use --device "
                "cpu or auto");
  }
  if (!f.kv_cache_memory.empty()) (void)parse_size(f.kv_cache_memory, "--kv-cache-memory");
  (void)parse_size(f.max_body_size, "--max-body-size");
  if (!std::filesystem::exists(std::filesystem::path(dir) / "config.json")) {
    QWEN3_THROW(ErrorCode::kIo, "{}: no config.json (not a model folder?)", dir);
  }
  const ModelConfig c = ModelConfig::load(dir);
  if (f.max_model_len > c.max_position_embeddings) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--max-model-len {} is longer than the model's context ({} tokens, "
                "max_position_embeddings in config.json)",
                f.max_model_len, c.max_position_embeddings);
  }
}

EngineOptions engine_options(const ServeFlags& f, const std::string& dir) {
  EngineOptions o;
  o.model_dir = dir;
  o.max_model_len = f.max_model_len;
  o.max_num_seqs = f.max_num_seqs;
  o.max_num_batched_tokens = f.max_num_batched_tokens;
  o.max_queued_requests = f.max_queued_requests;
  o.enable_prefix_caching = f.enable_prefix_caching;
  o.kv_cache_memory = f.kv_cache_memory;
  o.gpu_memory_utilization = f.gpu_memory_utilization;
  o.num_gpu_blocks_override = f.num_gpu_blocks_override;
  o.block_size = f.block_size;
  o.device = f.device;
  o.kv_cache_dtype = f.kv_cache_dtype;
  o.tensor_parallel_size = f.tensor_parallel_size;
  o.attention_window = f.attention_window;
  o.attention_sinks = f.attention_sinks;
  return o;
}

std::optional<ChatTemplate> load_template(const ServeFlags& f, const std::string& dir) {
  namespace fs = std::filesystem;
  if (!f.chat_template.empty()) {
    return ChatTemplate::from_file(f.chat_template, ChatTemplate::read_special_tokens(
                                                        fs::path(dir) / "tokenizer_config.json"));
  }
  try {
    return ChatTemplate::from_model_dir(dir);
  } catch (const Error& e) {
    server::log_line(
        fmt::format("no chat template ({}): /v1/chat/completions is disabled; "
                    "pass --chat-template FILE",
                    e.what()));
    return std::nullopt;
  }
}

std::shared_ptr<server::ServedModel> load_model(const ServeFlags& f, const std::string& dir) {
  const auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<const Qwen3Weights> weights = Qwen3Weights::load(dir);
  const ModelConfig& c = weights->config();
  auto m = std::make_shared<server::ServedModel>();
  m->owned = weights;
  m->root = dir;
  m->tokenizer = text::Tokenizer::load(dir);
  m->chat_template = load_template(f, dir);
  m->generation = GenerationConfig::load(dir);
  const EngineOptions eo = engine_options(f, dir);
  const Device device = resolve_device(parse_device(f.device));
  const int tp = f.tensor_parallel_size;  // checked by check_flags, then by make_runner
  const KvBudget budget = kv_cache_budget(eo, *weights);
  const int64_t blocks = kv_cache_blocks(eo, c, budget);
  const KvCacheDtype kv = parse_kv_cache_dtype(f.kv_cache_dtype);
  auto runner = make_runner(device, *weights, blocks, f.block_size, kv, tp);
  auto engine = std::make_unique<AsyncEngine>(engine_config(eo, c, m->generation),
                                              std::move(runner), m->tokenizer.get(), c);
  m->max_model_len = engine->config().max_model_len;
  m->vocab_size = c.vocab_size;
  m->created = server::unix_now();
  m->backend = server::make_engine_backend(std::move(engine));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t tokens = (blocks - 1) * f.block_size;
  const double kv_mib = static_cast<double>(blocks) *
                        static_cast<double>(kv_bytes_per_block(device, c, f.block_size, kv, tp)) /
                        (1 << 20);
  const bool cuda = device == Device::kCuda;
  server::log_line(fmt::format(
      "loaded {} ({} layers, hidden {}, vocab {}, {}) in {:.2f} s; {} backend{}; chat template: {}",
      dir, c.num_hidden_layers, c.hidden_size, c.vocab_size, c.quant.fp8 ? "fp8" : "bf16", s,
      cuda ? (tp > 1 ? fmt::format("CUDA ({} GPUs, tensor parallel)", tp) : std::string("CUDA"))
           : std::string("CPU"),
      cuda ? std::string() : fmt::format(", {} threads", omp_get_max_threads()),
      m->chat_template ? m->chat_template->name() : "none"));
  const AttentionWindow window = attention_window(eo);
  const int64_t held =
      kv_tokens_held(m->max_model_len, f.max_num_batched_tokens, f.block_size, window);
  server::log_line(fmt::format(
      "KV cache: {} blocks x {} tokens = {} tokens ({:.0f} MiB {}{}; budget {}); max_model_len {}; "
      "maximum concurrency for {}-token requests: {:.2f}x; max_num_seqs {}{}",
      blocks, f.block_size, tokens, kv_mib, kv_cache_dtype_name(device, kv),
      tp > 1 ? fmt::format(" on each of {} GPUs", tp) : std::string(), budget.source,
      m->max_model_len, m->max_model_len, static_cast<double>(tokens) / static_cast<double>(held),
      f.max_num_seqs,
      window.on() ? fmt::format("; attention window {} + {} sinks (approximate attention): a "
                                "request holds at most {} tokens of KV",
                                window.window, window.sinks, held)
                  : std::string()));
  return m;
}

int run_serve(const ServeFlags& f) {
  const std::string dir = f.model.empty() ? default_model_dir() : f.model;
  check_flags(f, dir);
  if (f.threads > 0) omp_set_num_threads(f.threads);
  server::ServerOptions o;
  o.host = f.host;
  o.port = static_cast<uint16_t>(f.port);
  o.api_key = f.api_key;
  o.served_model_names =
      f.served_model_name.empty() ? std::vector<std::string>{dir} : f.served_model_name;
  o.max_body_bytes = parse_size(f.max_body_size, "--max-body-size");
  o.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(f.http_timeout * 1000));
  o.write_timeout = std::max(o.request_timeout, std::chrono::milliseconds(60000));
  o.http_threads = f.http_threads;
  if (f.gpu_memory_utilization != 0.9 && resolve_device(parse_device(f.device)) == Device::kCpu) {
    server::log_line(
        "--gpu-memory-utilization has no effect on the CPU backend (see "
        "--kv-cache-memory)");
  }
  return server::run_server(o, [&f, dir] { return load_model(f, dir); });
}

}  // namespace

Runner add_serve(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* sub = app.add_subcommand("serve", "OpenAI-compatible HTTP server (vLLM's flags)");
  sub->add_option("model_dir", f->model, "Model folder (default: $QWEN3_MODEL or models/default)");
  sub->add_option("--model", f->model, "Same as MODEL_DIR");
  sub->add_option("--host", f->host, "Address to listen on")->capture_default_str();
  sub->add_option("--port", f->port, "TCP port (0: any free port)")->capture_default_str();
  sub->add_option("--max-model-len", f->max_model_len,
                  "Context length (prompt + output); 0: the model's, capped by the KV cache")
      ->capture_default_str();
  sub->add_option("--max-num-seqs", f->max_num_seqs, "Sequences per engine step")
      ->capture_default_str();
  sub->add_option("--max-num-batched-tokens", f->max_num_batched_tokens, "Tokens per engine step")
      ->capture_default_str();
  sub->add_option("--max-queued-requests", f->max_queued_requests,
                  "Waiting requests beyond this get 429")
      ->capture_default_str();
  sub->add_option("--gpu-memory-utilization", f->gpu_memory_utilization,
                  "Share of the GPU's memory for weights, activations and the KV cache "
                  "(CUDA, without --kv-cache-memory); the CPU backend uses --kv-cache-memory")
      ->capture_default_str();
  sub->add_option("--dtype", f->dtype, "auto | bfloat16")->capture_default_str();
  sub->add_option("--kv-cache-dtype", f->kv_cache_dtype,
                  "auto | bf16 | fp8 (= fp8_e4m3, CUDA: half the KV memory of bf16, scales 1.0)")
      ->capture_default_str();
  sub->add_option("--tensor-parallel-size", f->tensor_parallel_size,
                  "GPUs to split the model over (CUDA, NCCL): heads and MLP N ways")
      ->capture_default_str();
  sub->add_option("--served-model-name", f->served_model_name,
                  "Model name(s) in the API (default: MODEL_DIR as given)");
  sub->add_option("--api-key", f->api_key, "Require 'Authorization: Bearer KEY' on the API")
      ->envname("QWEN3_API_KEY");
  sub->add_option("--chat-template", f->chat_template, "Jinja chat template file");
  sub->add_flag("--enable-prefix-caching,!--no-enable-prefix-caching", f->enable_prefix_caching,
                "Reuse KV blocks of shared prompt prefixes (default on)");
  sub->add_option("--attention-window", f->attention_window,
                  "Sliding-window attention over the last W tokens plus the sinks, freeing the "
                  "KV blocks outside it (an approximation; 0: full attention)")
      ->capture_default_str();
  sub->add_option("--attention-sinks", f->attention_sinks,
                  "First tokens every query still sees with --attention-window (default 4)");
  sub->add_option("--kv-cache-memory", f->kv_cache_memory,
                  "KV cache budget, e.g. 4GiB (default: 4GiB on the CPU; on CUDA what "
                  "--gpu-memory-utilization leaves after the weights)");
  sub->add_option("--device", f->device,
                  "Backend: cpu, cuda or auto (cuda when this build has it and a GPU is usable)")
      ->capture_default_str();
  sub->add_option("--num-gpu-blocks-override", f->num_gpu_blocks_override,
                  "KV blocks, overriding --kv-cache-memory (0: off)");
  sub->add_option("--block-size", f->block_size, "Tokens per KV block")->capture_default_str();
  sub->add_option("--threads", f->threads, "CPU compute threads (0: all cores)")
      ->capture_default_str();
  sub->add_option("--http-threads", f->http_threads, "Threads serving connections")
      ->capture_default_str();
  sub->add_option("--max-body-size", f->max_body_size, "Larger request bodies get 413")
      ->capture_default_str();
  sub->add_option("--http-timeout", f->http_timeout,
                  "Seconds to receive a whole request; also the keep-alive idle limit")
      ->capture_default_str();
  return [f] { return run_serve(*f); };
}

}  // namespace qwen3::cli
