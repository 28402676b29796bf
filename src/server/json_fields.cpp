#include "server/json_fields.h"

#include <fmt/core.h>

#include <cmath>

namespace qwen3::server {
namespace {

std::string type_name(const Json& v) { return v.type_name(); }

ApiError wrong_type(std::string_view key, const char* want, const Json& v) {
  return bad_request(std::string(key),
                     fmt::format("'{}' must be {}, got {}", key, want, type_name(v)));
}

}  // namespace

Json parse_json_body(std::string_view body) {
  Json j;
  try {
    j = Json::parse(body.begin(), body.end());
  } catch (const Json::exception& e) {
    throw ApiError(400, "invalid_request_error", "invalid_json",
                   fmt::format("the request body is not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) {
    throw ApiError(400, "invalid_request_error", "invalid_json",
                   fmt::format("the request body must be a JSON object, got {}", j.type_name()));
  }
  return j;
}

std::string dump_json(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json* opt_field(const Json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> opt_number(const Json& obj, std::string_view key) {
  const Json* v = opt_field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) throw wrong_type(key, "a number", *v);
  const double d = v->get<double>();
  if (!std::isfinite(d))
    throw bad_request(std::string(key), fmt::format("'{}' must be finite", key));
  return d;
}

std::optional<int64_t> opt_int(const Json& obj, std::string_view key) {
  const Json* v = opt_field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      throw bad_request(std::string(key), fmt::format("'{}' is too large", key));
    }
    return v->get<int64_t>();
  }
  // 3.0 is an integer to JavaScript clients; 3.5 is not.
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
      return static_cast<int64_t>(d);
    }
  }
  throw wrong_type(key, "an integer", *v);
}

std::optional<bool> opt_bool(const Json& obj, std::string_view key) {
  const Json* v = opt_field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) throw wrong_type(key, "a boolean", *v);
  return v->get<bool>();
}

std::optional<std::string> opt_string(const Json& obj, std::string_view key) {
  const Json* v = opt_field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) throw wrong_type(key, "a string", *v);
  return v->get<std::string>();
}

double check_range(std::string_view key, double v, double lo, double hi) {
  if (v < lo || v > hi) {
    throw bad_request(std::string(key),
                      fmt::format("'{}' must be between {} and {}, got {}", key, lo, hi, v));
  }
  return v;
}

int64_t check_range(std::string_view key, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    throw bad_request(std::string(key),
                      fmt::format("'{}' must be between {} and {}, got {}", key, lo, hi, v));
  }
  return v;
}

}  // namespace qwen3::server
