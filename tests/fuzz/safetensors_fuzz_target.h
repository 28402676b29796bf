// One fuzz input: safetensors bytes that must either parse into a consistent header or
// be rejected with qwen3::Error; anything else (crash, other exception) is a bug.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qwen3::fuzz {

// Returns 1 when the input parsed, 0 when it was rejected cleanly. Aborts on an
// inconsistent accepted header.
int safetensors_one_input(const uint8_t* data, size_t size);

}  // namespace qwen3::fuzz
