#include "model/config.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace qwen3 {
namespace {

using nlohmann::json;

// Typed field access with errors that name the file and the field.
class Fields {
 public:
  Fields(const json& j, const std::string& label, std::string prefix = "")
      : j_(j), label_(label), prefix_(std::move(prefix)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  int64_t integer(const char* key, std::optional<int64_t> fallback = std::nullopt) const {
    if (!has(key)) return require(key, fallback);
    const json& v = j_.at(key);
    if (!v.is_number_integer()) fail(key, "must be an integer");
    return v.get<int64_t>();
  }
  double number(const char* key, std::optional<double> fallback = std::nullopt) const {
    if (!has(key)) return require(key, fallback);
    const json& v = j_.at(key);
    if (!v.is_number()) fail(key, "must be a number");
    return v.get<double>();
  }
  std::optional<double> optional_number(const char* key) const {
    if (!has(key)) return std::nullopt;
    return number(key);
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_boolean()) fail(key, "must be true or false");
    return v.get<bool>();
  }
  std::string string(const char* key, std::optional<std::string> fallback = std::nullopt) const {
    if (!has(key)) return require(key, fallback);
    const json& v = j_.at(key);
    if (!v.is_string()) fail(key, "must be a string");
    return v.get<std::string>();
  }
  // An integer or a list of integers (eos_token_id).
  std::vector<int64_t> integer_list(const char* key) const {
    if (!has(key)) return {};
    const json& v = j_.at(key);
    if (v.is_number_integer()) return {v.get<int64_t>()};
    if (!v.is_array()) fail(key, "must be an integer or a list of integers");
    std::vector<int64_t> out;
    for (const auto& e : v) {
      if (!e.is_number_integer()) fail(key, "must be an integer or a list of integers");
      out.push_back(e.get<int64_t>());
    }
    return out;
  }
  int64_t positive(const char* key, std::optional<int64_t> fallback = std::nullopt) const {
    const int64_t v = integer(key, fallback);
    if (v <= 0) fail(key, fmt::format("must be positive, got {}", v));
    return v;
  }

  [[noreturn]] void fail(const char* key, const std::string& what) const {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: field '{}{}' {}", label_, prefix_, key, what);
  }

 private:
  template <typename T>
  T require(const char* key, const std::optional<T>& fallback) const {
    if (!fallback) fail(key, "is missing");
    return *fallback;
  }

