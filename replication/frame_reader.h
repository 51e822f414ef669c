// frame_reader.h: an incremental parser of backfill frames (22-byte header, record_id, meta,
// body) fed with whatever pieces the transport delivers. Runs on the warm-up thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "replication/wire.h"
#include "storage/status.h"

namespace meshcache::replication {

// Receives one frame at a time. An error from any call stops the reader for good.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Header, id and meta are complete; `h.body_len` bytes follow through body().
  virtual Status begin(const wire::FrameHeader& h, std::string_view record_id,
                       std::string_view meta) = 0;
  // A piece of the body, pointing into the transport's buffer (valid during the call only).
  virtual Status body(std::span<const uint8_t> bytes) = 0;
  virtual Status end() = 0;  // the frame's last body byte has arrived
};

// Memory stays bounded whatever arrives: at most one header with its id and meta (each at most
// 64 KiB by their u16 lengths) is buffered; bodies pass straight through to the sink.
class FrameReader {
 public:
  explicit FrameReader(FrameSink& sink) : sink_(sink) {}

  [[nodiscard]] Status feed(std::span<const uint8_t> bytes);
  // The stream ended: an error unless it ended exactly between two frames.
  [[nodiscard]] Status finish() const;
  uint64_t frames() const { return frames_; }

 private:
  Status parse_head();

  FrameSink& sink_;
  Status failed_;
  std::string head_;  // header, then id and meta, while they are incomplete
  wire::FrameHeader header_;
  bool have_header_ = false;
  bool in_body_ = false;
  uint64_t body_left_ = 0;
  uint64_t frames_ = 0;
};

}  // namespace meshcache::replication
