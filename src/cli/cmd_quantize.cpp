#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "core/parse.h"
#include "model/quantize.h"

namespace qwen3::cli {
namespace {

struct QuantizeFlags {
  std::string in_dir;
  std::string out_dir;
  std::string fmt = "e4m3";
  int64_t block = 128;
  std::string skip;
  std::string max_shard_size;  // empty: shard like the input
  bool force = false;
  bool quantize_lm_head = false;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

int run_quantize(const QuantizeFlags& f) {
  QuantizeOptions o;
  o.in_dir = f.in_dir;
  o.out_dir = f.out_dir;
  o.fp8_dtype = parse_fp8_format(f.fmt);
  o.block = f.block;
  o.skip = split_commas(f.skip);
  if (!f.max_shard_size.empty())
    o.max_shard_bytes = parse_size(f.max_shard_size, "--max-shard-size");
  o.force = f.force;
  o.quantize_lm_head = f.quantize_lm_head;
  o.progress = [](size_t done, size_t total, const std::string& name) {
    fmt::print(stderr, "[{}/{}] {}\n", done, total, name);
  };
  const auto t0 = std::chrono::steady_clock::now();
  const QuantizeReport report = quantize_checkpoint(o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print(stderr, "{}", format_quantize_report(report));
  fmt::print(stderr, "wrote {} (fp8 {}, block {}) in {:.1f} s\n", f.out_dir, f.fmt, f.block, s);
  if (f.quantize_lm_head) {
    fmt::print(stderr,
               "note: lm_head is FP8. qwen3 loads it; HF transformers (FineGrainedFP8, 5.17) "
               "keeps lm_head in BF16 and does not read this checkpoint's lm_head correctly\n");
  }
  return 0;
}

}  // namespace

Runner add_quantize(CLI::App& app) {
  auto f = std::make_shared<QuantizeFlags>();
  CLI::App* sub = app.add_subcommand(
      "quantize", "Convert a BF16 checkpoint to block-scaled FP8 (the Qwen3-*-FP8 layout)");
  sub->add_option("IN_DIR", f->in_dir, "BF16 Hugging Face model folder")->required();
  sub->add_option("OUT_DIR", f->out_dir, "Output folder (must not exist unless --force)")
      ->required();
  sub->add_option("--fmt", f->fmt, "FP8 format: e4m3 or e5m2")->capture_default_str();
  sub->add_option("--block", f->block, "Block size of the weight scales (block x block)")
      ->capture_default_str();
  sub->add_option("--skip", f->skip,
                  "Comma-separated modules kept BF16 (substring match, e.g. down_proj); "
                  "lm_head is kept unless --quantize-lm-head");
  sub->add_option("--max-shard-size", f->max_shard_size,
                  "Re-split safetensors above this size (default: shard like the input)");
  sub->add_flag("--force", f->force, "Replace an existing output folder");
  sub->add_flag("--quantize-lm-head", f->quantize_lm_head,
                "Quantize lm_head too (tied embeddings: an FP8 copy of the embedding becomes "
                "lm_head, tie_word_embeddings false). For qwen3: HF transformers keeps lm_head "
                "in BF16 and cannot load it");
  return [f] { return run_quantize(*f); };
}

}  // namespace qwen3::cli
