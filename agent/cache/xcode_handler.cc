// xcode_handler.cc: Xcode compilation cache as Tuist serves it (I/O loop thread):
// CAS blobs at /api/cache/cas/{id} (key blob/{id}) and the keyvalue action cache at
// /api/cache/keyvalue (key action_cache/{cas_id}, stored as {"entries":[{"value":..}]}).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "agent/cache/artifact_handler.h"
#include "agent/cache/artifact_put.h"
#include "agent/cache/json_body_handler.h"
#include "agent/cache/key_rules.h"
#include "agent/cache/surfaces.h"

namespace meshcache::agent::cache {
namespace {

constexpr size_t kMaxKeyValueBytes = 1 << 20;

// Tuist answers a CAS upload 204 and checks an optional tuist-checksum-sha256 (422 on mismatch).
constexpr SurfaceSpec kCas = [] {
  SurfaceSpec s;
  s.route = route::xcode_cas;
  s.allow = "GET, HEAD, POST";
  s.write_method = "POST";
  s.write_status = 204;
  s.digest_mismatch_status = 422;
  s.digest_header = "tuist-checksum-sha256";
  return s;
}();
constexpr SurfaceSpec kKeyValueRead = [] {
  SurfaceSpec s;
  s.route = route::xcode_keyvalue;
  s.allow = "GET, HEAD";
  return s;
}();

std::string keyvalue_key(std::string_view cas_id) { return fmt::format("action_cache/{}", cas_id); }

// PUT /api/cache/keyvalue {cas_id, entries:[{value}]}: small, so buffered, validated, then
// re-serialised in Kura's stored form so that peers serve identical bytes.
class KeyValuePut final : public JsonBodyHandler {
 public:
  KeyValuePut(const CacheContext& ctx, std::string ns)
      : JsonBodyHandler(ctx, route::xcode_keyvalue, kMaxKeyValueBytes), ns_(std::move(ns)) {}

 private:
  void start(http::Exchange& ex) override {
    if (authorize(ex, ns_, true)) (void)accept_body(ex);
  }

  void complete(http::Exchange& ex) override {
    nlohmann::json doc = document();
    const nlohmann::json* cas_id = nullptr;
    const nlohmann::json* entries = nullptr;
    if (doc.is_object()) {
      auto id = doc.find("cas_id");
      auto list = doc.find("entries");
      if (id != doc.end() && id->is_string()) cas_id = &*id;
      if (list != doc.end() && list->is_array() && !list->empty()) entries = &*list;
    }
    if (cas_id == nullptr || entries == nullptr ||
        !valid_key(cas_id->get_ref<const std::string&>())) {
      respond_error(ex, 400, "bad_request",
                    "expected {\"cas_id\": string, \"entries\": [{\"value\": string}, ...]}");
      return;
    }
    nlohmann::json stored{{"entries", nlohmann::json::array()}};
    for (const nlohmann::json& entry : *entries) {
      auto value = entry.is_object() ? entry.find("value") : entry.end();
      if (!entry.is_object() || value == entry.end() || !value->is_string()) {
        respond_error(ex, 400, "bad_request", "every entry needs a string \"value\"");
        return;
      }
      stored["entries"].push_back({{"value", *value}});
    }
    std::string text = stored.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

    storage::WriteOptions options;
    options.content_type = std::string(kJson);
    owe_copies(options);
    Result<storage::Manifest> written = write_small(
        *ctx_.store,
        make_ref(ctx_, "xcode", ns_, keyvalue_key(cas_id->get_ref<const std::string&>())),
        std::move(options), text);
    if (!written.ok()) {
      respond_status(ex, written.status());
      return;
    }
    copies_owed();
    respond_empty(ex, 204);
  }

  std::string ns_;
};

}  // namespace

HandlerPtr route_xcode_cas(const CacheContext& ctx, const http::Request& request,
                           std::string_view id) {
  if (!valid_key(id) || id.find('/') != std::string_view::npos) {
    return make_error_handler(ctx, kCas.route, 400, "bad_key", "invalid CAS id");
  }
  std::optional<std::string> ns = query_namespace(request);
  if (!ns) return make_error_handler(ctx, kCas.route, 400, "bad_namespace", "invalid namespace");
  return make_artifact_handler(
      ctx, kCas,
      ArtifactRequest(make_ref(ctx, "xcode", std::move(*ns), fmt::format("blob/{}", id))));
}

HandlerPtr route_xcode_keyvalue(const CacheContext& ctx, const http::Request& request,
                                std::string_view rest) {
  std::optional<std::string> ns = query_namespace(request);
  if (!ns) {
    return make_error_handler(ctx, route::xcode_keyvalue, 400, "bad_namespace",
                              "invalid namespace");
  }
  if (rest.empty()) {
    if (request.method != "PUT") {
      return make_error_handler(ctx, route::xcode_keyvalue, 405, "method_not_allowed", {}, "PUT");
    }
    return std::make_unique<KeyValuePut>(ctx, std::move(*ns));
  }
  if (!valid_key(rest) || rest.find('/') != std::string_view::npos) {
    return make_error_handler(ctx, route::xcode_keyvalue, 400, "bad_key", "invalid CAS id");
  }
  return make_artifact_handler(
      ctx, kKeyValueRead,
      ArtifactRequest(make_ref(ctx, "xcode", std::move(*ns), keyvalue_key(rest))));
}

}  // namespace meshcache::agent::cache
