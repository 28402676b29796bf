// `--kv-cache-dtype`: vLLM's names, which backend can hold which dtype, and the KV bytes
// per block the budget divides by (CPU only: the CUDA sizes are in tests/cuda).
#include <gtest/gtest.h>

#include <string>

#include "backends/runner_factory.h"
#include "core/error.h"

namespace qwen3 {
namespace {

void expect_error(const std::string& name, ErrorCode code) {
  try {
    parse_kv_cache_dtype(name);
    ADD_FAILURE() << name << " was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << name;
    EXPECT_NE(std::string(e.what()).find("--kv-cache-dtype"), std::string::npos) << e.what();
  }
}

TEST(KvCacheDtype, ParsesVllmNames) {
  EXPECT_EQ(parse_kv_cache_dtype("auto"), KvCacheDtype::kAuto);
  EXPECT_EQ(parse_kv_cache_dtype("bf16"), KvCacheDtype::kBF16);
  EXPECT_EQ(parse_kv_cache_dtype("bfloat16"), KvCacheDtype::kBF16);
  EXPECT_EQ(parse_kv_cache_dtype("fp8"), KvCacheDtype::kFp8E4M3);
  EXPECT_EQ(parse_kv_cache_dtype("fp8_e4m3"), KvCacheDtype::kFp8E4M3);
  expect_error("fp8_e5m2", ErrorCode::kUnsupported);
  expect_error("int4", ErrorCode::kInvalidArgument);
  expect_error("", ErrorCode::kInvalidArgument);
  expect_error("FP8", ErrorCode::kInvalidArgument);
}

TEST(KvCacheDtype, CpuKeepsFloat32Only) {
  EXPECT_NO_THROW(check_kv_cache_dtype(Device::kCpu, KvCacheDtype::kAuto));
  EXPECT_NO_THROW(check_kv_cache_dtype(Device::kCuda, KvCacheDtype::kFp8E4M3));
  EXPECT_NO_THROW(check_kv_cache_dtype(Device::kCuda, KvCacheDtype::kBF16));
  for (const KvCacheDtype kv : {KvCacheDtype::kBF16, KvCacheDtype::kFp8E4M3}) {
    try {
      check_kv_cache_dtype(Device::kCpu, kv);
      ADD_FAILURE() << "the CPU accepted a non-float32 KV cache";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
      EXPECT_NE(std::string(e.what()).find("--kv-cache-dtype"), std::string::npos) << e.what();
    }
  }
  EXPECT_STREQ(kv_cache_dtype_name(Device::kCpu, KvCacheDtype::kAuto), "float32");
  EXPECT_STREQ(kv_cache_dtype_name(Device::kCuda, KvCacheDtype::kAuto), "bf16");
  EXPECT_STREQ(kv_cache_dtype_name(Device::kCuda, KvCacheDtype::kFp8E4M3), "fp8_e4m3");
}

TEST(KvCacheDtype, CpuBytesPerBlockAreFloat32) {
  ModelConfig c;
  c.num_hidden_layers = 3;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  EXPECT_EQ(kv_bytes_per_block(Device::kCpu, c, 16), 2 * 3 * 2 * 64 * 4 * 16);
  EXPECT_THROW(kv_bytes_per_block(Device::kCpu, c, 16, KvCacheDtype::kFp8E4M3), Error);
}

}  // namespace
}  // namespace qwen3
