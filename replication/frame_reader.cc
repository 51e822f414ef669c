// frame_reader.cc: the incremental backfill frame parser (warm-up thread).
#include "replication/frame_reader.h"

#include <algorithm>

#include <fmt/format.h>

namespace meshcache::replication {

Status FrameReader::feed(std::span<const uint8_t> bytes) {
  while (failed_.ok() && !bytes.empty()) {
    if (in_body_) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(bytes.size(), body_left_));
      if (Status s = sink_.body(bytes.first(n)); !s.ok()) {
        failed_ = std::move(s);
        break;
      }
      body_left_ -= n;
      bytes = bytes.subspan(n);
      if (body_left_ == 0) {
        in_body_ = false;
        ++frames_;
        failed_ = sink_.end();
      }
      continue;
    }
    size_t want = wire::kFrameHeaderBytes;
    if (have_header_) want += size_t{header_.id_len} + header_.meta_len;
    size_t take = std::min(want - head_.size(), bytes.size());
    head_.append(reinterpret_cast<const char*>(bytes.data()), take);
    bytes = bytes.subspan(take);
    if (head_.size() == want) failed_ = parse_head();
  }
  return failed_;
}

// Called each time head_ reaches the length it was waiting for: first the fixed header, then
// (once the header says how long they are) the id and meta.
Status FrameReader::parse_head() {
  if (!have_header_) {
    auto h = wire::decode_frame_header(std::span<const uint8_t, wire::kFrameHeaderBytes>(
        reinterpret_cast<const uint8_t*>(head_.data()), wire::kFrameHeaderBytes));
    if (!h.ok()) {
      return {h.status().code(), fmt::format("frame {}: {}", frames_ + 1, h.status().message())};
    }
    header_ = *h;
    have_header_ = true;
    // id_len > 0 is checked by decode_frame_header, so the id is still to come.
    return Status::Ok();
  }
  std::string_view all(head_);
  std::string_view id = all.substr(wire::kFrameHeaderBytes, header_.id_len);
  std::string_view meta = all.substr(wire::kFrameHeaderBytes + header_.id_len, header_.meta_len);
  Status s = sink_.begin(header_, id, meta);
  head_.clear();
  have_header_ = false;
  if (!s.ok()) return s;
  if (header_.body_len > 0) {
    in_body_ = true;
    body_left_ = header_.body_len;
    return Status::Ok();
  }
  ++frames_;
  return sink_.end();
}

Status FrameReader::finish() const {
  if (!failed_.ok()) return failed_;
  if (in_body_) {
    return {Code::invalid_argument,
            fmt::format("frame {} ends {} bytes into its body of {}", frames_ + 1,
                        header_.body_len - body_left_, header_.body_len)};
  }
  if (!head_.empty()) {
    return {Code::invalid_argument,
            fmt::format("frame {} ends after {} bytes of its header, id and meta", frames_ + 1,
                        head_.size())};
  }
  return Status::Ok();
}

}  // namespace meshcache::replication
