#include "backends/cpu/cpu_model.h"

#include <utility>

#include "backends/cpu/cpu_ops.h"
#include "core/error.h"

namespace qwen3::cpu {
namespace {

void emit(const TraceFn& trace, std::string_view name, int64_t layer, const float* data,
          int64_t rows, int64_t cols) {
  if (trace) trace(name, layer, data, rows, cols);
}

}  // namespace

CpuModel::CpuModel(const Qwen3Weights& weights, AllReduceFn all_reduce)
    : weights_(weights),
      rope_(RopeTable::build(weights.config())),
      all_reduce_(std::move(all_reduce)) {}

void CpuModel::attention_block(const LayerWeights& l, int64_t layer, const float* x,
                               const BatchPlan& plan, const float* cos, const float* sin,
                               PagedKvPool& pool, float* out, const TraceFn& trace) const {
  const ModelConfig& c = config();
  const int64_t tokens = plan.rows();
  std::vector<float> q(static_cast<size_t>(tokens * c.q_dim()));
  std::vector<float> k(static_cast<size_t>(tokens * c.kv_dim()));
  std::vector<float> v(static_cast<size_t>(tokens * c.kv_dim()));
  matmul(l.q_proj, x, tokens, q.data());
  matmul(l.k_proj, x, tokens, k.data());
  matmul(l.v_proj, x, tokens, v.data());
  // Per-head RMSNorm on q and k, then rotary position, then K/V into the pool.
  rms_norm(q.data(), l.q_norm.data(), tokens * c.num_attention_heads, c.head_dim, c.rms_norm_eps,
           q.data());
  rms_norm(k.data(), l.k_norm.data(), tokens * c.num_key_value_heads, c.head_dim, c.rms_norm_eps,
           k.data());
  const int64_t half = c.head_dim / 2;
  for (int64_t t = 0; t < tokens; ++t) {
    rope_apply(q.data() + t * c.q_dim(), c.num_attention_heads, c.head_dim, cos + t * half,
               sin + t * half);
    rope_apply(k.data() + t * c.kv_dim(), c.num_key_value_heads, c.head_dim, cos + t * half,
               sin + t * half);
  }
  write_kv(pool, layer, plan, k.data(), v.data());
  emit(trace, "q_rope", layer, q.data(), tokens, c.q_dim());
  emit(trace, "k_rope", layer, k.data(), tokens, c.kv_dim());
  emit(trace, "v", layer, v.data(), tokens, c.kv_dim());

  std::vector<float> attn(q.size());
  paged_attention(q.data(), pool, layer, plan,
                  {c.num_attention_heads, c.num_key_value_heads, c.head_dim}, attn.data());
  emit(trace, "attn", layer, attn.data(), tokens, c.q_dim());
  matmul(l.o_proj, attn.data(), tokens, out);
  emit(trace, "o_proj", layer, out, tokens, c.hidden_size);
}

void CpuModel::mlp_block(const LayerWeights& l, int64_t layer, const float* x, int64_t tokens,
                         float* out, const TraceFn& trace) const {
  const ModelConfig& c = config();
  const size_t n = static_cast<size_t>(tokens * c.intermediate_size);
  std::vector<float> gate(n), up(n);
  matmul(l.gate_proj, x, tokens, gate.data());
  matmul(l.up_proj, x, tokens, up.data());
  silu_mul(gate.data(), up.data(), static_cast<int64_t>(n), gate.data());
  emit(trace, "mlp_act", layer, gate.data(), tokens, c.intermediate_size);
  matmul(l.down_proj, gate.data(), tokens, out);
  emit(trace, "mlp_out", layer, out, tokens, c.hidden_size);
}

std::vector<float> CpuModel::forward(std::span<const int32_t> tokens, KvCache& cache,
                                     LogitsMode mode, const TraceFn& trace,
                                     const AttentionWindow& window) const {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) QWEN3_THROW(ErrorCode::kInvalidArgument, "forward called with no tokens");
  if (cache.length() + n > cache.capacity()) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "{} tokens do not fit: the KV cache holds {} of {} tokens", n, cache.length(),
                cache.capacity());
  }
  BatchMeta meta;
  meta.tokens = tokens;
  meta.window = window;
  meta.seqs.push_back({.token_offset = 0,
                       .num_tokens = n,
                       .start_pos = cache.length(),
                       .block_table = cache.block_table(),
                       .want_logits = true});
  const BatchPlan plan = plan_batch(meta, cache.pool(), config().vocab_size);
  std::vector<int64_t> rows;
  for (int64_t t = mode == LogitsMode::kAll ? 0 : n - 1; t < n; ++t) rows.push_back(t);
  std::vector<float> out = run(tokens, plan, cache.pool(), rows, trace);
  cache.set_length(cache.length() + n);
  return out;
}

