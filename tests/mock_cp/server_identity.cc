// server_identity.cc: the mock's server CA and leaf (main thread, at start).
#include "tests/mock_cp/server_identity.h"

#include <filesystem>
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

}  // namespace

ServerIdentityFiles write_server_identity(const std::string& state_dir,
                                          const std::vector<std::string>& extra_names) {
  // issue_leaf() drops the names given twice.
  std::vector<std::string> names{"localhost"};
  names.insert(names.end(), extra_names.begin(), extra_names.end());
  tls::Authority ca =
      check(tls::create_authority("meshcache mock control plane CA", kLifetimeSeconds + 24 * 3600),
            "creating the server CA");
  tls::PkeyPtr key = check(tls::generate_p256_key(), "generating the server key");
  std::string leaf = check(tls::issue_leaf(ca, key.get(), "127.0.0.1", kLifetimeSeconds, names),
                           "issuing the server leaf");

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
