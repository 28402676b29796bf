// A ResponseSink that records what a handler or job wrote.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "server/generation_job.h"

namespace qwen3::server::test {

// Runs a posted task at once: the tests have no connection executor.
inline const PostFn kInline = [](std::function<void()> task) { task(); };

class FakeSink final : public ResponseSink {
 public:
  void send_response(int s, std::string_view type, std::string b) override {
    status = s;
    content_type = type;
    body = std::move(b);
    done = true;
  }
  void start_stream() override {
    status = 200;
    streaming = true;
  }
  void send_stream(std::string data) override { body += data; }
  void end_stream() override { done = true; }

  Json json() const { return Json::parse(body); }
  // The "data:" payloads of an SSE body, [DONE] included.
  std::vector<std::string> events() const {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < body.size()) {
      const size_t end = body.find("\n\n", pos);
      if (end == std::string::npos) break;
      std::string ev = body.substr(pos, end - pos);
      if (ev.rfind("data: ", 0) == 0) out.push_back(ev.substr(6));
      pos = end + 2;
    }
    return out;
  }

  int status = 0;
  std::string content_type;
  std::string body;
  bool streaming = false;
  bool done = false;
};

}  // namespace qwen3::server::test
