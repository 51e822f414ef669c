// replicate_batch.cc: PUT /_internal/replicate/artifacts: up to 8 MiB of inline artifacts in
// Kura's batch frames, each applied through the LWW gate, answered with one outcome per item
// in request order. I/O loop threads.
#include <fmt/format.h>

#include <vector>

#include "replication/internal_handlers.h"
#include "replication/internal_reply.h"
#include "replication/replicate_apply.h"
#include "replication/wire.h"

namespace meshcache::replication {
namespace {

constexpr std::string_view kError = "error";

class ReplicateBatchHandler final : public http::Handler {
 public:
  explicit ReplicateBatchHandler(SharedState state) : state_(std::move(state)) {}

  void on_request(http::Exchange& ex) override {
    const http::Request& request = ex.request();
    if (request.method != "PUT") return reply_message(ex, 405, "Method not allowed");
    if (request.content_length) {
      if (*request.content_length > wire::kMaxBatchBytes) return too_large(ex);
      body_.reserve(*request.content_length);
    }
  }

  void on_body(http::Exchange& ex, std::span<const uint8_t> bytes) override {
    if (bytes.size() > wire::kMaxBatchBytes - body_.size()) {
      body_ = {};
      return too_large(ex);
    }
    body_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  void on_complete(http::Exchange& ex) override {
    if (ex.responded()) return;
    auto items = wire::parse_batch(body_);
    if (!items.ok()) return reply_failure(ex, items.status());
    storage::Store& store = *state_->ctx.store;
    const std::string tenant = state_->ctx.tenant();
    std::vector<std::string_view> outcomes;
    outcomes.reserve(items->size());
    for (wire::BatchItem& item : *items) {
      std::string_view outcome = kError;
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

 private:
  static void too_large(http::Exchange& ex) {
    reply_message(ex, 413, fmt::format("batch larger than {} bytes", wire::kMaxBatchBytes));
  }

  SharedState state_;
  std::string body_;
};

}  // namespace

std::unique_ptr<http::Handler> make_replicate_batch_handler(const SharedState& state) {
  return std::make_unique<ReplicateBatchHandler>(state);
}

}  // namespace meshcache::replication
