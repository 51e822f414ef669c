// key_pair.cc: ECDSA P-256 key generation and PKCS#8 PEM (control-plane thread, CLI).
#include "tls/key_pair.h"

#include <openssl/pem.h>

#include "tls/openssl_util.h"

namespace meshcache::tls {
namespace {

// Without a callback OpenSSL would prompt on the terminal for an encrypted key; a node has no
// one to answer, so an encrypted key simply fails to load.
int no_passphrase(char*, int, int, void*) noexcept { return -1; }

}  // namespace

Result<PkeyPtr> generate_p256_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return openssl_failure(Code::internal, "cannot generate a P-256 key");
  return key;
}

Result<std::string> private_key_pem(const EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // OpenSSL 3 writes PKCS#8 ("BEGIN PRIVATE KEY") for every key type here.
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return openssl_failure(Code::internal, "cannot encode the private key");
  return bio_contents(bio.get());
}

Result<PkeyPtr> parse_private_key_pem(std::string_view pem) {
  BioPtr bio = memory_bio(pem);
  if (!bio) return openssl_failure(Code::internal, "private key");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) return openssl_failure(Code::invalid_argument, "not an unencrypted PEM private key");
  return key;
}

}  // namespace meshcache::tls
