// replicate_handlers.cc: PUT /_internal/replicate/artifact (one artifact streamed through the
// LWW gate into the store) and DELETE /_internal/replicate/namespace (a tombstone, or a purge,
// applied on a background thread). I/O loop threads.
#include <fmt/format.h>

#include "replication/internal_handlers.h"
#include "replication/internal_query.h"
#include "replication/internal_reply.h"
#include "replication/replicate_apply.h"
#include "replication/wire.h"

namespace meshcache::replication {
namespace {

Status too_large(uint64_t limit) {
  return Status(Code::too_large, fmt::format("body larger than {} bytes", limit));
}

class ReplicateArtifactHandler final : public http::Handler {
 public:
  explicit ReplicateArtifactHandler(SharedState state) : state_(std::move(state)) {}

  void on_request(http::Exchange& ex) override {
    const http::Request& request = ex.request();
    Query q(request);
    std::string producer = q.required("producer");
    std::string ns = q.required("namespace_id", true);
    std::string key = q.required("key");
    std::string content_type = q.required("content_type");
    bool inline_body = q.flag("inline");
    auto version = static_cast<int64_t>(q.number("version_ms", 0));
    // branch, trunk and origin_region are accepted and not needed here.
    if (!q.ok()) return reply_message(ex, 400, q.error());
    if (!known_producer(producer)) return reply_message(ex, 400, "Invalid artifact producer");

    storage::Store& store = *state_->ctx.store;
    storage::ArtifactRef ref{std::move(producer), state_->ctx.tenant(), std::move(ns),
                             std::move(key)};
    Result<storage::ApplyVerdict> verdict = store.lww_verdict(ref, version);
    if (!verdict.ok()) return fail(ex, verdict.status());
    if (*verdict != storage::ApplyVerdict::applied) {
      // Answered before the body: the server discards or refuses it unread.
      state_->count(storage::verdict_name(*verdict));
      return reply_no_content(ex);
    }
    limit_ = inline_body ? wire::kMaxInlineBytes : state_->ctx.max_artifact_bytes;
    if (request.content_length && *request.content_length > limit_) {
      return fail(ex, too_large(limit_));
    }
    auto writer = store.begin_write(
        ref, replica_write_options(std::move(content_type), version, request.content_length));
    if (!writer.ok()) return fail(ex, writer.status());
    writer_ = std::move(writer).value();
  }

  void on_body(http::Exchange& ex, std::span<const uint8_t> bytes) override {
    if (!writer_) return;
    received_ += bytes.size();
    if (received_ > limit_) return fail(ex, too_large(limit_));
    if (Status s = writer_->append(bytes); !s.ok()) fail(ex, s);
  }

  void on_complete(http::Exchange& ex) override {
    if (!writer_) return;
    std::unique_ptr<storage::Writer> writer = std::move(writer_);
    Result<storage::Manifest> committed = writer->commit();
    if (!committed.ok()) return fail(ex, committed.status());
    state_->count(storage::verdict_name(storage::ApplyVerdict::applied));
    reply_no_content(ex);
  }

  void on_abort() override {
    if (writer_) state_->count(kErrorOutcome);  // the sender went away mid-body: nothing was stored
  }

 private:
  // Drops what was written; a race lost to a newer write is an ignored apply (204).
  void fail(http::Exchange& ex, const Status& status) {
    writer_.reset();
    std::string_view outcome = failure_outcome(status);
    state_->count(outcome);
    if (outcome != kErrorOutcome) return reply_no_content(ex);
    reply_failure(ex, status);
  }

  SharedState state_;
  std::unique_ptr<storage::Writer> writer_;
  uint64_t limit_ = 0;
  uint64_t received_ = 0;
};

class ReplicateNamespaceHandler final : public HeadHandler {
 public:
  explicit ReplicateNamespaceHandler(SharedState state) : state_(std::move(state)) {}

  void on_request(http::Exchange& ex) override {
    Query q(ex.request());
    std::string ns = q.required("namespace_id", true);
    // Absent (0) purges the namespace without a tombstone, as Kura does.
    auto version = static_cast<int64_t>(q.number("version_ms", 0));
    if (!q.ok()) return reply_message(ex, 400, q.error());
    std::optional<int64_t> tombstone;
    if (version != 0) tombstone = version;
    SharedState state = state_;
    // Walking the namespace can take a while: off the I/O loop.
    run_in_background<Result<bool>>(
        state_, ex, liveness_,
        [state, tenant = state_->ctx.tenant(), ns = std::move(ns), tombstone] {
          return state->ctx.store->delete_namespace(tenant, ns, tombstone, {});
        },
        [state](http::Exchange& ex, Result<bool> applied) {
          if (!applied.ok()) {
            state->count(kErrorOutcome);
            return reply_message(ex, 500, applied.status().message());
          }
          state->count(*applied ? "applied" : "ignored_older");
          reply_no_content(ex);
        });
  }

 private:
  SharedState state_;
  Liveness liveness_;
};

}  // namespace

std::unique_ptr<http::Handler> make_replicate_artifact_handler(const SharedState& state) {
  return std::make_unique<ReplicateArtifactHandler>(state);
}

std::unique_ptr<http::Handler> make_replicate_namespace_handler(const SharedState& state) {
  return std::make_unique<ReplicateNamespaceHandler>(state);
}

}  // namespace meshcache::replication
