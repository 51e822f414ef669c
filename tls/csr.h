// csr.h: PKCS#10 certificate signing requests (node: build; mock control plane: check).
// Any thread.
#pragma once

#include <string>
#include <string_view>

#include "storage/status.h"
#include "tls/openssl_handles.h"

namespace meshcache::tls {

// A CSR with an empty subject and no extensions, signed with SHA-256 by `key`: the issuer
// chooses the subject and SAN from the node URL, so the node asks for nothing.
Result<std::string> make_csr_pem(EVP_PKEY* key);
// Parses a PEM CSR and checks its self-signature; invalid_argument with a reason otherwise.
Result<X509ReqPtr> parse_csr_pem(std::string_view pem);

}  // namespace meshcache::tls
