// A fake OpenAI-compatible streaming server for the bench tests (Beast, loopback, a free
// port): known delays and token counts, so the numbers `qwen3 bench serve` reports can be
// checked. Runs on its own thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>

namespace qwen3::bench::test {

struct FakeServerConfig {
  double ttft_s = 0.05;             // before the first token chunk
  double itl_s = 0.01;              // between token chunks
  std::string token_text = " tok";  // the text of every token chunk
  bool send_usage = true;           // usage chunk when stream_options.include_usage
  bool split_events = true;         // each SSE event in two HTTP chunks, 1 ms apart
  std::string model = "fake-model";
};

// Replies: GET /v1/models; POST /v1/completions and /v1/chat/completions streaming
// max_tokens chunks of token_text (chat: a role-only chunk first). A prompt containing
// "FAIL" gets HTTP 400; "STREAMERR" gets an error object in the stream after 1 token;
// "STALL" waits 3 s before streaming; "NOSTREAM" gets one JSON body, no SSE.
class FakeOpenAiServer {
 public:
  explicit FakeOpenAiServer(FakeServerConfig config);
  ~FakeOpenAiServer();

  std::string url() const;  // http://127.0.0.1:PORT
  int max_in_flight() const;
  int requests() const;     // POSTs seen
  int connections() const;  // TCP connections accepted

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qwen3::bench::test
