// test_support.h: fixtures for the storage tests: a temp data dir per test, a settable clock,
// bodies with known bytes, and a direct look at the column families (test thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "storage/rocks_db.h"
#include "storage/rocks_store.h"
#include "storage/store.h"
#include "tests/unit/temp_dir.h"

namespace meshcache::storage::test {

using ::meshcache::testutil::TempDir;

// The clock the tests open stores with; starts at kT0, a fixed, realistic Unix time.
inline constexpr int64_t kT0 = 1'700'000'000'000;
inline std::atomic<int64_t> fake_now{kT0};
int64_t fake_clock();

StoreOptions small_options(const std::string& path, uint64_t chunk_bytes = 1024);
std::unique_ptr<RocksStore> open_store(const StoreOptions& options);

ArtifactRef artifact(const std::string& key, const std::string& producer = "bazel");
// An artifact of tenant "acme" in namespace `ns`.
ArtifactRef in_ns(const std::string& ns, const std::string& key);
// Options of a replicated apply at `version_ms` (0: stamped by the receiver).
WriteOptions replica(int64_t version_ms);
// `size` bytes derived from `seed`, different for every offset and seed.
std::string body(size_t size, uint8_t seed = 1);
inline std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::string sha256_hex(const std::string& bytes);

// Writes `bytes` in pieces of `piece` bytes and commits.
Result<Manifest> put(Store& store, const ArtifactRef& r, const std::string& bytes,
                     WriteOptions options = {}, size_t piece = 700);
// Reads [offset, offset+length) through a BodyReader, checking remaining() as it goes.
std::string read_range(Store& store, const Manifest& m, uint64_t offset, uint64_t length);

// Rows (with keys starting with `prefix`) in one column family of a closed store; opens RocksDB
// directly.
size_t count_rows(const std::string& path, Cf cf, const std::string& prefix = "");

}  // namespace meshcache::storage::test
