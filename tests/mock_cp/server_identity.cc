// server_identity.cc: the mock's server CA and leaf (main thread, at start).
#include "tests/mock_cp/server_identity.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "storage/status.h"
#include "tls/authority.h"
#include "tls/certificate.h"
#include "tls/key_pair.h"
#include "tls/secure_file.h"

namespace meshcache::mockcp {
namespace {

constexpr int64_t kLifetimeSeconds = 397LL * 24 * 3600;

template <typename T>
T check(Result<T> result, const char* what) {
  if (!result.ok()) throw std::runtime_error(std::string(what) + ": " + result.status().message());
  return std::move(result).value();
}

void check(const Status& status, const char* what) {
  if (!status.ok()) throw std::runtime_error(std::string(what) + ": " + status.message());
}

struct ExtensionFree {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

// issue_leaf() names one host; the mock answers on several names, so the leaf's SAN is replaced
// by the full list and the leaf signed again by the same CA.
std::string with_subject_alt_names(const tls::Authority& ca, const std::string& leaf_pem,
                                   const std::vector<std::string>& names) {
  tls::X509Ptr leaf = check(tls::parse_certificate_pem(leaf_pem), "parsing the server leaf");
  if (int at = X509_get_ext_by_NID(leaf.get(), NID_subject_alt_name, -1); at >= 0) {
    X509_EXTENSION_free(X509_delete_ext(leaf.get(), at));
  }
  std::string san;
  for (const auto& name : names) san += (san.empty() ? "" : ",") + tls::san_for_host(name);
  std::unique_ptr<X509_EXTENSION, ExtensionFree> ext(
      X509V3_EXT_nconf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str()));
  std::unique_ptr<BIO, BioFree> out(BIO_new(BIO_s_mem()));
  if (!ext || X509_add_ext(leaf.get(), ext.get(), -1) != 1 ||
      X509_sign(leaf.get(), ca.key.get(), EVP_sha256()) <= 0 || !out ||
      PEM_write_bio_X509(out.get(), leaf.get()) != 1) {
    throw std::runtime_error("cannot set the server leaf's names (" + san + ")");
  }
  char* data = nullptr;
  long length = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

}  // namespace

ServerIdentityFiles write_server_identity(const std::string& state_dir,
                                          const std::vector<std::string>& extra_names) {
  std::vector<std::string> names{"127.0.0.1", "localhost"};
  for (const auto& name : extra_names) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  tls::Authority ca =
      check(tls::create_authority("meshcache mock control plane CA", kLifetimeSeconds + 24 * 3600),
            "creating the server CA");
  tls::PkeyPtr key = check(tls::generate_p256_key(), "generating the server key");
  std::string leaf =
      with_subject_alt_names(ca,
                             check(tls::issue_leaf(ca, key.get(), names.front(), kLifetimeSeconds),
                                   "issuing the server leaf"),
                             names);

  std::filesystem::path dir(state_dir);
  ServerIdentityFiles files{(dir / "server-ca.pem").string(), (dir / "server.crt").string(),
                            (dir / "server.key").string()};
  check(
      tls::write_file_atomic(
          files.key_path, check(tls::private_key_pem(key.get()), "encoding the server key"), 0600),
      "writing server.key");
  check(tls::write_file_atomic(files.cert_path, leaf, 0644), "writing server.crt");
  check(tls::write_file_atomic(files.ca_path, ca.cert_pem, 0644), "writing server-ca.pem");
  return files;
}

}  // namespace meshcache::mockcp