  const json& j_;
  const std::string& label_;
  std::string prefix_;
};

RopeConfig parse_rope(const json& j, const std::string& label) {
  RopeConfig rope;
  // transformers 5 writes everything into "rope_parameters"; published checkpoints use
  // "rope_theta" plus an optional "rope_scaling" object.
  const bool v5 = j.contains("rope_parameters") && j.at("rope_parameters").is_object();
  const json* scaling = nullptr;
  std::string prefix;
  if (v5) {
    scaling = &j.at("rope_parameters");
    prefix = "rope_parameters.";
  } else if (j.contains("rope_scaling") && !j.at("rope_scaling").is_null()) {
    if (!j.at("rope_scaling").is_object()) {
      QWEN3_THROW(ErrorCode::kInvalidModel, "{}: field 'rope_scaling' must be an object or null",
                  label);
    }
    scaling = &j.at("rope_scaling");
    prefix = "rope_scaling.";
  }
  rope.theta = v5 ? Fields(*scaling, label, prefix)
                        .number("rope_theta", Fields(j, label).number("rope_theta", 10000.0))
                  : Fields(j, label).number("rope_theta", 10000.0);
  if (rope.theta <= 1.0) Fields(j, label).fail("rope_theta", "must be greater than 1");
  if (scaling == nullptr) return rope;

  const Fields f(*scaling, label, prefix);
  std::string type = f.has("rope_type") ? f.string("rope_type") : f.string("type", "default");
  if (type == "default") {
    rope.type = RopeType::kDefault;
    return rope;
  }
  if (type == "linear") {
    rope.type = RopeType::kLinear;
  } else if (type == "yarn") {
    rope.type = RopeType::kYarn;
  } else {
    QWEN3_THROW(ErrorCode::kUnsupported,
                "{}: rope type '{}' is not supported (default, linear, yarn are)", label, type);
  }
  rope.factor = f.number("factor");
  if (rope.factor < 1.0) f.fail("factor", "must be >= 1");
  if (rope.type == RopeType::kYarn) {
    rope.original_max_position_embeddings = f.has("original_max_position_embeddings")
                                                ? f.positive("original_max_position_embeddings")
                                                : 0;
    rope.attention_factor = f.optional_number("attention_factor");
    rope.mscale = f.optional_number("mscale");
    rope.mscale_all_dim = f.optional_number("mscale_all_dim");
    rope.beta_fast = f.number("beta_fast", 32.0);
    rope.beta_slow = f.number("beta_slow", 1.0);
    rope.truncate = f.boolean("truncate", true);
  }
  return rope;
}

QuantConfig parse_quant(const json& j, const std::string& label) {
  QuantConfig q;
  if (!j.contains("quantization_config") || j.at("quantization_config").is_null()) return q;
  const json& qc = j.at("quantization_config");
  if (!qc.is_object()) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: field 'quantization_config' must be an object",
                label);
  }
  const Fields f(qc, label, "quantization_config.");
  const std::string method = f.string("quant_method");
  if (method != "fp8") {
    QWEN3_THROW(
        ErrorCode::kUnsupported,
        "{}: quantization_config.quant_method '{}' is not supported (only block-scaled 'fp8')",
        label, method);
  }
  q.fp8 = true;
  const std::string fmt_name = f.string("fmt", "e4m3");
  if (fmt_name == "e4m3")
    q.weight_dtype = DType::kF8E4M3;
  else if (fmt_name == "e5m2")
    q.weight_dtype = DType::kF8E5M2;
  else
    f.fail("fmt", fmt::format("must be 'e4m3' or 'e5m2', got '{}'", fmt_name));
  q.activation_scheme = f.string("activation_scheme", "dynamic");
  if (q.activation_scheme != "dynamic") {
    QWEN3_THROW(ErrorCode::kUnsupported,
                "{}: quantization_config.activation_scheme '{}' is not supported (only 'dynamic')",
                label, q.activation_scheme);
  }
  if (f.has("weight_block_size")) {
    const json& b = qc.at("weight_block_size");
    if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() || !b[1].is_number_integer() ||
        b[0].get<int64_t>() <= 0 || b[1].get<int64_t>() <= 0) {
      f.fail("weight_block_size", "must be two positive integers");
    }
    q.block_out = b[0].get<int64_t>();
    q.block_in = b[1].get<int64_t>();
  } else {
    QWEN3_THROW(ErrorCode::kUnsupported,
                "{}: per-tensor fp8 (no quantization_config.weight_block_size) is not supported",
                label);
  }
  if (f.has("modules_to_not_convert")) {
    const json& m = qc.at("modules_to_not_convert");
    if (!m.is_array()) f.fail("modules_to_not_convert", "must be a list of strings");
    for (const auto& e : m) {
      if (!e.is_string()) f.fail("modules_to_not_convert", "must be a list of strings");
      q.modules_to_not_convert.push_back(e.get<std::string>());
    }
  }
  return q;
}

// eos_token_id is written as HF writes it: an integer when there is one, else a list.
void put_token_ids(json& j, const char* key, const std::vector<int64_t>& ids) {
  if (ids.size() == 1)
    j[key] = ids[0];
  else if (!ids.empty())
    j[key] = ids;
}

}  // namespace

bool QuantConfig::skips(const std::string& module) const {
  for (const auto& m : modules_to_not_convert) {
    // HF matches by substring of the module path ("lm_head", "model.layers.0.mlp").
    if (!m.empty() && module.find(m) != std::string::npos) return true;
  }
  return false;
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) QWEN3_THROW(ErrorCode::kIo, "{}: cannot open", path);
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) QWEN3_THROW(ErrorCode::kInvalidModel, "{}: not valid JSON", path);
  return j;
}

