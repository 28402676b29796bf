// libFuzzer entry (build with -DQWEN3_FUZZ=ON and clang):
//   ./build-fuzz/tests/fuzz_safetensors -max_total_time=60 tests/fixtures/models/*/
#include "fuzz/safetensors_fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qwen3::fuzz::safetensors_one_input(data, size);
  return 0;
}
