// mesh_heartbeat.cc: the mesh heartbeat: peer view updates, and re-enrollment with backoff
// when the control plane no longer counts the node as a member (CpTransport thread).
#include "agent/controlplane/mesh_heartbeat.h"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace meshcache::agent::cp {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kHeartbeatPath = "/_internal/kura/mesh/heartbeat";
constexpr milliseconds kDefaultInterval = seconds(60);
constexpr milliseconds kFirstRejoinDelay = seconds(60);
constexpr milliseconds kMaxRejoinDelay = seconds(300);

}  // namespace

MeshHeartbeat::MeshHeartbeat(CpContext ctx, std::function<void(milliseconds)> rejoin)
    : ctx_(ctx), rejoin_(std::move(rejoin)), interval_(kDefaultInterval) {}

void MeshHeartbeat::restart(std::vector<std::string> peers) {
  peers_ = std::move(peers);
  beat(++generation_);
}

void MeshHeartbeat::beat(uint64_t generation) {
  Json body = {{"node_url", ctx_.options.node_url}};
  ctx_.transport.post_json(kHeartbeatPath, body.dump(),
                           [this, generation](CpReply r) { on_reply(generation, r); });
}

void MeshHeartbeat::schedule(uint64_t generation) {
  ctx_.transport.schedule(interval_, [this, generation] {
    if (generation == generation_) beat(generation);
  });
}

void MeshHeartbeat::failed(uint64_t generation, const std::string& result) {
  spdlog::warn("control plane: mesh heartbeat failed: {}; keeping the last peer view", result);
  ctx_.board.update([&](ControlPlaneStatus& s) {
    record_call(s.heartbeat, false, result, unix_after(interval_));
  });
  schedule(generation);
}

void MeshHeartbeat::on_reply(uint64_t generation, const CpReply& reply) {
  if (generation != generation_) return;
  if (reply.status != 200) return failed(generation, describe_reply(reply));
  Json doc = Json::parse(reply.body, nullptr, false);
  if (!doc.is_object()) return failed(generation, "invalid answer: not a JSON object");
  auto member = doc.find("mesh_member");
  if (member == doc.end() || !member->is_boolean()) {
    return failed(generation, "invalid answer: no boolean \"mesh_member\"");
  }
  std::optional<std::vector<std::string>> peers;
  if (auto it = doc.find("peers"); it != doc.end()) {
    if (!it->is_array() ||
        !std::all_of(it->begin(), it->end(), [](const Json& p) { return p.is_string(); })) {
      return failed(generation, "invalid answer: \"peers\" is not a list of URLs");
    }
    peers = it->get<std::vector<std::string>>();
  }
  if (auto it = doc.find("heartbeat_interval_seconds");
      it != doc.end() && it->is_number_integer() && it->get<int64_t>() > 0) {
    // At least a second, so a confused answer cannot make the node spin.
    interval_ = std::max<milliseconds>(seconds(it->get<int64_t>()), seconds(1));
  }

  if (!member->get<bool>()) {
    // The chain stops here; the next enrollment starts a new one.
    ++generation_;
    milliseconds delay = rejoin_delay_;
    rejoin_delay_ = delay.count() == 0 ? kFirstRejoinDelay : std::min(delay * 2, kMaxRejoinDelay);
    ctx_.board.update([&](ControlPlaneStatus& s) {
      record_call(s.heartbeat, false, "not a mesh member: enrolling again", std::nullopt);
    });
    rejoin_(delay);
    return;
  }
  rejoin_delay_ = milliseconds(0);
  if (peers) {
    std::vector<std::string> view = without_self(std::move(*peers), ctx_.options.node_url);
    if (view != peers_) {
      peers_ = std::move(view);
      spdlog::info("control plane: the mesh has {} dynamic peers now", peers_.size());
      ctx_.board.update([&](ControlPlaneStatus& s) { s.dynamic_peers = peers_; });
      if (ctx_.hooks.peers_changed) ctx_.hooks.peers_changed(peers_);
    }
  }
  ctx_.board.update(
      [&](ControlPlaneStatus& s) { record_call(s.heartbeat, true, "ok", unix_after(interval_)); });
  schedule(generation);
}

}  // namespace meshcache::agent::cp
