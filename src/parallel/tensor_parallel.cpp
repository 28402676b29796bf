#include "parallel/tensor_parallel.h"

#include <cstring>
#include <utility>
#include <vector>

#include "core/error.h"

namespace qwen3 {
namespace {

// An FP8 cut at `at` of a dimension of `n` with scale blocks of `block`: only at a
// block boundary or at the end.
void check_fp8_cut(const WeightMatrix& m, int64_t at, int64_t n, int64_t block, const char* what,
                   int size) {
  if (!m.is_fp8() || at % block == 0 || at == n) return;
  QWEN3_THROW(ErrorCode::kInvalidArgument,
              "--tensor-parallel-size {}: {} would split {} {} at {}, inside a {}-wide FP8 "
              "scale block",
              size, m.name, what, n, at, block);
}

WeightMatrix row_slice(const WeightMatrix& m, int64_t begin, int64_t count, int size) {
  check_fp8_cut(m, begin, m.rows, m.block_out, "its rows", size);
  check_fp8_cut(m, begin + count, m.rows, m.block_out, "its rows", size);
  WeightMatrix s = m;
  s.rows = count;
  s.data = m.data + static_cast<size_t>(begin * m.cols) * dtype_size(m.dtype);
  if (m.is_fp8()) {
    const int64_t b0 = begin / m.block_out, b1 = (begin + count + m.block_out - 1) / m.block_out;
    s.scale_inv.assign(m.scale_inv.begin() + b0 * m.scale_cols(),
                       m.scale_inv.begin() + b1 * m.scale_cols());
  }
  return s;
}

WeightMatrix col_slice(const WeightMatrix& m, int64_t begin, int64_t count, int size,
                       std::vector<std::vector<uint8_t>>& owned) {
  check_fp8_cut(m, begin, m.cols, m.block_in, "its columns", size);
  check_fp8_cut(m, begin + count, m.cols, m.block_in, "its columns", size);
  const size_t es = dtype_size(m.dtype);
  std::vector<uint8_t>& bytes = owned.emplace_back(static_cast<size_t>(m.rows * count) * es);
  for (int64_t r = 0; r < m.rows; ++r) {
    std::memcpy(bytes.data() + static_cast<size_t>(r * count) * es,
                m.data + static_cast<size_t>(r * m.cols + begin) * es,
                static_cast<size_t>(count) * es);
  }
  WeightMatrix s = m;
  s.cols = count;
  s.data = bytes.data();
  if (m.is_fp8()) {
    const int64_t c0 = begin / m.block_in, c1 = (begin + count + m.block_in - 1) / m.block_in;
    s.scale_inv.clear();
    for (int64_t b = 0; b * m.block_out < m.rows; ++b) {
      const auto row = m.scale_inv.begin() + b * m.scale_cols();
      s.scale_inv.insert(s.scale_inv.end(), row + c0, row + c1);
    }
  }
  return s;
}

}  // namespace

TpShard tp_shard(const ModelConfig& c, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--tensor-parallel-size {}: rank {} out of range",
                size, rank);
  }
  auto need = [&](bool ok, const char* what, int64_t n) {
    if (!ok) {
      QWEN3_THROW(ErrorCode::kInvalidArgument,
                  "--tensor-parallel-size {} does not divide {} ({}) of the model", size, what, n);
    }
  };
  need(c.num_attention_heads % size == 0, "num_attention_heads", c.num_attention_heads);
  need(c.intermediate_size % size == 0, "intermediate_size", c.intermediate_size);
  need(c.num_key_value_heads % size == 0 || size % c.num_key_value_heads == 0,
       "num_key_value_heads (nor is it a multiple of them)", c.num_key_value_heads);
  TpShard s;
  s.rank = rank;
  s.size = size;
  s.q_heads = c.num_attention_heads / size;
  s.q_head_begin = rank * s.q_heads;
  if (c.num_key_value_heads >= size) {
    s.kv_heads = c.num_key_value_heads / size;
    s.kv_head_begin = rank * s.kv_heads;
  } else {  // replicated: the KV head of this rank's query heads
    s.kv_heads = 1;
    s.kv_head_begin = s.q_head_begin / (c.num_attention_heads / c.num_key_value_heads);
  }
  s.inter = c.intermediate_size / size;
  s.inter_begin = rank * s.inter;
  return s;
}

ModelConfig tp_rank_config(const ModelConfig& c, const TpShard& s) {
  ModelConfig r = c;
  r.num_attention_heads = s.q_heads;
  r.num_key_value_heads = s.kv_heads;
  r.intermediate_size = s.inter;
  return r;
}

std::unique_ptr<Qwen3Weights> tp_shard_weights(const Qwen3Weights& full, const TpShard& s) {
  const ModelConfig& c = full.config();
  const int64_t hd = c.head_dim;
  std::vector<std::vector<uint8_t>> owned;
  std::vector<LayerWeights> layers;
  for (const LayerWeights& l : full.layers()) {
    LayerWeights r;
    r.input_norm = l.input_norm;
    r.post_attn_norm = l.post_attn_norm;
    r.q_norm = l.q_norm;
    r.k_norm = l.k_norm;
    r.q_proj = row_slice(l.q_proj, s.q_head_begin * hd, s.q_heads * hd, s.size);
    r.k_proj = row_slice(l.k_proj, s.kv_head_begin * hd, s.kv_heads * hd, s.size);
    r.v_proj = row_slice(l.v_proj, s.kv_head_begin * hd, s.kv_heads * hd, s.size);
    r.o_proj = col_slice(l.o_proj, s.q_head_begin * hd, s.q_heads * hd, s.size, owned);
    r.gate_proj = row_slice(l.gate_proj, s.inter_begin, s.inter, s.size);
    r.up_proj = row_slice(l.up_proj, s.inter_begin, s.inter, s.size);
    r.down_proj = col_slice(l.down_proj, s.inter_begin, s.inter, s.size, owned);
    layers.push_back(std::move(r));
  }
  return Qwen3Weights::from_parts(tp_rank_config(c, s), full.embed(), full.lm_head(),
                                  full.final_norm(), std::move(layers), std::move(owned));
}

}  // namespace qwen3
