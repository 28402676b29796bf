#include "bench/dataset.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::bench {
namespace {

using nlohmann::json;

// Ordinary vocabulary entries that decode to themselves (whole UTF-8 characters).
std::vector<int32_t> clean_token_ids(const text::Tokenizer& tok) {
  std::vector<bool> added(static_cast<size_t>(tok.vocab_size()), false);
  for (const auto& a : tok.added_tokens()) {
    if (a.id >= 0 && a.id < tok.vocab_size()) added[static_cast<size_t>(a.id)] = true;
  }
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (added[static_cast<size_t>(id)]) continue;
    const std::string& bytes = tok.token_bytes(id);
    if (!bytes.empty() && tok.decode({id}) == bytes) ids.push_back(id);
  }
  if (ids.empty()) QWEN3_THROW(ErrorCode::kInvalidArgument, "the tokenizer has no usable tokens");
  return ids;
}

int64_t draw_len(std::mt19937_64& gen, int64_t len, double ratio) {
  const int64_t lo = std::max<int64_t>(1, static_cast<int64_t>(std::floor(len * (1 - ratio))));
  const int64_t hi = std::max(lo, static_cast<int64_t>(std::ceil(len * (1 + ratio))));
  return lo + static_cast<int64_t>(gen() % static_cast<uint64_t>(hi - lo + 1));
}

// Text that encodes to exactly `target` tokens (vLLM's gen_prompt_decode_to_target_len,
// iterated until exact). Returns the best text found and its real length.
std::pair<std::string, int64_t> exact_length_text(const text::Tokenizer& tok,
                                                  const std::vector<int32_t>& pool,
                                                  std::mt19937_64& gen, int64_t target) {
  const auto draw = [&] { return pool[gen() % pool.size()]; };
  std::vector<int32_t> ids(static_cast<size_t>(target));
  for (int32_t& id : ids) id = draw();
  std::pair<std::string, int64_t> best{"", -1};
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::string text = tok.decode(ids);
    std::vector<int32_t> re = tok.encode(text);
    const int64_t n = static_cast<int64_t>(re.size());
    if (best.second < 0 || std::llabs(n - target) < std::llabs(best.second - target)) {
      best = {text, n};
    }
    if (n == target) return best;
    if (n > target) {
      re.resize(static_cast<size_t>(target));
    } else {
      while (static_cast<int64_t>(re.size()) < target) re.push_back(draw());
    }
    ids = std::move(re);
  }
  return best;
}

}  // namespace

std::vector<BenchPrompt> random_dataset(const text::Tokenizer& tok, const RandomDatasetOptions& o) {
  if (o.input_len < 1 || o.output_len < 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--random-input-len and --random-output-len must be >= 1, got {} and {}",
                o.input_len, o.output_len);
  }
  if (!(o.range_ratio >= 0 && o.range_ratio < 1)) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--random-range-ratio must be in [0, 1), got {}",
                o.range_ratio);
  }
  const std::vector<int32_t> pool = clean_token_ids(tok);
  std::mt19937_64 gen(o.seed);
  std::vector<BenchPrompt> out;
  for (int64_t i = 0; i < o.num_prompts; ++i) {
    const int64_t in_len = draw_len(gen, o.input_len, o.range_ratio);
    const int64_t out_len = draw_len(gen, o.output_len, o.range_ratio);
    auto [prompt, len] = exact_length_text(tok, pool, gen, in_len);
    out.push_back({std::move(prompt), len, out_len});
  }
  return out;
}

