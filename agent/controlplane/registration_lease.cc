// registration_lease.cc: the registration lease body, its schedule and its outcome for status
// (CpTransport thread).
#include "agent/controlplane/registration_lease.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace meshcache::agent::cp {
namespace {

constexpr const char* kRegistrationPath = "/_internal/kura/mesh/registrations";

}  // namespace

RegistrationLease::RegistrationLease(CpContext ctx, std::string node_id)
    : ctx_(ctx), node_id_(std::move(node_id)) {}

std::string RegistrationLease::disabled_reason(const ControlPlaneOptions& options) {
  if (!options.advertised_url) return "disabled: MESHCACHE_ADVERTISED_URL unset";
  if (options.node_url.empty()) return "disabled: MESHCACHE_NODE_URL unset";
  if (!options.enroll && !options.tenant_id) return "disabled: MESHCACHE_TENANT_ID unset";
  return {};
}

void RegistrationLease::start(const std::string& tenant_id) {
  if (generation_ != 0 && tenant_id == tenant_id_) return;
  tenant_id_ = tenant_id;
  send(++generation_);
}

void RegistrationLease::send(uint64_t generation) {
  const ControlPlaneHooks& hooks = ctx_.hooks;
  nlohmann::json body = {
      {"schema_version", 1},
      {"node_id", node_id_},
      {"tenant_id", tenant_id_},
      {"region", ctx_.options.region},
      {"advertised_http_url", *ctx_.options.advertised_url},
      {"ready", hooks.ready ? hooks.ready() : false},
      {"version", ctx_.options.version},
      {"traffic_state", hooks.traffic_state ? hooks.traffic_state() : "serving"},
  };
  ctx_.transport.post_json(kRegistrationPath, body.dump(),
                           [this, generation](CpReply r) { on_reply(generation, r); });
}

void RegistrationLease::on_reply(uint64_t generation, const CpReply& reply) {
  if (generation != generation_) return;
  bool ok = reply.status >= 200 && reply.status < 300;
  std::string result = ok ? "ok" : describe_reply(reply);
  if (!ok) {
    // A refusal (409 tenant_mismatch, 422 invalid_registration) is a configuration error the
    // operator must see; the node keeps serving either way.
    bool refused = reply.status == 409 || reply.status == 422;
    if (refused) {
      spdlog::error("control plane: registration of {} refused: {}", *ctx_.options.advertised_url,
                    result);
    } else {
      spdlog::warn("control plane: registration failed: {}", result);
    }
  }
  auto interval = ctx_.options.registration_interval;
  ctx_.board.update([&](ControlPlaneStatus& s) {
    record_call(s.registration, ok, result, unix_after(interval));
  });
  ctx_.transport.schedule(interval, [this, generation] {
    if (generation == generation_) send(generation);
  });
}

}  // namespace meshcache::agent::cp
