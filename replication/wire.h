// wire.h: the byte formats of the internal peer plane (Kura's contract,
// reference/internal-plane.md section 2): query encoding, batch frames, backfill frames and their
// meta JSON. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"
#include "storage/store.h"

namespace meshcache::replication::wire {

// Percent-encodes everything except A-Z a-z 0-9 - _ . ~ as upper-case %XX, as Kura does.
std::string url_encode(std::string_view s);

// Limits the receiver enforces (and the sender respects).
inline constexpr uint64_t kMaxInlineBytes = 4ull << 20;  // inline=true body
inline constexpr uint64_t kMaxBatchBytes = 8ull << 20;   // PUT /replicate/artifacts
inline constexpr size_t kMaxBatchItems = 512;
inline constexpr uint64_t kMaxBodiesRequestBytes = 16ull << 20;  // POST /backfill/bodies JSON
inline constexpr size_t kMaxBodiesEntries = 65536;
inline constexpr uint64_t kBodiesBatchBytes = 32ull << 20;  // Present bodies per response
inline constexpr size_t kListDefaultLimit = 256;
inline constexpr size_t kListMaxLimit = 2048;
inline constexpr size_t kFrameHeaderBytes = 22;
inline constexpr std::string_view kIndexPrefix = "backfill/idx/";

// What travels with an artifact on the wire. The tenant never does: a receiver stores under
// its own.
struct ArtifactMeta {
  std::string producer;
  std::string namespace_id;
  std::string key;
  std::string content_type;
  int64_t version_ms = 0;  // batch meta only; backfill frames carry it in the header
  std::optional<std::string> branch;
  std::optional<std::string> trunk;
  std::optional<std::string> origin_region;
};

// --- PUT /_internal/replicate/artifacts: u32 BE meta_len, u32 BE body_len, meta JSON, body.
void append_batch_item(std::string& out, const ArtifactMeta& meta, std::string_view body);
struct BatchItem {
  ArtifactMeta meta;
  std::string_view body;  // into the buffer given to parse_batch
};
// invalid_argument (400) for a truncated frame, overflowing lengths or bad meta JSON (missing
// producer/key/content_type, wrong types); too_large (413) past kMaxBatchItems.
Result<std::vector<BatchItem>> parse_batch(std::string_view body);
// {"outcomes":[...]} and back. parse gives invalid_argument on anything else.
std::string encode_outcomes(std::span<const std::string_view> outcomes);
Result<std::vector<std::string>> parse_outcomes(std::string_view json);

// --- Backfill listing: {"entries":[{record_kind, record_id, version_ms, size?}], next_after}.
std::string_view kind_name(storage::BackfillKind kind);  // segment_artifact, ...
std::optional<storage::BackfillKind> parse_kind(std::string_view name);
struct ListedEntry {
  std::string record_kind;  // as sent (unknown kinds are kept so a client can skip them)
  std::string record_id;
  int64_t version_ms = 0;
  std::optional<uint64_t> size;
};
std::string encode_listing(const storage::BackfillPage& page);  // next_after as lowercase hex
struct Listing {
  std::vector<ListedEntry> entries;
  std::optional<std::string> next_after;  // hex, echoed back verbatim
};
Result<Listing> parse_listing(std::string_view json);
// The `after` query: lowercase or upper-case hex of a raw key starting with kIndexPrefix.
// invalid_argument ("Invalid after: ...") otherwise; "" gives "".
Result<std::string> decode_after(std::string_view hex);

// --- POST /_internal/backfill/bodies request: {"entries":[{record_kind, record_id,
// version_ms, size?}]}. parse enforces the entry count, known non-tombstone kinds and non-empty
// ids (invalid_argument), the caller enforces the byte bound.
std::string encode_bodies_request(std::span<const ListedEntry> entries);
struct WantedRecord {
  storage::BackfillKind kind;
  std::string record_id;
  int64_t version_ms = 0;
};
Result<std::vector<WantedRecord>> parse_bodies_request(std::string_view json);

// --- Backfill frames: a 22-byte header (integers big-endian), the UTF-8 record_id, the meta
// JSON, the body.
enum class Disposition : uint8_t { present = 0, absent = 1, fetch_individually = 2 };
struct FrameHeader {
  uint8_t kind = 0;
  Disposition disposition = Disposition::present;
  uint16_t id_len = 0;
  uint64_t version_ms = 0;
  uint16_t meta_len = 0;
  uint64_t body_len = 0;
};
void encode_frame_header(const FrameHeader& h, uint8_t out[kFrameHeaderBytes]);
// invalid_argument for an unknown disposition, id_len 0, or a Present frame without meta (or
// an Absent/FetchIndividually one with meta or body).
Result<FrameHeader> decode_frame_header(std::span<const uint8_t, kFrameHeaderBytes> bytes);
// Header + id + meta of a frame; the body follows separately (it may be streamed).
std::string frame_prefix(const FrameHeader& h, std::string_view record_id, std::string_view meta);
// Backfill meta: {"producer","namespace_id","key","content_type","branch"?,"origin_region"?}.
std::string encode_frame_meta(const ArtifactMeta& meta);
Result<ArtifactMeta> parse_frame_meta(std::string_view json);

}  // namespace meshcache::replication::wire
