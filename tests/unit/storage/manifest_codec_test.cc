// manifest_codec_test.cc: the manifest's binary form round-trips every field and rejects damage
// (test thread).
#include <catch2/catch.hpp>

#include "storage/manifest_codec.h"

using namespace meshcache;
using namespace meshcache::storage;

namespace {

Manifest full_manifest() {
  Manifest m;
  m.artifact_id = std::string(64, 'a');
  m.producer = "turbo";
  m.tenant = "acme";
  m.ns = "team-web";
  m.key = std::string("key/with\0nul", 12);
  m.size = (5ull << 32) + 17;
  m.sha256_hex = std::string(64, 'f');
  m.content_type = "application/octet-stream";
  m.version_ms = 1'700'000'123'456;
  m.origin = Origin::replica;
  m.created_ms = 1'700'000'000'001;
  m.last_access_ms = 1'700'000'999'999;
  m.extras = {{"x-artifact-tag", "c2lnbmF0dXJl"}, {"x-artifact-duration", "1234"}, {"empty", ""}};
  return m;
}

void check_equal(const Manifest& a, const Manifest& b) {
  CHECK(a.artifact_id == b.artifact_id);
  CHECK(a.producer == b.producer);
  CHECK(a.tenant == b.tenant);
  CHECK(a.ns == b.ns);
  CHECK(a.key == b.key);
  CHECK(a.size == b.size);
  CHECK(a.sha256_hex == b.sha256_hex);
  CHECK(a.content_type == b.content_type);
  CHECK(a.version_ms == b.version_ms);
  CHECK(a.origin == b.origin);
  CHECK(a.created_ms == b.created_ms);
  CHECK(a.last_access_ms == b.last_access_ms);
  CHECK(a.extras == b.extras);
  REQUIRE((a.inline_body == nullptr) == (b.inline_body == nullptr));
  if (a.inline_body) CHECK(*a.inline_body == *b.inline_body);
}

Manifest inline_manifest(std::string body) {
  Manifest m = full_manifest();
  m.size = body.size();
  m.inline_body = std::make_shared<const std::string>(std::move(body));
  return m;
}

}  // namespace

TEST_CASE("manifest codec round-trips every field") {
  Manifest m = full_manifest();
  auto bytes = encode_manifest(m);
  auto back = decode_manifest(bytes, m.artifact_id);
  REQUIRE(back.ok());
  check_equal(*back, m);

  Manifest empty;
  empty.artifact_id = std::string(64, '0');
  auto empty_back = decode_manifest(encode_manifest(empty), empty.artifact_id);
  REQUIRE(empty_back.ok());
  check_equal(*empty_back, empty);

  for (const auto& body : {std::string(), std::string("\0x\xff", 3), std::string(20000, 'b')}) {
    Manifest with_body = inline_manifest(body);
    auto round = decode_manifest(encode_manifest(with_body), with_body.artifact_id);
    REQUIRE(round.ok());
    REQUIRE(round->inline_body);
    check_equal(*round, with_body);
  }
}

TEST_CASE("manifest codec rejects a malformed inline body") {
  Manifest m = inline_manifest("0123456789");
  auto good = encode_manifest(m);
  REQUIRE(decode_manifest(good, "id").ok());
  for (size_t cut : {good.size() - 1, good.size() - 10, good.size() - 11, good.size() - 14}) {
    auto r = decode_manifest(rocksdb::Slice(good.data(), cut), "id");
    CHECK(r.status().code() == Code::corruption);
  }
  // The body must be exactly the manifest's size.
  m.size = 11;
  CHECK(decode_manifest(encode_manifest(m), "id").status().code() == Code::corruption);
  // The flag is 0 or 1.
  auto flag = good;
  flag[flag.size() - 15] = 2;
  CHECK(decode_manifest(flag, "id").status().code() == Code::corruption);
  // A flag of 0 followed by a body is trailing garbage.
  flag[flag.size() - 15] = 0;
  CHECK(decode_manifest(flag, "id").status().code() == Code::corruption);
}

TEST_CASE("manifest codec rejects truncated, padded and unknown bytes") {
  auto bytes = encode_manifest(full_manifest());
  for (size_t cut : {size_t{0}, size_t{1}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    auto r = decode_manifest(rocksdb::Slice(bytes.data(), cut), "id");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::corruption);
  }
  auto padded = bytes + "x";
  CHECK(decode_manifest(padded, "id").status().code() == Code::corruption);
  auto unknown = bytes;
  unknown[0] = 9;
  CHECK(decode_manifest(unknown, "id").status().code() == Code::corruption);
}
