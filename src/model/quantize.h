// `qwen3 quantize`: a BF16 Hugging Face Qwen3 checkpoint -> a block-scaled FP8 one in the
// layout of the official Qwen3-*-FP8 exports: every linear weight (2-D `*.weight` other
// than the embedding and lm_head) becomes F8_E4M3 / F8_E5M2 plus an F32
// `weight_scale_inv` [ceil(out/block), ceil(in/block)]; everything else is copied byte for
// byte; config.json gains `quantization_config`; the other files of the folder are copied.
// With quantize_lm_head the lm_head is quantized too (left out of modules_to_not_convert);
// a model with tied embeddings then gets an FP8 `lm_head.weight` of its own, quantized from
// the embedding, and config.json says tie_word_embeddings false (the embedding stays BF16).
// That layout is ours: HF transformers' FineGrainedFP8 (5.17, checked on the GPU machine)
// keeps lm_head an nn.Linear in BF16 whatever modules_to_not_convert says, so it does not
// read an FP8 lm_head.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace qwen3 {

struct QuantizeOptions {
  std::string in_dir;
  std::string out_dir;
  DType fp8_dtype = DType::kF8E4M3;
  int64_t block = 128;                      // weight_block_size = [block, block]
  std::vector<std::string> skip;            // module names (substring match, as HF) kept BF16
  std::optional<uint64_t> max_shard_bytes;  // unset: same shard files as the input
  bool force = false;                       // replace an existing out_dir
  bool quantize_lm_head = false;            // lm_head too (see above)
  // Called after each linear is quantized: (1-based index, count, tensor name).
  std::function<void(size_t done, size_t total, const std::string& name)> progress;
};

// dequant(quant(W)) vs W for one tensor.
struct TensorQuantError {
  std::string name;
  std::vector<int64_t> shape;
  double rel_rms = 0;  // ||deq - W||_2 / ||W||_2
  double max_abs = 0;  // max |deq - W|
  double sq_err = 0;   // sum (deq - W)^2, for totals
  double sq_ref = 0;   // sum W^2
};

struct QuantizeReport {
  std::vector<TensorQuantError> tensors;  // the quantized ones, in file order
  std::vector<std::string> kept;          // tensors copied unchanged
  std::vector<std::string> modules_to_not_convert;
  uint64_t in_bytes = 0;
  uint64_t out_bytes = 0;
  double total_rel_rms() const;
  double total_max_abs() const;
};

// "e4m3" / "e5m2" -> dtype; anything else is an Error naming --fmt.
DType parse_fp8_format(const std::string& name);

// Throws Error(kInvalidArgument / kInvalidModel / kIo) naming the file or flag on bad input;
// a failure never leaves a folder at out_dir (it is built as out_dir.partial and renamed).
QuantizeReport quantize_checkpoint(const QuantizeOptions& options);

// The per-tensor error table plus totals, for the terminal.
std::string format_quantize_report(const QuantizeReport& report);

}  // namespace qwen3
