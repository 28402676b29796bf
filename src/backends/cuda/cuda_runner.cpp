#include "backends/cuda/cuda_runner.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "backends/cuda/attention_plan.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/elementwise.h"
#include "backends/cuda/kernels/gemv.h"
#include "backends/cuda/kernels/launch.h"
#include "backends/cuda/kernels/rope_kv.h"
#include "backends/cuda/packed_upload.h"
#include "core/error.h"

namespace qwen3::cuda {
namespace {

// Shortest split of a decode row's keys (a multiple of kDecodeSplitTokens):
// QWEN3_DECODE_SPLIT_TOKENS, read once, for tuning (bench/cuda/NOTES.md round N).
int decode_min_split_tokens() {
  static const int tokens = [] {
    const char* v = std::getenv("QWEN3_DECODE_SPLIT_TOKENS");
    const int n = v != nullptr ? std::atoi(v) : 0;
    return n > 0 ? n : kDecodeSplitTokens;
  }();
  return tokens;
}

// Rows of at most this many positions keep their splits within about two waves
// (plan_attention's short_context): QWEN3_DECODE_SHORT_CONTEXT, read once, for tuning
// (0: no such rows; bench/cuda/NOTES.md round P).
int decode_short_context() {
  static const int tokens = [] {
    const char* v = std::getenv("QWEN3_DECODE_SHORT_CONTEXT");
    return v != nullptr ? std::max(0, std::atoi(v)) : kDecodeShortContext;
  }();
  return tokens;
}

}  // namespace

// Activation buffers, grown to the largest step seen (float32 unless named otherwise).
struct CudaRunner::Workspace {
  DeviceBuffer h;        // [rows, hidden] residual stream
  DeviceBuffer qkv;      // [rows, q_dim + 2 kv_dim]
  DeviceBuffer q;        // [rows, q_dim] normed, rotated
  DeviceBuffer attn;     // [rows, q_dim]
  DeviceBuffer act;      // [rows, inter] silu(gate) * up
  DeviceBuffer xf;       // [out_rows, hidden] final-normed rows that want logits
  DeviceBuffer logits;   // [out_rows, vocab]
  DeviceBuffer partial_o;  // split decode rows' partial outputs
  DeviceBuffer partial_lse;
  DeviceBuffer decode_counters;  // their arrival counters (zero between launches)
  DeviceBuffer meta;     // the step's plan (StepPlan's device arrays)
  // Decode-shaped steps: sum of squares of each row of h as the embedding / an o or down
  // GEMV leaves it, so the next GEMV applies the RMSNorm itself. [2 L + 1, kGemvMaxRows]
  DeviceBuffer sum_squares;
  PinnedBuffer meta_host;
  PinnedBuffer logits_host;
};

// One step's plan: host arrays, then (after upload_plan) their device copies.
struct CudaRunner::StepPlan {
  std::vector<int32_t> tokens;       // [rows]
  std::vector<int32_t> row_pos;      // [rows]
  std::vector<int64_t> row_slot;     // [rows] block * block_size + offset
  std::vector<int32_t> tables;       // [seqs, max_blocks]
  std::vector<int32_t> logits_rows;  // [out_rows]
  int32_t max_blocks = 1;
  AttentionPlan attn;
  struct Device {
    const int32_t* tokens;
    const int32_t* row_pos;
    const int64_t* row_slot;
    const int32_t* tables;
    const int32_t* logits_rows;
    const AttnWorkItem* items;
    const AttnDecodeItem* decode;
  } d{};
  int64_t rows() const { return static_cast<int64_t>(tokens.size()); }
};

CudaRunner::CudaRunner(const Qwen3Weights& weights, int64_t num_blocks, int64_t block_size,
                       const CudaRunnerOptions& options)
    : config_(weights.config()), options_(options), ws_(std::make_unique<Workspace>()) {
  if (!cuda_device_available()) {
    QWEN3_THROW(ErrorCode::kUnavailable, "no CUDA device is available; use --device cpu");
  }
  QWEN3_CUDA_CHECK(cudaSetDevice(options.device));
  QWEN3_CUDA_CHECK(
      cudaDeviceGetAttribute(&num_sms_, cudaDevAttrMultiProcessorCount, options.device));
  QWEN3_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  weights_ = std::make_unique<CudaWeights>(weights, stream_);
  pool_ = std::make_unique<CudaKvPool>(config_, num_blocks, block_size, options.kv_dtype);
  linear_ = std::make_unique<LinearContext>(stream_);
  linear_->reserve_dequant(weights_->largest_fp8_matrix());  // FP8 prefill scratch
  const bool persistent = options.persistent_decode < 0 ? env_flag("QWEN3_CUDA_PERSISTENT", false)
                                                        : options.persistent_decode > 0;
  if (persistent && !options.all_reduce)  // nullptr where unsupported
    persistent_ = PersistentDecoder::create(*weights_, *pool_, options.persistent_slot_bytes);
  for (cudaEvent_t* e : {&step_begin_, &step_end_, &step_done_, &prev_done_})
    QWEN3_CUDA_CHECK(cudaEventCreate(e));
  QWEN3_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

// One sequence's single decode row with full attention over a context the kernel's
// split-KV attention is measured good for.
bool CudaRunner::uses_persistent(const StepPlan& p) const {
  return persistent_ && p.rows() == 1 && p.attn.decode_only && !window_.on() &&
         p.tables.size() == static_cast<size_t>(p.max_blocks) &&
         PersistentDecoder::takes_context(p.max_blocks * pool_->block_size());
}

void CudaRunner::set_cuda_graphs(bool on) {
  options_.cuda_graphs = on;
  clear_graphs();
}

CudaRunner::~CudaRunner() {
  // Its device's resources (cuBLAS handle, graphs) go with that device current: a
  // tensor-parallel rank's runner may be destroyed from another rank's thread.
  if (cudaSetDevice(options_.device) != cudaSuccess) cudaGetLastError();
  if (stream_) cudaStreamSynchronize(stream_);
  clear_graphs();
  persistent_.reset();  // prints its profile when asked for
  for (cudaEvent_t e : {step_begin_, step_end_, step_done_, prev_done_})
    if (e) cudaEventDestroy(e);
  linear_.reset();
  sampler_.reset();
  ws_.reset();
  pool_.reset();
  weights_.reset();
  if (stream_) cudaStreamDestroy(stream_);
}

// Checks the step as cpu::plan_batch does (kInternal: scheduler bug; kInvalidArgument:
// token id outside the vocabulary) and lays out the rows.
CudaRunner::StepPlan CudaRunner::plan_step(const SchedulerOutput& step) const {
  StepPlan p;
  const int64_t bs = pool_->block_size();
  std::vector<AttnSeq> seqs;
  for (const ScheduledSeq& s : step.seqs) {
    const auto n = static_cast<int64_t>(s.tokens.size());
    const int64_t need = (s.start_pos + n + bs - 1) / bs;
    if (n < 1 || s.start_pos < 0 || static_cast<int64_t>(s.block_table.size()) < need) {
      QWEN3_THROW(ErrorCode::kInternal,
                  "sequence {}: {} tokens at {} with a block table of {} blocks of {} tokens",
                  s.seq_id, n, s.start_pos, s.block_table.size(), bs);
    }
    for (int64_t b = 0; b < need; ++b) {
      if (s.block_table[b] < 0 || s.block_table[b] >= pool_->num_blocks()) {
        QWEN3_THROW(ErrorCode::kInternal, "sequence {}: block table entry {} is {}, outside [0, {})",
                    s.seq_id, b, s.block_table[b], pool_->num_blocks());
      }
    }
    p.max_blocks = std::max<int32_t>(p.max_blocks, static_cast<int32_t>(need));
  }
  // Table width in steps of 32 blocks: a growing context keeps its graph key longer.
  p.max_blocks = (p.max_blocks + 31) / 32 * 32;
  for (size_t si = 0; si < step.seqs.size(); ++si) {
    const ScheduledSeq& s = step.seqs[si];
    const auto n = static_cast<int32_t>(s.tokens.size());
    seqs.push_back({static_cast<int32_t>(p.rows()), n, static_cast<int32_t>(s.start_pos)});
    for (int32_t t = 0; t < n; ++t) {
      const int32_t tok = s.tokens[t];
      if (tok < 0 || tok >= config_.vocab_size) {
        QWEN3_THROW(ErrorCode::kInvalidArgument, "token id {} is outside the vocabulary [0, {})",
                    tok, config_.vocab_size);
      }
      const int64_t pos = s.start_pos + t;
      p.tokens.push_back(tok);
      p.row_pos.push_back(static_cast<int32_t>(pos));
      p.row_slot.push_back(static_cast<int64_t>(s.block_table[pos / bs]) * bs + pos % bs);
    }
    if (s.want_logits) p.logits_rows.push_back(static_cast<int32_t>(p.rows() - 1));
    const size_t base = p.tables.size();
    p.tables.resize(base + p.max_blocks, 0);
    const auto used = std::min<size_t>(s.block_table.size(), static_cast<size_t>(p.max_blocks));
    std::copy_n(s.block_table.begin(), used, p.tables.begin() + static_cast<int64_t>(base));
  }
  if (p.rows() != step.total_tokens) {
    QWEN3_THROW(ErrorCode::kInternal, "step has {} tokens, total_tokens says {}", p.rows(),
                step.total_tokens);
  }
  const int group = static_cast<int>(config_.num_attention_heads / config_.num_key_value_heads);
  p.attn = plan_attention(seqs, group, static_cast<int>(config_.num_key_value_heads), num_sms_,
                          decode_min_split_tokens(), 0, window_, decode_short_context());
  return p;
}

// All plan arrays in one pinned buffer, one asynchronous copy (16-byte aligned pieces).
void CudaRunner::upload_plan(StepPlan& p) {
  // The previous step's copy must be done before its pinned source is reused.
  QWEN3_CUDA_CHECK(cudaStreamSynchronize(stream_));
  const auto up = upload_packed(ws_->meta_host, ws_->meta, stream_, "step metadata",
                                "step metadata", p.tokens, p.row_pos, p.row_slot, p.tables,
                                p.logits_rows, p.attn.items, p.attn.decode);
  if (up.moved) clear_graphs();
  const auto* d = ws_->meta.as<uint8_t>();
  const auto& o = up.offsets;
  p.d = {reinterpret_cast<const int32_t*>(d + o[0]),
         reinterpret_cast<const int32_t*>(d + o[1]),
         reinterpret_cast<const int64_t*>(d + o[2]),
         reinterpret_cast<const int32_t*>(d + o[3]),
         reinterpret_cast<const int32_t*>(d + o[4]),
         reinterpret_cast<const AttnWorkItem*>(d + o[5]),
         reinterpret_cast<const AttnDecodeItem*>(d + o[6])};
}

void CudaRunner::attention(int64_t layer, const StepPlan& p, const QkNormRopeKvParams* rope) {
  const ModelConfig& c = config_;
  const bool split = p.attn.num_split_rows > 0;
  launch_paged_attention({.q = ws_->q.as<float>(),
                          .k_pool = pool_->k(layer),
                          .v_pool = pool_->v(layer),
                          .kv_dtype = pool_->dtype(),
                          .block_tables = p.d.tables,
                          .max_blocks = p.max_blocks,
                          .row_pos = p.d.row_pos,
                          .items = p.d.items,
                          .num_items = static_cast<int>(p.attn.items.size()),
                          .decode_items = p.d.decode,
                          .num_decode_items = static_cast<int>(p.attn.decode.size()),
                          .out = ws_->attn.as<float>(),
                          .partial_o = split ? ws_->partial_o.as<float>() : nullptr,
                          .partial_lse = split ? ws_->partial_lse.as<float>() : nullptr,
                          .decode_counters = split ? ws_->decode_counters.as<int>() : nullptr,
                          .decode_heads_per_cta = p.attn.decode_heads_per_cta,
                          .heads = static_cast<int>(c.num_attention_heads),
                          .kv_heads = static_cast<int>(c.num_key_value_heads),
                          .head_dim = static_cast<int>(c.head_dim),
                          .block_size = static_cast<int>(pool_->block_size()),
                          .pool_rows = pool_->num_blocks() * pool_->block_size(),
                          .scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim)),
                          .k_scale = pool_->k_scale(layer),
                          .v_scale = pool_->v_scale(layer),
                          .rope = rope != nullptr ? *rope : QkNormRopeKvParams{}},
                         stream_);
}

