// artifact_id_test.cc: artifact identity and the hex helpers (test thread).
#include <openssl/evp.h>

#include <catch2/catch.hpp>

#include "storage/artifact_id.h"
#include "storage/sha256.h"
#include "storage/store.h"

using namespace meshcache::storage;

namespace {

// The documented formula, computed independently of the store's code.
std::string documented_id(const ArtifactRef& r) {
  std::string joined = r.producer;
  joined.push_back('\0');
  joined += r.tenant;
  joined.push_back('\0');
  joined += r.ns;
  joined.push_back('\0');
  joined += r.key;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(EVP_Digest(joined.data(), joined.size(), digest, &len, EVP_sha256(), nullptr) == 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

}  // namespace

TEST_CASE("artifact_id matches a fixed known vector") {
  CHECK(artifact_id({"bazel", "acme", "web", "cas/0123"}) ==
        "57e3e0e03170c2fbde8a206c4841c84587b4e5ffef73618c813983d8769a8980");
  CHECK(artifact_id({"http", "default", "", "ccache/ab/cd"}) ==
        "0cd57880d827e90c490f33ce34a0b830841b747b75c85d3ac6d6cf7f7b6c8284");
}

TEST_CASE("artifact_id follows the documented formula") {
  const ArtifactRef refs[] = {{"bazel", "acme", "web", "ac/ff00"},
                              {"turbo", "t", "", "hash"},
                              {"", "", "", ""},
                              {"xcode", "tenant", "ns", std::string("bin\0ary", 7)}};
  for (const auto& r : refs) {
    CHECK(artifact_id(r) == documented_id(r));
    CHECK(to_hex(artifact_digest(r)) == artifact_id(r));
  }
}

TEST_CASE("artifact_id separates the tuple's fields") {
  CHECK(artifact_id({"ab", "c", "", "k"}) != artifact_id({"a", "bc", "", "k"}));
  CHECK(artifact_id({"p", "t", "n", "k"}) != artifact_id({"p", "t", "", "nk"}));
}

TEST_CASE("hex helpers round-trip a digest and reject malformed input") {
  auto d = artifact_digest({"bazel", "acme", "web", "cas/0123"});
  auto hex = to_hex(d);
  auto back = digest_from_hex(hex);
  REQUIRE(back);
  CHECK(*back == d);
  std::string upper = hex;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(digest_from_hex(upper) == d);
  CHECK_FALSE(digest_from_hex(hex.substr(1)));
  CHECK_FALSE(digest_from_hex(hex.substr(0, 63) + "g"));
  CHECK_FALSE(digest_from_hex(""));
}

TEST_CASE("Sha256 streams in pieces like the one-shot digest") {
  Sha256 h;
  std::string text = "the quick brown fox jumps over the lazy dog";
  h.update(text.data(), 10);
  h.update(text.data() + 10, text.size() - 10);
  auto first = h.finish();
  h.update(text.data(), text.size());  // the hasher restarts after finish()
  CHECK(h.finish() == first);
  CHECK(to_hex(first) == "05c6e08f1d9fdafa03147fcb8f82f124c76d2f70e3d989dc8aadb5e7d7450bec");
}
