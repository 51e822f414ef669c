// server_identity.h: the mock's own HTTPS identity: a throwaway server CA and a leaf for
// 127.0.0.1, localhost and any extra names, written to the state directory so clients can trust
// the CA. Main thread, at start.
#pragma once

#include <string>
#include <vector>

namespace meshcache::mockcp {

struct ServerIdentityFiles {
  std::string ca_path;    // server-ca.pem: what clients pass as --cacert / ..._CA_PATH
  std::string cert_path;  // server.crt
  std::string key_path;   // server.key (0600)
};

// Throws std::runtime_error (startup only).
ServerIdentityFiles write_server_identity(const std::string& state_dir,
                                          const std::vector<std::string>& extra_names);

}  // namespace meshcache::mockcp
