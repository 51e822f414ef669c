// warmup_applier.cc: applies the frames of one backfill response through the LWW gate
// (warm-up thread).
#include "replication/warmup_applier.h"

#include <limits>

#include <fmt/format.h>

#include "replication/replicate_apply.h"

namespace meshcache::replication {

using storage::ApplyVerdict;

FrameApplier::FrameApplier(const ApplyTarget& target, std::span<const wire::ListedEntry> requested,
                           bool individual, OnFrame on_frame)
    : target_(target),
      requested_(requested),
      individual_(individual),
      on_frame_(std::move(on_frame)) {}

Status FrameApplier::begin(const wire::FrameHeader& h, std::string_view record_id,
                           std::string_view meta) {
  if (frames_ >= requested_.size()) {
    return {Code::invalid_argument,
            fmt::format("more frames than the {} records requested", requested_.size())};
  }
  const std::string& wanted = requested_[frames_].record_id;
  ++frames_;
  if (record_id != wanted) {
    return {Code::invalid_argument,
            fmt::format("frame {} is for record {:.80}, but {} was requested there", frames_,
                        record_id, wanted)};
  }
  outcome_ = {};
  switch (h.disposition) {
    case wire::Disposition::absent:
      resolution_ = Resolution::absent;
      return Status::Ok();
    case wire::Disposition::fetch_individually:
      if (individual_) {
        return {Code::invalid_argument,
                fmt::format("GET /artifacts/{} answered FetchIndividually again", wanted)};
      }
      resolution_ = Resolution::fetch_individually;
      return Status::Ok();
    case wire::Disposition::present:
      resolution_ = Resolution::resolved;
      return start_apply(h, meta);
  }
  return {Code::invalid_argument, fmt::format("frame {}: unknown disposition", frames_)};
}

Status FrameApplier::start_apply(const wire::FrameHeader& h, std::string_view meta) {
  auto kind = static_cast<storage::BackfillKind>(h.kind);
  if (kind != storage::BackfillKind::segment && kind != storage::BackfillKind::inline_body) {
    return {Code::invalid_argument,
            fmt::format("frame {}: a Present frame of record kind {}", frames_, h.kind)};
  }
  if (h.body_len > target_.max_artifact_bytes) {
    return {Code::too_large, fmt::format("frame {}: a body of {} bytes is over the {} limit",
                                         frames_, h.body_len, target_.max_artifact_bytes)};
  }
  if (h.version_ms > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return {Code::invalid_argument,
            fmt::format("frame {}: version_ms {} is out of range", frames_, h.version_ms)};
  }
  auto m = wire::parse_frame_meta(meta);
  if (!m.ok()) {
    return {Code::invalid_argument,
            fmt::format("frame {}: meta: {}", frames_, m.status().message())};
  }
  if (kind == storage::BackfillKind::inline_body && h.body_len > wire::kMaxInlineBytes) {
    resolution_ = Resolution::absent;  // as Kura: an inline body that large is not a body
    return Status::Ok();
  }
  storage::ArtifactRef ref{std::move(m->producer), target_.tenant, std::move(m->namespace_id),
                           std::move(m->key)};
  auto version = static_cast<int64_t>(h.version_ms);
  auto verdict = target_.store->lww_verdict(ref, version);
  if (!verdict.ok()) {
    target_.metrics->apply_outcome(kErrorOutcome);
    return verdict.status();
  }
  if (*verdict != ApplyVerdict::applied) {
    outcome_ = storage::verdict_name(*verdict);
    return Status::Ok();
  }
  auto writer = target_.store->begin_write(
      ref, replica_write_options(std::move(m->content_type), version, h.body_len));
  if (!writer.ok()) {
    // Lost the LWW race under the artifact's lock: a verdict like any other.
    if (writer.status().code() == Code::conflict) {
      outcome_ = failure_outcome(writer.status());
      return Status::Ok();
    }
    target_.metrics->apply_outcome(kErrorOutcome);
    return writer.status();
  }
  writer_ = std::move(writer).value();
  return Status::Ok();
}

Status FrameApplier::body(std::span<const uint8_t> bytes) {
  if (!writer_) return Status::Ok();  // not applied: the body is skipped
  Status s = writer_->append(bytes);
  if (!s.ok()) {
    writer_.reset();
    target_.metrics->apply_outcome(kErrorOutcome);
  }
  return s;
}

Status FrameApplier::end() {
  if (writer_) {
    uint64_t bytes = writer_->bytes_written();
    auto committed = writer_->commit();
    writer_.reset();
    if (committed.ok()) {
      outcome_ = storage::verdict_name(ApplyVerdict::applied);
      target_.metrics->warmup_bytes(bytes);
    } else if (committed.status().code() == Code::conflict) {
      outcome_ = failure_outcome(committed.status());
    } else {
      target_.metrics->apply_outcome(kErrorOutcome);
      return committed.status();
    }
  }
  if (!outcome_.empty()) target_.metrics->apply_outcome(outcome_);
  on_frame_(frames_ - 1, resolution_);
  return Status::Ok();
}

Status FrameApplier::finish(Status stream) {
  if (writer_) {
    writer_.reset();  // discards what it wrote: a partial body is never committed
    target_.metrics->apply_outcome(kErrorOutcome);
  }
  if (!stream.ok()) return stream;
  if (frames_ != requested_.size()) {
    return {Code::invalid_argument,
            fmt::format("{} frames for the {} records requested", frames_, requested_.size())};
  }
  return Status::Ok();
}

}  // namespace meshcache::replication
