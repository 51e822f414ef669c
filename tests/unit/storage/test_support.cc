// test_support.cc: fixtures for the storage tests (test thread).
#include "test_support.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include <filesystem>

#include <catch2/catch.hpp>

#include "storage/sha256.h"

namespace meshcache::storage::test {

int64_t fake_clock() { return fake_now.load(); }

StoreOptions small_options(const std::string& path, uint64_t chunk_bytes) {
  StoreOptions o;
  o.path = path;
  o.chunk_bytes = chunk_bytes;
  return o;
}

std::unique_ptr<RocksStore> open_store(const StoreOptions& options) {
  auto store = RocksStore::open(options, fake_clock);
  INFO(store.status().message());
  REQUIRE(store.ok());
  return std::move(store).value();
}

ArtifactRef artifact(const std::string& key, const std::string& producer) {
  return ArtifactRef{producer, "acme", "web", key};
}

ArtifactRef in_ns(const std::string& ns, const std::string& key) {
  return ArtifactRef{"bazel", "acme", ns, key};
}

WriteOptions replica(int64_t version_ms) {
  WriteOptions o;
  o.origin = Origin::replica;
  if (version_ms != 0) o.version_ms = version_ms;
  return o;
}

std::string body(size_t size, uint8_t seed) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i)
    out[i] = static_cast<char>((i * 31 + seed * 7 + i / 251) & 0xff);
  return out;
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[32];
  unsigned int len = 0;
  REQUIRE(EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) == 1);
  return to_hex({digest, len});
}

Result<Manifest> put(Store& store, const ArtifactRef& r, const std::string& bytes,
                     WriteOptions options, size_t piece) {
  auto writer = store.begin_write(r, std::move(options));
  if (!writer.ok()) return writer.status();
  for (size_t at = 0; at < bytes.size(); at += piece) {
    size_t n = std::min(piece, bytes.size() - at);
    auto s = (*writer)->append({reinterpret_cast<const uint8_t*>(bytes.data()) + at, n});
    if (!s.ok()) return s;
  }
  return (*writer)->commit();
}

std::string read_range(Store& store, const Manifest& m, uint64_t offset, uint64_t length) {
  auto reader = store.read(m, offset, length);
  INFO(reader.status().message());
  REQUIRE(reader.ok());
  std::string out;
  for (;;) {
    REQUIRE((*reader)->remaining() == length - out.size());
    auto chunk = (*reader)->next();
    INFO(chunk.status().message());
    REQUIRE(chunk.ok());
    if (!*chunk) break;
    REQUIRE((*chunk)->size() > 0);
    out.append(reinterpret_cast<const char*>((*chunk)->data()), (*chunk)->size());
  }
  REQUIRE(out.size() == length);
  return out;
}

size_t count_rows(const std::string& path, Cf cf, const std::string& prefix) {
  auto db = RocksDb::open(path);
  INFO(db.status().message());
  REQUIRE(db.ok());
  std::unique_ptr<rocksdb::Iterator> it(
      (*db)->db()->NewIterator(rocksdb::ReadOptions(), (*db)->cf(cf)));
  size_t n = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
  REQUIRE(it->status().ok());
  return n;
}

}  // namespace meshcache::storage::test
