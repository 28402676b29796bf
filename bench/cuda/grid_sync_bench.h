// The persistent decoder's grid barrier timed alone (grid_sync_bench.cu).
#pragma once

namespace qwen3::cuda {

struct GridSyncTimes {
  int blocks = 0;             // one per SM
  double grid_sync_us = 0.0;  // grid_sync as the decoder runs it
  double no_sleep_us = 0.0;   // polling without __nanosleep
  double no_fence_us = 0.0;   // ... and without the __threadfence before the release
};

// Microseconds per barrier, the best of three launches of `iters` barriers each.
GridSyncTimes time_grid_sync(int iters);

}  // namespace qwen3::cuda
