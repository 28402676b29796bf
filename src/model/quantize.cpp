#include "model/quantize.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/fp8_quant.h"
#include "model/safetensors_writer.h"

namespace qwen3 {
namespace fs = std::filesystem;

namespace {

// Files that quantize rewrites; everything else in the folder is copied as is.
bool is_rewritten(const fs::path& p) {
  const std::string name = p.filename().string();
  return name == "config.json" || name == "model.safetensors.index.json" ||
         p.extension() == ".safetensors";
}

constexpr const char* kEmbedName = "model.embed_tokens.weight";

// A linear layer's weight, by the rule HF's FineGrainedFP8 applies to nn.Linear modules
// (lm_head only when it is quantized too).
bool is_linear_weight(const TensorInfo& t, bool lm_head = false) {
  return t.shape.size() == 2 && t.name.ends_with(".weight") && t.name != kEmbedName &&
         (lm_head || !t.name.ends_with("lm_head.weight"));
}

void validate(const QuantizeOptions& o, const Checkpoint& ckpt, const ModelConfig& config) {
  const std::string config_path = (fs::path(o.in_dir) / "config.json").string();
  if (config.quant.fp8) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "{}: already an FP8 checkpoint (quantization_config.quant_method fp8)",
                config_path);
  }
  for (const std::string& name : ckpt.names()) {
    const TensorRef t = ckpt.get(name);
    if (name.ends_with("weight_scale_inv") || dtype_is_fp8(t.info->dtype)) {
      QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: tensor '{}' is already FP8 ({})", *t.file, name,
                  name.ends_with("weight_scale_inv") ? "a block scale" : "F8 dtype");
    }
    if (t.info->dtype != DType::kBF16) {
      QWEN3_THROW(ErrorCode::kInvalidArgument,
                  "{}: tensor '{}' is {}; quantize reads BF16 checkpoints only", *t.file, name,
                  dtype_name(t.info->dtype));
    }
  }
  if (o.quantize_lm_head && config.tie_word_embeddings && !ckpt.contains(kEmbedName)) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: no '{}' to quantize the tied lm_head from",
                o.in_dir, kEmbedName);
  }
  for (const std::string& s : o.skip) {
    if (s.empty()) QWEN3_THROW(ErrorCode::kInvalidArgument, "--skip: empty module name");
    if (o.quantize_lm_head && std::string("lm_head").find(s) != std::string::npos) {
      QWEN3_THROW(ErrorCode::kInvalidArgument,
                  "--skip '{}' keeps lm_head, which --quantize-lm-head quantizes", s);
    }
    if (s == "lm_head") continue;  // listed anyway; tied models have none
    const auto names = ckpt.names();
    const bool hit = std::any_of(names.begin(), names.end(), [&](const std::string& n) {
      return n.find(s) != std::string::npos && is_linear_weight(*ckpt.get(n).info);
    });
    if (!hit) {
      QWEN3_THROW(ErrorCode::kInvalidArgument, "--skip '{}': matches no linear weight in {}", s,
                  o.in_dir);
    }
  }
}

void accumulate_error(const float* w, const uint8_t* q, const float* scale_inv, int64_t block,
                      DType dtype, TensorQuantError& e) {
  const int64_t rows = e.shape[0], cols = e.shape[1];
  std::vector<float> deq(static_cast<size_t>(rows * cols));
  dequantize_fp8_blockwise(q, rows, cols, block, block, dtype, scale_inv, deq.data());
  for (size_t i = 0; i < deq.size(); ++i) {
    const double d = double(deq[i]) - double(w[i]);
    e.sq_err += d * d;
    e.sq_ref += double(w[i]) * double(w[i]);
    e.max_abs = std::max(e.max_abs, std::fabs(d));
  }
  e.rel_rms = e.sq_ref > 0 ? std::sqrt(e.sq_err / e.sq_ref) : std::sqrt(e.sq_err);
}

nlohmann::json quantized_config_json(const QuantizeOptions& o,
                                     const std::vector<std::string>& not_convert, bool untie) {
  const std::string path = (fs::path(o.in_dir) / "config.json").string();
  nlohmann::json j = read_json_file(path);
  if (untie) j["tie_word_embeddings"] = false;  // lm_head.weight is written (FP8)
  nlohmann::json q;
  q["activation_scheme"] = "dynamic";
  q["fmt"] = o.fp8_dtype == DType::kF8E5M2 ? "e5m2" : "e4m3";
  q["quant_method"] = "fp8";
  q["weight_block_size"] = {o.block, o.block};
  q["modules_to_not_convert"] = not_convert;
  j["quantization_config"] = q;
  ModelConfig::from_json(j, path);  // what we write must load
  return j;
}