// The decoder, as cpu_model.cpp's run(): h += attn(norm(h)); h += mlp(norm(h)). The norms
// are fused into the following linear layer's input and the residual adds into the
// o_proj / down_proj outputs (the cuBLAS path runs the norm first and adds with beta = 1).
void CudaRunner::forward(const StepPlan& p) {
  const ModelConfig& c = config_;
  const CudaWeights& w = *weights_;
  const int64_t n = p.rows();
  const int64_t d = c.hidden_size;
  const auto eps = static_cast<float>(c.rms_norm_eps);
  Workspace& s = *ws_;
  float* h = s.h.as<float>();

  // Decode-shaped steps on the streaming GEMV (BF16 up to 3 rows, FP8 batch 1: see
  // LinearContext::fuses_norm) skip the RMSNorm kernels: each writer of the residual stream
  // also sums its squares per row (slot 2 i: layer i's input norm, 2 i + 1: its
  // post-attention norm) and the GEMV that reads it normalises on the fly.
  // Tensor parallelism: o_proj and down_proj give each rank a partial sum of the branch.
  // Rank 0 adds its part to the residual stream, the others overwrite h with theirs, and
  // an all-reduce of h then leaves h + the whole branch on every rank. The norms' sums of
  // squares would see partial rows, so tensor-parallel steps run the RMSNorm kernels.
  const bool tp = static_cast<bool>(options_.all_reduce);
  const LinearOutput branch_out =
      tp && options_.tp_rank != 0 ? LinearOutput::kStore : LinearOutput::kAddTo;
  auto add_branch = [&](const DeviceMatrix& m, const LinearInput& x, float* sum_squares) {
    linear_->run(m, x, n, h, branch_out, sum_squares);
    if (tp) {
      options_.rank_barrier();
      options_.all_reduce(h, static_cast<size_t>(n * d), stream_);
      options_.rank_barrier();
    }
  };
  const CudaLayerWeights& l0 = w.layers().front();
  const bool persistent = uses_persistent(p);  // the whole decoder in one kernel
  const bool fuse = !persistent && !tp && LinearContext::fuses_norm(l0.qkv, n) &&
                    LinearContext::fuses_norm(l0.o, n) &&
                    LinearContext::fuses_norm(l0.gate_up, n) &&
                    LinearContext::fuses_norm(l0.down, n);
  float* ss = nullptr;
  if (fuse) {
    const size_t slots = static_cast<size_t>(2 * c.num_hidden_layers + 1);
    s.sum_squares.ensure(slots * kGemvMaxRows * sizeof(float), "norm sums of squares");
    ss = s.sum_squares.as<float>();
    QWEN3_CUDA_CHECK(cudaMemsetAsync(ss, 0, slots * kGemvMaxRows * sizeof(float), stream_));
  }
  auto slot = [&](int64_t k) { return ss != nullptr ? ss + k * kGemvMaxRows : nullptr; };
  // Steps whose MLP products both run on cuBLAS in BF16 keep its activations in BF16.
  const bool act_bf16 = linear_->mlp_in_bf16(l0.gate_up, l0.down, n);

  launch_embedding({w.embed().data, p.d.tokens, h, n, d, persistent ? nullptr : slot(0)}, stream_);
  if (persistent) {
    persistent_->launch({p.d.tables, p.d.row_pos, p.d.row_slot, h, s.qkv.as<float>(),
                         s.attn.as<float>(), s.act.as<float>()},
                        stream_);
  }
  for (int64_t i = 0; i < (persistent ? 0 : c.num_hidden_layers); ++i) {
    const CudaLayerWeights& l = w.layers()[i];
    linear_->run(l.qkv, {h, l.input_norm, eps, slot(2 * i)}, n, s.qkv.as<float>());
    const QkNormRopeKvParams rope{.qkv = s.qkv.as<float>(),
                                  .q_norm = l.q_norm,
                                  .k_norm = l.k_norm,
                                  .inv_freq = w.inv_freq(),
                                  .attention_scaling = w.rope_attention_scaling(),
                                  .row_pos = p.d.row_pos,
                                  .row_slot = p.d.row_slot,
                                  .q_out = s.q.as<float>(),
                                  .k_pool = pool_->k(i),
                                  .v_pool = pool_->v(i),
                                  .kv_dtype = pool_->dtype(),
                                  .rows = n,
                                  .heads = static_cast<int>(c.num_attention_heads),
                                  .kv_heads = static_cast<int>(c.num_key_value_heads),
                                  .head_dim = static_cast<int>(c.head_dim),
                                  .eps = eps,
                                  .k_scale = pool_->k_scale(i),
                                  .v_scale = pool_->v_scale(i)};
    // A step of decode rows only: the decode attention kernel applies it itself.
    const bool rope_in_attention = p.attn.decode_only;
    if (!rope_in_attention) launch_qk_norm_rope_kv(rope, stream_);
    attention(i, p, rope_in_attention ? &rope : nullptr);
    add_branch(l.o, {s.attn.as<float>()}, slot(2 * i + 1));
    const LinearInput mlp_in{h, l.post_attn_norm, eps, slot(2 * i + 1)};
    if (act_bf16) {
      linear_->run_silu_pairs_bf16(l.gate_up, mlp_in, n, s.act.as<__nv_bfloat16>());
      add_branch(l.down, {.x_bf16 = s.act.as<__nv_bfloat16>()}, nullptr);
    } else {
      linear_->run(l.gate_up, mlp_in, n, s.act.as<float>(), LinearOutput::kSiluPairs);
      // The last layer's sums would feed nothing (the final norm reduces its own rows).
      add_branch(l.down, {s.act.as<float>()},
                 i + 1 < c.num_hidden_layers ? slot(2 * i + 2) : nullptr);
    }
  }
  if (tp && options_.tp_rank != 0) return;  // rank 0 alone computes the logits
  // Final norm over the rows that want logits, then lm_head.
  const auto out_rows = static_cast<int64_t>(p.logits_rows.size());
  launch_add_rms_norm(
      {h, nullptr, w.final_norm(), p.d.logits_rows, s.xf.as<float>(), out_rows, d, eps, false},
      stream_);
  linear_->run(w.lm_head(), s.xf.as<float>(), out_rows, s.logits.as<float>());
}

