#include "engine/engine.h"

#include <algorithm>

#include "core/error.h"

namespace qwen3 {

struct Engine::Request {
  uint64_t id = 0;
  EngineRequest req;
  std::vector<uint64_t> seq_ids;      // [n] one sequence per choice
  std::vector<uint64_t> seeds;        // [n]
  std::vector<ChoiceOutput> choices;  // [n]
  int64_t open = 0;                   // choices not finished
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;
};

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
    case FinishReason::kError:
      return "error";
    case FinishReason::kNone:
      break;
  }
  return nullptr;
}

namespace {

SchedulerConfig scheduler_config(const EngineConfig& c, const ModelRunner& runner) {
  SchedulerConfig s;
  s.max_num_seqs = c.max_num_seqs;
  s.max_num_batched_tokens = c.max_num_batched_tokens;
  s.num_blocks = runner.num_kv_blocks();
  s.block_size = runner.block_size();
  s.enable_prefix_caching = c.enable_prefix_caching;
  s.attention_window = c.attention_window;
  return s;
}

// held(len): KV tokens one sequence of len tokens holds at most (KvCacheManager::tokens_held).
template <typename Held>
int64_t resolve_max_model_len(int64_t requested, int64_t model_max, int64_t kv_tokens,
                              const Held& held) {
  if (requested < 0) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--max-model-len must be >= 1, got {}", requested);
  }
  if (requested > model_max) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--max-model-len {} is longer than the model's context ({} tokens, "
                "max_position_embeddings in config.json)",
                requested, model_max);
  }
  if (held(requested) > kv_tokens) {
    QWEN3_THROW(ErrorCode::kOutOfMemory,
                "--max-model-len {} needs KV blocks for {} tokens but the pool holds {} tokens; "
                "lower --max-model-len or raise --kv-cache-memory / --gpu-memory-utilization "
                "(or bound a request's KV with --attention-window)",
                requested, held(requested), kv_tokens);
  }
  if (requested > 0) return requested;
  return held(model_max) <= kv_tokens ? model_max : std::min(model_max, kv_tokens);
}

}  // namespace

Engine::Engine(const EngineConfig& config, const ModelConfig& model, ModelRunner& runner,
               const text::Tokenizer* tokenizer)
    : config_(config),
      vocab_size_(model.vocab_size),
      runner_(runner),
      tokenizer_(tokenizer),
      scheduler_(scheduler_config(config, runner)),
      seed_source_(std::random_device{}()) {
  check_attention_window(config.attention_window);
  runner_.set_attention_window(config.attention_window);
  const KvCacheManager& kv = scheduler_.kv();
  config_.max_model_len = resolve_max_model_len(
      config.max_model_len, model.max_position_embeddings, kv.capacity_tokens(),
      [&](int64_t len) { return kv.tokens_held(len, config.max_num_batched_tokens); });
  if (config_.eos_token_ids.empty()) config_.eos_token_ids = model.eos_token_ids;
}

Engine::~Engine() = default;

void Engine::validate(const EngineRequest& r) const {
  const auto prompt_len = static_cast<int64_t>(r.prompt.size());
  if (prompt_len == 0) QWEN3_THROW(ErrorCode::kInvalidArgument, "the prompt is empty");
  for (int32_t t : r.prompt) {
    if (t < 0 || t >= vocab_size_) {
      QWEN3_THROW(ErrorCode::kInvalidArgument,
                  "prompt token id {} is outside the vocabulary [0, {})", t, vocab_size_);
    }
  }
  r.params.validate(vocab_size_);
  if (tokenizer_ == nullptr && !r.params.stop.empty()) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "stop strings need a tokenizer (none loaded)");
  }
  const int64_t max_len = config_.max_model_len;
  const int64_t asked = r.params.max_tokens < 0 ? 1 : r.params.max_tokens;
  if (prompt_len + asked > max_len) {
    QWEN3_THROW(ErrorCode::kContextLength,
                "This model's maximum context length is {} tokens. However, you requested {} "
                "tokens ({} in the prompt, {} for the completion). Please reduce the prompt or "
                "max_tokens.",
                max_len, prompt_len + asked, prompt_len, asked);
  }
}