void copy_other_files(const fs::path& from, const fs::path& to, const fs::path& out) {
  for (const auto& e : fs::directory_iterator(from)) {
    if (is_rewritten(e.path())) continue;
    // OUT_DIR (or its .partial) inside IN_DIR is not part of the model.
    if (fs::equivalent(e.path(), to) || (fs::exists(out) && fs::equivalent(e.path(), out)))
      continue;
    fs::copy(e.path(), to / e.path().filename(),
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }
}

// The flags and folders, before anything is read.
void check_options(const QuantizeOptions& o) {
  if (o.block <= 0 || o.block > 1024 || (o.block & (o.block - 1)) != 0) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--block {}: must be a positive power of two no larger than 1024", o.block);
  }
  if (!dtype_is_fp8(o.fp8_dtype))
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--fmt: not an FP8 type");
  if (!fs::is_directory(o.in_dir)) {
    QWEN3_THROW(ErrorCode::kIo, "{}: {}", o.in_dir,
                fs::exists(o.in_dir) ? "not a directory" : "no such folder");
  }
  if (o.out_dir.empty()) QWEN3_THROW(ErrorCode::kInvalidArgument, "OUT_DIR is required");
  if (fs::exists(o.out_dir) && fs::equivalent(o.in_dir, o.out_dir)) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: OUT_DIR must differ from IN_DIR", o.out_dir);
  }
  if (fs::exists(o.out_dir) && !o.force) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: already exists (pass --force to replace it)",
                o.out_dir);
  }
}

}  // namespace

DType parse_fp8_format(const std::string& name) {
  if (name == "e4m3") return DType::kF8E4M3;
  if (name == "e5m2") return DType::kF8E5M2;
  QWEN3_THROW(ErrorCode::kInvalidArgument, "--fmt '{}': expected e4m3 or e5m2", name);
}

double QuantizeReport::total_rel_rms() const {
  double err = 0, ref = 0;
  for (const auto& t : tensors) err += t.sq_err, ref += t.sq_ref;
  return ref > 0 ? std::sqrt(err / ref) : std::sqrt(err);
}

double QuantizeReport::total_max_abs() const {
  double m = 0;
  for (const auto& t : tensors) m = std::max(m, t.max_abs);
  return m;
}

