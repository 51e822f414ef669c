// authority.h: a small certificate authority: the mock control plane's per-tenant CA and
// `meshcache tls init-ca / issue` for standalone meshes. Any thread (one Authority per thread
// or guarded by its user).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "storage/status.h"
#include "tls/openssl_handles.h"

namespace meshcache::tls {

struct Authority {
  PkeyPtr key;   // ECDSA P-256
  X509Ptr cert;  // self-signed, CA:TRUE, keyCertSign + cRLSign
  std::string cert_pem;
};

// A new self-signed CA with subject CN=`common_name`, valid from now for `lifetime_seconds`.
Result<Authority> create_authority(std::string_view common_name, int64_t lifetime_seconds);
// An existing CA from its PEM certificate and PEM private key (the key must match).
Result<Authority> load_authority(std::string_view cert_pem, std::string_view key_pem);

// A leaf for `host` signed by `ca`: subject CN=host, SAN = san_for_host(host) followed by those
// of `extra_hosts` (a node reached under a second name, such as a gateway's public one;
// duplicates dropped), EKU serverAuth + clientAuth, KU digitalSignature, CA:FALSE, random
// 128-bit serial, valid from a minute ago (clock skew) until now + `lifetime_seconds`. Returns
// the leaf PEM.
Result<std::string> issue_leaf(const Authority& ca, EVP_PKEY* subject_key, std::string_view host,
                               int64_t lifetime_seconds,
                               std::span<const std::string> extra_hosts = {});

}  // namespace meshcache::tls
