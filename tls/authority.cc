// authority.cc: a small ECDSA P-256 certificate authority and the leaves it signs (mock control
// plane, `meshcache tls`; the caller's thread).
#include "tls/authority.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <utility>
#include <vector>

#include "tls/certificate.h"
#include "tls/key_pair.h"
#include "tls/openssl_util.h"
#include "tls/url_host.h"

namespace meshcache::tls {
namespace {

using BignumPtr = std::unique_ptr<BIGNUM, Freer<BN_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Freer<X509_EXTENSION_free>>;

// Peers' clocks differ by a little: a certificate used the second it is issued must not look
// "not yet valid" to them.
constexpr long kClockSkewSeconds = 60;
// ub-common-name (RFC 5280): OpenSSL refuses a longer CN.
constexpr size_t kMaxCommonName = 64;

// A v3 certificate for `subject_key` with subject CN=`common_name`, a random 128-bit serial and
// the validity window; issued by `issuer_name`, or self-issued when it is null. Unsigned.
Result<X509Ptr> new_certificate(std::string_view common_name, EVP_PKEY* subject_key,
                                const X509_NAME* issuer_name, int64_t lifetime_seconds) {
  if (lifetime_seconds <= 0)
    return Status(Code::invalid_argument, "the certificate lifetime must be positive");
  if (common_name.empty() || common_name.size() > kMaxCommonName)
    return Status(Code::invalid_argument, "the common name must have 1 to 64 characters");
  X509Ptr cert(X509_new());
  BignumPtr serial(BN_new());
  X509_NAME* subject = cert ? X509_get_subject_name(cert.get()) : nullptr;
  bool ok = subject && serial && X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
            BN_rand(serial.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kClockSkewSeconds) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(lifetime_seconds)) !=
                nullptr &&
            X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(common_name.data()),
                                       static_cast<int>(common_name.size()), -1, 0) == 1 &&
            X509_set_issuer_name(cert.get(), issuer_name ? issuer_name : subject) == 1 &&
            X509_set_pubkey(cert.get(), subject_key) == 1;
  if (!ok) return openssl_failure(Code::internal, "cannot build a certificate");
  return cert;
}

// Extensions in OpenSSL's configuration syntax ("critical,CA:TRUE"); `issuer` supplies the
// authority key identifier, so the subject key identifier must come before it.
Status add_extensions(X509* cert, X509* issuer,
                      std::initializer_list<std::pair<int, const char*>> extensions) {
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
      return openssl_failure(Code::internal,
                             std::string("cannot add the extension ") + OBJ_nid2sn(nid));
  }
  return Status::Ok();
}

Status sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0)
    return openssl_failure(Code::internal, "cannot sign the certificate");
  return Status::Ok();
}

}  // namespace

Result<Authority> create_authority(std::string_view common_name, int64_t lifetime_seconds) {
  auto key = generate_p256_key();
  if (!key.ok()) return key.status();
  auto cert = new_certificate(common_name, key->get(), nullptr, lifetime_seconds);
  if (!cert.ok()) return cert.status();
  X509* x = cert->get();
  Status s = add_extensions(x, x,
                            {{NID_basic_constraints, "critical,CA:TRUE"},
                             {NID_key_usage, "critical,keyCertSign,cRLSign"},
                             {NID_subject_key_identifier, "hash"},
                             {NID_authority_key_identifier, "keyid:always"}});
  if (s.ok()) s = sign(x, key->get());
  if (!s.ok()) return s;
  auto pem = certificate_pem(x);
  if (!pem.ok()) return pem.status();
  return Authority{std::move(key).value(), std::move(cert).value(), std::move(pem).value()};
}

Result<Authority> load_authority(std::string_view cert_pem, std::string_view key_pem) {
  auto cert = parse_certificate_pem(cert_pem);
  if (!cert.ok())
    return Status(Code::invalid_argument, "CA certificate: " + cert.status().message());
  auto key = parse_private_key_pem(key_pem);
  if (!key.ok()) return Status(Code::invalid_argument, "CA key: " + key.status().message());
  if (X509_check_ca(cert->get()) == 0)
    return Status(Code::invalid_argument, "the CA certificate is not a CA (no CA:TRUE)");
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return Status(Code::invalid_argument, "the CA key does not match the CA certificate");
  }
  // Re-encoded, so the PEM handed to leaves' owners is this one certificate and nothing else.
  auto pem = certificate_pem(cert->get());
  if (!pem.ok()) return pem.status();
  return Authority{std::move(key).value(), std::move(cert).value(), std::move(pem).value()};
}

Result<std::string> issue_leaf(const Authority& ca, EVP_PKEY* subject_key, std::string_view host,
                               int64_t lifetime_seconds, std::span<const std::string> extra_hosts) {
  std::optional<std::string> ip = ip_literal(host);
  // The SAN is built from configuration text, which valid_host_name() keeps free of ',' and ':'.
  std::vector<std::string> sans;
  auto add_san = [&sans](std::string_view name) {
    if (!ip_literal(name) && !valid_host_name(name))
      return Status(Code::invalid_argument,
                    "not a host name or IP address: '" + std::string(name) + "'");
    std::string entry = san_for_host(name);
    if (std::find(sans.begin(), sans.end(), entry) == sans.end()) sans.push_back(std::move(entry));
    return Status::Ok();
  };
  if (Status s = add_san(host); !s.ok()) return s;
  for (const std::string& extra : extra_hosts)
    if (Status s = add_san(extra); !s.ok()) return s;
  std::string san = sans.front();
  for (size_t i = 1; i < sans.size(); ++i) san += "," + sans[i];
  auto cert = new_certificate(ip ? std::string_view(*ip) : host, subject_key,
                              X509_get_subject_name(ca.cert.get()), lifetime_seconds);
  if (!cert.ok()) return cert.status();
  X509* x = cert->get();
  Status s = add_extensions(x, ca.cert.get(),
                            {{NID_basic_constraints, "critical,CA:FALSE"},
                             {NID_key_usage, "critical,digitalSignature"},
                             {NID_ext_key_usage, "serverAuth,clientAuth"},
                             {NID_subject_alt_name, san.c_str()},
                             {NID_subject_key_identifier, "hash"},
                             {NID_authority_key_identifier, "keyid:always"}});
  if (s.ok()) s = sign(x, ca.key.get());
  if (!s.ok()) return s;
  return certificate_pem(x);
}

}  // namespace meshcache::tls
