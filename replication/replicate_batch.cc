// replicate_batch.cc: PUT /_internal/replicate/artifacts: up to 8 MiB of inline artifacts in
// Kura's batch frames, each applied through the LWW gate, answered with one outcome per item
// in request order. I/O loop threads.
#include <vector>

#include "replication/internal_handlers.h"
#include "replication/internal_reply.h"
#include "replication/replicate_apply.h"
#include "replication/wire.h"

namespace meshcache::replication {
namespace {

class ReplicateBatchHandler final : public BufferedBodyHandler {
 public:
  explicit ReplicateBatchHandler(SharedState state)
      : BufferedBodyHandler(wire::kMaxBatchBytes, "batch"), state_(std::move(state)) {}

 private:
  void on_whole_body(http::Exchange& ex, std::string body) override {
    auto items = wire::parse_batch(body);
    if (!items.ok()) return reply_failure(ex, items.status());
    storage::Store& store = *state_->ctx.store;
    const std::string tenant = state_->ctx.tenant();
    std::vector<std::string_view> outcomes;
    outcomes.reserve(items->size());
    for (wire::BatchItem& item : *items) {
      std::string_view outcome = kErrorOutcome;
      // The batch route carries inline artifacts only.
      if (known_producer(item.meta.producer) && item.body.size() <= wire::kMaxInlineBytes) {
        storage::ArtifactRef ref{std::move(item.meta.producer), tenant,
                                 std::move(item.meta.namespace_id), std::move(item.meta.key)};
        outcome = apply_small(store, ref, item.meta.version_ms, std::move(item.meta.content_type),
                              item.body);
      }
      state_->count(outcome);
      outcomes.push_back(outcome);
    }
    reply_json(ex, 200, wire::encode_outcomes(outcomes));
  }

  SharedState state_;
};

}  // namespace

std::unique_ptr<http::Handler> make_replicate_batch_handler(const SharedState& state) {
  return std::make_unique<ReplicateBatchHandler>(state);
}

}  // namespace meshcache::replication
