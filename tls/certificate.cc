// certificate.cc: X.509 parsing, description and enrollment validation (control-plane thread,
// CLI, mock control plane).
#include "tls/certificate.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "tls/openssl_util.h"
#include "tls/url_host.h"

namespace meshcache::tls {
namespace {

using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Freer<GENERAL_NAMES_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Freer<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Freer<X509_STORE_CTX_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Freer<BN_free>>;

std::string name_text(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // "CN=a, O=b": one line, no spaces around '=', UTF-8 left as is.
  constexpr unsigned long flags = XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ & ~ASN1_STRFLGS_ESC_MSB;
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, flags) < 0) return {};
  return bio_contents(bio.get());
}

std::string string_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  int len = ASN1_STRING_length(ip);
  int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : AF_UNSPEC;
  char buf[INET6_ADDRSTRLEN];
  if (family == AF_UNSPEC || !inet_ntop(family, ASN1_STRING_get0_data(ip), buf, sizeof(buf)))
    return "?";
  return buf;
}

std::vector<std::string> subject_alt_names(const X509* cert) {
  std::vector<std::string> out;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    switch (name->type) {
      case GEN_DNS:
        out.push_back("DNS:" + string_text(name->d.dNSName));
        break;
      case GEN_IPADD:
        out.push_back("IP:" + ip_text(name->d.iPAddress));
        break;
      case GEN_URI:
        out.push_back("URI:" + string_text(name->d.uniformResourceIdentifier));
        break;
      case GEN_EMAIL:
        out.push_back("email:" + string_text(name->d.rfc822Name));
        break;
      default:
        break;
    }
  }
  ERR_clear_error();  // a certificate without the extension leaves nothing worth reporting
  return out;
}

int64_t unix_time(const ASN1_TIME* t) {
  std::tm tm{};
  return t && ASN1_TIME_to_tm(t, &tm) == 1 ? static_cast<int64_t>(timegm(&tm)) : 0;
}

std::string iso_time(int64_t unix) {
  std::time_t t = static_cast<std::time_t>(unix);
  std::tm tm{};
  char buf[32];
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string hex(const unsigned char* data, size_t len) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 0xf]);
  }
  return out;
}

std::string serial_hex(const X509* cert) {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return {};
  std::vector<unsigned char> bytes(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), bytes.data());
  return hex(bytes.data(), bytes.size());
}

Status invalid(std::string message) { return Status(Code::invalid_argument, std::move(message)); }

// Signature and chain only, with `ca` as the sole trust anchor: validity dates have their own
// check next, with a message that says which date failed. No X509_STRICT: the TLS contexts that
// use this material do not ask for it either, so it would only reject what works.
Status verify_chain(X509* leaf, X509* ca) {
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1)
    return openssl_failure(Code::internal, "cannot set up certificate verification");
  X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx.get()), X509_V_FLAG_NO_CHECK_TIME);
  if (X509_verify_cert(ctx.get()) != 1) {
    ERR_clear_error();
    return invalid(std::string("certificate does not chain to the CA: ") +
                   X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
  return Status::Ok();
}

Status check_dates(const X509* cert, std::string_view what, int64_t now_unix) {
  std::time_t now = static_cast<std::time_t>(now_unix);
  // X509_cmp_time: -1 when the date is at or before `now`, 1 after, 0 when unreadable.
  int before = X509_cmp_time(X509_get0_notBefore(cert), &now);
  int after = X509_cmp_time(X509_get0_notAfter(cert), &now);
  if (before == 0 || after == 0) return invalid(std::string(what) + " has unreadable dates");
  if (before > 0)
    return invalid(std::string(what) + " is not valid before " +
                   iso_time(unix_time(X509_get0_notBefore(cert))));
  if (after < 0)
    return invalid(std::string(what) + " expired at " +
                   iso_time(unix_time(X509_get0_notAfter(cert))));
  return Status::Ok();
}

}  // namespace

Result<X509Ptr> parse_certificate_pem(std::string_view pem) {
  BioPtr bio = memory_bio(pem);
  if (!bio) return openssl_failure(Code::internal, "certificate");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return openssl_failure(Code::invalid_argument, "not a PEM certificate");
  return cert;
}

CertificateInfo describe(const X509* cert) {
  CertificateInfo info;
  info.subject = name_text(X509_get_subject_name(cert));
  info.issuer = name_text(X509_get_issuer_name(cert));
  info.sans = subject_alt_names(cert);
  info.not_before = unix_time(X509_get0_notBefore(cert));
  info.not_after = unix_time(X509_get0_notAfter(cert));
  info.serial_hex = serial_hex(cert);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) == 1) info.sha256_fingerprint = hex(md, len);
  return info;
}

Result<CertificateInfo> validate_enrolled(std::string_view cert_pem, std::string_view ca_pem,
                                          const EVP_PKEY* key, int64_t now_unix) {
  auto leaf = parse_certificate_pem(cert_pem);
  if (!leaf.ok()) return invalid("certificate does not parse: " + leaf.status().message());
  auto ca = parse_certificate_pem(ca_pem);
  if (!ca.ok()) return invalid("CA certificate does not parse: " + ca.status().message());
  if (Status s = verify_chain(leaf->get(), ca->get()); !s.ok()) return s;
  if (Status s = check_dates(leaf->get(), "certificate", now_unix); !s.ok()) return s;
  if (Status s = check_dates(ca->get(), "CA certificate", now_unix); !s.ok()) return s;
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf->get()), key) != 1) {
    ERR_clear_error();
    return invalid("certificate's public key is not this node's key");
  }
  // Without an EKU extension OpenSSL reports every usage as allowed, so ask for the extension.
  bool has_eku = (X509_get_extension_flags(leaf->get()) & EXFLAG_XKUSAGE) != 0;
  uint32_t eku = X509_get_extended_key_usage(leaf->get());
  if (!has_eku || (eku & XKU_SSL_SERVER) == 0 || (eku & XKU_SSL_CLIENT) == 0)
    return invalid("certificate lacks the serverAuth and clientAuth extended key usages");
  return describe(leaf->get());
}

std::string san_for_host(std::string_view host) {
  if (auto ip = ip_literal(host)) return "IP:" + *ip;
  return "DNS:" + std::string(host);
}

}  // namespace meshcache::tls
