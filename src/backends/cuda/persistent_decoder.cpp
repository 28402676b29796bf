#include "backends/cuda/persistent_decoder.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda {

std::unique_ptr<PersistentDecoder> PersistentDecoder::create(const CudaWeights& weights,
                                                             const CudaKvPool& pool,
                                                             int slot_bytes) {
  const ModelConfig& c = weights.config();
  const auto& layers = weights.layers();
  const DeviceMatrix& q0 = layers.front().qkv;
  const PersistentShape s{.hidden = static_cast<int>(c.hidden_size),
                          .heads = static_cast<int>(c.num_attention_heads),
                          .kv_heads = static_cast<int>(c.num_key_value_heads),
                          .head_dim = static_cast<int>(c.head_dim),
                          .inter = static_cast<int>(c.intermediate_size),
                          .wdtype = q0.dtype,
                          .block_in = static_cast<int>(q0.block_in),
                          .slot_bytes = slot_bytes};
  std::vector<PersistentLayer> table(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const CudaLayerWeights& l = layers[i];
    const DeviceMatrix* m[4] = {&l.qkv, &l.o, &l.gate_up, &l.down};
    PersistentLayer& t = table[i];
    for (int k = 0; k < 4; ++k) {
      if (m[k]->dtype != s.wdtype || m[k]->block_in != q0.block_in) return nullptr;  // mixed
      t.w[k] = m[k]->is_fp8() ? static_cast<const void*>(m[k]->fp8) : m[k]->data;
      t.scales[k] = m[k]->row_scales;
    }
    const auto li = static_cast<int64_t>(i);
    t.input_norm = l.input_norm;
    t.post_norm = l.post_attn_norm;
    t.q_norm = l.q_norm;
    t.k_norm = l.k_norm;
    t.k_pool = pool.k(li);
    t.v_pool = pool.v(li);
    t.k_scale = pool.k_scale(li);
    t.v_scale = pool.v_scale(li);
  }
  if (!persistent_decode_supported(s)) return nullptr;
  std::unique_ptr<PersistentDecoder> d(new PersistentDecoder());
  d->shape_ = s;
  d->num_layers_ = static_cast<int>(layers.size());
  d->kv_dtype_ = pool.dtype();
  d->block_size_ = static_cast<int>(pool.block_size());
  d->eps_ = static_cast<float>(c.rms_norm_eps);
  d->scale_ = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  d->inv_freq_ = weights.inv_freq();
  d->rope_scaling_ = weights.rope_attention_scaling();
  const size_t table_bytes = table.size() * sizeof(PersistentLayer);
  d->layers_ = DeviceBuffer(table_bytes, "persistent decoder layers");
  QWEN3_CUDA_CHECK(cudaMemcpy(d->layers_.get(), table.data(), table_bytes, cudaMemcpyHostToDevice));
  d->partials_ =
      DeviceBuffer(persistent_decode_partials(s) * sizeof(float), "persistent decoder partials");
  const size_t sync_bytes = static_cast<size_t>(s.kv_heads + 1) * sizeof(unsigned);
  d->sync_ = DeviceBuffer(sync_bytes, "persistent decoder counters");
  QWEN3_CUDA_CHECK(cudaMemset(d->sync_.get(), 0, sync_bytes));
  if (env_flag("QWEN3_PERSISTENT_PROFILE", false)) {
    const size_t bytes = kPersistentProfileRegions * sizeof(unsigned long long);
    d->profile_ = DeviceBuffer(bytes, "persistent decoder profile");
    QWEN3_CUDA_CHECK(cudaMemset(d->profile_.get(), 0, bytes));
    const size_t arrival_bytes = static_cast<size_t>(persistent_decode_barriers(d->num_layers_)) *
                                 persistent_decode_blocks() * sizeof(unsigned long long);
    d->arrivals_ = DeviceBuffer(arrival_bytes, "persistent decoder barrier arrivals");
    QWEN3_CUDA_CHECK(cudaMemset(d->arrivals_.get(), 0, arrival_bytes));
  }
  return d;
}

