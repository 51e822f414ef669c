// csr.cc: building and checking PKCS#10 requests (node: build; mock control plane: check).
#include "tls/csr.h"

#include <openssl/pem.h>

#include "tls/openssl_util.h"

namespace meshcache::tls {

Result<std::string> make_csr_pem(EVP_PKEY* key) {
  X509ReqPtr req(X509_REQ_new());
  // Version 1 (value 0) is the only PKCS#10 version; the subject stays empty.
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1)
    return openssl_failure(Code::internal, "cannot build the CSR");
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0)
    return openssl_failure(Code::internal, "cannot sign the CSR");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1)
    return openssl_failure(Code::internal, "cannot encode the CSR");
  return bio_contents(bio.get());
}

Result<X509ReqPtr> parse_csr_pem(std::string_view pem) {
  BioPtr bio = memory_bio(pem);
  if (!bio) return openssl_failure(Code::internal, "CSR");
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return openssl_failure(Code::invalid_argument, "not a PEM certificate request");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (!key) return openssl_failure(Code::invalid_argument, "the CSR has no usable public key");
  if (X509_REQ_verify(req.get(), key) != 1)
    return openssl_failure(Code::invalid_argument, "the CSR's signature does not verify");
  return req;
}

}  // namespace meshcache::tls
