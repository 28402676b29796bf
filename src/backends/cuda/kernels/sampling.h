// Sampling on the GPU: the host sampler's transforms (src/engine/sampler.h gives their
// order and semantics) over float32 logits rows [rows, vocab] already on the device, so
// that only one int32 token (+ its float logprob) per row comes back to the host.
//
// The stages, each one launch over the rows (one block per row unless said):
//   1. raw copy      (only when a row wants its logprob): logits -> raw
//   2. edits         logit_bias, eos/stop masking below min_tokens, repetition penalty,
//                    frequency/presence penalties: sparse lists the host built (each
//                    penalty list holds distinct ids); when the chunk sorts, its random
//                    rows are then cleaned (NaN -> -inf, -0 -> +0) for the radix sort
//   3. argmax        greedy rows: the largest logit, lowest id on ties
//   4-5. the draw of random rows, by the host's rule: the first token of the candidate
//                    order (logit descending, ties by lower id) whose running weight
//                    exceeds u times the kept mass (after the top_k, top_p, min_p cuts):
//        no top_k    mass selection (sampling_mass.h): many blocks per row build radix
//                    histograms of weight mass, so nothing is sorted (the sort cost
//                    ~0.9 ms per chunk of rows on an H200)
//        1 <= top_k <= 1024 (< vocab): a radix selection of each row's top_k entries
//                    in that order (Qwen3's generation_config asks top_k 20), then the
//                    draw over them by block scans
//        a larger top_k: the chunk's random rows sorted (CUB segmented radix sort,
//                    descending and stable), then the same draw
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
  float* logits;                   // [rows, vocab], modified in place (edits, then
                                   // clobbered by a sort)
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
  // Scratch (see sampling_workspace_bytes): raw rows for logprobs, sort buffers.
  void* workspace;
  size_t workspace_bytes;
  // Outputs, device: one token and its raw logprob (0 unless want_logprob) per row.
  int32_t* tokens;   // [rows]
  float* logprobs;   // [rows]
};

// Rows sorted per CUB call: bounds the sort buffers to this many rows of the vocabulary.
constexpr int64_t kSamplingSortRows = 64;

// Bytes of workspace for `rows` x `vocab` (raw copy + sort buffers + CUB temp storage).
size_t sampling_workspace_bytes(int64_t rows, int64_t vocab);

// Runs stages 1-6 on `stream`. Host-side checks: shapes, the ranges of every row's
// parameters and edit lists (kInternal on a caller bug).
void launch_sampling(const SamplingParamsGpu& p, cudaStream_t stream);

}  // namespace qwen3::cuda
