#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace qwen3::server {

ApiError bad_request(std::string param, std::string message) {
  return ApiError(400, "invalid_request_error", "invalid_value", std::move(message),
                  std::move(param));
}

ApiError unsupported(std::string param, std::string message) {
  return ApiError(400, "invalid_request_error", "unsupported_value", std::move(message),
                  std::move(param));
}

ApiError not_found(std::string message, std::string code) {
  return ApiError(404, "invalid_request_error", std::move(code), std::move(message));
}

ApiError api_error_from(const Error& error, std::string param) {
  std::string message = error.what();
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
      return bad_request(std::move(param), std::move(message));
    case ErrorCode::kUnsupported:
      return unsupported(std::move(param), std::move(message));
    case ErrorCode::kContextLength:
      return ApiError(400, "invalid_request_error", "context_length_exceeded", std::move(message),
                      param.empty() ? "messages" : std::move(param));
    case ErrorCode::kOverloaded:
      return ApiError(429, "rate_limit_error", "rate_limit_exceeded", std::move(message));
    case ErrorCode::kUnavailable:
      return ApiError(503, "service_unavailable", "service_unavailable", std::move(message));
    case ErrorCode::kInvalidModel:
    case ErrorCode::kIo:
    case ErrorCode::kOutOfMemory:
    case ErrorCode::kInternal:
      break;
  }
  return ApiError(500, "server_error", std::string(error_code_name(error.code())),
                  std::move(message));
}

std::string error_body(const ApiError& error) {
  nlohmann::ordered_json e = {{"message", error.what()},
                              {"type", error.type()},
                              {"param", nullptr},
                              {"code", error.code()}};
  if (!error.param().empty()) e["param"] = error.param();
  return nlohmann::ordered_json{{"error", std::move(e)}}.dump(
      -1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace qwen3::server
