// Prefix-cache keys: a full KV block is named by (its parent block's hash, its tokens),
// so equal hashes mean equal prefixes up to and including the block (vLLM's scheme).
#pragma once

#include <cstdint>
#include <span>

namespace qwen3 {

using BlockHash = uint64_t;

inline constexpr BlockHash kNoParentHash = 0x51a3c0de5eedULL;

// XXH3-64 of the tokens, seeded with the parent's hash. O(tokens).
BlockHash hash_block(BlockHash parent, std::span<const int32_t> tokens);

}  // namespace qwen3
