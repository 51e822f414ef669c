// faults.h: the fault plan POST /_mock/faults sets: which node-facing endpoints misbehave, how,
// and for how many requests. Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>

#include "storage/status.h"
#include "tests/mock_cp/endpoint.h"
#include "tests/mock_cp/wire.h"

namespace meshcache::mockcp {

enum class FaultMode {
  none,
  down,     // 503 text/html, as a load balancer in front of a dead service answers
  slow,     // the normal answer after a delay
  error,    // 500 with a JSON body
  garbage,  // the normal status with a body that is not JSON
  status,   // a canned answer: any status with any JSON body, nothing processed
};

struct Fault {
  FaultMode mode = FaultMode::none;
  std::chrono::milliseconds delay{0};
  int status = 0;  // mode status
  json body;       // mode status
};

class Faults {
 public:
  // {"mode", "endpoints"?, "delay_ms"?, "count"?, "status"?, "body"?}; replaces the previous
  // plan.
  Status set(const json& doc);
  // The fault for one request to `endpoint`, if any; counts it against "count".
  std::optional<Fault> take(Endpoint endpoint);
  json describe() const;

 private:
  Fault fault_;
  std::set<Endpoint> endpoints_;
  std::optional<int64_t> remaining_;  // nullopt: every matching request until changed
};

}  // namespace meshcache::mockcp