void Engine::add(uint64_t id, EngineRequest request) {
  auto r = std::make_unique<Request>();
  r->id = id;
  r->req = std::move(request);
  const SamplingParams& p = r->req.params;
  const auto prompt_len = static_cast<int64_t>(r->req.prompt.size());
  const int64_t max_len = p.max_tokens < 0
                              ? config_.max_model_len
                              : std::min(config_.max_model_len, prompt_len + p.max_tokens);
  const uint64_t arrival = ++arrivals_;
  for (int64_t i = 0; i < p.n; ++i) {
    Sequence s;
    s.id = next_seq_id_++;
    s.tokens = r->req.prompt;
    s.prompt_len = prompt_len;
    s.max_len = max_len;
    s.priority = r->req.priority;
    s.arrival = arrival;
    s.wait_for = i == 0 ? 0 : r->seq_ids[0];  // siblings reuse the first one's prompt blocks
    r->seq_ids.push_back(s.id);
    r->seeds.push_back(p.seed ? *p.seed + static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL
                              : seed_source_());
    seqs_[s.id] = {r.get(), i};
    scheduler_.add(std::move(s));
  }
  for (int64_t i = 0; i < p.n; ++i)
    r->choices.emplace_back(i, tokenizer_, p, config_.eos_token_ids);
  r->open = p.n;
  counters_.prompt_tokens_total += prompt_len;
  requests_.emplace(id, std::move(r));
}

RequestOutput& Engine::output_for(Request& r,
                                  std::unordered_map<uint64_t, RequestOutput>& outputs) {
  auto [it, fresh] = outputs.try_emplace(r.id);
  if (fresh) {
    it->second.request_id = r.id;
    it->second.prompt_tokens = static_cast<int64_t>(r.req.prompt.size());
  }
  return it->second;
}

ChoiceDelta& Engine::delta_for(RequestOutput& o, int64_t choice) {
  for (auto& c : o.choices) {
    if (c.index == choice) return c;
  }
  ChoiceDelta& d = o.choices.emplace_back();
  d.index = choice;
  return d;
}

void Engine::finish_request_if_done(Request& r, RequestOutput& o) {
  o.completion_tokens = r.completion_tokens;
  o.cached_prompt_tokens = r.cached_prompt_tokens;
  if (r.open > 0) return;
  o.finished = true;
  for (uint64_t s : r.seq_ids) seqs_.erase(s);
  ++counters_.requests_finished_total;
  requests_.erase(r.id);
}

std::optional<RequestOutput> Engine::abort(uint64_t id, FinishReason reason) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return std::nullopt;
  Request& r = *it->second;
  RequestOutput o;
  o.request_id = id;
  o.prompt_tokens = static_cast<int64_t>(r.req.prompt.size());
  for (size_t i = 0; i < r.choices.size(); ++i) {
    if (r.choices[i].finished()) continue;
    r.choices[i].finish(reason, delta_for(o, static_cast<int64_t>(i)));
    scheduler_.remove(r.seq_ids[i]);
    --r.open;
  }
  finish_request_if_done(r, o);
  if (!scheduler_.has_work()) runner_.end_of_work();
  return o;
}

std::vector<RequestOutput> Engine::fail_all(const Error& error) {
  std::vector<uint64_t> ids;
  for (const auto& [id, r] : requests_) ids.push_back(id);
  std::vector<RequestOutput> outs;
  for (uint64_t id : ids) {
    auto o = abort(id, FinishReason::kError);
    o->error = error;
    outs.push_back(std::move(*o));
  }
  return outs;
}

