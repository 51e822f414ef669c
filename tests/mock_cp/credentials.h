// credentials.h: self-hosted client credentials ("cache_..." ids), stored the way the real
// control plane stores them: a salted hash and the last four characters, never the secret.
// Loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "storage/status.h"
#include "tests/mock_cp/wire.h"

namespace meshcache::mockcp {

struct IssuedCredential {
  std::string client_id;
  std::string client_secret;  // shown once, to the caller of issue()
};

class Credentials {
 public:
  // A new credential for `tenant` (its display name). invalid_argument for a blank name, one
  // over 64 characters or with a line break; conflict for a name the tenant already uses.
  Result<IssuedCredential> issue(std::string_view tenant, std::string_view name);
  bool revoke(std::string_view client_id);
  // The tenant of a valid credential, or nullopt. An unknown id costs a hash and a compare
  // too, so timing does not tell which ids exist.
  std::optional<std::string> verify(std::string_view client_id, std::string_view secret);
  // Every credential without anything secret: id, tenant, name, last four, timestamps.
  json describe() const;

 private:
  using Digest = std::array<uint8_t, 32>;
  struct Credential {
    std::string tenant;
    std::string name;
    std::array<uint8_t, 16> salt{};
    Digest hash{};
    std::string last_four;
    int64_t created_at_ms = 0;
    int64_t last_used_at_ms = 0;
  };
  static Digest hash_secret(const std::array<uint8_t, 16>& salt, std::string_view secret);

  std::map<std::string, Credential, std::less<>> by_id_;
};

}  // namespace meshcache::mockcp
