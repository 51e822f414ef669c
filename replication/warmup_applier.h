// warmup_applier.h: applies the frames of one backfill response (POST /bodies or GET
// /artifacts/{id}) through the LWW gate, checking they answer the request one for one and in
// order. Warm-up thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "replication/frame_reader.h"
#include "replication/replication_metrics.h"
#include "replication/wire.h"
#include "storage/store.h"

namespace meshcache::replication {

// What one requested record came to, for the peer it was asked of.
enum class Resolution : uint8_t {
  resolved,            // applied, or any LWW verdict: nothing more to do
  absent,              // this peer has no body for it (another peer may)
  fetch_individually,  // ask GET /artifacts/{id}
};

struct ApplyTarget {
  storage::Store* store = nullptr;
  ReplicationMetrics* metrics = nullptr;
  std::string tenant;  // the node's own: the tenant never travels
  uint64_t max_artifact_bytes = 0;
};

class FrameApplier final : public FrameSink {
 public:
  using OnFrame = std::function<void(size_t index, Resolution resolution)>;

  // `requested` are the request's tuples, in order, and must outlive the applier. `individual`
  // is a GET /artifacts/{id} reply, where FetchIndividually is a protocol error.
  FrameApplier(const ApplyTarget& target, std::span<const wire::ListedEntry> requested,
               bool individual, OnFrame on_frame);

  Status begin(const wire::FrameHeader& h, std::string_view record_id,
               std::string_view meta) override;
  Status body(std::span<const uint8_t> bytes) override;
  Status end() override;

  // The response is over: `stream` is how the stream itself ended. Fails unless every
  // requested tuple got its frame. An apply left half-way is discarded (never committed).
  [[nodiscard]] Status finish(Status stream);

 private:
  Status start_apply(const wire::FrameHeader& h, std::string_view meta);

  const ApplyTarget& target_;
  std::span<const wire::ListedEntry> requested_;
  bool individual_;
  OnFrame on_frame_;
  size_t frames_ = 0;  // frames begun

  // The frame in progress.
  Resolution resolution_ = Resolution::resolved;
  std::string_view outcome_;  // the metric outcome, "" when not counted
  std::unique_ptr<storage::Writer> writer_;
};

}  // namespace meshcache::replication
