#include "bench/sse.h"

namespace qwen3::bench {

void SseParser::feed(std::string_view bytes, std::vector<std::string>& events) {
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // the LF of a CRLF split across two feeds or not
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      end_line(events);
    } else {
      line_.push_back(c);
    }
  }
}

void SseParser::finish(std::vector<std::string>& events) {
  if (!line_.empty()) end_line(events);
  if (has_data_) end_line(events);  // the blank line that never came
}

void SseParser::end_line(std::vector<std::string>& events) {
  if (line_.empty()) {  // blank line: dispatch
    if (has_data_) {
      data_.pop_back();  // the '\n' after the last data line
      events.push_back(std::move(data_));
    }
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line_.front() != ':') {
    const size_t colon = line_.find(':');
    const std::string_view field = std::string_view(line_).substr(0, colon);
    std::string_view value;
    if (colon != std::string::npos) {
      value = std::string_view(line_).substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      data_.append(value);
      data_.push_back('\n');
      has_data_ = true;
    }
  }
  line_.clear();
}

}  // namespace qwen3::bench
