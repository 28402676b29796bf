#include <gtest/gtest.h>

#include "core/error.h"
#include "core/parse.h"

namespace qwen3 {
namespace {

TEST(Parse, Sizes) {
  EXPECT_EQ(parse_size("512MiB", "--x"), 512ull << 20);
  EXPECT_EQ(parse_size("4GiB", "--x"), 4ull << 30);
  EXPECT_EQ(parse_size("1.5GB", "--x"), 1500000000ull);
  EXPECT_EQ(parse_size("1000", "--x"), 1000ull);
  EXPECT_EQ(parse_size(" 2 KiB ", "--x"), 2048ull);
  for (const char* bad : {"", "abc", "-1GiB", "5 parsecs", "1e400"}) {
    try {
      parse_size(bad, "--kv-cache-memory");
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("--kv-cache-memory"), std::string::npos);
    }
  }
}

TEST(Parse, IdLists) {
  EXPECT_EQ(parse_id_list("1,2, 3", "--p"), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(parse_id_list("0", "--p"), (std::vector<int32_t>{0}));
  for (const char* bad : {"", "1,,2", "1,x", "-3", "1,2,", "99999999999"}) {
    EXPECT_THROW(parse_id_list(bad, "--prompt-ids"), Error) << bad;
  }
}

}  // namespace
}  // namespace qwen3
