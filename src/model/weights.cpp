#include "model/weights.h"

#include <fmt/format.h>

#include "core/error.h"

namespace qwen3 {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}

bool is_float_dtype(DType d) { return d == DType::kBF16 || d == DType::kF16 || d == DType::kF32; }

void expect_shape(const TensorRef& t, const std::vector<int64_t>& shape) {
  if (t.info->shape != shape) {
    QWEN3_THROW(ErrorCode::kInvalidModel,
                "{}: tensor '{}' has shape {}, expected {} from config.json", *t.file, t.info->name,
                shape_str(t.info->shape), shape_str(shape));
  }
}

std::vector<float> load_vector(const Checkpoint& ckpt, const std::string& name, int64_t size) {
  const TensorRef t = ckpt.get(name);
  expect_shape(t, {size});
  if (!is_float_dtype(t.info->dtype)) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensor '{}' has dtype {}, expected BF16, F16 or F32",
                *t.file, name, dtype_name(t.info->dtype));
  }
  std::vector<float> out(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i)
    out[i] = load_as_f32(t.data, t.info->dtype, static_cast<size_t>(i));
  return out;
}

// `module` is the weight's module path without ".weight", as quantization configs name it.
WeightMatrix load_matrix(const Checkpoint& ckpt, const ModelConfig& config,
                         const std::string& module, int64_t rows, int64_t cols) {
  const std::string name = module + ".weight";
  const TensorRef t = ckpt.get(name);
  expect_shape(t, {rows, cols});
  WeightMatrix w;
  w.name = name;
  w.dtype = t.info->dtype;
  w.rows = rows;
  w.cols = cols;
  w.data = t.data;
  // Float weights are accepted in fp8 checkpoints too (modules_to_not_convert, lm_head).
  if (is_float_dtype(w.dtype)) return w;
  if (!w.is_fp8()) {
    QWEN3_THROW(ErrorCode::kInvalidModel,
                "{}: tensor '{}' has unsupported dtype {} for a weight matrix", *t.file, name,
                dtype_name(w.dtype));
  }
  if (!config.quant.fp8) {
    QWEN3_THROW(ErrorCode::kInvalidModel,
                "{}: tensor '{}' is {} but config.json has no fp8 quantization_config", *t.file,
                name, dtype_name(w.dtype));
  }
  w.block_out = config.quant.block_out;
  w.block_in = config.quant.block_in;
  const std::string scale_name = module + ".weight_scale_inv";
  if (!ckpt.contains(scale_name)) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: fp8 tensor '{}' has no companion '{}'", ckpt.dir(),
                name, scale_name);
  }
  const TensorRef s = ckpt.get(scale_name);
  const int64_t srows = (rows + w.block_out - 1) / w.block_out;
  const int64_t scols = (cols + w.block_in - 1) / w.block_in;
  expect_shape(s, {srows, scols});
  if (s.info->dtype != DType::kF32 && s.info->dtype != DType::kBF16) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensor '{}' has dtype {}, expected F32 or BF16",
                *s.file, scale_name, dtype_name(s.info->dtype));
  }
  w.scale_inv.resize(static_cast<size_t>(srows * scols));
  for (size_t i = 0; i < w.scale_inv.size(); ++i) {
    w.scale_inv[i] = load_as_f32(s.data, s.info->dtype, i);
    if (!std::isfinite(w.scale_inv[i])) {
      QWEN3_THROW(ErrorCode::kInvalidModel, "{}: tensor '{}' holds a non-finite scale at index {}",
                  *s.file, scale_name, i);
    }
  }
  return w;
}

}  // namespace

void WeightMatrix::row_to_f32(int64_t r, float* out) const {
  const size_t base = static_cast<size_t>(r) * static_cast<size_t>(cols);
  switch (dtype) {
    case DType::kBF16: {
      const auto* p = reinterpret_cast<const uint16_t*>(data) + base;
      for (int64_t c = 0; c < cols; ++c) out[c] = bf16_to_f32(p[c]);
      return;
    }
    case DType::kF32: {
      const auto* p = reinterpret_cast<const float*>(data) + base;
      for (int64_t c = 0; c < cols; ++c) out[c] = p[c];
      return;
    }
    case DType::kF16: {
      const auto* p = reinterpret_cast<const uint16_t*>(data) + base;
      for (int64_t c = 0; c < cols; ++c) out[c] = f16_to_f32(p[c]);
      return;
    }
    case DType::kF8E4M3:
    case DType::kF8E5M2: {
      const float* table = dtype == DType::kF8E4M3 ? fp8_e4m3_table() : fp8_e5m2_table();
      const uint8_t* p = data + base;
      const float* scales = scale_inv.data() + (r / block_out) * scale_cols();
      for (int64_t c0 = 0; c0 < cols; c0 += block_in) {
        const float s = scales[c0 / block_in];
        const int64_t c1 = std::min(cols, c0 + block_in);
        for (int64_t c = c0; c < c1; ++c) out[c] = table[p[c]] * s;
      }
      return;
    }
    default:
      QWEN3_THROW(ErrorCode::kInternal, "row_to_f32: dtype {}", dtype_name(dtype));
  }
}

