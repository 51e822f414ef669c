// artifact_handler.cc: GET/HEAD/write/DELETE of one artifact, as a SurfaceSpec says
// (I/O loop thread of the connection).
#include "agent/cache/artifact_handler.h"

#include "agent/cache/artifact_get.h"
#include "agent/cache/artifact_put.h"
#include "agent/cache/key_rules.h"

namespace meshcache::agent::cache {
namespace {

class ArtifactHandler final : public CacheHandler {
 public:
  ArtifactHandler(const CacheContext& ctx, const SurfaceSpec& spec, ArtifactRequest request)
      : CacheHandler(ctx, spec.route), spec_(spec), request_(std::move(request)) {}

 private:
  void start(http::Exchange& ex) override {
    const std::string& method = ex.request().method;
    if (method == "GET" || method == "HEAD") {
      if (!authorize(ex, request_.ref.ns, false)) return;
      GetOptions options{request_.empty_on_miss, spec_.head_hit_status, spec_.digest_header};
      serve_artifact(*this, ex, request_.ref, options);
    } else if (!spec_.write_method.empty() && method == spec_.write_method) {
      begin_write(ex);
    } else if (spec_.deletable && method == "DELETE") {
      if (!authorize(ex, request_.ref.ns, true)) return;
      Status removed = ctx_.store->remove(request_.ref);
      if (!removed.ok()) {
        respond_status(ex, removed);
        return;
      }
      respond_empty(ex, 204);
    } else {
      respond_method_not_allowed(ex, spec_.allow);
    }
  }

  void begin_write(http::Exchange& ex) {
    if (!authorize(ex, request_.ref.ns, true)) return;
    if (!spec_.digest_header.empty()) {
      if (const std::string* digest = ex.request().header(spec_.digest_header)) {
        request_.write.expected_sha256 = parse_sha256(*digest);
        if (!request_.write.expected_sha256) {
          respond_error(ex, 400, "bad_digest",
                        std::string(spec_.digest_header) + " must be 64 hex characters");
          return;
        }
      }
    }
    owe_copies(request_.write);
    Status begun = put_.begin(*ctx_.store, ex.request(), request_.ref, std::move(request_.write),
                              ctx_.config->max_artifact_bytes);
    if (!begun.ok()) respond_status(ex, begun);
  }

  void body(http::Exchange& ex, std::span<const uint8_t> bytes) override {
    if (!put_.active()) return;
    Status appended = put_.append(bytes);
    if (!appended.ok()) respond_status(ex, appended);
  }

  void complete(http::Exchange& ex) override {
    if (!put_.active()) return;
    Result<storage::Manifest> committed = put_.commit();
    if (!committed.ok()) {
      respond_status(ex, committed.status(), spec_.digest_mismatch_status);
      return;
    }
    copies_owed();
    if (request_.write_response.empty()) {
      respond_empty(ex, spec_.write_status);
    } else {
      respond_json(ex, spec_.write_status, std::move(request_.write_response));
    }
  }

  const SurfaceSpec& spec_;
  ArtifactRequest request_;
  ArtifactPut put_;
};

}  // namespace

std::unique_ptr<http::Handler> make_artifact_handler(const CacheContext& ctx,
                                                     const SurfaceSpec& spec,
                                                     ArtifactRequest request) {
  return std::make_unique<ArtifactHandler>(ctx, spec, std::move(request));
}

std::optional<std::string> query_namespace(const http::Request& request) {
  std::optional<std::string> ns = request.query_param("namespace_id");
  if (!ns) ns = request.query_param("project_handle");
  if (!ns) return std::string();
  if (!valid_namespace(*ns)) return std::nullopt;
  return ns;
}

storage::ArtifactRef make_ref(const CacheContext& ctx, std::string_view producer, std::string ns,
                              std::string key) {
  return storage::ArtifactRef{std::string(producer), ctx.config->tenant_id, std::move(ns),
                              std::move(key)};
}

}  // namespace meshcache::agent::cache
