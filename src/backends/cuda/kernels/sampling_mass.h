// The draw of the sampler's random rows (stages 4-5; see sampling.h), without sorting.
// The host draws u over a row's candidates in candidate order (logit descending, ties by
// lower id): the first token whose running weight exceeds u times the kept weight, the
// kept set being the shortest of the top_k, top_p and min_p prefixes of that order.
// Every one of those is a prefix found by a radix selection: many blocks read the row,
// each pass builds a histogram over the next digits of the logits' order keys (of counts
// for top_k, of softmax weight for top_p and the draw), and the last block to finish a
// pass picks the digit where the running sum, best first, reaches the target. Three
// passes (11 + 11 + 10 bits) fix the key; the tokens at that key have one weight, so how
// many of them the target reaches is arithmetic, and the drawn token is the lowest id
// among them (or, rarely, the n-th, found by one scan). Weights are summed as 64-bit fixed
// point (times 2^shift, exactly), so every order of the blocks gives the same result.
// A top_k row's keys are gathered into a list of up to 1,024 (those at or above a bound
// below the top_k-th key, or failing that, after the top_k selection, those at or above
// the top_k-th), and one block per row runs the remaining selections over the list.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "backends/cuda/kernels/sampling.h"

namespace qwen3::cuda {

// Scratch bytes for a chunk of `rows` rows (zeroed by launch_mass_draw itself).
size_t mass_draw_bytes(int64_t rows);

// Draws every random row (temperature > 0) of p's rows [row0, row0 + chunk) into p.tokens,
// reading the edited logits (NaN counts as -inf, -0 as +0). `scratch`: mass_draw_bytes(chunk)
// bytes. any_top_k / any_top_p: some such row has 1 <= top_k < vocab / top_p < 1.
void launch_mass_draw(const SamplingParamsGpu& p, int64_t row0, int64_t chunk, void* scratch,
                      bool any_top_k, bool any_top_p, cudaStream_t stream);

}  // namespace qwen3::cuda