void CudaRunner::clear_graphs() {
  for (auto& [key, entry] : graphs_) {
    if (entry.exec) cudaGraphExecDestroy(entry.exec);
  }
  graphs_.clear();
}

void CudaRunner::forward_maybe_graph(const StepPlan& p) {
  const ModelConfig& c = config_;
  const bool all_gemv = gemv_supports(p.rows(), c.hidden_size) &&
                        gemv_supports(p.rows(), c.q_dim()) &&
                        gemv_supports(p.rows(), c.intermediate_size);
  if (!options_.cuda_graphs || !all_gemv) return forward(p);  // cuBLAS steps run plainly
  // Every kernel parameter is a function of this key: the plan's arrays sit at offsets
  // fixed by their sizes in ws_->meta, refreshed before each replay.
  const GraphKey key{p.rows(),
                     static_cast<int64_t>(p.logits_rows.size()),
                     static_cast<int64_t>(p.tables.size() / std::max<int32_t>(p.max_blocks, 1)),
                     static_cast<int64_t>(p.attn.items.size()),
                     static_cast<int64_t>(p.attn.decode.size()),
                     p.attn.num_partials,
                     p.attn.num_split_rows,
                     p.max_blocks,
                     p.attn.decode_heads_per_cta,
                     p.attn.decode_only};
  if (graphs_.size() > 256) clear_graphs();  // bound the cache (context growth adds keys)
  GraphEntry& e = graphs_[key];
  if (e.exec == nullptr && ++e.uses >= 2) {
    cudaGraph_t graph = nullptr;
    QWEN3_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    try {
      forward(p);
    } catch (...) {
      cudaStreamEndCapture(stream_, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    QWEN3_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
    const cudaError_t err = cudaGraphInstantiate(&e.exec, graph, 0);
    cudaGraphDestroy(graph);
    QWEN3_CUDA_CHECK(err);
    // Uploaded now, while this GPU is idle: a first launch that uploads could wait on a
    // peer GPU already spinning in the graph's first all-reduce (tensor parallelism).
    QWEN3_CUDA_CHECK(cudaGraphUpload(e.exec, stream_));
    ++graphs_captured_;
  }
  if (e.exec == nullptr) return forward(p);
  // Tensor parallelism: every rank launches its graph (and its all-reduces) between the
  // same two meetings (TpCudaRunner).
  if (options_.rank_barrier) options_.rank_barrier();
  QWEN3_CUDA_CHECK(cudaGraphLaunch(e.exec, stream_));
  if (options_.rank_barrier) options_.rank_barrier();
}

RunnerOutput CudaRunner::execute(const SchedulerOutput& step) {
  stage(step);
  return launch({});
}

RunnerOutput CudaRunner::execute_and_sample(const SchedulerOutput& step,
                                            std::span<const SamplerRow> rows) {
  if (!samples_on_gpu(rows)) return execute(step);
  stage(step);
  return launch(rows);
}

void CudaRunner::stage(const SchedulerOutput& step) {
  staged_.reset();
  if (step.seqs.empty()) return;
  QWEN3_CUDA_CHECK(cudaSetDevice(options_.device));  // the engine may call from its own thread
  auto plan = std::make_unique<StepPlan>(plan_step(step));
  const ModelConfig& c = config_;
  const auto n = static_cast<size_t>(plan->rows());
  const auto out_rows = static_cast<size_t>(plan->logits_rows.size());
  const auto f = sizeof(float);
  Workspace& s = *ws_;
  const char* what = "activations; lower --max-num-batched-tokens";
  bool moved = false;  // a moved buffer invalidates the captured graphs
  moved |= s.h.ensure(n * c.hidden_size * f, what);
  moved |= s.qkv.ensure(n * (c.q_dim() + 2 * c.kv_dim()) * f, what);
  moved |= s.q.ensure(n * c.q_dim() * f, what);
  moved |= s.attn.ensure(n * c.q_dim() * f, what);
  moved |= s.act.ensure(n * c.intermediate_size * f, what);
  moved |= s.xf.ensure(std::max<size_t>(out_rows, 1) * c.hidden_size * f, what);
  moved |= s.logits.ensure(std::max<size_t>(out_rows, 1) * c.vocab_size * f, "logits");
  const auto partials = static_cast<size_t>(std::max(plan->attn.num_partials, 1));
  moved |= s.partial_o.ensure(partials * c.q_dim() * f, "split-KV attention partials");
  moved |= s.partial_lse.ensure(partials * c.num_attention_heads * f, "split-KV attention partials");
  const int group = static_cast<int>(c.num_attention_heads / c.num_key_value_heads);
  const auto counters = static_cast<size_t>(std::max(plan->attn.num_split_rows, 1)) *
                        c.num_key_value_heads * decode_attention_quads(group, 1);  // the most CTAs
  if (s.decode_counters.ensure(counters * sizeof(int), "split-KV attention counters")) {
    moved = true;
    QWEN3_CUDA_CHECK(cudaMemsetAsync(s.decode_counters.get(), 0, counters * sizeof(int), stream_));
  }
  moved |= linear_->reserve_normed(n * c.hidden_size);
  if (moved) clear_graphs();
  upload_plan(*plan);  // synchronizes with the previous step first
  staged_ = std::move(plan);
}

RunnerOutput CudaRunner::launch(std::span<const SamplerRow> rows, bool outputs) {
  RunnerOutput out;
  out.vocab = config_.vocab_size;
  if (!staged_) return out;
  const std::unique_ptr<StepPlan> plan = std::move(staged_);
  QWEN3_CUDA_CHECK(cudaSetDevice(options_.device));
  const ModelConfig& c = config_;
  const auto out_rows = static_cast<size_t>(plan->logits_rows.size());
  const auto f = sizeof(float);
  Workspace& s = *ws_;
  QWEN3_CUDA_CHECK(cudaEventRecord(step_begin_, stream_));
  if (uses_persistent(*plan)) persistent_->count_step();
  forward_maybe_graph(*plan);
  QWEN3_CUDA_CHECK(cudaEventRecord(step_end_, stream_));
  if (!outputs) {
    QWEN3_CUDA_CHECK(cudaEventRecord(step_done_, stream_));
    QWEN3_CUDA_CHECK(cudaStreamSynchronize(stream_));
    note_step();
    return out;
  }
  out.rows = static_cast<int64_t>(out_rows);
  if (!rows.empty()) {  // sampling runs after the graph: its lists change every step
    if (std::ssize(rows) != out.rows) {
      QWEN3_THROW(ErrorCode::kInternal, "{} sampler rows for {} logits rows", rows.size(),
                  out_rows);
    }
    if (!sampler_) sampler_ = std::make_unique<GpuSampler>(c.vocab_size);
    sampler_->sample(s.logits.as<float>(), rows, stream_, out, step_done_);  // synchronizes
    note_step();
    return out;
  }
  if (out_rows > 0) {
    const size_t bytes = out_rows * c.vocab_size * f;
    s.logits_host.ensure(bytes, "logits (host)");
    QWEN3_CUDA_CHECK(cudaMemcpyAsync(s.logits_host.get(), s.logits.get(), bytes,
                                     cudaMemcpyDeviceToHost, stream_));
  }
  QWEN3_CUDA_CHECK(cudaEventRecord(step_done_, stream_));
  QWEN3_CUDA_CHECK(cudaStreamSynchronize(stream_));
  note_step();
  if (out_rows > 0) {
    const float* src = s.logits_host.as<float>();
    out.logits.assign(src, src + out_rows * c.vocab_size);
  }
  return out;
}

void CudaRunner::note_step() {
  QWEN3_CUDA_CHECK(cudaEventElapsedTime(&last_gpu_ms_, step_begin_, step_end_));
  float busy = 0;
  QWEN3_CUDA_CHECK(cudaEventElapsedTime(&busy, step_begin_, step_done_));
  timeline_.busy_ms += busy;
  ++timeline_.steps;
  if (have_prev_done_) {
    float idle = 0;
    QWEN3_CUDA_CHECK(cudaEventElapsedTime(&idle, prev_done_, step_begin_));
    timeline_.idle_ms += idle;
  }
  std::swap(prev_done_, step_done_);
  have_prev_done_ = true;
}

}  // namespace qwen3::cuda
