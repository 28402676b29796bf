// The sampler's full-row draw without sorting (stage 5 for rows with no top_k cut; see
// sampling.h). The host draws u over the row's weights in candidate order (logit
// descending, ties by lower id): the first token whose running mass exceeds u times the
// kept mass, the kept set being the top_p prefix and / or the min_p prefix of that order.
// Here the crossing token is found by radix selection on the mass: each row is read by
// many blocks, each pass builds a histogram of weight mass over the next digits of the
// logits' order keys, and the last block to finish a pass picks the digit where the
// running mass crosses the target, so the order is never materialised. Three passes
// (11 + 11 + 10 bits) fix the crossing key; ties at that key are equal weights, so how
// many of them the target reaches is arithmetic, and the token is the lowest id among
// them (or, rarely, the m-th, found by one scan). Masses are 64-bit fixed point (the
// weights times 2^shift, summed exactly), so every pass, and the result, is the same
// whatever order the blocks run in.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "backends/cuda/kernels/sampling.h"

namespace qwen3::cuda {

// Scratch bytes for a chunk of `rows` rows (zeroed by launch_mass_draw itself).
size_t mass_draw_bytes(int64_t rows);

// Draws every kMass row of p's rows [row0, row0 + chunk) (random, top_k off) into
// p.tokens, reading the edited logits (not cleaned: NaN counts as -inf here). `scratch`:
// mass_draw_bytes(chunk) bytes, 256-byte aligned. any_top_p: some such row has top_p < 1.
void launch_mass_draw(const SamplingParamsGpu& p, int64_t row0, int64_t chunk, void* scratch,
                      bool any_top_p, cudaStream_t stream);

}  // namespace qwen3::cuda
