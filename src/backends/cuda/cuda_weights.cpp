#include "backends/cuda/cuda_weights.h"

#include <algorithm>
#include <cstring>

#include "backends/cuda/cuda_check.h"
#include "core/error.h"
#include "model/rope.h"

namespace qwen3::cuda {
namespace {

// Host -> device copies through two pinned buffers: while chunk i is copied by the
// DMA engine, the host fills the other buffer with chunk i + 1 (threads share the memcpy).
class StagedUploader {
 public:
  explicit StagedUploader(cudaStream_t stream) : stream_(stream) {
    for (int i = 0; i < 2; ++i) {
      buf_[i].ensure(kChunk, "weight upload staging");
      QWEN3_CUDA_CHECK(cudaEventCreateWithFlags(&ev_[i], cudaEventDisableTiming));
      QWEN3_CUDA_CHECK(cudaEventRecord(ev_[i], stream_));
    }
  }
  ~StagedUploader() {
    cudaStreamSynchronize(stream_);
    for (cudaEvent_t e : ev_) cudaEventDestroy(e);
  }
  StagedUploader(const StagedUploader&) = delete;
  StagedUploader& operator=(const StagedUploader&) = delete;

  void upload(void* dst, const void* src, size_t bytes) {
    auto* d = static_cast<uint8_t*>(dst);
    const auto* s = static_cast<const uint8_t*>(src);
    for (size_t off = 0; off < bytes; off += kChunk) {
      const size_t n = std::min(kChunk, bytes - off);
      QWEN3_CUDA_CHECK(cudaEventSynchronize(ev_[cur_]));
      uint8_t* stage = buf_[cur_].as<uint8_t>();
      constexpr size_t kPiece = 1 << 20;
      const auto pieces = static_cast<int64_t>((n + kPiece - 1) / kPiece);
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < pieces; ++i) {
        const size_t o = static_cast<size_t>(i) * kPiece;
        std::memcpy(stage + o, s + off + o, std::min(kPiece, n - o));
      }
      QWEN3_CUDA_CHECK(cudaMemcpyAsync(d + off, stage, n, cudaMemcpyHostToDevice, stream_));
      QWEN3_CUDA_CHECK(cudaEventRecord(ev_[cur_], stream_));
      cur_ ^= 1;
    }
  }

  // Rows of row_bytes from src to dst rows dst_pitch bytes apart (2D copies per chunk).
  void upload_rows(void* dst, size_t dst_pitch, const void* src, size_t row_bytes, int64_t rows) {
    auto* d = static_cast<uint8_t*>(dst);
    const auto* s = static_cast<const uint8_t*>(src);
    const auto rows_per_chunk = static_cast<int64_t>(std::max<size_t>(kChunk / row_bytes, 1));
    for (int64_t r0 = 0; r0 < rows; r0 += rows_per_chunk) {
      const int64_t n = std::min(rows_per_chunk, rows - r0);
      QWEN3_CUDA_CHECK(cudaEventSynchronize(ev_[cur_]));
      uint8_t* stage = buf_[cur_].as<uint8_t>();
      std::memcpy(stage, s + r0 * row_bytes, n * row_bytes);
      QWEN3_CUDA_CHECK(cudaMemcpy2DAsync(d + r0 * dst_pitch, dst_pitch, stage, row_bytes, row_bytes,
                                         n, cudaMemcpyHostToDevice, stream_));
      QWEN3_CUDA_CHECK(cudaEventRecord(ev_[cur_], stream_));
      cur_ ^= 1;
    }
  }

  // A matrix as BF16 rows dst_pitch bytes apart (0: contiguous): BF16 as stored, F32/F16
  // rounded; FP8 is refused.
  void upload_matrix(void* dst, const WeightMatrix& m, size_t dst_pitch = 0) {
    const size_t bytes = static_cast<size_t>(m.rows * m.cols) * 2;
    const size_t row_bytes = static_cast<size_t>(m.cols) * 2;
    if (m.dtype == DType::kBF16) {
      if (dst_pitch == 0) return upload(dst, m.data, bytes);
      return upload_rows(dst, dst_pitch, m.data, row_bytes, m.rows);
    }
    if (m.is_fp8()) {
      QWEN3_THROW(ErrorCode::kUnsupported,
                  "tensor '{}' is {}: FP8 checkpoints do not run on the CUDA backend yet; use "
                  "--device cpu or the BF16 checkpoint",
                  m.name, dtype_name(m.dtype));
    }
    std::vector<uint16_t> bf(static_cast<size_t>(m.rows * m.cols));
    std::vector<float> row(static_cast<size_t>(m.cols));
    for (int64_t r = 0; r < m.rows; ++r) {
      m.row_to_f32(r, row.data());
      for (int64_t c = 0; c < m.cols; ++c) bf[r * m.cols + c] = f32_to_bf16(row[c]);
    }
    if (dst_pitch == 0) {
      upload(dst, bf.data(), bytes);
    } else {
      upload_rows(dst, dst_pitch, bf.data(), row_bytes, m.rows);
    }
    QWEN3_CUDA_CHECK(cudaStreamSynchronize(stream_));  // `bf` dies here
  }

 private:
  static constexpr size_t kChunk = 64u << 20;
  cudaStream_t stream_;
  PinnedBuffer buf_[2];
  cudaEvent_t ev_[2] = {};
  int cur_ = 0;
};

// Offsets of every tensor in the one device allocation (256-byte aligned).
class Layout {
 public:
  size_t add(size_t bytes) {
    const size_t off = size_;
    size_ += (bytes + 255) / 256 * 256;
    return off;
  }
  size_t size() const { return size_; }

