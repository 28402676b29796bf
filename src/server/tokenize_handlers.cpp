// POST /tokenize and /detokenize with vLLM's request and response shapes.
#include <fmt/core.h>

#include "server/openai_handlers.h"
#include "server/openai_request.h"

namespace qwen3::server {

void handle_tokenize(const HandlerEnv& env, std::string_view body) {
  const Json j = parse_json_body(body);
  check_model_name(env.state, opt_string(j, "model").value_or(""));
  const ServedModel& m = env.model;
  std::string text;
  if (opt_field(j, "messages") != nullptr) {
    // Same validation as a chat request (a per-request chat_template is refused there
    // too); only the template inputs are used.
    const ChatRequest r = parse_chat_request(j);
    text = render_chat_prompt(m, r.messages, r.tools, r.add_generation_prompt,
                              r.continue_final_message, r.chat_template_kwargs);
  } else if (auto prompt = opt_string(j, "prompt")) {
    text = *prompt;
  } else {
    throw bad_request("prompt", "give 'prompt' (a string) or 'messages'");
  }
  // Qwen3 has no BOS token, so add_special_tokens changes nothing; it is still checked.
  (void)opt_bool(j, "add_special_tokens");
  const std::vector<int32_t> ids = m.tokenizer->encode(text);
  Json out;
  out["count"] = ids.size();
  out["max_model_len"] = m.max_model_len;
  out["tokens"] = ids;
  out["token_strs"] = nullptr;
  if (opt_bool(j, "return_token_strs").value_or(false)) {
    Json strs = Json::array();
    for (const int32_t id : ids) strs.push_back(token_text(*m.tokenizer, id));
    out["token_strs"] = std::move(strs);
  }
  send_json(*env.sink, 200, out);
}

void handle_detokenize(const HandlerEnv& env, std::string_view body) {
  const Json j = parse_json_body(body);
  check_model_name(env.state, opt_string(j, "model").value_or(""));
  const Json* tokens = opt_field(j, "tokens");
  if (tokens == nullptr || !tokens->is_array()) {
    throw bad_request("tokens", "'tokens' must be a list of token ids");
  }
  std::vector<int32_t> ids;
  for (const Json& t : *tokens) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
        t.get<int64_t>() >= env.model.vocab_size) {
      throw bad_request(
          "tokens", fmt::format("'tokens' must hold token ids in [0, {})", env.model.vocab_size));
    }
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  send_json(*env.sink, 200, Json{{"prompt", env.model.tokenizer->decode(ids)}});
}

}  // namespace qwen3::server
