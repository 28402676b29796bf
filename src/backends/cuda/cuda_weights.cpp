#include "backends/cuda/cuda_weights.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/gemv_fp8.h"
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

  // An FP8 matrix's bytes as stored, rows dst_pitch bytes apart (0: contiguous).
  void upload_fp8(void* dst, const WeightMatrix& m, size_t dst_pitch = 0) {
    const auto row_bytes = static_cast<size_t>(m.cols);
    if (dst_pitch == 0) return upload(dst, m.data, row_bytes * static_cast<size_t>(m.rows));
    upload_rows(dst, dst_pitch, m.data, row_bytes, m.rows);
  }

  // A matrix as BF16 rows dst_pitch bytes apart (0: contiguous): BF16 as stored, F32/F16
  // rounded, FP8 dequantized (for a fused matrix whose parts differ in dtype).
  void upload_matrix(void* dst, const WeightMatrix& m, size_t dst_pitch = 0) {
    const size_t bytes = static_cast<size_t>(m.rows * m.cols) * 2;
    const size_t row_bytes = static_cast<size_t>(m.cols) * 2;
    if (m.dtype == DType::kBF16) {
      if (dst_pitch == 0) return upload(dst, m.data, bytes);
      return upload_rows(dst, dst_pitch, m.data, row_bytes, m.rows);
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

// One device matrix made of checkpoint matrices of equal cols: stacked (q | k | v) or
// with rows interleaved (gate_0, up_0, gate_1, ...). It stays FP8 when every part is FP8
// of one dtype and block width that the FP8 GEMV takes, else it is stored as BF16 (so
// decode steps always run GEMVs, the condition of the runner's CUDA graphs).
class FusedMatrix {
 public:
  FusedMatrix(Layout& lay, std::vector<const WeightMatrix*> parts, bool interleave)
      : parts_(std::move(parts)), interleave_(interleave) {
    const WeightMatrix& f = *parts_.front();
    cols_ = f.cols;
    fp8_ = true;
    for (const WeightMatrix* m : parts_) {
      rows_ += m->rows;
      fp8_ = fp8_ && m->is_fp8() && m->dtype == f.dtype && m->block_in == f.block_in;
    }
    fp8_ = fp8_ && gemv_fp8_supports(1, cols_, f.block_in);
    if (fp8_) {
      data_off_ = lay.add(static_cast<size_t>(rows_ * cols_));
      scales_off_ = lay.add(static_cast<size_t>(rows_ * f.scale_cols()) * 4);
      // The block-scaled FP8 GEMM's copy of the scales (DeviceMatrix::lt_scales): 4 / 128
      // bytes per weight more.
      if (f.dtype == DType::kF8E4M3 && f.block_in == 128 && cols_ % 128 == 0 && rows_ % 16 == 0)
        lt_off_ = lay.add(static_cast<size_t>(rows_ * f.scale_cols()) * 4);
    } else {
      data_off_ = lay.add(matrix_bytes(rows_, cols_));
    }
  }

  DeviceMatrix upload(StagedUploader& up, uint8_t* base) const {
    const WeightMatrix& f = *parts_.front();
    const size_t elem = fp8_ ? 1 : 2;
    const size_t row_bytes = static_cast<size_t>(cols_) * elem;
    const size_t pitch = interleave_ ? row_bytes * parts_.size() : 0;
    size_t off = data_off_;
    for (const WeightMatrix* m : parts_) {
      if (fp8_) {
        up.upload_fp8(base + off, *m, pitch);
      } else {
        up.upload_matrix(base + off, *m, pitch);
      }
      off += interleave_ ? row_bytes : row_bytes * static_cast<size_t>(m->rows);
    }
    if (!fp8_) {
      return {.data = reinterpret_cast<const __nv_bfloat16*>(base + data_off_), .rows = rows_,
              .cols = cols_};
    }
    // Tile scales [ceil(rows / block_out), scale_cols] expanded to one row per weight row,
    // in the fused row order.
    const int64_t sc = f.scale_cols();
    std::vector<float> rs(static_cast<size_t>(rows_ * sc));
    int64_t row = 0;
    for (size_t pi = 0; pi < parts_.size(); ++pi) {
      const WeightMatrix& m = *parts_[pi];
      for (int64_t r = 0; r < m.rows; ++r) {
        const int64_t dst = interleave_ ? r * static_cast<int64_t>(parts_.size()) +
                                              static_cast<int64_t>(pi)
                                        : row + r;
        std::copy_n(m.scale_inv.data() + (r / m.block_out) * sc, sc, rs.data() + dst * sc);
      }
      row += m.rows;
    }
    up.upload(base + scales_off_, rs.data(), rs.size() * 4);  // staged: `rs` may die now
    DeviceMatrix d{.rows = rows_,
                   .cols = cols_,
                   .dtype = f.dtype,
                   .fp8 = base + data_off_,
                   .row_scales = reinterpret_cast<const float*>(base + scales_off_),
                   .block_in = f.block_in};
    if (lt_off_ != kNone) {  // [scale_cols, rows]: the row index fastest
      std::vector<float> lt(rs.size());
      for (int64_t r = 0; r < rows_; ++r)
        for (int64_t j = 0; j < sc; ++j)
          lt[static_cast<size_t>(j * rows_ + r)] = rs[static_cast<size_t>(r * sc + j)];
      up.upload(base + lt_off_, lt.data(), lt.size() * 4);
      d.lt_scales = reinterpret_cast<const float*>(base + lt_off_);
    }
    return d;
  }

 private:
  std::vector<const WeightMatrix*> parts_;
  bool interleave_ = false;
  bool fp8_ = false;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  size_t data_off_ = 0;
  size_t scales_off_ = 0;
  static constexpr size_t kNone = ~size_t{0};
  size_t lt_off_ = kNone;
};

}  // namespace

CudaWeights::CudaWeights(const Qwen3Weights& w, cudaStream_t stream) : config_(w.config()) {
  const ModelConfig& c = config_;
  const bool tied = w.lm_head().data == w.embed().data;

  // Embeddings are gathered as BF16 rows (an FP8 table would be dequantized on the host);
  // lm_head and the layers' matrices keep their FP8 bytes when the checkpoint has them.
  Layout lay;
  const size_t embed_off = lay.add(matrix_bytes(c.vocab_size, c.hidden_size));
  std::optional<FusedMatrix> head;
  if (!tied) head.emplace(lay, std::vector<const WeightMatrix*>{&w.lm_head()}, false);
  const size_t fnorm_off = lay.add(static_cast<size_t>(c.hidden_size) * 4);
  const size_t freq_off = lay.add(static_cast<size_t>(c.head_dim / 2) * 4);
  struct LayerOffsets {
    FusedMatrix qkv, o, gate_up, down;
    size_t in_norm, post_norm, q_norm, k_norm;
  };
  std::vector<LayerOffsets> lo;
  lo.reserve(static_cast<size_t>(c.num_hidden_layers));
  for (const LayerWeights& l : w.layers()) {
    // gate_i and up_i adjacent: one GEMV warp pair computes silu(gate_i) * up_i.
    lo.push_back({.qkv = FusedMatrix(lay, {&l.q_proj, &l.k_proj, &l.v_proj}, false),
                  .o = FusedMatrix(lay, {&l.o_proj}, false),
                  .gate_up = FusedMatrix(lay, {&l.gate_proj, &l.up_proj}, true),
                  .down = FusedMatrix(lay, {&l.down_proj}, false),
                  .in_norm = lay.add(static_cast<size_t>(c.hidden_size) * 4),
                  .post_norm = lay.add(static_cast<size_t>(c.hidden_size) * 4),
                  .q_norm = lay.add(static_cast<size_t>(c.head_dim) * 4),
                  .k_norm = lay.add(static_cast<size_t>(c.head_dim) * 4)});
  }
  storage_ = DeviceBuffer(lay.size(), "model weights; the model does not fit this GPU");
  auto* base = storage_.as<uint8_t>();
  auto f32 = [&](size_t off) { return reinterpret_cast<const float*>(base + off); };

  StagedUploader up(stream);
  up.upload_matrix(base + embed_off, w.embed());
  embed_ = {reinterpret_cast<const __nv_bfloat16*>(base + embed_off), c.vocab_size,
            c.hidden_size};
  lm_head_ = head ? head->upload(up, base) : embed_;
  up.upload(base + fnorm_off, w.final_norm().data(), w.final_norm().size() * 4);
  final_norm_ = f32(fnorm_off);
  const RopeTable rope = RopeTable::build(c);
  up.upload(base + freq_off, rope.inv_freq.data(), rope.inv_freq.size() * 4);
  inv_freq_ = f32(freq_off);
  rope_scaling_ = rope.attention_scaling;

  for (size_t i = 0; i < lo.size(); ++i) {
    const LayerWeights& l = w.layers()[i];
    const LayerOffsets& o = lo[i];
    const DeviceMatrix qkv = o.qkv.upload(up, base);
    const DeviceMatrix om = o.o.upload(up, base);
    const DeviceMatrix gate_up = o.gate_up.upload(up, base);
    const DeviceMatrix down = o.down.upload(up, base);
    up.upload(base + o.in_norm, l.input_norm.data(), l.input_norm.size() * 4);
    up.upload(base + o.post_norm, l.post_attn_norm.data(), l.post_attn_norm.size() * 4);
    up.upload(base + o.q_norm, l.q_norm.data(), l.q_norm.size() * 4);
    up.upload(base + o.k_norm, l.k_norm.data(), l.k_norm.size() * 4);
    layers_.push_back({.qkv = qkv,
                       .o = om,
                       .gate_up = gate_up,
                       .down = down,
                       .input_norm = f32(o.in_norm),
                       .post_attn_norm = f32(o.post_norm),
                       .q_norm = f32(o.q_norm),
                       .k_norm = f32(o.k_norm)});
  }
}

size_t CudaWeights::largest_fp8_matrix() const {
  size_t n = lm_head_.is_fp8() ? static_cast<size_t>(lm_head_.rows * lm_head_.cols) : 0;
  for (const CudaLayerWeights& l : layers_) {
    for (const DeviceMatrix* m : {&l.qkv, &l.o, &l.gate_up, &l.down}) {
      if (m->is_fp8()) n = std::max(n, static_cast<size_t>(m->rows * m->cols));
    }
  }
  return n;
}

}  // namespace qwen3::cuda
