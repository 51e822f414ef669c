// certificate.h: reading and validating X.509 certificates (control-plane thread, CLI, mock).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"
#include "tls/openssl_handles.h"

namespace meshcache::tls {

struct CertificateInfo {
  std::string subject;            // one-line form, e.g. "CN=10.0.0.7"
  std::string issuer;             // one-line form
  std::vector<std::string> sans;  // "DNS:name" or "IP:127.0.0.1", in certificate order
  int64_t not_before = 0;         // Unix seconds
  int64_t not_after = 0;          // Unix seconds
  std::string serial_hex;
  std::string sha256_fingerprint;  // lowercase hex of the DER
};

Result<X509Ptr> parse_certificate_pem(std::string_view pem);
CertificateInfo describe(const X509* cert);

// Checks what enrollment returned before anything is written: both parse; the leaf chains to
// `ca_pem` alone (no system roots) and is valid at `now_unix`; the leaf's public key is
// `key`'s; it carries the serverAuth and clientAuth EKUs. invalid_argument naming the first
// failed check otherwise.
Result<CertificateInfo> validate_enrolled(std::string_view cert_pem, std::string_view ca_pem,
                                          const EVP_PKEY* key, int64_t now_unix);

// The SAN an issuer puts in a leaf for `host`: "IP:<addr>" for an IPv4/IPv6 literal (brackets
// stripped), "DNS:<host>" otherwise.
std::string san_for_host(std::string_view host);

}  // namespace meshcache::tls