bool PersistentDecoder::takes_context(int64_t table_tokens) {
  static const int64_t most = [] {
    const char* v = std::getenv("QWEN3_PERSISTENT_MAX_CONTEXT");
    return v != nullptr ? std::max<int64_t>(0, std::atoll(v)) : int64_t{8192};
  }();
  return table_tokens <= most;
}

void PersistentDecoder::launch(const Step& step, cudaStream_t stream) {
  auto* sync = sync_.as<unsigned>();
  launch_persistent_decode({.shape = shape_,
                            .layers = layers_.as<PersistentLayer>(),
                            .num_layers = num_layers_,
                            .kv_dtype = kv_dtype_,
                            .block_size = block_size_,
                            .eps = eps_,
                            .scale = scale_,
                            .inv_freq = inv_freq_,
                            .rope_scaling = rope_scaling_,
                            .table = step.table,
                            .row_pos = step.row_pos,
                            .row_slot = step.row_slot,
                            .h = step.h,
                            .qkv = step.qkv,
                            .attn = step.attn,
                            .act = step.act,
                            .partials = partials_.as<float>(),
                            .counters = sync,
                            .barrier = sync + shape_.kv_heads,
                            .profile = profile_.as<unsigned long long>(),
                            .arrivals = arrivals_.as<unsigned long long>()},
                           stream);
}

// The profile: block 0's time per region and step (the steps counted include the
// CUDA-graph captures' first runs, so the figures are approximate).
PersistentDecoder::~PersistentDecoder() {
  if (profile_.get() == nullptr || steps_ == 0) return;
  unsigned long long ns[kPersistentProfileRegions] = {};
  if (cudaMemcpy(ns, profile_.get(), sizeof ns, cudaMemcpyDeviceToHost) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  std::string line =
      fmt::format("persistent decoder profile, block 0, us per step over {} steps:", steps_);
  for (int r = 0; r < kPersistentProfileRegions; ++r)
    line += fmt::format(" {} {:.1f};", kPersistentProfileNames[r],
                        static_cast<double>(ns[r]) / 1e3 / static_cast<double>(steps_));
  std::fprintf(stderr, "%s\n", line.c_str());
  print_arrivals();
}

// The last step's barrier arrivals: per kind of barrier (the stage before it), the mean
// spread between the first and the last block, and the blocks that arrive latest on average.
void PersistentDecoder::print_arrivals() const {
  const int barriers = persistent_decode_barriers(num_layers_);
  const int blocks = persistent_decode_blocks();
  std::vector<unsigned long long> t(static_cast<size_t>(barriers) * blocks);
  if (cudaMemcpy(t.data(), arrivals_.get(), t.size() * sizeof t[0], cudaMemcpyDeviceToHost) !=
      cudaSuccess) {
    cudaGetLastError();
    return;
  }
  for (int kind = 0; kind < kPersistentBarriersPerLayer; ++kind) {
    double spread = 0.0;
    int n = 0;
    std::vector<double> late(static_cast<size_t>(blocks), 0.0);
    for (int b = kind; b < barriers; b += kPersistentBarriersPerLayer, ++n) {
      const unsigned long long* row = t.data() + static_cast<size_t>(b) * blocks;
      const unsigned long long lo = *std::min_element(row, row + blocks);
      spread += static_cast<double>(*std::max_element(row, row + blocks) - lo);
      for (int k = 0; k < blocks; ++k) late[k] += static_cast<double>(row[k] - lo);
    }
    if (n == 0) continue;
    std::vector<int> order(static_cast<size_t>(blocks));
    for (int k = 0; k < blocks; ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return late[a] > late[b]; });
    double mean_late = 0.0;
    for (double v : late) mean_late += v;
    std::string line = fmt::format(
        "persistent decoder barriers after {}: spread first-last block {:.2f} us, mean block "
        "{:.2f} us after the first; latest blocks:",
        kPersistentBarrierNames[kind], spread / n / 1e3, mean_late / blocks / n / 1e3);
    for (int k = 0; k < std::min(blocks, 6); ++k)
      line += fmt::format(" {} ({:.2f} us)", order[k], late[order[k]] / n / 1e3);
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

}  // namespace qwen3::cuda
