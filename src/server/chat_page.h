// The built-in chat page served at GET /: one HTML file with inline CSS and JS (no build
// step, no external resources). It streams replies from /v1/chat/completions and shows
// reasoning apart from the answer.
#pragma once

#include <string_view>

namespace qwen3::server {

std::string_view chat_page_html();

}  // namespace qwen3::server
