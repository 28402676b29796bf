#include <fmt/core.h>
#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "backends/cpu/cpu_model.h"
#include "backends/runner_factory.h"
#include "cli/chat_prompt.h"
#include "cli/commands.h"
#include "cli/sampling_flags.h"
#include "core/error.h"
#include "core/parse.h"
#include "engine/engine.h"
#include "model/safetensors_writer.h"
#include "model/weights.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::cli {
namespace {

struct GenerateFlags {
  std::string model;
  std::string prompt_ids;
  std::string prompt;
  std::string chat;
  std::string system;
  std::string chat_template;
  std::string chat_template_kwargs;
  int64_t max_tokens = 32;
  int threads = 0;
  std::string device = "auto";
  bool ignore_eos = false;
  std::string trace_out;
  SamplingFlags sampling;
};

struct Timing {
  double prefill_seconds = 0;  // submit -> first token
  double decode_seconds = 0;   // first token -> last token
  int64_t tokens = 0;
  bool stopped = false;
  std::string stop_reason;
};

// Runs one request through the engine on the CPU backend, streaming each delta to `emit`.
Timing run_request(Device device, const Qwen3Weights& weights, const text::Tokenizer* tok,
                   const std::vector<int32_t>& prompt, const SamplingParams& params,
                   const std::vector<int64_t>& eos_token_ids,
                   const std::function<void(const ChoiceDelta&)>& emit) {
  constexpr int64_t kBlock = 16;
  const auto len = static_cast<int64_t>(prompt.size()) + params.max_tokens;
  const int64_t model_max = weights.config().max_position_embeddings;
  if (len > model_max) {
    QWEN3_THROW(ErrorCode::kContextLength,
                "the prompt ({} tokens) plus -n {} exceeds the model's context of {} tokens",
                prompt.size(), params.max_tokens, model_max);
  }
  const auto runner_ptr = make_runner(device, weights, (len + kBlock - 1) / kBlock + 1, kBlock);
  ModelRunner& runner = *runner_ptr;
  EngineConfig config;
  config.max_num_seqs = 1;
  config.max_num_batched_tokens = std::max<int64_t>(len, 1);
  config.eos_token_ids = eos_token_ids;  // empty: config.json's
  Engine engine(config, weights.config(), runner, tok);
  EngineRequest request{prompt, params, 0};
  engine.validate(request);
  engine.add(1, std::move(request));
  Timing t;
  const auto start = std::chrono::steady_clock::now();
  auto first = start;
  while (engine.has_work()) {
    for (const RequestOutput& o : engine.step()) {
      for (const ChoiceDelta& d : o.choices) {
        if (t.tokens == 0 && !d.token_ids.empty()) first = std::chrono::steady_clock::now();
        t.tokens += static_cast<int64_t>(d.token_ids.size());
        emit(d);
        if (d.finish_reason == FinishReason::kStop) {
          t.stopped = true;
          t.stop_reason = d.stop_reason;
        }
      }
    }
  }
  const auto end = std::chrono::steady_clock::now();
  t.prefill_seconds = std::chrono::duration<double>(first - start).count();
  t.decode_seconds = std::chrono::duration<double>(end - first).count();
  return t;
}

// Runs the prompt once with every named intermediate recorded, and writes them (float32,
// "layers.{i}.{name}" or "{name}", one row per token) to a safetensors file for diffing
// against HF transformers.
void write_prefill_trace(const cpu::CpuModel& model, std::span<const int32_t> prompt,
                         const std::string& path) {
  std::vector<TensorSpec> specs;
  auto data = std::make_shared<std::vector<std::vector<float>>>();
  const cpu::TraceFn trace = [&](std::string_view name, int64_t layer, const float* p, int64_t rows,
                                 int64_t cols) {
    data->emplace_back(p, p + rows * cols);
    const std::string full =
        layer < 0 ? std::string(name) : fmt::format("layers.{}.{}", layer, name);
    specs.push_back({full, DType::kF32, {rows, cols}, [data, i = data->size() - 1](uint8_t* dst) {
                       std::memcpy(dst, (*data)[i].data(), (*data)[i].size() * 4);
                     }});
  };
  cpu::KvCache cache(model.config(), static_cast<int64_t>(prompt.size()));
  model.forward(prompt, cache, cpu::LogitsMode::kAll, trace);
  std::vector<const TensorSpec*> ptrs;
  for (const auto& s : specs) ptrs.push_back(&s);
  write_safetensors_file(path, ptrs);
}

// The prompt as token ids, from exactly one of --prompt-ids / --prompt / --chat.
std::vector<int32_t> resolve_prompt(const GenerateFlags& f, const std::string& dir,
                                    const text::Tokenizer* tok, bool* starts_in_reasoning) {
  if (!f.prompt_ids.empty()) return parse_id_list(f.prompt_ids, "--prompt-ids");
  std::string text = f.prompt;
  if (!f.chat.empty()) {
    const RenderedChat chat =
        render_chat({dir, f.chat, f.system, f.chat_template, f.chat_template_kwargs});
    text = chat.prompt;
    *starts_in_reasoning = chat.starts_in_reasoning;
  }
  std::vector<int32_t> ids = tok->encode(text);
  if (ids.empty()) QWEN3_THROW(ErrorCode::kInvalidArgument, "--prompt: the text is empty");
  return ids;
}

int run_generate(const GenerateFlags& f) {
  if (f.threads > 0) omp_set_num_threads(f.threads);
  const std::string dir = f.model.empty() ? default_model_dir() : f.model;
  if (f.max_tokens < 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "-n/--max-tokens must be >= 1, got {}", f.max_tokens);
  }
  // Checked before anything is loaded, so the message names the flags, not a missing file.
  if (!f.prompt_ids.empty() + !f.prompt.empty() + !f.chat.empty() != 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "give exactly one of --prompt TEXT, --chat MESSAGE or --prompt-ids 1,2,3");
  }
  const Device device = resolve_device(parse_device(f.device));
  const bool text_mode = f.prompt_ids.empty();
  std::unique_ptr<text::Tokenizer> tok;
  if (text_mode) tok = text::Tokenizer::load(dir);
  bool starts_in_reasoning = false;
  const std::vector<int32_t> prompt = resolve_prompt(f, dir, tok.get(), &starts_in_reasoning);

  const auto t0 = std::chrono::steady_clock::now();
  const auto weights = Qwen3Weights::load(dir);
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ModelConfig& c = weights->config();
  for (int32_t id : prompt) {
    if (id >= c.vocab_size) {
      QWEN3_THROW(ErrorCode::kInvalidArgument,
                  "prompt token id {} is outside the vocabulary [0, {})", id, c.vocab_size);
    }
  }
  const SamplingParams params = resolve_sampling_flags(f.sampling, dir, f.max_tokens, f.ignore_eos);
  params.validate(c.vocab_size);

  if (!f.trace_out.empty()) write_prefill_trace(cpu::CpuModel(*weights), prompt, f.trace_out);
  std::unique_ptr<ChatPrinter> chat;
  if (!f.chat.empty()) chat = std::make_unique<ChatPrinter>(starts_in_reasoning);
  std::vector<int32_t> ids;
  const auto emit = [&](const ChoiceDelta& d) {
    ids.insert(ids.end(), d.token_ids.begin(), d.token_ids.end());
    if (!text_mode) return;
    if (chat) {
      chat->feed(d.text);
    } else {
      fmt::print("{}", d.text);
      std::fflush(stdout);
    }
  };
  const Timing t = run_request(device, *weights, tok.get(), prompt, params,
                               GenerationConfig::load(dir).eos_token_ids, emit);
  if (text_mode) {
    if (chat) chat->finish();
    fmt::print("\n");
  } else {
    fmt::print("{}\n", fmt::join(ids, ","));
  }
  const double decode_steps = static_cast<double>(t.tokens > 1 ? t.tokens - 1 : 0);
  fmt::print(stderr,
             "model {} ({} layers, {}) loaded in {:.2f} s; running on {} ({} CPU threads)\n"
             "prefill {} tokens: {:.1f} ms ({:.1f} tok/s); decode {} tokens: {:.1f} tok/s{}\n",
             dir, c.num_hidden_layers, c.quant.fp8 ? "fp8" : "bf16", load_s,
             device == Device::kCuda ? "CUDA" : "CPU", omp_get_max_threads(),
             prompt.size(), t.prefill_seconds * 1e3, prompt.size() / t.prefill_seconds, t.tokens,
             decode_steps > 0 ? decode_steps / t.decode_seconds : 0.0,
             t.stopped
                 ? fmt::format(" (stopped{}{})", t.stop_reason.empty() ? "" : " at ", t.stop_reason)
                 : "");
  return 0;
}

}  // namespace

