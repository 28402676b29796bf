// qwen3_fake_server: the real HTTP server on the ScriptedBackend, with the real Qwen3
// tokenizer and chat template. Replies are the text after "SCRIPT:" in the last message,
// so the node tests can check tool calls and reasoning end to end, exactly.
//   qwen3_fake_server TOKENIZER_DIR PORT
#include <fmt/core.h>

#include <cstdlib>

#include "fake_backend.h"
#include "server/openai_response.h"
#include "server/server.h"

int main(int argc, char** argv) {
  using namespace qwen3;
  using namespace qwen3::server;
  if (argc != 3) {
    fmt::print(stderr, "usage: qwen3_fake_server TOKENIZER_DIR PORT\n");
    return 2;
  }
  const std::string dir = argv[1];
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = static_cast<uint16_t>(std::atoi(argv[2]));
  o.served_model_names = {"fake"};
  o.request_timeout = std::chrono::milliseconds(3000);
  try {
    return run_server(o, [dir] {
      auto m = std::make_shared<ServedModel>();
      m->root = dir;
      m->tokenizer = text::Tokenizer::load(dir);
      m->chat_template = ChatTemplate::from_model_dir(dir);
      m->max_model_len = 4096;
      m->vocab_size = 151936;
      m->created = unix_now();
      m->backend = std::make_unique<test::ScriptedBackend>(*m->tokenizer);
      return m;
    });
  } catch (const std::exception& e) {
    fmt::print(stderr, "qwen3_fake_server: {}\n", e.what());
    return 2;
  }
}
