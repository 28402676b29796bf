// Typed reads of request JSON fields with OpenAI-style errors: a wrong type or range
// throws ApiError 400 naming the field. JSON null counts as absent (SDKs send null for
// unset parameters).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "server/api_error.h"

namespace qwen3::server {

using Json = nlohmann::ordered_json;

// Parses a request body; 400 "invalid_json" with the parser's message when malformed
// (invalid UTF-8 included), 400 when the top level is not an object.
Json parse_json_body(std::string_view body);

// Serializes for the wire; invalid UTF-8 in strings becomes U+FFFD instead of throwing.
std::string dump_json(const Json& j);

std::optional<double> opt_number(const Json& obj, std::string_view key);
std::optional<int64_t> opt_int(const Json& obj, std::string_view key);
std::optional<bool> opt_bool(const Json& obj, std::string_view key);
std::optional<std::string> opt_string(const Json& obj, std::string_view key);
const Json* opt_field(const Json& obj, std::string_view key);  // null/absent -> nullptr

// Range checks; the message says the allowed range and the value given.
double check_range(std::string_view key, double v, double lo, double hi);
int64_t check_range(std::string_view key, int64_t v, int64_t lo, int64_t hi);

}  // namespace qwen3::server
