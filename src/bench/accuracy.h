// `qwen3 bench accuracy`: how far a model (an FP8 checkpoint, another backend) is from a
// reference model over the same tokens. Both run the same random prompt, then decode
// teacher-forced on the reference's greedy tokens; every step compares the two logits
// rows: cosine, max |difference|, top-1 agreement and KL(reference || model).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace qwen3::bench {

// One row's comparison (double accumulation; softmax of the float32 logits).
struct LogitsComparison {
  double cosine = 0;
  double max_abs = 0;
  double kl = 0;  // KL(P_ref || P_model), nats
  bool top1_agree = false;
};
LogitsComparison compare_logits(std::span<const float> reference, std::span<const float> model);

struct AccuracyConfig {
  std::string model_dir;      // the model under test
  std::string reference_dir;  // the reference (BF16) model, same geometry
  std::string device = "auto";
  std::string reference_device;  // empty: same as device
  int64_t prompt_len = 64;
  int64_t steps = 1000;  // decode steps after the prompt
  uint64_t seed = 0;
  std::string output_json;
};

// Prints the summary table, writes the JSON; returns the process exit code.
int run_bench_accuracy(const AccuracyConfig& config);

}  // namespace qwen3::bench
