// backfill_serve.cc: the backfill routes other nodes warm from: the newest-first listing
// (GET /entries), bodies by the batch (POST /bodies, one in flight per mTLS peer) and one at a
// time (GET /artifacts/{id}). I/O loop threads; bodies are planned on a background thread.
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "replication/backfill_frames.h"
#include "replication/internal_handlers.h"
#include "replication/internal_query.h"
#include "replication/internal_reply.h"
#include "replication/wire.h"

namespace meshcache::replication {
namespace {

void reply_frames(http::Exchange& ex, storage::Store& store, std::vector<PlannedFrame> frames,
                  std::shared_ptr<const void> lease = nullptr) {
  http::Response r;
  r.headers.push_back({"content-type", "application/octet-stream"});
  r.content_length = framed_length(frames);
  if (r.content_length == 0) return ex.respond(std::move(r));
  ex.respond(std::move(r),
             std::make_unique<FrameSource>(store, std::move(frames), std::move(lease)));
}

class BackfillEntriesHandler final : public HeadHandler {
 public:
  explicit BackfillEntriesHandler(SharedState state) : state_(std::move(state)) {}

  void on_request(http::Exchange& ex) override {
    Query q(ex.request());
    uint64_t limit = q.number("limit", wire::kListDefaultLimit);
    if (q.ok() && limit == 0) q.fail("Invalid limit: must be at least 1");
    // The sync build's ascending feed is not served here; its parameters need it.
    std::optional<std::string> order = q.optional("order");
    if (order && *order == "asc") {
      q.fail("Invalid order: asc is not supported by this node");
    } else if (order && *order != "desc") {
      q.fail(fmt::format("Invalid order: {:?}", *order));
    }
    for (std::string_view name : {"from_version_ms", "origin_region", "wait"}) {
      if (q.optional(name)) q.fail(fmt::format("Invalid {}: only with order=asc", name));
    }
    if (!q.ok()) return reply_message(ex, 400, q.error());
    Result<std::string> after = wire::decode_after(q.optional("after").value_or(""));
    if (!after.ok()) return reply_message(ex, 400, after.status().message());

    auto page = state_->ctx.store->list_backfill(
        *after, static_cast<size_t>(std::min<uint64_t>(limit, wire::kListMaxLimit)));
    if (!page.ok()) {
      if (page.status().code() == Code::unavailable) {
        return reply_json(
            ex, 503,
            R"({"error":"index_building","message":"backfill index is building; retry later"})");
      }
      return reply_failure(ex, page.status());
    }
    reply_json(ex, 200, wire::encode_listing(*page));
  }

 private:
  SharedState state_;
};

// One bodies request in flight per mTLS identity: taken at the request head, released when the
// response is done (or abandoned).
class PeerSlot {
 public:
  PeerSlot(SharedState state, std::string id) : state_(std::move(state)), id_(std::move(id)) {}
  ~PeerSlot() {
    std::lock_guard lock(state_->mu);
    state_->bodies_in_flight.erase(id_);
  }
  // Null when this peer already has one.
  static std::shared_ptr<PeerSlot> take(const SharedState& state, const std::string& id) {
    std::lock_guard lock(state->mu);
    if (!state->bodies_in_flight.insert(id).second) return nullptr;
    return std::make_shared<PeerSlot>(state, id);
  }

 private:
  SharedState state_;
  std::string id_;
};

// Frames in request order: Present while the bodies fit the response budget, FetchIndividually
// past it, Absent when missing or unreadable. Manifests only: no body is read here.
std::vector<PlannedFrame> plan_bodies(storage::Store& store,
                                      const std::vector<wire::WantedRecord>& wanted) {
  std::vector<PlannedFrame> frames;
  frames.reserve(wanted.size());
  uint64_t present_bytes = 0;
  for (const wire::WantedRecord& w : wanted) {
    Result<storage::Manifest> m = store.head_id(w.record_id);
    std::optional<PlannedFrame> frame;
    if (m.ok() && m->size > wire::kBodiesBatchBytes - present_bytes) {
      frames.push_back(
          empty_frame(w.kind, wire::Disposition::fetch_individually, w.record_id, w.version_ms));
      continue;
    }
    if (m.ok()) frame = present_frame(*m);
    if (!frame) {
      frames.push_back(empty_frame(w.kind, wire::Disposition::absent, w.record_id, w.version_ms));
      continue;
    }
    present_bytes += frame->body_len;
    frames.push_back(std::move(*frame));
  }
  return frames;
}

class BackfillBodiesHandler final : public BufferedBodyHandler {
 public:
  explicit BackfillBodiesHandler(SharedState state)
      : BufferedBodyHandler(wire::kMaxBodiesRequestBytes, "bodies request"),
        state_(std::move(state)) {}

  void on_request(http::Exchange& ex) override {
    const std::string& peer = ex.request().tls_peer_id;
    // Without TLS there is no identity, and no cap (as Kura).
    if (!peer.empty()) {
      slot_ = PeerSlot::take(state_, peer);
      if (!slot_) {
        return reply_busy(ex, "peer_busy",
                          "a backfill bodies request from this peer is already in flight");
      }
    }
    BufferedBodyHandler::on_request(ex);
  }

 private:
  void on_whole_body(http::Exchange& ex, std::string body) override {
    auto wanted = wire::parse_bodies_request(body);
    if (!wanted.ok()) return reply_message(ex, 400, wanted.status().message());
    storage::Store& store = *state_->ctx.store;
    // Up to 65,536 manifest lookups: too many for an I/O loop turn.
    run_in_background<std::vector<PlannedFrame>>(
        state_, ex, liveness_,
        [&store, wanted = std::move(wanted).value()] { return plan_bodies(store, wanted); },
        [&store, slot = slot_](http::Exchange& ex, std::vector<PlannedFrame> frames) {
          reply_frames(ex, store, std::move(frames), slot);
        });
  }

  SharedState state_;
  std::shared_ptr<PeerSlot> slot_;
  Liveness liveness_;
};

class BackfillArtifactHandler final : public HeadHandler {
 public:
  BackfillArtifactHandler(SharedState state, std::string id)
      : state_(std::move(state)), id_(std::move(id)) {}

  void on_request(http::Exchange& ex) override {
    storage::Store& store = *state_->ctx.store;
    Result<storage::Manifest> m = store.head_id(id_);
    if (!m.ok()) {
      // A malformed id names nothing this node has either.
      if (m.status().code() == Code::not_found || m.status().code() == Code::invalid_argument) {
        return reply_message(ex, 404, "artifact not found");
      }
      return reply_failure(ex, m.status());
    }
    std::optional<PlannedFrame> frame = present_frame(*m);
    if (!frame) return reply_message(ex, 500, "artifact metadata too large to frame");
    std::vector<PlannedFrame> frames;
    frames.push_back(std::move(*frame));
    reply_frames(ex, store, std::move(frames));
  }

 private:
  SharedState state_;
  std::string id_;
};

}  // namespace

std::unique_ptr<http::Handler> make_backfill_entries_handler(const SharedState& state) {
  return std::make_unique<BackfillEntriesHandler>(state);
}

std::unique_ptr<http::Handler> make_backfill_bodies_handler(const SharedState& state) {
  return std::make_unique<BackfillBodiesHandler>(state);
}

std::unique_ptr<http::Handler> make_backfill_artifact_handler(const SharedState& state,
                                                              std::string artifact_id) {
  return std::make_unique<BackfillArtifactHandler>(state, std::move(artifact_id));
}

}  // namespace meshcache::replication
