// certificate_test.cc: the authority, issued leaves, enrollment validation, URL hosts and SANs.
#include "tls/certificate.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>

#include "tls/authority.h"
#include "tls/url_host.h"
#include "tls_test_util.h"

using namespace meshcache;
using namespace meshcache::tls;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

X509Ptr parse(const std::string& pem) {
  auto cert = parse_certificate_pem(pem);
  REQUIRE(cert.ok());
  return std::move(cert).value();
}

// A leaf signed by `ca` with basicConstraints only: what a careless issuer might return.
std::string leaf_without_eku(const Authority& ca, EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  X509* x = cert.get();
  REQUIRE(X509_set_version(x, X509_VERSION_3) == 1);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("node"), -1, -1, 0);
  REQUIRE(X509_set_issuer_name(x, X509_get_subject_name(ca.cert.get())) == 1);
  REQUIRE(X509_set_pubkey(x, key) == 1);
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, ca.cert.get(), x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "CA:FALSE");
  REQUIRE(ext);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  REQUIRE(X509_sign(x, ca.key.get(), EVP_sha256()) > 0);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

}  // namespace

TEST_CASE("url_host takes the host of http and https URLs") {
  CHECK(url_host("https://Node-1.Internal:7443/x?y#z").value() == "node-1.internal");
  CHECK(url_host("http://10.0.0.7").value() == "10.0.0.7");
  CHECK(url_host("HTTPS://127.0.0.1:7443").value() == "127.0.0.1");
  CHECK(url_host("https://[::1]:7443/").value() == "::1");
  CHECK(url_host("https://[FD00::7]").value() == "fd00::7");
  CHECK(url_host("https://user:pw@node:1").value() == "node");
  for (const char* bad : {"", "node:7443", "ftp://node", "https://", "https://:7443",
                          "https://[::1", "https://[node]:1", "https://[1.2.3.4]", "https://a b",
                          "https://node:port", "https://node:65536", "https://[::1]x"}) {
    INFO(bad);
    auto host = url_host(bad);
    REQUIRE_FALSE(host.ok());
    CHECK(host.status().code() == Code::invalid_argument);
  }
  CHECK_THAT(url_host("https://user:hunter2@").status().message(), !Contains("hunter2"));
}

TEST_CASE("IP literals get IP SANs, names get DNS SANs") {
  CHECK(san_for_host("127.0.0.1") == "IP:127.0.0.1");
  CHECK(san_for_host("[::1]") == "IP:::1");
  CHECK(san_for_host("::1") == "IP:::1");
  CHECK(san_for_host("node-1.internal") == "DNS:node-1.internal");
  CHECK(san_for_host("1.2.3") == "DNS:1.2.3");
}

TEST_CASE("a CA is self-signed, CA:TRUE, and loads back from its PEM files") {
  Authority ca = test::new_ca("meshcache test CA");
  CertificateInfo info = describe(ca.cert.get());
  CHECK(info.subject == "CN=meshcache test CA");
  CHECK(info.issuer == info.subject);
  CHECK(X509_check_ca(ca.cert.get()) == 1);
  CHECK((X509_get_key_usage(ca.cert.get()) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) ==
        (KU_KEY_CERT_SIGN | KU_CRL_SIGN));

  std::string key_pem = private_key_pem(ca.key.get()).value();
  auto loaded = load_authority(ca.cert_pem, key_pem);
  REQUIRE(loaded.ok());
  CHECK(loaded->cert_pem == ca.cert_pem);

  Authority other = test::new_ca("other");
  auto mismatched = load_authority(ca.cert_pem, private_key_pem(other.key.get()).value());
  REQUIRE_FALSE(mismatched.ok());
  CHECK_THAT(mismatched.status().message(), Contains("does not match"));

  // A leaf is not a CA, even with its own key.
  PkeyPtr key = test::new_key();
  auto leaf = issue_leaf(ca, key.get(), "node", 3600);
  auto not_ca = load_authority(leaf.value(), private_key_pem(key.get()).value());
  REQUIRE_FALSE(not_ca.ok());
  CHECK_THAT(not_ca.status().message(), Contains("not a CA"));
}