ModelConfig ModelConfig::from_json(const json& j, const std::string& label) {
  if (!j.is_object())
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: config is not a JSON object", label);
  const Fields f(j, label);
  ModelConfig c;
  c.model_type = f.string("model_type", "qwen3");
  if (c.model_type != "qwen3") {
    QWEN3_THROW(ErrorCode::kUnsupported, "{}: model_type '{}' is not supported (only 'qwen3')",
                label, c.model_type);
  }
  c.vocab_size = f.positive("vocab_size");
  c.hidden_size = f.positive("hidden_size");
  c.intermediate_size = f.positive("intermediate_size");
  c.num_hidden_layers = f.positive("num_hidden_layers");
  c.num_attention_heads = f.positive("num_attention_heads");
  c.num_key_value_heads = f.positive("num_key_value_heads", c.num_attention_heads);
  c.head_dim = f.positive("head_dim", c.hidden_size / c.num_attention_heads);
  c.max_position_embeddings = f.positive("max_position_embeddings", 32768);
  c.rms_norm_eps = f.number("rms_norm_eps", 1e-6);
  if (c.rms_norm_eps <= 0) f.fail("rms_norm_eps", "must be positive");
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  c.bos_token_id = f.has("bos_token_id") ? f.integer("bos_token_id") : -1;
  c.eos_token_ids = f.integer_list("eos_token_id");
  c.use_sliding_window = f.boolean("use_sliding_window", false);
  if (f.has("sliding_window")) c.sliding_window = f.integer("sliding_window");
  c.max_window_layers = f.integer("max_window_layers", c.num_hidden_layers);
  c.initializer_range = f.number("initializer_range", 0.02);
  const std::string dtype_field = f.has("dtype") ? "dtype" : "torch_dtype";
  const std::string dtype = f.string(dtype_field.c_str(), "bfloat16");
  if (dtype == "bfloat16")
    c.dtype = DType::kBF16;
  else if (dtype == "float16")
    c.dtype = DType::kF16;
  else if (dtype == "float32")
    c.dtype = DType::kF32;
  else
    f.fail(dtype_field.c_str(),
           fmt::format("'{}' is not one of bfloat16, float16, float32", dtype));

  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    f.fail("num_key_value_heads", fmt::format("({}) must divide num_attention_heads ({})",
                                              c.num_key_value_heads, c.num_attention_heads));
  }
  if (c.head_dim % 2 != 0) f.fail("head_dim", "must be even for rotary embeddings");
  if (f.boolean("attention_bias", false)) {
    QWEN3_THROW(ErrorCode::kUnsupported, "{}: attention_bias=true is not supported by Qwen3",
                label);
  }
  const std::string act = f.string("hidden_act", "silu");
  if (act != "silu") {
    QWEN3_THROW(ErrorCode::kUnsupported, "{}: hidden_act '{}' is not supported (only silu)", label,
                act);
  }
  if (c.use_sliding_window) {
    QWEN3_THROW(ErrorCode::kUnsupported, "{}: use_sliding_window=true is not supported yet", label);
  }
  c.rope = parse_rope(j, label);
  c.quant = parse_quant(j, label);
  return c;
}

ModelConfig ModelConfig::load(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  return from_json(read_json_file(path), path);
}

