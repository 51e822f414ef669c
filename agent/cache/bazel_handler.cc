// bazel_handler.cc: Bazel's HTTP remote cache, [/{instance}]/ac/{sha256} and .../cas/{sha256}
// (I/O loop thread). The instance name is the namespace; CAS bodies must hash to their key.
#include <fmt/format.h>

#include "agent/cache/artifact_handler.h"
#include "agent/cache/key_rules.h"
#include "agent/cache/surfaces.h"

namespace meshcache::agent::cache {
namespace {

// Bazel takes 200/201/202/204 for a PUT and only 200 as a hit; bazel-remote answers PUT 200.
constexpr SurfaceSpec kAc = [] {
  SurfaceSpec s;
  s.route = route::bazel_ac;
  s.allow = "GET, HEAD, PUT";
  s.write_method = "PUT";
  return s;
}();
constexpr SurfaceSpec kCas = [] {
  SurfaceSpec s;
  s.route = route::bazel_cas;
  s.allow = "GET, HEAD, PUT";
  s.write_method = "PUT";
  s.digest_mismatch_status = 400;
  return s;
}();

}  // namespace

HandlerPtr route_bazel(const CacheContext& ctx, const http::Request& request,
                       std::string_view instance, std::string_view kind, std::string_view hash) {
  const bool cas = kind == "cas";
  const SurfaceSpec& spec = cas ? kCas : kAc;
  if (!is_sha256_hex(hash)) {
    return make_error_handler(ctx, spec.route, 400, "bad_key",
                              "the key must be 64 lowercase hex digits (a SHA-256)");
  }
  if (!valid_namespace(instance)) {
    return make_error_handler(ctx, spec.route, 400, "bad_namespace", "invalid instance name");
  }
  ArtifactRequest artifact(
      make_ref(ctx, "bazel", std::string(instance), fmt::format("{}/{}", kind, hash)));
  if (cas) {
    artifact.write.expected_sha256 = std::string(hash);
    artifact.empty_on_miss = hash == kEmptySha256;
  }
  return make_artifact_handler(ctx, spec, std::move(artifact));
}

}  // namespace meshcache::agent::cache
