#include "server/routes.h"

#include <fmt/core.h>

#include "server/chat_page.h"
#include "server/openai_handlers.h"

namespace qwen3::server {
namespace {

enum class Route {
  kUnknown,
  kPage,
  kHealth,
  kMetrics,
  kVersion,
  kModels,
  kModel,
  kCompletions,
  kChat,
  kTokenize,
  kDetokenize,
};

struct RouteInfo {
  Route route = Route::kUnknown;
  const char* method = "GET";
  bool needs_key = false;    // --api-key protects the API, not health/metrics/page
  bool needs_model = false;  // 503 while loading
};

RouteInfo find_route(std::string_view path) {
  if (path == "/") return {Route::kPage};
  if (path == "/health") return {Route::kHealth};
  if (path == "/metrics") return {Route::kMetrics};
  if (path == "/version") return {Route::kVersion};
  if (path == "/v1/models") return {Route::kModels, "GET", true, false};
  if (path.starts_with("/v1/models/")) return {Route::kModel, "GET", true, false};
  if (path == "/v1/completions") return {Route::kCompletions, "POST", true, true};
  if (path == "/v1/chat/completions") return {Route::kChat, "POST", true, true};
  if (path == "/tokenize") return {Route::kTokenize, "POST", true, true};
  if (path == "/detokenize") return {Route::kDetokenize, "POST", true, true};
  return {};
}

bool key_ok(const ServerState& st, const HttpRequest& r) {
  return st.options.api_key.empty() || r.authorization == "Bearer " + st.options.api_key;
}

Json model_card(const ServerState& st, const std::string& name) {
  const ServedModel* m = st.serving_model();
  Json card = {{"id", name},
               {"object", "model"},
               {"created", m ? m->created : 0},
               {"owned_by", "qwen3.cpp"},
               {"root", m ? m->root : ""},
               {"parent", nullptr}};
  if (m != nullptr) card["max_model_len"] = m->max_model_len;
  card["permission"] = Json::array();
  return card;
}

void send_models(ServerState& st, ResponseSink& sink) {
  Json data = Json::array();
  for (const std::string& name : st.options.served_model_names) {
    data.push_back(model_card(st, name));
  }
  send_json(sink, 200, Json{{"object", "list"}, {"data", std::move(data)}});
}

void send_model(ServerState& st, std::string_view path, ResponseSink& sink) {
  const std::string name(path.substr(std::string_view("/v1/models/").size()));
  check_model_name(st, name.empty() ? "/" : name);
  send_json(sink, 200, model_card(st, name));
}

void send_health(const ServerState& st, ResponseSink& sink) {
  switch (st.phase.load(std::memory_order_acquire)) {
    case ServerPhase::kServing:
      return sink.send_response(200, "application/json", "{}");
    case ServerPhase::kLoading:
      throw ApiError(503, "service_unavailable", "model_loading", "the model is loading");
    case ServerPhase::kDraining:
      throw ApiError(503, "service_unavailable", "shutting_down", "the server is shutting down");
    case ServerPhase::kFailed:
      break;
  }
  throw ApiError(503, "service_unavailable", "model_load_failed", "the model failed to load");
}

void send_metrics(ServerState& st, ResponseSink& sink) {
  const ServedModel* m = st.serving_model();
  const EngineStats stats = m != nullptr ? m->backend->stats() : EngineStats{};
  sink.send_response(200, "text/plain; version=0.0.4; charset=utf-8",
                     st.metrics.render(stats, st.model_name()));
}

std::shared_ptr<GenerationJob> dispatch(ServerState& st, const RouteInfo& info,
                                        std::string_view path, const HttpRequest& r,
                                        std::shared_ptr<ResponseSink> sink, PostFn post) {
  switch (info.route) {
    case Route::kPage:
      sink->send_response(200, "text/html; charset=utf-8", std::string(chat_page_html()));
      return nullptr;
    case Route::kHealth:
      send_health(st, *sink);
      return nullptr;
    case Route::kMetrics:
      send_metrics(st, *sink);
      return nullptr;
    case Route::kVersion:
      send_json(*sink, 200, Json{{"version", QWEN3_VERSION}});
      return nullptr;
    case Route::kModels:
      send_models(st, *sink);
      return nullptr;
    case Route::kModel:
      send_model(st, path, *sink);
      return nullptr;
    default:
      break;
  }
  ServedModel* m = st.serving_model();
  if (m == nullptr || st.phase.load() != ServerPhase::kServing) {
    throw ApiError(503, "service_unavailable", "service_unavailable",
                   st.phase.load() == ServerPhase::kLoading ? "the model is loading"
                                                            : "the server is not serving");
  }
  const HandlerEnv env{st, *m, std::move(sink), std::move(post)};
  switch (info.route) {
    case Route::kCompletions:
      return handle_completions(env, r.body);
    case Route::kChat:
      return handle_chat(env, r.body);
    case Route::kTokenize:
      handle_tokenize(env, r.body);
      return nullptr;
    default:
      handle_detokenize(env, r.body);
      return nullptr;
  }
}

}  // namespace

std::shared_ptr<GenerationJob> route_request(ServerState& st, const HttpRequest& r,
                                             std::shared_ptr<ResponseSink> sink, PostFn post) {
  const std::string_view target = r.target;
  const std::string_view path = target.substr(0, target.find('?'));
  try {
    const RouteInfo info = find_route(path);
    if (info.route == Route::kUnknown) {
      throw not_found(fmt::format("no route for {} {}", r.method, path));
    }
    if (r.method != info.method) {
      throw ApiError(405, "invalid_request_error", "method_not_allowed",
                     fmt::format("{} is not allowed on {} (use {})", r.method, path, info.method));
    }
    if (info.needs_key && !key_ok(st, r)) {
      throw ApiError(401, "invalid_request_error", "invalid_api_key",
                     "Incorrect or missing API key: send 'Authorization: Bearer <key>'.");
    }
    return dispatch(st, info, path, r, sink, std::move(post));
  } catch (const ApiError& e) {
    send_error(*sink, e);
  } catch (const Error& e) {
    send_error(*sink, api_error_from(e));
  } catch (const std::exception& e) {
    send_error(*sink, ApiError(500, "server_error", "internal_error", e.what()));
  }
  return nullptr;
}

}  // namespace qwen3::server