json ModelConfig::to_json() const {
  json j;
  j["architectures"] = {"Qwen3ForCausalLM"};
  j["attention_bias"] = false;
  j["attention_dropout"] = 0.0;
  if (bos_token_id >= 0) j["bos_token_id"] = bos_token_id;
  put_token_ids(j, "eos_token_id", eos_token_ids);
  j["head_dim"] = head_dim;
  j["hidden_act"] = "silu";
  j["hidden_size"] = hidden_size;
  j["initializer_range"] = initializer_range;
  j["intermediate_size"] = intermediate_size;
  j["max_position_embeddings"] = max_position_embeddings;
  j["max_window_layers"] = max_window_layers;
  j["model_type"] = "qwen3";
  j["num_attention_heads"] = num_attention_heads;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_key_value_heads"] = num_key_value_heads;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope.theta;
  if (rope.type == RopeType::kDefault) {
    j["rope_scaling"] = nullptr;
  } else {
    json s;
    s["rope_type"] = rope.type == RopeType::kLinear ? "linear" : "yarn";
    s["factor"] = rope.factor;
    if (rope.type == RopeType::kYarn) {
      if (rope.original_max_position_embeddings > 0) {
        s["original_max_position_embeddings"] = rope.original_max_position_embeddings;
      }
      if (rope.attention_factor) s["attention_factor"] = *rope.attention_factor;
      if (rope.mscale) s["mscale"] = *rope.mscale;
      if (rope.mscale_all_dim) s["mscale_all_dim"] = *rope.mscale_all_dim;
      s["beta_fast"] = rope.beta_fast;
      s["beta_slow"] = rope.beta_slow;
      if (!rope.truncate) s["truncate"] = false;
    }
    j["rope_scaling"] = s;
  }
  j["sliding_window"] = sliding_window ? json(*sliding_window) : json(nullptr);
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["torch_dtype"] = dtype == DType::kBF16  ? "bfloat16"
                     : dtype == DType::kF16 ? "float16"
                                            : "float32";
  j["use_cache"] = true;
  j["use_sliding_window"] = use_sliding_window;
  j["vocab_size"] = vocab_size;
  if (quant.fp8) {
    json q;
    q["activation_scheme"] = quant.activation_scheme;
    q["fmt"] = quant.weight_dtype == DType::kF8E5M2 ? "e5m2" : "e4m3";
    q["quant_method"] = "fp8";
    q["weight_block_size"] = {quant.block_out, quant.block_in};
    if (!quant.modules_to_not_convert.empty())
      q["modules_to_not_convert"] = quant.modules_to_not_convert;
    j["quantization_config"] = q;
  }
  return j;
}

GenerationConfig GenerationConfig::from_json(const json& j, const std::string& label) {
  if (!j.is_object()) QWEN3_THROW(ErrorCode::kInvalidModel, "{}: not a JSON object", label);
  const Fields f(j, label);
  GenerationConfig g;
  g.do_sample = f.boolean("do_sample", false);
  g.temperature = f.number("temperature", 1.0);
  g.top_p = f.number("top_p", 1.0);
  g.top_k = f.integer("top_k", 0);
  g.repetition_penalty = f.number("repetition_penalty", 1.0);
  g.eos_token_ids = f.integer_list("eos_token_id");
  g.bos_token_id = f.has("bos_token_id") ? f.integer("bos_token_id") : -1;
  g.pad_token_id = f.has("pad_token_id") ? f.integer("pad_token_id") : -1;
  if (g.temperature < 0) f.fail("temperature", "must be >= 0");
  if (g.top_p <= 0 || g.top_p > 1) f.fail("top_p", "must be in (0, 1]");
  if (g.top_k < 0) f.fail("top_k", "must be >= 0");
  return g;
}

GenerationConfig GenerationConfig::load(const std::string& model_dir) {
  const auto path = std::filesystem::path(model_dir) / "generation_config.json";
  if (!std::filesystem::exists(path)) return {};
  return from_json(read_json_file(path.string()), path.string());
}

json GenerationConfig::to_json() const {
  json j;
  if (bos_token_id >= 0) j["bos_token_id"] = bos_token_id;
  j["do_sample"] = do_sample;
  put_token_ids(j, "eos_token_id", eos_token_ids);
  if (pad_token_id >= 0) j["pad_token_id"] = pad_token_id;
  j["temperature"] = temperature;
  if (top_k > 0) j["top_k"] = top_k;
  j["top_p"] = top_p;
  if (repetition_penalty != 1.0) j["repetition_penalty"] = repetition_penalty;
  return j;
}

}  // namespace qwen3
