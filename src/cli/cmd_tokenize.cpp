#include <fmt/core.h>
#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/parse.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace qwen3::cli {
namespace {

struct TokenizeFlags {
  std::string model;
  std::string text;
  std::string file;
  std::string decode_ids;
  bool pieces = false;
  bool no_special = false;
  bool skip_special = false;
};

int run_tokenize(const TokenizeFlags& f) {
  const std::string dir = f.model.empty() ? default_model_dir() : f.model;
  const int inputs = !f.text.empty() + !f.file.empty() + !f.decode_ids.empty();
  if (inputs != 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "give exactly one of --text, --file or --decode");
  }
  const auto tok = text::Tokenizer::load(dir);
  if (!f.decode_ids.empty()) {
    const std::vector<int32_t> ids = parse_id_list(f.decode_ids, "--decode");
    fmt::print("{}\n", tok->decode(ids, f.skip_special));
    return 0;
  }
  std::string input = f.text;
  if (!f.file.empty()) {
    std::ifstream in(f.file, std::ios::binary);
    if (!in) QWEN3_THROW(ErrorCode::kIo, "--file {}: cannot open", f.file);
    input.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::vector<int32_t> ids = tok->encode(input, /*parse_special=*/!f.no_special);
  if (f.pieces) {
    for (int32_t id : ids) {
      fmt::print("{}\t{}\n", id, nlohmann::json(text::sanitize_utf8(tok->token_bytes(id))).dump());
    }
  } else {
    fmt::print("{}\n", fmt::join(ids, ","));
  }
  fmt::print(stderr, "{} tokens\n", ids.size());
  return 0;
}

}  // namespace

Runner add_tokenize(CLI::App& app) {
  auto f = std::make_shared<TokenizeFlags>();
  CLI::App* sub =
      app.add_subcommand("tokenize", "Text to token ids (and pieces), or ids back to text");
  sub->add_option("--model,-m", f->model,
                  "Model folder with tokenizer.json (default: $QWEN3_MODEL or models/default)");
  sub->add_option("--text", f->text, "Text to tokenize");
  sub->add_option("--file", f->file, "File whose contents to tokenize");
  sub->add_option("--decode", f->decode_ids, "Comma-separated ids to turn back into text");
  sub->add_flag("--pieces", f->pieces, "Print one token per line: id and its text piece");
  sub->add_flag("--no-special", f->no_special,
                "Treat special-token text literally (no added-token matching)");
  sub->add_flag("--skip-special", f->skip_special, "With --decode: drop special tokens");
  return [f] { return run_tokenize(*f); };
}

}  // namespace qwen3::cli