namespace {

// ShareGPT {"from", "value"} or chat {"role", "content"} turns: the first user turn and
// the turn after it.
std::pair<const json*, const json*> first_user_turn(const json& turns) {
  if (!turns.is_array()) return {nullptr, nullptr};
  for (size_t i = 0; i < turns.size(); ++i) {
    const json& t = turns[i];
    if (!t.is_object()) continue;
    const std::string who = t.value("from", t.value("role", std::string()));
    const json* text = t.contains("value")     ? &t["value"]
                       : t.contains("content") ? &t["content"]
                                               : nullptr;
    if ((who == "human" || who == "user") && text != nullptr && text->is_string()) {
      const json* next = nullptr;
      if (i + 1 < turns.size() && turns[i + 1].is_object()) {
        const json& n = turns[i + 1];
        next = n.contains("value") ? &n["value"] : n.contains("content") ? &n["content"] : nullptr;
      }
      return {text, next != nullptr && next->is_string() ? next : nullptr};
    }
  }
  return {nullptr, nullptr};
}

BenchPrompt record_prompt(const text::Tokenizer& tok, const json& rec, int64_t default_out,
                          const std::string& where) {
  if (!rec.is_object()) QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: not a JSON object", where);
  BenchPrompt p;
  p.output_len = default_out;
  const json* reply = nullptr;
  if (rec.contains("prompt") && rec["prompt"].is_string()) {
    p.prompt = rec["prompt"].get<std::string>();
  } else {
    static const json kNone;
    const json& turns = rec.contains("conversations") ? rec["conversations"]
                        : rec.contains("messages")    ? rec["messages"]
                                                      : kNone;
    auto [turn, next] = first_user_turn(turns);
    if (turn == nullptr) {
      QWEN3_THROW(ErrorCode::kInvalidArgument,
                  "{}: no \"prompt\" string and no user turn in \"conversations\"/\"messages\"",
                  where);
    }
    p.prompt = turn->get<std::string>();
    reply = next;
  }
  for (const char* key : {"output_len", "max_tokens"}) {
    if (rec.contains(key) && rec[key].is_number_integer()) {
      p.output_len = rec[key].get<int64_t>();
      reply = nullptr;
      break;
    }
  }
  if (reply != nullptr)
    p.output_len = static_cast<int64_t>(tok.encode(reply->get<std::string>()).size());
  p.output_len = std::max<int64_t>(p.output_len, 1);
  p.prompt_len = static_cast<int64_t>(tok.encode(p.prompt).size());
  return p;
}

std::vector<std::pair<json, std::string>> read_records(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) QWEN3_THROW(ErrorCode::kIo, "--dataset-path {}: cannot open", path);
  const std::string all((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::pair<json, std::string>> out;
  const size_t first = all.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && all[first] == '[') {
    json arr = json::parse(all, nullptr, false);
    if (!arr.is_array()) QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: invalid JSON array", path);
    for (size_t i = 0; i < arr.size(); ++i) {
      out.emplace_back(std::move(arr[i]), path + " [" + std::to_string(i) + "]");
    }
    return out;
  }
  size_t pos = 0;
  for (int64_t line_no = 1; pos < all.size(); ++line_no) {
    size_t end = all.find('\n', pos);
    if (end == std::string::npos) end = all.size();
    const std::string_view line = std::string_view(all).substr(pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    json rec = json::parse(line, nullptr, false);
    const std::string where = path + ":" + std::to_string(line_no);
    if (rec.is_discarded()) QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: invalid JSON", where);
    out.emplace_back(std::move(rec), where);
  }
  return out;
}

}  // namespace

std::vector<BenchPrompt> file_dataset(const text::Tokenizer& tok, const FileDatasetOptions& o) {
  const auto records = read_records(o.path);
  if (records.empty()) QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: no prompts", o.path);
  std::vector<BenchPrompt> parsed;
  const size_t n =
      std::min(records.size(), static_cast<size_t>(std::max<int64_t>(o.num_prompts, 0)));
  for (size_t i = 0; i < n; ++i) {
    parsed.push_back(record_prompt(tok, records[i].first, o.output_len, records[i].second));
  }
  std::vector<BenchPrompt> out;
  for (int64_t i = 0; i < o.num_prompts; ++i) out.push_back(parsed[static_cast<size_t>(i) % n]);
  return out;
}

}  // namespace qwen3::bench
