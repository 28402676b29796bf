// Helpers of the CUDA tests that drive the whole engine over a runner: greedy requests,
// and stepping the engine until it is idle.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "engine/engine.h"

namespace qwen3::cuda::test {

// Greedy (temperature 0), ignoring EOS, exactly max_tokens tokens.
inline EngineRequest greedy_request(const std::vector<int64_t>& prompt, int64_t max_tokens) {
  EngineRequest req;
  req.prompt.assign(prompt.begin(), prompt.end());
  req.params.temperature = 0;
  req.params.ignore_eos = true;
  req.params.max_tokens = max_tokens;
  return req;
}

// Steps `engine` until it has no work left; the tokens each request produced, by id.
inline std::map<uint64_t, std::vector<int64_t>> run_to_completion(Engine& engine) {
  std::map<uint64_t, std::vector<int64_t>> tokens;
  while (engine.has_work()) {
    for (const auto& o : engine.step()) {
      for (const auto& d : o.choices)
        tokens[o.request_id].insert(tokens[o.request_id].end(), d.token_ids.begin(),
                                    d.token_ids.end());
    }
  }
  return tokens;
}

}  // namespace qwen3::cuda::test
