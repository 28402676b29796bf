#include "model/fixture.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "core/dtype.h"
#include "core/error.h"
#include "model/checkpoint.h"
#include "model/init_random.h"
#include "model/safetensors.h"

namespace qwen3::test {

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

InitRandomOptions small_init_random(const std::string& out_dir, uint64_t seed) {
  InitRandomOptions o;
  o.config = config_from_like(test_data("initrandom_small.json"));
  o.seed = seed;
  o.out_dir = out_dir;
  return o;
}

std::map<std::string, RefTensor> read_reference(const std::string& path) {
  SafetensorsFile f(path);
  std::map<std::string, RefTensor> out;
  for (const auto& t : f.tensors()) {
    RefTensor r;
    r.shape = t.shape;
    const uint8_t* p = f.data(t);
    const auto n = static_cast<size_t>(t.numel());
    if (t.dtype == DType::kI64) {
      r.i64.resize(n);
      std::memcpy(r.i64.data(), p, n * 8);
    } else if (t.dtype == DType::kU8) {
      r.i64.assign(p, p + n);
    } else {
      r.f32.resize(n);
      for (size_t i = 0; i < n; ++i) r.f32[i] = load_as_f32(p, t.dtype, i);
    }
    out[t.name] = std::move(r);
  }
  return out;
}

Diff compare(const float* a, const float* b, size_t n) {
  Diff d;
  for (size_t i = 0; i < n; ++i) {
    const double diff = std::fabs(static_cast<double>(a[i]) - b[i]);
    d.max_abs = std::isnan(diff) ? INFINITY : std::max(d.max_abs, diff);
    d.ref_max = std::max(d.ref_max, std::fabs(static_cast<double>(b[i])));
  }
  return d;
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("qwen3_test_" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void copy_model_with_edit(const std::string& src, const std::string& dst, const std::string& name,
                          const std::function<void(std::vector<float>&)>& edit) {
  namespace fs = std::filesystem;
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src))
    fs::copy_file(e.path(), fs::path(dst) / e.path().filename());
  uint64_t offset = 0, count = 0;
  DType dtype;
  std::string file;
  {
    Checkpoint ck(dst);
    const TensorRef t = ck.get(name);
    offset = t.info->offset;
    count = static_cast<uint64_t>(t.info->numel());
    dtype = t.info->dtype;
    file = *t.file;
  }
  ASSERT_TRUE(dtype == DType::kBF16 || dtype == DType::kF32) << name;
  std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
  const size_t esize = dtype_size(dtype);
  std::vector<uint8_t> raw(count * esize);
  io.seekg(static_cast<std::streamoff>(offset));
  io.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(raw.size()));
  std::vector<float> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = load_as_f32(raw.data(), dtype, i);
  edit(v);
  for (size_t i = 0; i < count; ++i) {
    if (dtype == DType::kBF16) {
      const uint16_t b = f32_to_bf16(v[i]);
      std::memcpy(raw.data() + 2 * i, &b, 2);
    } else {
      std::memcpy(raw.data() + 4 * i, &v[i], 4);
    }
  }
  io.seekp(static_cast<std::streamoff>(offset));
  io.write(reinterpret_cast<const char*>(raw.data()), static_cast<std::streamsize>(raw.size()));
  ASSERT_TRUE(io.good());
}

}  // namespace qwen3::test