std::vector<SamplerRow> Engine::sampler_rows(const SchedulerOutput& out,
                                             std::vector<Sequence*>& row_seqs) {
  std::vector<SamplerRow> rows;
  for (const ScheduledSeq& q : out.seqs) {
    if (!q.want_logits) continue;
    Sequence* s = scheduler_.find(q.seq_id);
    const SeqRef& ref = seqs_.at(q.seq_id);
    const std::span<const int32_t> all(s->tokens);
    SamplerRow& row = rows.emplace_back();
    row.params = &ref.request->req.params;
    row.prompt_tokens = all.first(static_cast<size_t>(s->prompt_len));
    row.output_tokens = all.subspan(static_cast<size_t>(s->prompt_len));
    row.eos_token_ids = config_.eos_token_ids;
    row.seed = ref.request->seeds[static_cast<size_t>(ref.choice)];
    row_seqs.push_back(s);
  }
  return rows;
}

void Engine::sample_and_emit(std::span<const SamplerRow> rows,
                             std::span<Sequence* const> row_seqs, RunnerOutput& ro,
                             std::unordered_map<uint64_t, RequestOutput>& outputs) {
  QWEN3_CHECK(static_cast<int64_t>(rows.size()) == ro.rows && ro.vocab == vocab_size_);
  const std::vector<SampledToken> sampled = runner_output_tokens(ro, rows);
  for (size_t i = 0; i < row_seqs.size(); ++i) {
    Sequence* s = row_seqs[i];
    const SeqRef ref = seqs_.at(s->id);
    Request& r = *ref.request;
    scheduler_.append_token(s->id, sampled[i].token);
    ++r.completion_tokens;
    ++counters_.generation_tokens_total;
    if (ref.choice == 0) r.cached_prompt_tokens = std::max<int64_t>(0, s->cached_prompt_tokens);
    RequestOutput& o = output_for(r, outputs);
    const bool at_limit = static_cast<int64_t>(s->tokens.size()) >= s->max_len;
    ChoiceOutput& choice = r.choices[static_cast<size_t>(ref.choice)];
    if (choice.on_token(sampled[i], s->num_output(), at_limit, delta_for(o, ref.choice))) {
      scheduler_.remove(s->id);
      --r.open;
    }
  }
}

std::vector<RequestOutput> Engine::step() {
  SchedulerOutput out = scheduler_.schedule();
  std::vector<RequestOutput> result;
  if (out.seqs.empty()) return result;
  // The rows' token spans stay valid until sample_and_emit appends the sampled tokens.
  std::vector<Sequence*> row_seqs;
  const std::vector<SamplerRow> rows = sampler_rows(out, row_seqs);
  RunnerOutput ro = runner_.execute_and_sample(out, rows);
  scheduler_.on_executed(out);
  ++counters_.steps_total;
  std::unordered_map<uint64_t, RequestOutput> outputs;
  sample_and_emit(rows, row_seqs, ro, outputs);
  for (auto& [id, o] : outputs) {
    auto it = requests_.find(id);
    if (it != requests_.end()) finish_request_if_done(*it->second, o);
    result.push_back(std::move(o));
  }
  if (!scheduler_.has_work()) runner_.end_of_work();
  return result;
}

EngineStats Engine::stats() const {
  EngineStats s = counters_;
  s.running = scheduler_.num_running();
  s.waiting = scheduler_.num_waiting();
  const BlockPool& pool = scheduler_.kv().pool();
  s.kv_usage = pool.usage();
  s.kv_blocks_total = pool.num_usable();
  s.kv_tokens_capacity = scheduler_.kv().capacity_tokens();
  s.prefix_queries = scheduler_.kv().prefix_queries();
  s.prefix_hits = scheduler_.kv().prefix_hits();
  s.preemptions_total = scheduler_.num_preemptions();
  s.device = runner_.device_timeline();
  return s;
}

}  // namespace qwen3
