#include <fmt/core.h>

#include <chrono>

#include "cli/commands.h"
#include "core/error.h"
#include "core/parse.h"
#include "model/init_random.h"

namespace qwen3::cli {
namespace {

struct InitRandomFlags {
  std::string like = "tiny";
  std::string dtype = "bf16";
  uint64_t seed = 0;
  std::string out;
  std::string tokenizer;
  std::string max_shard_size = "4GiB";
  bool force = false;
  bool quantize_lm_head = false;
};

int run_init_random(const InitRandomFlags& f) {
  InitRandomOptions o;
  o.config = config_from_like(f.like);
  if (f.dtype == "fp8" || f.dtype == "fp8-e4m3") {
    o.fp8 = true;
    o.fp8_dtype = DType::kF8E4M3;
  } else if (f.dtype == "fp8-e5m2") {
    o.fp8 = true;
    o.fp8_dtype = DType::kF8E5M2;
  } else if (f.dtype != "bf16") {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--dtype '{}': expected bf16, fp8 (e4m3) or fp8-e5m2",
                f.dtype);
  }
  o.seed = f.seed;
  o.out_dir = f.out;
  o.tokenizer_dir = f.tokenizer;
  o.max_shard_bytes = parse_size(f.max_shard_size, "--max-shard-size");
  o.force = f.force;
  o.fp8_lm_head = f.quantize_lm_head;
  const auto t0 = std::chrono::steady_clock::now();
  init_random_checkpoint(o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print(stderr, "wrote {} ({} layers, hidden {}, vocab {}, {}) in {:.1f} s\n", f.out,
             o.config.num_hidden_layers, o.config.hidden_size, o.config.vocab_size, f.dtype, s);
  return 0;
}

}  // namespace

Runner add_init_random(CLI::App& app) {
  auto f = std::make_shared<InitRandomFlags>();
  CLI::App* sub =
      app.add_subcommand("init-random", "Write a random-weight Qwen3 checkpoint in the HF layout");
  sub->add_option("--like", f->like, "Geometry: qwen3-4b, tiny, or a config.json / model folder")
      ->capture_default_str();
  sub->add_option("--dtype", f->dtype, "Weights: bf16, fp8 (block-128 E4M3) or fp8-e5m2")
      ->capture_default_str();
  sub->add_option("--seed", f->seed, "Random seed (same seed, same weights)")
      ->capture_default_str();
  sub->add_option("--out", f->out, "Output folder (created; must not exist unless --force)")
      ->required();
  sub->add_option("--tokenizer", f->tokenizer, "Folder whose tokenizer files are copied in")
      ->capture_default_str();
  sub->add_option("--max-shard-size", f->max_shard_size, "Split safetensors above this size")
      ->capture_default_str();
  sub->add_flag("--force", f->force, "Replace an existing output folder");
  sub->add_flag("--quantize-lm-head", f->quantize_lm_head,
                "With --dtype fp8*: an FP8 lm_head too, as `quantize --quantize-lm-head` writes");
  return [f] { return run_init_random(*f); };
}

}  // namespace qwen3::cli
