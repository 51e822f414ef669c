// tls_test_util.h: helpers shared by the tls/ unit tests (test thread).
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>
#include <string>

#include "tests/unit/temp_dir.h"
#include "tls/authority.h"
#include "tls/identity.h"
#include "tls/key_pair.h"

namespace meshcache::tls::test {

using ::meshcache::testutil::TempDir;

inline int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

inline Authority new_ca(std::string_view name = "test CA") {
  auto ca = create_authority(name, 86400);
  REQUIRE(ca.ok());
  return std::move(ca).value();
}

inline PkeyPtr new_key() {
  auto key = generate_p256_key();
  REQUIRE(key.ok());
  return std::move(key).value();
}

// A complete identity for `host` issued by `ca`.
inline IdentityPem new_identity(const Authority& ca, std::string_view host = "127.0.0.1") {
  PkeyPtr key = new_key();
  auto leaf = issue_leaf(ca, key.get(), host, 3600);
  REQUIRE(leaf.ok());
  auto key_pem = private_key_pem(key.get());
  REQUIRE(key_pem.ok());
  return {key_pem.value(), leaf.value(), ca.cert_pem};
}

}  // namespace meshcache::tls::test
