// Incremental parser for `text/event-stream` bodies (the WHATWG rules the OpenAI
// streaming APIs follow): bytes are fed as the network delivers them, split anywhere,
// even inside a CRLF; each event ends at a blank line and yields its `data` field.
// Comments (":" lines) and the event/id/retry fields are ignored. O(bytes).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qwen3::bench {

class SseParser {
 public:
  // Appends the data of every event that `bytes` completes to `events` (multi-line data
  // joined with '\n', as the spec says).
  void feed(std::string_view bytes, std::vector<std::string>& events);
  // End of the body: a last event without its blank line is dispatched too (lenient;
  // the spec would drop it).
  void finish(std::vector<std::string>& events);

 private:
  void end_line(std::vector<std::string>& events);

  std::string line_;  // the current, incomplete line
  std::string data_;  // data lines of the event being built, each followed by '\n'
  bool has_data_ = false;
  bool after_cr_ = false;  // last byte was '\r': a following '\n' belongs to it
};

}  // namespace qwen3::bench
