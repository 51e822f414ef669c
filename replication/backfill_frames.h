// backfill_frames.h: the frames a backfill response is made of, planned from manifests first
// (so the exact Content-Length is known before a byte is sent), then streamed with the bodies
// pulled from the store chunk by chunk. Planning runs on any thread; a FrameSource is pulled on
// the I/O loop that owns its response.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/http/exchange.h"
#include "replication/wire.h"
#include "storage/store.h"

namespace meshcache::replication {

struct PlannedFrame {
  std::string prefix;  // header, record_id, meta
  // Present only: the version whose body follows, looked up again when it is streamed (bodies
  // are never held in memory ahead of the socket).
  bool present = false;
  std::string artifact_id;
  int64_t version_ms = 0;
  uint64_t body_len = 0;
};

// A Present frame carrying `m`'s current kind and version; nullopt when its meta cannot be
// framed (over 65,535 bytes).
std::optional<PlannedFrame> present_frame(const storage::Manifest& m);
// An Absent or FetchIndividually frame echoing the requested kind and version.
PlannedFrame empty_frame(storage::BackfillKind kind, wire::Disposition disposition,
                         std::string_view record_id, int64_t version_ms);
uint64_t framed_length(const std::vector<PlannedFrame>& frames);

// Streams planned frames. A body that vanished or changed since planning ends the response
// with an error (the server aborts it; the client retries): its length was already promised.
class FrameSource final : public http::BodySource {
 public:
  // `lease` is released when the response is done (a peer's in-flight slot).
  FrameSource(storage::Store& store, std::vector<PlannedFrame> frames,
              std::shared_ptr<const void> lease = nullptr)
      : store_(store), frames_(std::move(frames)), lease_(std::move(lease)) {}

  Result<size_t> pull(evbuffer* out, size_t max_bytes) override;

 private:
  Status open_body(const PlannedFrame& frame, evbuffer* out, size_t& appended);
  Status pull_chunk(evbuffer* out, size_t& appended);

  storage::Store& store_;
  std::vector<PlannedFrame> frames_;
  std::shared_ptr<const void> lease_;
  size_t next_ = 0;                              // the frame being sent
  std::unique_ptr<storage::BodyReader> reader_;  // set while a stored body streams
  uint64_t body_left_ = 0;
};

}  // namespace meshcache::replication