QuantizeReport quantize_checkpoint(const QuantizeOptions& o) {
  check_options(o);
  const ModelConfig config = ModelConfig::load(o.in_dir);
  const Checkpoint ckpt(o.in_dir);
  validate(o, ckpt, config);

  QuantizeReport report;
  if (!o.quantize_lm_head) report.modules_to_not_convert = {"lm_head"};
  for (const auto& s : o.skip) {
    if (std::find(report.modules_to_not_convert.begin(), report.modules_to_not_convert.end(), s) ==
        report.modules_to_not_convert.end())
      report.modules_to_not_convert.push_back(s);
  }
  QuantConfig rule;
  rule.modules_to_not_convert = report.modules_to_not_convert;

  // Input order: shard file, then position in the file.
  std::vector<TensorRef> refs;
  for (const std::string& name : ckpt.names()) refs.push_back(ckpt.get(name));
  std::sort(refs.begin(), refs.end(), [](const TensorRef& a, const TensorRef& b) {
    return std::tie(*a.file, a.info->offset) < std::tie(*b.file, b.info->offset);
  });
  std::vector<const TensorRef*> linears;
  for (const TensorRef& r : refs) {
    const std::string module = r.info->name.substr(0, r.info->name.size() - 7);  // - ".weight"
    if (is_linear_weight(*r.info, o.quantize_lm_head) && !rule.skips(module))
      linears.push_back(&r);
  }
  // A tied model's FP8 lm_head: quantized from the embedding, written right after it.
  const bool untie = o.quantize_lm_head && config.tie_word_embeddings;
  report.tensors.resize(linears.size() + (untie ? 1 : 0));

  std::vector<TensorSpec> specs;
  std::vector<std::string> spec_file;  // output shard of specs[i]
  specs.reserve(refs.size() + report.tensors.size());
  size_t done = 0;
  // Appends the FP8 weight + scale specs of `module` quantized from BF16 tensor r.
  auto quantize_as = [&](const TensorRef& r, const std::string& module, TensorQuantError& err) {
    err.name = module + ".weight";
    err.shape = r.info->shape;
    Fp8LinearSource src;
    src.module = module;
    src.rows = r.info->shape[0];
    src.cols = r.info->shape[1];
    src.block_out = src.block_in = o.block;
    src.fp8_dtype = o.fp8_dtype;
    src.load = [r](float* w) {
      const auto* p = reinterpret_cast<const uint16_t*>(r.data);
      for (int64_t i = 0; i < r.info->numel(); ++i) w[i] = bf16_to_f32(p[i]);
    };
    src.observe = [&o, &done, e = &err, total = report.tensors.size()](
                      const float* w, const uint8_t* q, const float* s) {
      accumulate_error(w, q, s, o.block, o.fp8_dtype, *e);
      if (o.progress) o.progress(++done, total, e->name);
    };
    append_fp8_linear_specs(std::move(src), specs);
  };
  for (const TensorRef& r : refs) {
    report.in_bytes += r.info->nbytes;
    const size_t before = specs.size();
    const auto it = std::find(linears.begin(), linears.end(), &r);
    if (it == linears.end()) {
      report.kept.push_back(r.info->name);
      specs.push_back({r.info->name, r.info->dtype, r.info->shape,
                       [r](uint8_t* dst) { std::memcpy(dst, r.data, r.info->nbytes); }});
    } else {
      quantize_as(r, r.info->name.substr(0, r.info->name.size() - 7),
                  report.tensors[static_cast<size_t>(it - linears.begin())]);
    }
    if (untie && r.info->name == kEmbedName) quantize_as(r, "lm_head", report.tensors.back());
    for (size_t i = before; i < specs.size(); ++i)
      spec_file.push_back(fs::path(*r.file).filename().string());
  }
  for (const auto& s : specs) report.out_bytes += s.nbytes();

  const nlohmann::json config_json =
      quantized_config_json(o, report.modules_to_not_convert, untie);
  write_dir_atomically(o.out_dir, o.force, [&](const std::string& dir) {
    std::ofstream config_out(fs::path(dir) / "config.json");
    config_out << config_json.dump(2) << "\n";
    if (!config_out) QWEN3_THROW(ErrorCode::kIo, "{}/config.json: cannot write", dir);
    if (o.max_shard_bytes) {
      write_safetensors_shards(dir, specs, *o.max_shard_bytes);
    } else {
      std::vector<ShardPlan> plan;
      for (size_t i = 0; i < specs.size(); ++i) {
        if (plan.empty() || plan.back().file != spec_file[i]) plan.push_back({spec_file[i], {}});
        plan.back().tensors.push_back(&specs[i]);
      }
      write_safetensors_plan(dir, plan);
    }
    copy_other_files(o.in_dir, dir, o.out_dir);
  });
  return report;
}

std::string format_quantize_report(const QuantizeReport& r) {
  size_t width = 6;
  for (const auto& t : r.tensors) width = std::max(width, t.name.size());
  std::string out = fmt::format("{:<{}}  {:>14}  {:>11}  {:>11}\n", "tensor", width, "shape",
                                "rel RMS err", "max |err|");
  for (const auto& t : r.tensors) {
    out += fmt::format("{:<{}}  {:>14}  {:>11.3e}  {:>11.3e}\n", t.name, width,
                       fmt::format("[{}]", fmt::join(t.shape, ", ")), t.rel_rms, t.max_abs);
  }
  out += fmt::format("{:<{}}  {:>14}  {:>11.3e}  {:>11.3e}\n", "total", width,
                     fmt::format("{} tensors", r.tensors.size()), r.total_rel_rms(),
                     r.total_max_abs());
  out += fmt::format(
      "kept unchanged: {} tensors; modules_to_not_convert: [{}]; {:.1f} MiB -> {:.1f} MiB\n",
      r.kept.size(), fmt::join(r.modules_to_not_convert, ", "), double(r.in_bytes) / (1 << 20),
      double(r.out_bytes) / (1 << 20));
  return out;
}

}  // namespace qwen3