TEST_CASE("an issued leaf has CN and SAN from the host, both EKUs, and validates") {
  Authority ca = test::new_ca();
  PkeyPtr key = test::new_key();
  auto before = test::now();
  auto pem = issue_leaf(ca, key.get(), "10.0.0.7", 30 * 86400);
  REQUIRE(pem.ok());

  auto info = validate_enrolled(pem.value(), ca.cert_pem, key.get(), test::now());
  REQUIRE(info.ok());
  CHECK(info->subject == "CN=10.0.0.7");
  CHECK(info->issuer == "CN=test CA");
  CHECK(info->sans == std::vector<std::string>{"IP:10.0.0.7"});
  CHECK(info->not_before >= before - 60);
  CHECK(info->not_before <= test::now() - 60);
  CHECK(info->not_after >= before + 30 * 86400);
  CHECK(info->not_after <= test::now() + 30 * 86400);
  CHECK(info->serial_hex.size() >= 30);
  CHECK(info->sha256_fingerprint.size() == 64);

  X509Ptr leaf = parse(pem.value());
  CHECK(X509_check_ca(leaf.get()) == 0);
  CHECK(X509_get_key_usage(leaf.get()) == KU_DIGITAL_SIGNATURE);
  CHECK(X509_get0_subject_key_id(leaf.get()) != nullptr);
  CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf.get()),
                              X509_get0_subject_key_id(ca.cert.get())) == 0);
  CHECK(X509_get_signature_nid(leaf.get()) == NID_ecdsa_with_SHA256);
  // Two leaves never share a serial.
  auto again = issue_leaf(ca, key.get(), "10.0.0.7", 3600);
  CHECK(describe(parse(again.value()).get()).serial_hex != info->serial_hex);
}

TEST_CASE("a leaf for a name gets a DNS SAN; for an IPv6 literal an IP SAN") {
  Authority ca = test::new_ca();
  PkeyPtr key = test::new_key();
  auto dns = describe(parse(issue_leaf(ca, key.get(), "node-1.internal", 60).value()).get());
  CHECK(dns.subject == "CN=node-1.internal");
  CHECK(dns.sans == std::vector<std::string>{"DNS:node-1.internal"});
  auto v6 = describe(parse(issue_leaf(ca, key.get(), "[::1]", 60).value()).get());
  CHECK(v6.subject == "CN=::1");
  CHECK(v6.sans == std::vector<std::string>{"IP:::1"});
  // The host is configuration text for OpenSSL: nothing that could add a second SAN.
  CHECK(issue_leaf(ca, key.get(), "a,DNS:evil", 60).status().code() == Code::invalid_argument);
  CHECK(issue_leaf(ca, key.get(), "", 60).status().code() == Code::invalid_argument);
  CHECK(issue_leaf(ca, key.get(), "node", 0).status().code() == Code::invalid_argument);
}

TEST_CASE("validate_enrolled names the first check that fails") {
  Authority ca = test::new_ca();
  PkeyPtr key = test::new_key();
  std::string leaf = issue_leaf(ca, key.get(), "127.0.0.1", 3600).value();
  auto fails = [](const Result<CertificateInfo>& r) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::invalid_argument);
    return r.status().message();
  };

  CHECK_THAT(fails(validate_enrolled("garbage", ca.cert_pem, key.get(), test::now())),
             StartsWith("certificate does not parse"));
  CHECK_THAT(fails(validate_enrolled(leaf, "garbage", key.get(), test::now())),
             StartsWith("CA certificate does not parse"));

  Authority other = test::new_ca("other CA");
  CHECK_THAT(fails(validate_enrolled(leaf, other.cert_pem, key.get(), test::now())),
             StartsWith("certificate does not chain to the CA"));
  // Same name, different key: only the signature tells them apart.
  Authority twin = test::new_ca("test CA");
  CHECK_THAT(fails(validate_enrolled(leaf, twin.cert_pem, key.get(), test::now())),
             StartsWith("certificate does not chain to the CA"));

  CHECK_THAT(fails(validate_enrolled(leaf, ca.cert_pem, key.get(), test::now() + 7200)),
             StartsWith("certificate expired at"));
  CHECK_THAT(fails(validate_enrolled(leaf, ca.cert_pem, key.get(), test::now() - 3600)),
             StartsWith("certificate is not valid before"));
  // The leaf outlives its CA: the CA's own dates count too.
  std::string long_leaf = issue_leaf(ca, key.get(), "127.0.0.1", 3 * 86400).value();
  CHECK_THAT(fails(validate_enrolled(long_leaf, ca.cert_pem, key.get(), test::now() + 2 * 86400)),
             StartsWith("CA certificate expired at"));

  PkeyPtr other_key = test::new_key();
  CHECK_THAT(fails(validate_enrolled(leaf, ca.cert_pem, other_key.get(), test::now())),
             StartsWith("certificate's public key is not this node's key"));

  CHECK_THAT(fails(validate_enrolled(leaf_without_eku(ca, key.get()), ca.cert_pem, key.get(),
                                     test::now())),
             Contains("serverAuth and clientAuth"));
}

TEST_CASE("a leaf with a tiny lifetime is expired a little later") {
  Authority ca = test::new_ca();
  PkeyPtr key = test::new_key();
  std::string leaf = issue_leaf(ca, key.get(), "node", 1).value();
  int64_t not_after = describe(parse(leaf).get()).not_after;
  CHECK(validate_enrolled(leaf, ca.cert_pem, key.get(), not_after - 1).ok());
  // OpenSSL counts the notAfter second itself as expired; so do we.
  auto late = validate_enrolled(leaf, ca.cert_pem, key.get(), not_after);
  REQUIRE_FALSE(late.ok());
  CHECK_THAT(late.status().message(), StartsWith("certificate expired at"));
}
