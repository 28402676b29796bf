// Histogram exposition (cumulative buckets, +Inf, sum, count) and error bodies.
#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/json_fields.h"
#include "server/metrics.h"
#include "server/openai_response.h"

namespace qwen3::server {
namespace {

TEST(Metrics, HistogramIsCumulative) {
  Histogram h({0.1, 1.0});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(0.5);
  h.observe(7);
  std::string out;
  h.render(out, "x", "help", "m=\"a\"");
  EXPECT_NE(out.find("# TYPE x histogram\n"), std::string::npos);
  EXPECT_NE(out.find("x_bucket{m=\"a\",le=\"0.1\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{m=\"a\",le=\"1\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{m=\"a\",le=\"+Inf\"} 4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_sum{m=\"a\"} 8.05\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_count{m=\"a\"} 4\n"), std::string::npos) << out;
}

TEST(Metrics, LabelsAreEscaped) {
  ServerMetrics m;
  const std::string out = m.render(EngineStats{}, "a\"b");
  EXPECT_NE(out.find("model_name=\"a\\\"b\""), std::string::npos);
}

TEST(ApiErrors, MappingAndShape) {
  EXPECT_EQ(api_error_from(Error(ErrorCode::kInvalidArgument, "x")).status(), 400);
  EXPECT_EQ(api_error_from(Error(ErrorCode::kUnsupported, "x")).status(), 400);
  EXPECT_EQ(api_error_from(Error(ErrorCode::kContextLength, "x")).code(),
            "context_length_exceeded");
  EXPECT_EQ(api_error_from(Error(ErrorCode::kOverloaded, "x")).status(), 429);
  EXPECT_EQ(api_error_from(Error(ErrorCode::kUnavailable, "x")).status(), 503);
  EXPECT_EQ(api_error_from(Error(ErrorCode::kInternal, "x")).status(), 500);
  const Json j = Json::parse(error_body(bad_request("temperature", "too hot")));
  EXPECT_EQ(j["error"]["message"], "too hot");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "temperature");
  EXPECT_EQ(j["error"]["code"], "invalid_value");
  EXPECT_TRUE(Json::parse(error_body(not_found("x")))["error"]["param"].is_null());
  // Invalid UTF-8 in a message never breaks the body.
  EXPECT_NO_THROW(Json::parse(error_body(bad_request("", "bad \xff byte"))));
}

TEST(Responses, SseAndStopReason) {
  EXPECT_EQ(sse_event(Json{{"a", 1}}), "data: {\"a\":1}\n\n");
  ChoiceDelta d;
  d.finish_reason = FinishReason::kStop;
  d.stop_reason = "151645";
  EXPECT_EQ(stop_reason_json(d, {}), 151645);
  d.stop_reason = "END";
  EXPECT_EQ(stop_reason_json(d, {"END"}), "END");
  d.finish_reason = FinishReason::kLength;
  EXPECT_TRUE(stop_reason_json(d, {"END"}).is_null());
  EXPECT_TRUE(finish_reason_json(FinishReason::kNone).is_null());
  EXPECT_EQ(finish_reason_json(FinishReason::kLength), "length");
  const Json u = usage_json(3, 4, 2);
  EXPECT_EQ(u["total_tokens"], 7);
  EXPECT_EQ(u["prompt_tokens_details"]["cached_tokens"], 2);
  EXPECT_EQ(make_request_id("chatcmpl").rfind("chatcmpl-", 0), 0u);
  EXPECT_NE(make_request_id("x"), make_request_id("x"));
}

}  // namespace
}  // namespace qwen3::server
