// Parsing of user-typed values (flags, env vars) with errors that name the flag.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qwen3 {

// "512MiB", "4GiB", "1.5GB", "1000" -> bytes. Binary (KiB/MiB/GiB/TiB) and decimal
// (KB/MB/GB/TB) suffixes; a bare number is bytes.
uint64_t parse_size(std::string_view text, std::string_view flag);

// "1,2, 3" -> {1, 2, 3}; every element a non-negative integer.
std::vector<int32_t> parse_id_list(std::string_view text, std::string_view flag);

}  // namespace qwen3
