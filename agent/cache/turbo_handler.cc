// turbo_handler.cc: Turborepo's remote cache API, /v8/artifacts/* (I/O loop thread).
// The team (`slug` or `teamId`) is the namespace; the artifact tag and duration headers are kept
// with the body and returned on reads.
#include <nlohmann/json.hpp>

#include "agent/cache/artifact_handler.h"
#include "agent/cache/artifact_put.h"
#include "agent/cache/json_body_handler.h"
#include "agent/cache/key_rules.h"
#include "agent/cache/surfaces.h"

namespace meshcache::agent::cache {
namespace {

constexpr std::string_view kArtifactHeaders[] = {"x-artifact-tag", "x-artifact-duration"};
constexpr size_t kMaxEventsBytes = 1 << 20;
constexpr size_t kMaxExtraBytes = 1024;

// Turbo takes any 2xx for a PUT; 202 + urls is what Vercel's API answers.
constexpr SurfaceSpec kTurbo = [] {
  SurfaceSpec s;
  s.route = route::turbo_artifact;
  s.allow = "GET, HEAD, PUT";
  s.write_method = "PUT";
  s.write_status = 202;
  return s;
}();

// turbo sends `slug` (TURBO_TEAM); Vercel's API and older clients send `teamId`.
std::optional<std::string> team(const http::Request& request) {
  std::optional<std::string> ns = request.query_param("slug");
  if (!ns) ns = request.query_param("teamId");
  return ns;
}

// GET /v8/artifacts/status: turbo asks before using the cache.
class StatusHandler final : public CacheHandler {
 public:
  StatusHandler(const CacheContext& ctx, std::string ns)
      : CacheHandler(ctx, route::turbo_status), ns_(std::move(ns)) {}

 private:
  void start(http::Exchange& ex) override {
    if (ex.request().method != "GET" && ex.request().method != "HEAD") {
      respond_method_not_allowed(ex, "GET, HEAD");
      return;
    }
    if (!authorize(ex, ns_, false)) return;
    respond_json(ex, 200, R"({"status":"enabled"})");
  }

  std::string ns_;
};

// POST /v8/artifacts/events: hit/miss analytics. Validated and acknowledged; the node's own
// hit/miss counters already cover what they report.
class EventsHandler final : public JsonBodyHandler {
 public:
  EventsHandler(const CacheContext& ctx, std::string ns)
      : JsonBodyHandler(ctx, route::turbo_events, kMaxEventsBytes), ns_(std::move(ns)) {}

 private:
  void start(http::Exchange& ex) override {
    if (ex.request().method != "POST") {
      respond_method_not_allowed(ex, "POST");
      return;
    }
    if (authorize(ex, ns_, false)) (void)accept_body(ex);
  }

  void complete(http::Exchange& ex) override {
    nlohmann::json events = document();
    if (events.is_discarded() || !events.is_array()) {
      respond_error(ex, 400, "bad_request", "events must be a JSON array");
      return;
    }
    respond_empty(ex, 200);
  }

  std::string ns_;
};

}  // namespace

HandlerPtr route_turbo(const CacheContext& ctx, const http::Request& request,
                       std::string_view rest) {
  std::optional<std::string> ns = team(request);
  if (ns && !valid_namespace(*ns)) {
    return make_error_handler(ctx, kTurbo.route, 400, "bad_namespace", "invalid slug or teamId");
  }
  if (rest == "status") return std::make_unique<StatusHandler>(ctx, ns.value_or(""));
  if (rest == "events") return std::make_unique<EventsHandler>(ctx, ns.value_or(""));
  if (!valid_key(rest) || rest.find('/') != std::string_view::npos) {
    return make_error_handler(ctx, kTurbo.route, 400, "bad_key", "invalid artifact hash");
  }
  if (!ns) {
    return make_error_handler(ctx, kTurbo.route, 400, "missing_team",
                              "querystring should have required property 'slug' or 'teamId'");
  }
  ArtifactRequest artifact(make_ref(ctx, "turbo", std::move(*ns), std::string(rest)));
  if (request.method == "PUT") {
    for (std::string_view name : kArtifactHeaders) {
      const std::string* value = request.header(name);
      if (value != nullptr && value->size() <= kMaxExtraBytes) {
        artifact.write.extras.emplace(std::string(name), *value);
      }
    }
    std::string url = request.raw_path;
    if (!request.query.empty()) url.append("?").append(request.query);
    nlohmann::json urls{{"urls", nlohmann::json::array({url})}};
    artifact.write_response = urls.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return make_artifact_handler(ctx, kTurbo, std::move(artifact));
}

}  // namespace meshcache::agent::cache
