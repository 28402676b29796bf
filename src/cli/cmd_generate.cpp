#include <fmt/core.h>
#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "backends/cpu/cpu_generate.h"
#include "cli/chat_prompt.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/parse.h"
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
  bool ignore_eos = false;
  std::string trace_out;
};

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
  const GenerationConfig gen = GenerationConfig::load(dir);
  std::vector<int64_t> stop = gen.eos_token_ids.empty() ? c.eos_token_ids : gen.eos_token_ids;
  if (f.ignore_eos) stop.clear();

  cpu::CpuModel model(*weights);
  if (!f.trace_out.empty()) write_prefill_trace(model, prompt, f.trace_out);
  std::unique_ptr<text::IncrementalDetokenizer> detok;
  if (text_mode) {
    detok = std::make_unique<text::IncrementalDetokenizer>(*tok, /*skip_special_tokens=*/true);
  }
  std::unique_ptr<ChatPrinter> chat;
  if (!f.chat.empty()) chat = std::make_unique<ChatPrinter>(starts_in_reasoning);
  const auto emit = [&](const std::string& piece) {
    if (chat) {
      chat->feed(piece);
    } else {
      fmt::print("{}", piece);
      std::fflush(stdout);
    }
  };
  const auto stream = [&](int32_t id) {
    if (detok) emit(detok->push(id));
  };
  const cpu::GreedyResult r = cpu::generate_greedy(model, prompt, f.max_tokens, stop, stream);
  if (detok) {
    emit(detok->finish());
    if (chat) chat->finish();
    fmt::print("\n");
  } else {
    fmt::print("{}\n", fmt::join(r.tokens, ","));
  }
  const double decode_steps = static_cast<double>(r.tokens.size() > 1 ? r.tokens.size() - 1 : 0);
  fmt::print(stderr,
             "model {} ({} layers, {}) loaded in {:.2f} s on CPU ({} threads)\n"
             "prefill {} tokens: {:.1f} ms ({:.1f} tok/s); decode {} tokens: {:.1f} tok/s{}\n",
             dir, c.num_hidden_layers, c.quant.fp8 ? "fp8" : "bf16", load_s, omp_get_max_threads(),
             prompt.size(), r.prefill_seconds * 1e3, prompt.size() / r.prefill_seconds,
             r.tokens.size(), decode_steps > 0 ? decode_steps / r.decode_seconds : 0.0,
             r.stopped_on_eos ? " (stopped at eos)" : "");
  return 0;
}

}  // namespace

std::string default_model_dir() {
  const char* env = std::getenv("QWEN3_MODEL");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string("models/default");
}

Runner add_generate(CLI::App& app) {
  auto f = std::make_shared<GenerateFlags>();
  CLI::App* sub =
      app.add_subcommand("generate", "Greedy generation from text or token ids (CPU backend)");
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
  sub->add_flag("--ignore-eos", f->ignore_eos, "Keep generating past end-of-sequence tokens");
  sub->add_option("--trace-out", f->trace_out,
                  "Write the prompt's per-layer activations and logits to this .safetensors");
  return [f] { return run_generate(*f); };
}

}  // namespace qwen3::cli
