// backfill_frames.cc: backfill frames planned from manifests and streamed from the store
// (planning: any thread; pulling: the response's I/O loop thread).
#include "replication/backfill_frames.h"

#include <event2/buffer.h>
#include <fmt/format.h>

#include <limits>

namespace meshcache::replication {
namespace {

// The version the backfill index lists an artifact under (Kura: created_at when unversioned).
int64_t effective_version(const storage::Manifest& m) {
  return m.version_ms != 0 ? m.version_ms : m.created_ms;
}

storage::BackfillKind kind_of(const storage::Manifest& m) {
  return m.inline_body ? storage::BackfillKind::inline_body : storage::BackfillKind::segment;
}

// libevent calls this once the socket has taken the referenced bytes; the chunk (and the
// pinned RocksDB value behind it) lives exactly that long.
void release_chunk(const void* /*data*/, size_t /*len*/, void* chunk) noexcept {
  delete static_cast<storage::Chunk*>(chunk);
}

Status changed(const std::string& id) {
  return Status(Code::not_found, fmt::format("artifact {} changed while it was sent", id));
}

}  // namespace

std::optional<PlannedFrame> present_frame(const storage::Manifest& m) {
  std::string meta =
      wire::encode_frame_meta({m.producer, m.ns, m.key, m.content_type, 0, {}, {}, {}});
  if (meta.size() > std::numeric_limits<uint16_t>::max()) return std::nullopt;
  wire::FrameHeader h;
  h.kind = static_cast<uint8_t>(kind_of(m));
  h.disposition = wire::Disposition::present;
  h.version_ms = static_cast<uint64_t>(effective_version(m));
  h.body_len = m.size;
  PlannedFrame f;
  f.prefix = wire::frame_prefix(h, m.artifact_id, meta);
  f.present = true;
  f.artifact_id = m.artifact_id;
  f.version_ms = effective_version(m);
  f.body_len = m.size;
  return f;
}

PlannedFrame empty_frame(storage::BackfillKind kind, wire::Disposition disposition,
                         std::string_view record_id, int64_t version_ms) {
  wire::FrameHeader h;
  h.kind = static_cast<uint8_t>(kind);
  h.disposition = disposition;
  h.version_ms = static_cast<uint64_t>(version_ms);
  PlannedFrame f;
  f.prefix = wire::frame_prefix(h, record_id, {});
  return f;
}

uint64_t framed_length(const std::vector<PlannedFrame>& frames) {
  uint64_t total = 0;
  for (const auto& f : frames) total += f.prefix.size() + f.body_len;
  return total;
}

Result<size_t> FrameSource::pull(evbuffer* out, size_t max_bytes) {
  size_t appended = 0;
  while (appended < max_bytes && next_ < frames_.size()) {
    if (reader_) {
      if (Status s = pull_chunk(out, appended); !s.ok()) return s;
      continue;
    }
    PlannedFrame& f = frames_[next_];
    if (evbuffer_add(out, f.prefix.data(), f.prefix.size()) != 0) {
      return Status(Code::internal, "evbuffer_add failed");
    }
    appended += f.prefix.size();
    std::string().swap(f.prefix);
    if (f.present && f.body_len > 0) {
      if (Status s = open_body(f, out, appended); !s.ok()) return s;
    }
    if (!reader_) ++next_;
  }
  return appended;
}

// The body of the version that was planned: an inline one is copied now (it came with the
// manifest), a stored one is read chunk by chunk by later pulls.
Status FrameSource::open_body(const PlannedFrame& frame, evbuffer* out, size_t& appended) {
  Result<storage::Manifest> m = store_.head_id(frame.artifact_id);
  if (!m.ok()) return m.status();
  if (effective_version(*m) != frame.version_ms || m->size != frame.body_len) {
    return changed(frame.artifact_id);
  }
  if (m->inline_body) {
    if (m->inline_body->size() != frame.body_len) return changed(frame.artifact_id);
    if (evbuffer_add(out, m->inline_body->data(), m->inline_body->size()) != 0) {
      return Status(Code::internal, "evbuffer_add failed");
    }
    appended += m->inline_body->size();
    return Status::Ok();
  }
  Result<std::unique_ptr<storage::BodyReader>> reader = store_.read(*m, 0, m->size);
  if (!reader.ok()) return reader.status();
  reader_ = std::move(reader).value();
  body_left_ = frame.body_len;
  return Status::Ok();
}

Status FrameSource::pull_chunk(evbuffer* out, size_t& appended) {
  Result<std::unique_ptr<storage::Chunk>> next = reader_->next();
  if (!next.ok()) return next.status();
  std::unique_ptr<storage::Chunk> chunk = std::move(next).value();
  if (chunk == nullptr || chunk->size() > body_left_) {
    return Status(Code::corruption, "stored body does not match its manifest's size");
  }
  const size_t size = chunk->size();
  if (size > 0) {
    if (evbuffer_add_reference(out, chunk->data(), size, release_chunk, chunk.get()) != 0) {
      return Status(Code::internal, "evbuffer_add_reference failed");
    }
    chunk.release();  // owned by the evbuffer now
  }
  appended += size;
  body_left_ -= size;
  if (body_left_ == 0) {
    reader_.reset();
    ++next_;
  }
  return Status::Ok();
}

}  // namespace meshcache::replication
