// Prompts for `qwen3 bench serve`: random token prompts of exact lengths (vLLM's random
// dataset) or prompts read from a JSONL / ShareGPT file. Lengths are real tokens of the
// given tokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qwen3::text {
class Tokenizer;
}

namespace qwen3::bench {

struct BenchPrompt {
  std::string prompt;
  int64_t prompt_len = 0;  // tokens of `prompt` (encoded as the server would, no template)
  int64_t output_len = 0;  // max_tokens to ask for
};

struct RandomDatasetOptions {
  int64_t num_prompts = 1000;
  int64_t input_len = 1024;
  int64_t output_len = 128;
  double range_ratio = 0.0;  // lengths uniform in [len * (1 - r), len * (1 + r)], r in [0, 1)
  uint64_t seed = 0;
};

// As `vllm bench serve --dataset-name random`: random token ids (ordinary tokens only: no
// added/special tokens, no byte fragments) decoded to text, re-encoded, and adjusted
// (truncate or extend, then decode again) until the text encodes to exactly the drawn
// length. Deterministic in the seed.
std::vector<BenchPrompt> random_dataset(const text::Tokenizer& tok, const RandomDatasetOptions& o);

struct FileDatasetOptions {
  std::string path;
  int64_t num_prompts = 1000;
  int64_t output_len = 128;  // when a record names none
};

// One JSON object per line (blank lines skipped), or one JSON array of such objects.
// The prompt is "prompt" (string), else the first human/user turn of "conversations"
// (ShareGPT: {"from": "human", "value": ...}) or "messages" ({"role", "content"}).
// max_tokens is "output_len" or "max_tokens" if present, else the token length of the
// turn that answers the prompt in a conversation (as vLLM's ShareGPT dataset), else
// `output_len`. The first num_prompts records are used, cycled if the file has fewer.
// Throws Error(kIo / kInvalidArgument) naming the file and line.
std::vector<BenchPrompt> file_dataset(const text::Tokenizer& tok, const FileDatasetOptions& o);

}  // namespace qwen3::bench