 private:
  size_t size_ = 0;
};

size_t matrix_bytes(int64_t rows, int64_t cols) { return static_cast<size_t>(rows * cols) * 2; }

}  // namespace

CudaWeights::CudaWeights(const Qwen3Weights& w, cudaStream_t stream) : config_(w.config()) {
  const ModelConfig& c = config_;
  for (const WeightMatrix* m : {&w.embed(), &w.lm_head()}) {
    if (m->is_fp8()) {
      QWEN3_THROW(ErrorCode::kUnsupported,
                  "{}: FP8 checkpoints do not run on the CUDA backend yet; use --device cpu",
                  w.checkpoint().dir());
    }
  }
  if (c.quant.fp8) {
    QWEN3_THROW(ErrorCode::kUnsupported,
                "{}: FP8 checkpoints (quantization_config fp8) do not run on the CUDA backend yet; "
                "use --device cpu or the BF16 checkpoint",
                w.checkpoint().dir());
  }
  const int64_t qkv_rows = c.q_dim() + 2 * c.kv_dim();
  const bool tied = w.lm_head().data == w.embed().data;

  Layout lay;
  const size_t embed_off = lay.add(matrix_bytes(c.vocab_size, c.hidden_size));
  const size_t head_off = tied ? embed_off : lay.add(matrix_bytes(c.vocab_size, c.hidden_size));
  const size_t fnorm_off = lay.add(static_cast<size_t>(c.hidden_size) * 4);
  const size_t freq_off = lay.add(static_cast<size_t>(c.head_dim / 2) * 4);
  struct LayerOffsets {
    size_t qkv, o, gate_up, down, in_norm, post_norm, q_norm, k_norm;
  };
  std::vector<LayerOffsets> lo(static_cast<size_t>(c.num_hidden_layers));
  for (auto& l : lo) {
    l.qkv = lay.add(matrix_bytes(qkv_rows, c.hidden_size));
    l.o = lay.add(matrix_bytes(c.hidden_size, c.q_dim()));
    l.gate_up = lay.add(matrix_bytes(2 * c.intermediate_size, c.hidden_size));
    l.down = lay.add(matrix_bytes(c.hidden_size, c.intermediate_size));
    l.in_norm = lay.add(static_cast<size_t>(c.hidden_size) * 4);
    l.post_norm = lay.add(static_cast<size_t>(c.hidden_size) * 4);
    l.q_norm = lay.add(static_cast<size_t>(c.head_dim) * 4);
    l.k_norm = lay.add(static_cast<size_t>(c.head_dim) * 4);
  }
  storage_ = DeviceBuffer(lay.size(), "model weights (BF16); the model does not fit this GPU");
  auto* base = storage_.as<uint8_t>();
  auto bf = [&](size_t off) { return reinterpret_cast<const __nv_bfloat16*>(base + off); };
  auto f32 = [&](size_t off) { return reinterpret_cast<const float*>(base + off); };

  StagedUploader up(stream);
  up.upload_matrix(base + embed_off, w.embed());
  if (!tied) up.upload_matrix(base + head_off, w.lm_head());
  embed_ = {bf(embed_off), c.vocab_size, c.hidden_size};
  lm_head_ = {bf(head_off), c.vocab_size, c.hidden_size};
  up.upload(base + fnorm_off, w.final_norm().data(), w.final_norm().size() * 4);
  final_norm_ = f32(fnorm_off);
  const RopeTable rope = RopeTable::build(c);
  up.upload(base + freq_off, rope.inv_freq.data(), rope.inv_freq.size() * 4);
  inv_freq_ = f32(freq_off);
  rope_scaling_ = rope.attention_scaling;

  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const LayerWeights& l = w.layers()[i];
    const LayerOffsets& o = lo[i];
    up.upload_matrix(base + o.qkv, l.q_proj);
    up.upload_matrix(base + o.qkv + matrix_bytes(c.q_dim(), c.hidden_size), l.k_proj);
    up.upload_matrix(base + o.qkv + matrix_bytes(c.q_dim() + c.kv_dim(), c.hidden_size), l.v_proj);
    up.upload_matrix(base + o.o, l.o_proj);
    // gate_i and up_i adjacent: one GEMV warp pair computes silu(gate_i) * up_i.
    const size_t row_bytes = static_cast<size_t>(c.hidden_size) * 2;
    up.upload_matrix(base + o.gate_up, l.gate_proj, 2 * row_bytes);
    up.upload_matrix(base + o.gate_up + row_bytes, l.up_proj, 2 * row_bytes);
    up.upload_matrix(base + o.down, l.down_proj);
    up.upload(base + o.in_norm, l.input_norm.data(), l.input_norm.size() * 4);
    up.upload(base + o.post_norm, l.post_attn_norm.data(), l.post_attn_norm.size() * 4);
    up.upload(base + o.q_norm, l.q_norm.data(), l.q_norm.size() * 4);
    up.upload(base + o.k_norm, l.k_norm.data(), l.k_norm.size() * 4);
    layers_.push_back({.qkv = {bf(o.qkv), qkv_rows, c.hidden_size},
                       .o = {bf(o.o), c.hidden_size, c.q_dim()},
                       .gate_up = {bf(o.gate_up), 2 * c.intermediate_size, c.hidden_size},
                       .down = {bf(o.down), c.hidden_size, c.intermediate_size},
                       .input_norm = f32(o.in_norm),
                       .post_attn_norm = f32(o.post_norm),
                       .q_norm = f32(o.q_norm),
                       .k_norm = f32(o.k_norm)});
  }
}

}  // namespace qwen3::cuda
