// mesh_heartbeat.h: keeping mesh membership alive and the dynamic peer view current
// (POST .../mesh/heartbeat; CpTransport thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/controlplane/cp_context.h"

namespace meshcache::agent::cp {

class MeshHeartbeat {
 public:
  // `rejoin` asks for a new enrollment after a delay (the control plane forgot this node).
  MeshHeartbeat(CpContext ctx, std::function<void(std::chrono::milliseconds)> rejoin);

  // After each enrollment: a heartbeat now, then one every interval from the last answer;
  // `peers` is the dynamic view the enrollment gave.
  void restart(std::vector<std::string> peers);

 private:
  void beat(uint64_t generation);
  void on_reply(uint64_t generation, const CpReply& reply);
  void failed(uint64_t generation, const std::string& result);
  void schedule(uint64_t generation);

  CpContext ctx_;
  std::function<void(std::chrono::milliseconds)> rejoin_;
  std::vector<std::string> peers_;
  std::chrono::milliseconds interval_;
  // Delay before the next re-enrollment if the mesh answers "not a member" again: 0 at first,
  // then 60 s doubling to 300 s, back to 0 after a "member" answer.
  std::chrono::milliseconds rejoin_delay_{0};
  uint64_t generation_ = 0;  // a reply or timer of an older chain is ignored
};

}  // namespace meshcache::agent::cp
