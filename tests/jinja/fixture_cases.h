// Shared by the jinja tests: the conversation cases and reference outputs written by
// tools/fixtures/make_template_fixtures.mjs.
#pragma once

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "tokenizer/jinja/chat_template.h"

namespace qwen3::jinja_test {

inline nlohmann::ordered_json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return nlohmann::ordered_json::parse(ss.str());
}

inline const nlohmann::ordered_json& cases() {
  static const nlohmann::ordered_json c =
      read_json_file(std::string(QWEN3_TEST_DATA_DIR) + "/templates/cases.json");
  return c;
}

inline const nlohmann::ordered_json& expected_outputs() {
  static const nlohmann::ordered_json e =
      read_json_file(std::string(QWEN3_FIXTURES_DIR) + "/templates/expected.json").at("outputs");
  return e;
}

inline std::string template_path(const std::string& file) {
  return std::string(QWEN3_TEST_DATA_DIR) + "/templates/" + file;
}

// Qwen3's tokenizer_config.json: bos_token null, eos_token "<|im_end|>".
inline SpecialTokens qwen3_tokens() { return SpecialTokens{std::nullopt, "<|im_end|>"}; }

inline std::string render_case(const ChatTemplate& t, const nlohmann::ordered_json& c) {
  return t.render(c.at("messages"), c.value("tools", nlohmann::ordered_json()),
                  c.at("add_generation_prompt").get<bool>(),
                  c.value("kwargs", nlohmann::ordered_json()));
}

}  // namespace qwen3::jinja_test