std::vector<float> CpuModel::forward_batch(const BatchMeta& meta, PagedKvPool& pool,
                                           const TraceFn& trace) const {
  const BatchPlan plan = plan_batch(meta, pool, config().vocab_size);
  std::vector<int64_t> rows;
  for (const SeqSlice& s : meta.seqs) {
    if (s.want_logits) rows.push_back(s.token_offset + s.num_tokens - 1);
  }
  return run(meta.tokens, plan, pool, rows, trace);
}

std::vector<float> CpuModel::run(std::span<const int32_t> tokens, const BatchPlan& plan,
                                 PagedKvPool& pool, std::span<const int64_t> logits_rows,
                                 const TraceFn& trace) const {
  const ModelConfig& c = config();
  const int64_t n = plan.rows();
  const int64_t d = c.hidden_size;
  std::vector<float> h(static_cast<size_t>(n * d));  // residual stream [rows, hidden]
  for (int64_t t = 0; t < n; ++t) embed_row(weights_.embed(), tokens[t], h.data() + t * d);
  emit(trace, "embed", -1, h.data(), n, d);

  // Rotary cos/sin of each row's position, shared by every layer: [rows, head_dim / 2].
  const int64_t half = c.head_dim / 2;
  std::vector<float> cos(static_cast<size_t>(n * half)), sin(cos.size());
  for (int64_t t = 0; t < n; ++t)
    rope_.cos_sin(plan.row_pos[t], cos.data() + t * half, sin.data() + t * half);

  std::vector<float> normed(h.size()), branch(h.size());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const LayerWeights& l = weights_.layers()[i];
    rms_norm(h.data(), l.input_norm.data(), n, d, c.rms_norm_eps, normed.data());
    attention_block(l, i, normed.data(), plan, cos.data(), sin.data(), pool, branch.data(), trace);
    if (all_reduce_) all_reduce_(branch.data(), n * d);
    add_inplace(h.data(), branch.data(), n * d);
    rms_norm(h.data(), l.post_attn_norm.data(), n, d, c.rms_norm_eps, normed.data());
    mlp_block(l, i, normed.data(), n, branch.data(), trace);
    if (all_reduce_) all_reduce_(branch.data(), n * d);
    add_inplace(h.data(), branch.data(), n * d);
    emit(trace, "layer_out", i, h.data(), n, d);
  }
  return logits(h.data(), logits_rows, trace);
}

std::vector<float> CpuModel::logits(const float* h, std::span<const int64_t> logits_rows,
                                    const TraceFn& trace) const {
  const ModelConfig& c = config();
  const int64_t d = c.hidden_size;
  const auto rows = static_cast<int64_t>(logits_rows.size());
  std::vector<float> normed(static_cast<size_t>(rows * d));
  for (int64_t r = 0; r < rows; ++r) {
    rms_norm(h + logits_rows[r] * d, weights_.final_norm().data(), 1, d, c.rms_norm_eps,
             normed.data() + r * d);
  }
  emit(trace, "final_norm", -1, normed.data(), rows, d);
  std::vector<float> out(static_cast<size_t>(rows * c.vocab_size));
  matmul(weights_.lm_head(), normed.data(), rows, out.data());
  emit(trace, "logits", -1, out.data(), rows, c.vocab_size);
  return out;
}

}  // namespace qwen3::cpu
