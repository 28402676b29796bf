// Sampling on the GPU: the host sampler's transforms (src/engine/sampler.h gives their
// order and semantics) over float32 logits rows [rows, vocab] already on the device, so
// that only one int32 token (+ its float logprob) per row comes back to the host.
//
// The stages, each one launch over the rows (one block per row unless said):
//   1. raw copy      (only when a row wants its logprob): logits -> raw
//   2. edits         logit_bias, eos/stop masking below min_tokens, repetition penalty,
//                    frequency/presence penalties: sparse lists the host built (each
//                    penalty list holds distinct ids)
//   3. argmax        greedy rows: the largest logit, lowest id on ties
//   4-5. draw        random rows, by the host's rule: the first token of the candidate
//                    order (logit descending, ties by lower id) whose running weight
//                    exceeds u times the kept weight (the top_k, top_p and min_p cuts):
//                    radix selections over many blocks per row (sampling_mass.h), so
//                    nothing is sorted (a CUB sort of the 151,936-entry rows cost ~0.9 ms
//                    per chunk of rows on an H200)
//   6. logprob       log_softmax of the raw row at the chosen token
// Nothing here is captured in a CUDA graph: it runs after the forward's graph replay.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace qwen3::cuda {

// One logits row's parameters, as the host sampler reads them from SamplingParams.
struct SamplingRowParams {
  double u = 0;              // sampler_uniform(seed, step): the draw in [0, 1)
  double temperature = 0;    // 0 = greedy
  double top_p = 1;          // (0, 1]; 1 = off
  double min_p = 0;          // [0, 1]; 0 = off
  double repetition_penalty = 1;
  double frequency_penalty = 0;
  double presence_penalty = 0;
  int32_t top_k = 0;         // in [1, vocab) = the top_k path; anything else = full row
  int32_t want_logprob = 0;  // 1: write the chosen token's raw logprob
  // Sparse edits, [begin, end) ranges into SamplingParamsGpu's arrays:
  int32_t bias_begin = 0, bias_end = 0;  // bias_ids / bias_values, applied in order
  int32_t mask_begin = 0, mask_end = 0;  // ids set to -inf (eos + stop ids below min_tokens)
  int32_t rep_begin = 0, rep_end = 0;    // ids: distinct prompt + output tokens
  int32_t freq_begin = 0, freq_end = 0;  // ids / counts: distinct output tokens, their counts
};

struct SamplingParamsGpu {
  float* logits;                   // [rows, vocab], modified in place (the edits)
  const SamplingRowParams* rows;   // [rows], device
  const int32_t* ids;              // [num_ids] mask / repetition / frequency ids, device
  const int32_t* counts;           // [num_ids] occurrence counts (frequency ranges), device
  const int32_t* bias_ids;         // [num_bias], device
  const float* bias_values;        // [num_bias], device
  const SamplingRowParams* host_rows;  // [rows] the same rows on the host (what to launch)
  int64_t num_ids;
  int64_t num_bias;
  int64_t num_rows;
  int64_t vocab;
  // Scratch (see sampling_workspace_bytes): raw rows for logprobs, the draw's histograms.
  void* workspace;
  size_t workspace_bytes;
  // Outputs, device: one token and its raw logprob (0 unless want_logprob) per row.
  int32_t* tokens;   // [rows]
  float* logprobs;   // [rows]
};

// Rows per chunk of launches: bounds the workspace to this many rows.
constexpr int64_t kSamplingChunkRows = 64;

// Bytes of workspace for `rows` x `vocab` (raw copy + the draw's histograms).
size_t sampling_workspace_bytes(int64_t rows, int64_t vocab);

// Runs stages 1-6 on `stream`. Host-side checks: shapes, the ranges of every row's
// parameters and edit lists (kInternal on a caller bug).
void launch_sampling(const SamplingParamsGpu& p, cudaStream_t stream);

}  // namespace qwen3::cuda