std::unique_ptr<Qwen3Weights> Qwen3Weights::load(const std::string& model_dir) {
  auto w = std::unique_ptr<Qwen3Weights>(new Qwen3Weights());
  w->config_ = ModelConfig::load(model_dir);
  w->checkpoint_ = std::make_unique<Checkpoint>(model_dir);
  const ModelConfig& c = w->config_;
  const Checkpoint& ck = *w->checkpoint_;

  w->embed_ = load_matrix(ck, c, "model.embed_tokens", c.vocab_size, c.hidden_size);
  if (w->embed_.is_fp8()) {
    QWEN3_THROW(ErrorCode::kUnsupported, "{}: fp8 embeddings are not supported", model_dir);
  }
  if (c.tie_word_embeddings) {
    w->lm_head_ = w->embed_;
  } else {
    w->lm_head_ = load_matrix(ck, c, "lm_head", c.vocab_size, c.hidden_size);
  }
  w->final_norm_ = load_vector(ck, "model.norm.weight", c.hidden_size);

  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    LayerWeights l;
    l.input_norm = load_vector(ck, p + "input_layernorm.weight", c.hidden_size);
    l.post_attn_norm = load_vector(ck, p + "post_attention_layernorm.weight", c.hidden_size);
    l.q_norm = load_vector(ck, p + "self_attn.q_norm.weight", c.head_dim);
    l.k_norm = load_vector(ck, p + "self_attn.k_norm.weight", c.head_dim);
    l.q_proj = load_matrix(ck, c, p + "self_attn.q_proj", c.q_dim(), c.hidden_size);
    l.k_proj = load_matrix(ck, c, p + "self_attn.k_proj", c.kv_dim(), c.hidden_size);
    l.v_proj = load_matrix(ck, c, p + "self_attn.v_proj", c.kv_dim(), c.hidden_size);
    l.o_proj = load_matrix(ck, c, p + "self_attn.o_proj", c.hidden_size, c.q_dim());
    l.gate_proj = load_matrix(ck, c, p + "mlp.gate_proj", c.intermediate_size, c.hidden_size);
    l.up_proj = load_matrix(ck, c, p + "mlp.up_proj", c.intermediate_size, c.hidden_size);
    l.down_proj = load_matrix(ck, c, p + "mlp.down_proj", c.hidden_size, c.intermediate_size);
    w->layers_.push_back(std::move(l));
  }
  return w;
}

std::unique_ptr<Qwen3Weights> Qwen3Weights::from_parts(ModelConfig config, WeightMatrix embed,
                                                       WeightMatrix lm_head,
                                                       std::vector<float> final_norm,
                                                       std::vector<LayerWeights> layers,
                                                       std::vector<std::vector<uint8_t>> owned) {
  auto w = std::unique_ptr<Qwen3Weights>(new Qwen3Weights());
  w->config_ = std::move(config);
  w->embed_ = std::move(embed);
  w->lm_head_ = std::move(lm_head);
  w->final_norm_ = std::move(final_norm);
  w->layers_ = std::move(layers);
  w->owned_ = std::move(owned);
  return w;
}

const Checkpoint& Qwen3Weights::checkpoint() const {
  if (!checkpoint_)
    QWEN3_THROW(ErrorCode::kInternal, "weights assembled from parts have no checkpoint");
  return *checkpoint_;
}

size_t Qwen3Weights::matrix_bytes() const {
  auto bytes = [](const WeightMatrix& m) {
    return static_cast<size_t>(m.rows * m.cols) * dtype_size(m.dtype) + m.scale_inv.size() * 4;
  };
  size_t n = bytes(lm_head_);
  for (const auto& l : layers_) {
    for (const WeightMatrix* m :
         {&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_proj, &l.up_proj, &l.down_proj}) {
      n += bytes(*m);
    }
  }
  return n;
}

}  // namespace qwen3
