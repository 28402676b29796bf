// Typed errors for qwen3.cpp.
//
// Every failure the user can cause (a bad file, a bad flag, a bad request) is an
// `Error` with an `ErrorCode`; the CLI maps it to exit code 2 and the server (later)
// to an OpenAI-shaped JSON body. Internal invariant violations use QWEN3_CHECK.
#pragma once

#include <fmt/core.h>

#include <source_location>
#include <stdexcept>
#include <string>
#include <string_view>

namespace qwen3 {

enum class ErrorCode {
  kInvalidArgument,  // bad flag or request parameter
  kInvalidModel,     // checkpoint exists but is malformed or inconsistent
  kIo,               // file missing, unreadable, short read/write
  kUnsupported,      // valid input we do not implement (named in the message)
  kOutOfMemory,      // allocation failed; message says which setting to lower
  kContextLength,    // prompt (+ max_tokens) longer than the model or the KV cache allows
  kOverloaded,       // request queue full: retry later (HTTP 429)
  kUnavailable,      // not serving (loading, shutting down): HTTP 503
  kInternal,         // a bug: invariant violated
};

std::string_view error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message,
        std::source_location where = std::source_location::current());

  ErrorCode code() const { return code_; }
  const std::source_location& where() const { return where_; }

 private:
  ErrorCode code_;
  std::source_location where_;
};

// Throws Error(code, formatted message). Usage:
//   throw_error(ErrorCode::kInvalidModel, "{}: tensor {} has shape {}", file, name, shape);
template <typename... Args>
[[noreturn]] void throw_error_at(std::source_location where, ErrorCode code,
                                 fmt::format_string<Args...> format, Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...), where);
}

}  // namespace qwen3

// The macro exists only to capture the caller's source location before the variadic
// arguments; it does not hide control flow beyond the throw its name says.
#define QWEN3_THROW(code, ...) \
  ::qwen3::throw_error_at(std::source_location::current(), code, __VA_ARGS__)

// Internal invariant: failing means a bug in qwen3.cpp, never bad user input.
#define QWEN3_CHECK(cond)                                                               \
  do {                                                                                  \
    if (!(cond)) QWEN3_THROW(::qwen3::ErrorCode::kInternal, "check failed: {}", #cond); \
  } while (0)
