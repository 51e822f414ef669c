// store.h: the artifact store on RocksDB, the narrow interface of meshcache_storage.
// Thread-safe: every I/O loop thread calls it directly (RocksDB is thread-safe); a Writer or
// BodyReader belongs to the one thread that created it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/status.h"

namespace meshcache::storage {

// An artifact's identity, shared with Kura: (producer, tenant, namespace, key).
struct ArtifactRef {
  std::string producer;  // bazel, http, gradle, turbo, nx, xcode, module, metro
  std::string tenant;
  std::string ns;  // namespace; "" for tenant scope
  std::string key;
};

// lowercase hex SHA-256(producer \0 tenant \0 namespace \0 key)
std::string artifact_id(const ArtifactRef& ref);

enum class Origin : uint8_t { local = 0, replica = 1 };

// The last-writer-wins gate of a replicated apply, with Kura's outcome names (verdict_name).
// Tombstones: an incoming version at or below the namespace's tombstone is ignored_tombstone.
enum class ApplyVerdict { applied, ignored_equal, ignored_stale, ignored_tombstone };
std::string_view verdict_name(ApplyVerdict verdict);

// One outbox row: a committed client write (or namespace delete) still owed to one target.
struct OutboxRow {
  enum class Kind : uint8_t { artifact, namespace_delete };
  uint64_t seq = 0;  // orders a target's rows; unique across targets
  Kind kind = Kind::artifact;
  std::string artifact_id;  // lowercase hex; artifact rows
  std::string ns;           // namespace_delete rows
  int64_t version_ms = 0;   // the version that was committed (or the tombstone's)
};

// The newest-first backfill index (Kura's wire kinds and key layout, reference/internal-plane.md
// section 2). The kind bytes live here only, so the mapping can change in one place.
enum class BackfillKind : uint8_t { segment = 1, inline_body = 2, tombstone = 3 };
struct BackfillEntry {
  BackfillKind kind = BackfillKind::segment;
  std::string record_id;  // artifact id (hex), or the namespace for a tombstone
  int64_t version_ms = 0;
  uint64_t size = 0;      // body bytes; 0 for tombstones
  std::string index_key;  // the raw key: "backfill/idx/" + BE64(~version) + kind + record_id
};
struct BackfillPage {
  std::vector<BackfillEntry> entries;
  std::optional<std::string> next_after;  // raw key of the last entry; nullopt when exhausted
};

struct Manifest {
  std::string artifact_id;
  std::string producer, tenant, ns, key;
  uint64_t size = 0;
  std::string sha256_hex;  // of the whole body, computed while it streamed in
  std::string content_type;
  int64_t version_ms = 0;  // accepting node's wall clock, Unix ms
  Origin origin = Origin::local;
  int64_t created_ms = 0;
  int64_t last_access_ms = 0;
  // Protocol extras kept with the artifact and returned on reads (e.g. Turborepo's
  // x-artifact-tag and x-artifact-duration). Names are lowercase header names.
  std::map<std::string, std::string> extras;
  // The body itself when it is small enough to live in the manifest row (the store decides);
  // then a hit is one lookup. Shared so that copying a Manifest stays cheap.
  std::shared_ptr<const std::string> inline_body;
};

struct StoreOptions {
  std::string path;             // directory; created if missing
  uint64_t capacity_bytes = 0;  // 0 = unbounded
  uint64_t max_artifact_bytes = 2ull << 30;
  bool fsync = false;  // sync the WAL on every commit
  // Bound on outbox rows over all targets (0 = unbounded). A write that would pass it is refused
  // at begin_write with Code::unavailable (503 + Retry-After), never dropped later.
  uint64_t max_outbox_rows = 0;
  size_t chunk_bytes = 256 * 1024;  // body chunk size in the chunks column family
};

struct WriteOptions {
  std::string content_type;
  std::map<std::string, std::string> extras;
  std::optional<std::string>
      expected_sha256;  // lowercase hex; mismatch → Code::digest_mismatch at commit
  std::optional<uint64_t>
      expected_size;  // declared Content-Length; overrun/short → invalid_argument
  // One outbox row per target is committed in the same batch as the manifest. Ignored for
  // replicated applies: what a node received is never forwarded.
  std::vector<std::string> outbox_targets;
  Origin origin = Origin::local;
  std::optional<int64_t> version_ms;  // replicated applies carry the sender's version
};

// A piece of a body. Holds whatever keeps the bytes alive (a pinned RocksDB value), so it can
// be handed to an output buffer without a copy and freed when the socket has written it.
class Chunk {
 public:
  virtual ~Chunk() = default;
  virtual const uint8_t* data() const = 0;
  virtual size_t size() const = 0;
};

// Streams one committed version of a body, chunk by chunk, from a consistent snapshot: an
// overwrite or eviction while it reads does not change what it returns.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Next piece of [offset, offset+length); nullptr at the end. A chunk that fails RocksDB's
  // checksum or is missing gives Code::corruption.
  virtual Result<std::unique_ptr<Chunk>> next() = 0;
  virtual uint64_t remaining() const = 0;
};

