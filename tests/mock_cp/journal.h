// journal.h: what nodes sent: every node-facing request in arrival order (raw, unredacted, so
// tests can look for leaked key bytes) and the usage events, deduplicated by event_id as the
// real control plane's queries do. Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "agent/http/exchange.h"
#include "tests/mock_cp/wire.h"

namespace meshcache::mockcp {

class Journal {
 public:
  // `endpoint` is the endpoint's short name, or "unknown" for other paths.
  void record(std::string_view endpoint, const http::Request& request, std::string_view body,
              int status);
  // {"requests":[...], "dropped": n}, optionally only those of one endpoint.
  json requests(std::optional<std::string_view> endpoint) const;
  void reset();

  void add_usage(const json& events);
  // {"events":[...first copy of each event_id, in arrival order], "received": n with repeats}
  json usage() const;

 private:
  struct Entry {
    std::string endpoint;
    json fields;
  };
  std::deque<Entry> requests_;
  uint64_t dropped_ = 0;  // oldest entries let go so a long CI run cannot exhaust memory
  std::vector<json> events_;
  std::unordered_set<std::string> event_ids_;
  uint64_t events_received_ = 0;
};

}  // namespace meshcache::mockcp
