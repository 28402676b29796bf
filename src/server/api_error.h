// Errors as the OpenAI API reports them: an HTTP status and the body
// {"error": {"message", "type", "param", "code"}}, with `code` a string such as
// "context_length_exceeded". Every failure the server answers goes through here, so a
// client never sees a bare 500 or a non-JSON error.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "core/error.h"

namespace qwen3::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, std::string code, std::string message,
           std::string param = "")
      : std::runtime_error(std::move(message)),
        status_(status),
        type_(std::move(type)),
        code_(std::move(code)),
        param_(std::move(param)) {}

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& code() const { return code_; }
  const std::string& param() const { return param_; }  // empty: null

 private:
  int status_;
  std::string type_;
  std::string code_;
  std::string param_;
};

// 400 invalid_request_error naming the offending field (`param`, may be empty).
ApiError bad_request(std::string param, std::string message);
// 400 for a well-formed value we do not implement (code "unsupported_value").
ApiError unsupported(std::string param, std::string message);
ApiError not_found(std::string message, std::string code = "not_found");  // 404

// Typed engine/model errors -> status: invalid argument / unsupported / context length
// 400, overloaded 429, unavailable 503, everything else 500 (a bug or a broken model,
// never the client's input). `param` names the request field when known.
ApiError api_error_from(const Error& error, std::string param = "");

// The JSON body text.
std::string error_body(const ApiError& error);

}  // namespace qwen3::server
