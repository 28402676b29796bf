// ChatTemplate loading (model folder, tokenizer_config list form, explicit file) and
// message normalization.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "fixture_cases.h"

namespace qwen3 {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

class ChatTemplateDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qwen3_jinja_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  fs::path dir_;
};

const ordered_json kUser = ordered_json::parse(R"([{"role": "user", "content": "hi"}])");

TEST_F(ChatTemplateDir, PrefersChatTemplateJinja) {
  write("chat_template.jinja", "FILE {{ messages[0].content }}{{ eos_token }}");
  write("tokenizer_config.json", R"({"chat_template": "CONFIG", "eos_token": "</s>"})");
  EXPECT_EQ(ChatTemplate::from_model_dir(dir_).render(kUser, nullptr, false), "FILE hi</s>");
}

TEST_F(ChatTemplateDir, ListFormPicksDefaultAndToolUse) {
  write("tokenizer_config.json", R"({"chat_template": [
      {"name": "tool_use", "template": "TOOLS {{ tools | length }}"},
      {"name": "default", "template": "DEFAULT {{ bos_token }}"}],
    "bos_token": {"content": "<s>", "lstrip": false}})");
  const ChatTemplate t = ChatTemplate::from_model_dir(dir_);
  EXPECT_TRUE(t.has_tool_use_template());
  EXPECT_EQ(t.render(kUser, nullptr, false), "DEFAULT <s>");
  EXPECT_EQ(t.render(kUser, ordered_json::array(), false), "DEFAULT <s>");
  EXPECT_EQ(t.render(kUser, ordered_json::parse(R"([{"type": "function"}])"), false), "TOOLS 1");
}

TEST_F(ChatTemplateDir, MissingOrMalformedNamesTheFile) {
  try {
    ChatTemplate::from_model_dir(dir_);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find(dir_.string()), std::string::npos);
  }
  write("tokenizer_config.json", "{not json");
  try {
    ChatTemplate::from_model_dir(dir_);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos);
  }
  write("tokenizer_config.json", R"({"eos_token": "</s>"})");
  EXPECT_THROW(ChatTemplate::from_model_dir(dir_), Error);
  write("tokenizer_config.json", R"({"chat_template": [{"name": "x", "template": "y"}]})");
  EXPECT_THROW(ChatTemplate::from_model_dir(dir_), Error);
  EXPECT_THROW(ChatTemplate::from_file(dir_ / "absent.jinja"), Error);
  write("bad.jinja", "{% if %}");
  try {
    ChatTemplate::from_file(dir_ / "bad.jinja");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jinja:1:7"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplate, NormalizesContentParts) {
  const ChatTemplate t = ChatTemplate::from_string(
      "{% for m in messages %}[{{ m.content }}]{% endfor %}", "t.jinja");
  const ordered_json messages = ordered_json::parse(R"([
    {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    {"role": "assistant", "content": null}])");
  EXPECT_EQ(t.render(messages, nullptr, false), "[a\nb][]");
  const ordered_json image = ordered_json::parse(
      R"([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])");
  EXPECT_THROW(t.render(image, nullptr, false), Error);
  EXPECT_THROW(t.render(ordered_json::object(), nullptr, false), Error);
  EXPECT_THROW(t.render(kUser, nullptr, false, ordered_json{{"messages", 1}}), Error);
}

TEST(ChatTemplate, KwargsOverrideSpecialTokens) {
  const ChatTemplate t =
      ChatTemplate::from_string("{{ eos_token }}|{{ flag }}", "t.jinja", SpecialTokens{"<s>", "</s>"});
  EXPECT_EQ(t.render(kUser, nullptr, false), "</s>|");
  EXPECT_EQ(t.render(kUser, nullptr, false, ordered_json{{"eos_token", "E"}, {"flag", 1}}), "E|1");
}

}  // namespace
}  // namespace qwen3
