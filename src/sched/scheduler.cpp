#include "sched/scheduler.h"

#include <algorithm>
#include <tuple>

#include "core/error.h"

namespace qwen3 {
namespace {

bool before(const Sequence* a, const Sequence* b) {
  return std::tie(a->priority, a->arrival) < std::tie(b->priority, b->arrival);
}

}  // namespace

Scheduler::Scheduler(const SchedulerConfig& config)
    : config_(config),
      kv_(config.num_blocks, config.block_size, config.enable_prefix_caching,
          config.attention_window) {
  if (config.max_num_seqs < 1 || config.max_num_batched_tokens < config.max_num_seqs) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--max-num-batched-tokens ({}) must be at least --max-num-seqs ({}) >= 1",
                config.max_num_batched_tokens, config.max_num_seqs);
  }
}

void Scheduler::add(Sequence seq) {
  QWEN3_CHECK(seq.id != 0 && !seqs_.contains(seq.id) && !seq.tokens.empty());
  auto owned = std::make_unique<Sequence>(std::move(seq));
  Sequence* s = owned.get();
  s->status = SeqStatus::kWaiting;
  s->num_computed = 0;
  seqs_.emplace(s->id, std::move(owned));
  enqueue_waiting(s);
}

Sequence* Scheduler::find(uint64_t id) {
  auto it = seqs_.find(id);
  return it == seqs_.end() ? nullptr : it->second.get();
}

bool Scheduler::remove(uint64_t id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return false;
  Sequence* s = it->second.get();
  if (s->status == SeqStatus::kRunning) {
    running_.erase(std::find(running_.begin(), running_.end(), s));
  } else {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), s));
  }
  kv_.free(id);
  gone_.push_back(id);
  seqs_.erase(it);
  return true;
}

void Scheduler::enqueue_waiting(Sequence* s) {
  waiting_.insert(std::upper_bound(waiting_.begin(), waiting_.end(), s, before), s);
}

void Scheduler::preempt(Sequence* s) {
  kv_.free(s->id);
  s->num_computed = 0;
  s->status = SeqStatus::kWaiting;
  ++s->num_preemptions;
  ++preemptions_;
  preempted_this_step_ = true;
  gone_.push_back(s->id);
  enqueue_waiting(s);
}

bool Scheduler::runnable(const Sequence& s) const {
  if (s.wait_for == 0) return true;
  const auto it = seqs_.find(s.wait_for);
  if (it == seqs_.end()) return true;
  const Sequence& leader = *it->second;
  return leader.num_computed >= leader.prompt_len;
}

void Scheduler::emit(SchedulerOutput& out, const Sequence& s, int64_t n) {
  ScheduledSeq& q = out.seqs.emplace_back();
  q.seq_id = s.id;
  q.tokens.assign(s.tokens.begin() + s.num_computed, s.tokens.begin() + s.num_computed + n);
  q.start_pos = s.num_computed;
  q.block_table = kv_.block_table(s.id);
  q.want_logits = s.num_computed + n == static_cast<int64_t>(s.tokens.size());
  out.total_tokens += n;
}

void Scheduler::schedule_running(SchedulerOutput& out, int64_t& budget) {
  // Decodes (one token left) still to be seen: a prefill chunk leaves them their tokens.
  int64_t decodes_left = 0;
  for (const Sequence* s : running_) decodes_left += s->remaining() == 1;
  size_t i = 0;
  while (i < running_.size()) {
    Sequence* s = running_[i];
    const bool decode = s->remaining() == 1;
    decodes_left -= decode;
    const int64_t n = std::min(s->remaining(), decode ? budget : budget - decodes_left);
    if (n <= 0) {
      ++i;
      continue;
    }
    bool self_preempted = false;
    while (!kv_.allocate(s->id, nullptr, s->num_computed, n)) {
      // The lowest-priority, newest sequence not yet scheduled this step makes room.
      auto victim_it =
          std::max_element(running_.begin() + static_cast<int64_t>(i), running_.end(),
                           [](const Sequence* a, const Sequence* b) { return before(a, b); });
      Sequence* victim = *victim_it;
      running_.erase(victim_it);
      if (victim != s) decodes_left -= victim->remaining() == 1;
      preempt(victim);
      if (victim == s) {
        self_preempted = true;
        break;
      }
    }
    if (self_preempted) continue;
    emit(out, *s, n);
    budget -= n;
    ++i;
  }
}

void Scheduler::schedule_waiting(SchedulerOutput& out, int64_t& budget) {
  auto it = waiting_.begin();
  while (it != waiting_.end() && budget > 0 &&
         static_cast<int64_t>(running_.size()) < config_.max_num_seqs) {
    Sequence* s = *it;
    if (!runnable(*s)) {
      ++it;
      continue;
    }
    const PrefixHit hit = kv_.find_prefix(s->tokens);
    const int64_t cached = hit.num_blocks() * config_.block_size;
    const int64_t n = std::min(static_cast<int64_t>(s->tokens.size()) - cached, budget);
    if (!kv_.allocate(s->id, &hit, cached, n)) break;  // first come, first served
    if (s->cached_prompt_tokens < 0) {
      s->cached_prompt_tokens = std::min(cached, s->prompt_len);
      kv_.record_lookup(s->prompt_len, s->cached_prompt_tokens);
    }
    s->num_computed = cached;
    s->status = SeqStatus::kRunning;
    running_.push_back(s);
    it = waiting_.erase(it);
    emit(out, *s, n);
    budget -= n;
  }
}

SchedulerOutput Scheduler::schedule() {
  SchedulerOutput out;
  int64_t budget = config_.max_num_batched_tokens;
  preempted_this_step_ = false;
  schedule_running(out, budget);
  // After a preemption the pool is tight: admitting more would only thrash.
  if (!preempted_this_step_) schedule_waiting(out, budget);
  out.finished_seq_ids = std::move(gone_);
  gone_.clear();
  return out;
}

void Scheduler::on_executed(const SchedulerOutput& out) {
  for (const ScheduledSeq& q : out.seqs) {
    Sequence* s = find(q.seq_id);
    if (s == nullptr || s->status != SeqStatus::kRunning) continue;
    s->num_computed = q.start_pos + static_cast<int64_t>(q.tokens.size());
    kv_.commit(s->id, s->tokens, s->num_computed);
  }
}

void Scheduler::append_token(uint64_t id, int32_t token) {
  Sequence* s = find(id);
  QWEN3_CHECK(s != nullptr && s->num_computed == static_cast<int64_t>(s->tokens.size()));
  s->tokens.push_back(token);
}

}  // namespace qwen3
