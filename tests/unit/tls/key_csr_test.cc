// key_csr_test.cc: P-256 key generation, PKCS#8 PEM round trip, CSR build and check.
#include <openssl/pem.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tls/csr.h"
#include "tls/key_pair.h"
#include "tls_test_util.h"

using namespace meshcache;
using namespace meshcache::tls;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("a generated key is P-256 and survives a PKCS#8 PEM round trip") {
  PkeyPtr key = test::new_key();
  char group[64] = {};
  size_t len = 0;
  REQUIRE(EVP_PKEY_get_group_name(key.get(), group, sizeof(group), &len) == 1);
  CHECK(std::string(group) == "prime256v1");

  auto pem = private_key_pem(key.get());
  REQUIRE(pem.ok());
  CHECK_THAT(pem.value(), StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  auto parsed = parse_private_key_pem(pem.value());
  REQUIRE(parsed.ok());
  CHECK(EVP_PKEY_eq(parsed->get(), key.get()) == 1);
  CHECK(EVP_PKEY_eq(parsed->get(), test::new_key().get()) != 1);
}

TEST_CASE("a key that is garbage or encrypted is refused without prompting") {
  CHECK(parse_private_key_pem("not a key").status().code() == Code::invalid_argument);
  CHECK(parse_private_key_pem("").status().code() == Code::invalid_argument);

  PkeyPtr key = test::new_key();
  BIO* bio = BIO_new(BIO_s_mem());
  char pass[] = "secret";
  REQUIRE(PEM_write_bio_PKCS8PrivateKey(bio, key.get(), EVP_aes_128_cbc(), pass, 6, nullptr,
                                        nullptr) == 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string encrypted(data, static_cast<size_t>(n));
  BIO_free(bio);
  CHECK_THAT(encrypted, Contains("ENCRYPTED PRIVATE KEY"));
  CHECK(parse_private_key_pem(encrypted).status().code() == Code::invalid_argument);
}

TEST_CASE("a CSR has an empty subject, no extensions, the key, and a valid signature") {
  PkeyPtr key = test::new_key();
  auto pem = make_csr_pem(key.get());
  REQUIRE(pem.ok());
  CHECK_THAT(pem.value(), StartsWith("-----BEGIN CERTIFICATE REQUEST-----\n"));
  auto req = parse_csr_pem(pem.value());
  REQUIRE(req.ok());
  CHECK(X509_NAME_entry_count(X509_REQ_get_subject_name(req->get())) == 0);
  CHECK(X509_REQ_get_attr_count(req->get()) == 0);
  CHECK(EVP_PKEY_eq(X509_REQ_get0_pubkey(req->get()), key.get()) == 1);
}

TEST_CASE("a tampered or malformed CSR is rejected") {
  PkeyPtr key = test::new_key();
  auto req = parse_csr_pem(make_csr_pem(key.get()).value());
  REQUIRE(req.ok());
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req->get(), &der);
  REQUIRE(len > 0);
  std::vector<unsigned char> bytes(der, der + len);
  OPENSSL_free(der);
  // The last byte belongs to the signature's s value: the request still parses, but no longer
  // verifies.
  bytes.back() ^= 0x01;
  BIO* bio = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio(bio, "CERTIFICATE REQUEST", "", bytes.data(), len) > 0);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string tampered(data, static_cast<size_t>(n));
  BIO_free(bio);

  auto rejected = parse_csr_pem(tampered);
  REQUIRE_FALSE(rejected.ok());
  CHECK(rejected.status().code() == Code::invalid_argument);
  CHECK_THAT(rejected.status().message(), Contains("signature"));

  CHECK(parse_csr_pem("not a csr").status().code() == Code::invalid_argument);
}
