// key_pair.h: the node's own ECDSA P-256 key, made on the node and never sent anywhere
// (control-plane thread, CLI).
#pragma once

#include <string>
#include <string_view>

#include "storage/status.h"
#include "tls/openssl_handles.h"

namespace meshcache::tls {

// A fresh ECDSA key on the P-256 curve (secp256r1).
Result<PkeyPtr> generate_p256_key();
// PKCS#8 PEM ("BEGIN PRIVATE KEY"), unencrypted: it is written at 0600 and nowhere else.
Result<std::string> private_key_pem(const EVP_PKEY* key);
Result<PkeyPtr> parse_private_key_pem(std::string_view pem);

}  // namespace meshcache::tls
