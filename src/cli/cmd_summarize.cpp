// `qwen3 summarize FILE`: map-reduce summary of a long document (summarize/summarizer.h)
// through the in-process engine (--model) or an OpenAI-compatible server (--url).
#include <fmt/core.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>

#include "bench/progress.h"
#include "cli/commands.h"
#include "cli/engine_chat_backend.h"
#include "cli/engine_flags.h"
#include "cli/sampling_flags.h"
#include "core/error.h"
#include "summarize/openai_chat_backend.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::cli {
namespace {

struct SummarizeFlags {
  std::string file;
  std::string output;
  std::string url;
  std::string model_name;
  std::string api_key;
  std::string tokenizer;
  int64_t max_concurrency = 16;
  std::optional<int64_t> max_tokens;  // unset: the preset's
  std::string language;
  std::string chat_template;
  std::string chat_template_kwargs;
  int progress = -1;
  summarize::SplitOptions split;
  SamplingFlags sampling;
  EngineOptions engine;
  int threads = 0;
};

std::string read_document(const std::string& file) {
  if (file == "-") return {std::istreambuf_iterator<char>(std::cin), {}};
  std::ifstream in(file, std::ios::binary);
  if (!in) QWEN3_THROW(ErrorCode::kIo, "{}: cannot open the document", file);
  std::string text{std::istreambuf_iterator<char>(in), {}};
  if (in.bad()) QWEN3_THROW(ErrorCode::kIo, "{}: read error", file);
  return text;
}

int run_summarize(SummarizeFlags& f) {
  const std::string text = read_document(f.file);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: the document is empty", f.file);
  }
  // Checked before anything loads, so the message names the flags.
  summarize::split_text("", f.split, [](std::string_view) { return int64_t{0}; });
  prepare_engine(f.engine, f.threads);
  if (f.sampling.preset.empty()) f.sampling.preset = "summarize";
  const std::string& dir = f.engine.model_dir;  // generation_config.json and tokenizer
  if (f.max_tokens && *f.max_tokens < 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "-n/--max-tokens must be >= 1, got {}", *f.max_tokens);
  }
  const int64_t max_tokens =
      f.max_tokens.value_or(sampling_preset(f.sampling.preset).max_tokens.value_or(2048));
  // With --url the server's model folder may not be here: the preset and flags only.
  const SamplingParams params =
      resolve_sampling_flags(f.sampling, f.url.empty() ? dir : std::string(), max_tokens, false);

  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<summarize::ChatBackend> backend;
  std::unique_ptr<text::Tokenizer> tokenizer;
  EngineBundle bundle;
  std::string where;
  if (f.url.empty()) {
    bundle = build_engine(f.engine);
    params.validate(bundle.model_config().vocab_size);
    backend = std::make_unique<EngineChatBackend>(bundle, dir, params, f.chat_template,
                                                  f.chat_template_kwargs);
    where = fmt::format("{} ({} tokens of KV cache)", dir, bundle.kv_tokens);
  } else {
    tokenizer = text::Tokenizer::load(f.tokenizer.empty() ? dir : f.tokenizer);
    auto b = std::make_unique<summarize::OpenAiChatBackend>(
        summarize::OpenAiChatOptions{.base_url = f.url,
                                     .model = f.model_name,
                                     .api_key = f.api_key,
                                     .max_concurrency = f.max_concurrency,
                                     .sampling = params},
        *tokenizer);
    where = fmt::format("{} (model {})", f.url, b->model());
    backend = std::move(b);
  }

  bench::ProgressBar bar(bench::progress_enabled(f.progress));
  std::mutex mu;
  int64_t done = 0, total = 0;
  auto round_start = std::chrono::steady_clock::now();
  const auto on_round = [&](const std::string& what, int64_t requests) {
    bar.finish();
    fmt::print(stderr, "summarize: {}: {} request{}\n", what, requests, requests == 1 ? "" : "s");
    std::lock_guard<std::mutex> lock(mu);
    done = 0;
    total = requests;
    round_start = std::chrono::steady_clock::now();
  };
  const auto on_done = [&] {
    std::lock_guard<std::mutex> lock(mu);
    ++done;
    bar.update(
        done, 0, total,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - round_start).count());
  };
  const summarize::SummaryReport r = summarize::summarize_text(
      text, *backend, {.split = f.split, .language_hint = f.language}, on_round, on_done);
  bar.finish();
  if (f.output.empty()) {
    fmt::print("{}\n", r.summary);
  } else {
    std::ofstream out(f.output, std::ios::binary);
    out << r.summary << "\n";
    if (!out) QWEN3_THROW(ErrorCode::kIo, "-o {}: cannot write the summary", f.output);
  }
  fmt::print(stderr,
             "summarize: {} tokens in {} chunk{} (--chunk-tokens {}, --chunk-overlap {}), {} "
             "merge request{} in {} round{}, {:.1f} s, via {}\n",
             r.document_tokens, r.chunks, r.chunks == 1 ? "" : "s", f.split.chunk_tokens,
             f.split.overlap_tokens, r.merge_requests, r.merge_requests == 1 ? "" : "s", r.rounds,
             r.rounds == 1 ? "" : "s",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), where);
  return 0;
}

}  // namespace

Runner add_summarize(CLI::App& app) {
  auto f = std::make_shared<SummarizeFlags>();
  f->engine.max_num_seqs = 64;
  CLI::App* sub = app.add_subcommand(
      "summarize",
      "Summarize a long document: split it into chunks, summarize each, merge the summaries");
  sub->add_option("file", f->file, "Text file to summarize ('-': standard input)")->required();
  sub->add_option("-o,--output", f->output, "Write the summary here (default: standard output)");
  sub->add_option("--chunk-tokens", f->split.chunk_tokens, "Tokens per chunk")
      ->capture_default_str();
  sub->add_option("--chunk-overlap", f->split.overlap_tokens,
                  "Tokens of a chunk repeated at the start of the next")
      ->capture_default_str();
  sub->add_option("-n,--max-tokens", f->max_tokens,
                  "Tokens per summary (default: the summarize preset's 2048)");
  sub->add_option("--language", f->language,
                  "Language of the summary, e.g. English (default: the document's)");
  sub->add_option("--url", f->url,
                  "An OpenAI-compatible server (http://host:port) instead of the in-process "
                  "engine");
  sub->add_option("--model-name", f->model_name,
                  "With --url: the model to ask for (default: the first of /v1/models)");
  sub->add_option("--api-key", f->api_key, "With --url: sent as a Bearer token");
  sub->add_option("--max-concurrency", f->max_concurrency, "With --url: requests at once")
      ->capture_default_str();
  sub->add_option("--tokenizer", f->tokenizer,
                  "With --url: folder with the model's tokenizer.json for counting tokens "
                  "(default: --model's)");
  sub->add_option("--chat-template", f->chat_template,
                  "A Jinja template file instead of the model's (in-process engine)");
  sub->add_option("--chat-template-kwargs", f->chat_template_kwargs,
                  "JSON object of template variables (in-process engine)");
  sub->add_flag("--progress{1},--no-progress{0}", f->progress,
                "Progress bar on stderr (default: when stderr is a terminal)");
  add_sampling_flags(sub, f->sampling);
  add_engine_flags(*sub, f->engine, f->threads);
  return [f] { return run_summarize(*f); };
}

}  // namespace qwen3::cli
