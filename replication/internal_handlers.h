// internal_handlers.h: internal to the internal router: the state its handlers share and the
// handler factories, one per route. Built on the main thread; used on the internal listener's
// I/O loops (and, for the state, on the background threads their work runs on).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "agent/http/exchange.h"
#include "replication/internal_router.h"

namespace meshcache::replication {

struct InternalState {
  InternalContext ctx;
  std::optional<std::string> gateway_host;  // lowercased host of ctx.gateway_url
  // mTLS identities with a POST /backfill/bodies in flight (Kura allows one per peer).
  std::mutex mu;
  std::set<std::string, std::less<>> bodies_in_flight;

  void count(std::string_view outcome) { ctx.metrics->apply_outcome(outcome); }
};
using SharedState = std::shared_ptr<InternalState>;

std::unique_ptr<http::Handler> make_status_handler(const SharedState& state);
std::unique_ptr<http::Handler> make_replicate_artifact_handler(const SharedState& state);
std::unique_ptr<http::Handler> make_replicate_batch_handler(const SharedState& state);
std::unique_ptr<http::Handler> make_replicate_namespace_handler(const SharedState& state);
std::unique_ptr<http::Handler> make_backfill_entries_handler(const SharedState& state);
std::unique_ptr<http::Handler> make_backfill_bodies_handler(const SharedState& state);
// `artifact_id` is the percent-decoded last path segment.
std::unique_ptr<http::Handler> make_backfill_artifact_handler(const SharedState& state,
                                                              std::string artifact_id);

}  // namespace meshcache::replication