std::string default_model_dir() {
  const char* env = std::getenv("QWEN3_MODEL");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string("models/default");
}

Runner add_generate(CLI::App& app) {
  auto f = std::make_shared<GenerateFlags>();
  CLI::App* sub = app.add_subcommand(
      "generate", "Generate from text, a chat message or token ids");
  sub->add_option("--model,-m", f->model, "Model folder (default: $QWEN3_MODEL or models/default)");
  sub->add_option("--prompt", f->prompt,
                  "Prompt text (tokenized with the model's tokenizer.json); prints text");
  sub->add_option("--chat", f->chat,
                  "A user message, rendered with the model's chat template; prints the reply");
  sub->add_option("--system", f->system, "With --chat: a system message");
  sub->add_option("--chat-template", f->chat_template,
                  "With --chat: a Jinja template file instead of the model's");
  sub->add_option(
      "--chat-template-kwargs", f->chat_template_kwargs,
      "With --chat: JSON object of template variables, e.g. '{\"enable_thinking\": false}'");
  sub->add_option("--prompt-ids", f->prompt_ids,
                  "Prompt as comma-separated token ids, e.g. 1,2,3; prints ids");
  sub->add_option("-n,--max-tokens", f->max_tokens, "Tokens to generate")->capture_default_str();
  sub->add_option("--threads", f->threads, "CPU threads (0: all cores)")->capture_default_str();
  sub->add_option("--device", f->device, "Backend: cpu, cuda or auto (cuda when a GPU is usable)")
      ->capture_default_str();
  sub->add_flag("--ignore-eos", f->ignore_eos, "Keep generating past end-of-sequence tokens");
  add_sampling_flags(sub, f->sampling);
  sub->add_option("--trace-out", f->trace_out,
                  "Write the prompt's per-layer activations and logits to this .safetensors");
  return [f] { return run_generate(*f); };
}

}  // namespace qwen3::cli
