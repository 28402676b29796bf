#include "core/parse.h"

#include <charconv>
#include <cmath>
#include <utility>

#include "core/error.h"

namespace qwen3 {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

uint64_t parse_size(std::string_view text, std::string_view flag) {
  const std::string_view s = trim(text);
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || value < 0 || !std::isfinite(value)) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "{}: '{}' is not a size (examples: 512MiB, 4GiB, 1000000)", flag, text);
  }
  const std::string_view suffix = trim(std::string_view(end, s.data() + s.size() - end));
  static const std::pair<std::string_view, double> kUnits[] = {{"", 1.0},
                                                               {"B", 1.0},
                                                               {"KiB", 1024.0},
                                                               {"MiB", 1048576.0},
                                                               {"GiB", 1073741824.0},
                                                               {"TiB", 1099511627776.0},
                                                               {"KB", 1e3},
                                                               {"MB", 1e6},
                                                               {"GB", 1e9},
                                                               {"TB", 1e12},
                                                               {"K", 1024.0},
                                                               {"M", 1048576.0},
                                                               {"G", 1073741824.0}};
  for (const auto& [name, mult] : kUnits) {
    if (suffix == name) {
      const double bytes = value * mult;
      if (bytes > 1.8e19)
        QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: '{}' is too large", flag, text);
      return static_cast<uint64_t>(bytes);
    }
  }
  QWEN3_THROW(ErrorCode::kInvalidArgument,
              "{}: unknown size suffix '{}' in '{}' (use KiB, MiB, GiB, KB, MB, GB)", flag, suffix,
              text);
}

std::vector<int32_t> parse_id_list(std::string_view text, std::string_view flag) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string_view item =
        trim(text.substr(pos, comma == std::string_view::npos ? text.npos : comma - pos));
    int64_t v = -1;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || v < 0 ||
        v > INT32_MAX) {
      QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: '{}' is not a token id (expected e.g. 1,2,3)",
                  flag, item);
    }
    ids.push_back(static_cast<int32_t>(v));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return ids;
}

}  // namespace qwen3
