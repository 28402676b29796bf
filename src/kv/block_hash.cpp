#include "kv/block_hash.h"

#include <xxhash.h>

namespace qwen3 {

BlockHash hash_block(BlockHash parent, std::span<const int32_t> tokens) {
  return XXH3_64bits_withSeed(tokens.data(), tokens.size_bytes(), parent);
}

}  // namespace qwen3
