// Test helpers: reading reference tensors from fixture safetensors files and comparing
// logits with a stated tolerance.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qwen3 {
struct InitRandomOptions;
}

namespace qwen3::test {

// The whole file as bytes ("" when it cannot be read).
std::string read_bytes(const std::filesystem::path& path);

// init-random options for the small test geometry (tests/data/initrandom_small.json).
InitRandomOptions small_init_random(const std::string& out_dir, uint64_t seed);

inline std::string fixtures_dir() { return QWEN3_FIXTURES_DIR; }
inline std::string fixture_model(const std::string& name) {
  return fixtures_dir() + "/models/" + name;
}
inline std::string test_data(const std::string& name) {
  return std::string(QWEN3_TEST_DATA_DIR) + "/" + name;
}

struct RefTensor {
  std::vector<int64_t> shape;
  std::vector<float> f32;    // floating tensors
  std::vector<int64_t> i64;  // integer tensors
};

// All tensors of a safetensors file, converted to float32 / int64.
std::map<std::string, RefTensor> read_reference(const std::string& path);

struct Diff {
  double max_abs = 0;  // max |a - b|
  double ref_max = 0;  // max |b|
  double rel() const { return ref_max > 0 ? max_abs / ref_max : max_abs; }
};
Diff compare(const float* a, const float* b, size_t n);

// A fresh temporary directory removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Copies a model folder to `dst` and rewrites tensor `name` (float view) with `edit`.
void copy_model_with_edit(const std::string& src, const std::string& dst, const std::string& name,
                          const std::function<void(std::vector<float>&)>& edit);

}  // namespace qwen3::test