// A body being written. Chunks go to RocksDB as they fill; commit() writes the manifest (and
// outbox rows) last, in one batch, so a crash never exposes a partial body. Destroying a
// Writer without commit() discards what it wrote.
class Writer {
 public:
  virtual ~Writer() = default;
  virtual Status append(std::span<const uint8_t> bytes) = 0;
  virtual Result<Manifest> commit() = 0;
  virtual uint64_t bytes_written() const = 0;
};

struct StoreStats {
  uint64_t bytes = 0;  // sum of committed body sizes
  uint64_t artifacts = 0;
  uint64_t capacity_bytes = 0;
  uint64_t evictions = 0;
  uint64_t evicted_bytes = 0;
  uint64_t outbox_rows = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Opens (creating) the store and takes an exclusive flock on `path/LOCK.meshcache`. A second
  // process gets Code::unavailable with a message naming the path and the holder's pid.
  // Sweeps chunks of writes that never committed.
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);

  virtual Result<Manifest> head(const ArtifactRef& ref) = 0;  // not_found on a miss
  // By lowercase hex artifact id (outbox rows and backfill requests carry only the id).
  virtual Result<Manifest> head_id(std::string_view artifact_id) = 0;
  // Reads bytes [offset, offset+length) of the manifest's version. Also refreshes the
  // artifact's last access (coarsely, so hits stay cheap).
  virtual Result<std::unique_ptr<BodyReader>> read(const Manifest& m, uint64_t offset,
                                                   uint64_t length) = 0;
  // Convenience for small bodies (keyvalue JSON, tests): the whole body in memory.
  virtual Result<std::string> read_all(const Manifest& m) = 0;

  virtual Result<std::unique_ptr<Writer>> begin_write(const ArtifactRef& ref,
                                                      WriteOptions options) = 0;
  virtual Status remove(const ArtifactRef& ref) = 0;  // not_found if absent

  // The LWW pre-gate for a replicated apply of `ref` at `version_ms`, reading only the manifest
  // and the namespace tombstone (reference/internal-plane.md section 4). A version of 0 is
  // ignored_tombstone when the namespace has a tombstone, ignored_stale when a local copy
  // exists, else applied (the caller then writes with version_ms unset: stamped now). A
  // replicated begin_write() re-checks under the artifact's lock and answers Code::conflict
  // (message = verdict_name) when it lost a race.
  virtual Result<ApplyVerdict> lww_verdict(const ArtifactRef& ref, int64_t version_ms) = 0;

  // Namespace delete. `version_ms` set: the tombstone (tenant, ns) → version; artifacts of the
  // namespace with version <= it are removed, newer ones kept, and from then on replicated
  // applies at or below it are ignored_tombstone. Returns false (Kura's ignored_older) when the
  // stored tombstone is already >= version_ms. nullopt (Kura: version 0): purge the namespace
  // now without a tombstone. A local delete passes the clock's now and its outbox targets
  // (rows committed in the tombstone's batch); a replicated one passes none.
  virtual Result<bool> delete_namespace(const std::string& tenant, const std::string& ns,
                                        std::optional<int64_t> version_ms,
                                        const std::vector<std::string>& outbox_targets) = 0;
  virtual Result<int64_t> namespace_tombstone(const std::string& tenant,
                                              const std::string& ns) = 0;  // 0 = none

  // Outbox, per target in commit order. scan_outbox returns up to `limit` rows with seq >=
  // `from_seq`, and never one past a row whose commit is still being written, so a cursor at
  // the last row's seq + 1 misses none; delete_outbox removes delivered rows;
  // drop_outbox_target removes every row of a target that left the mesh and returns how many.
  // Depths are read from memory.
  virtual Result<std::vector<OutboxRow>> scan_outbox(std::string_view target, uint64_t from_seq,
                                                     size_t limit) = 0;
  virtual Status delete_outbox(std::string_view target, std::span<const uint64_t> seqs) = 0;
  virtual Result<uint64_t> drop_outbox_target(std::string_view target) = 0;
  virtual std::map<std::string, uint64_t> outbox_depths() const = 0;

  // The backfill listing, newest first, starting after the raw index key `after` ("" = from
  // the newest). Tombstones are listed with their namespace as record_id.
  virtual Result<BackfillPage> list_backfill(std::string_view after, size_t limit) = 0;

  // Small durable records the agent keeps beside the artifacts (closed usage windows waiting
  // for delivery), in their own column family. `space` names a record kind; keys sort
  // bytewise within it. A put is one atomic batch, synced when fsync is on.
  using Record = std::pair<std::string, std::string>;  // key, value
  virtual Status put_records(std::string_view space, std::span<const Record> records) = 0;
  // Up to `limit` records of `space` in key order, starting after `after` (exclusive; "" =
  // from the first).
  virtual Result<std::vector<Record>> scan_records(std::string_view space, size_t limit,
                                                   std::string_view after = {}) = 0;
  virtual Status delete_records(std::string_view space, std::span<const std::string> keys) = 0;

  virtual StoreStats stats() const = 0;
  virtual const StoreOptions& options() const = 0;
};

}  // namespace meshcache::storage
