// tokens.h: client tokens with cache grants, and the tenant-scoped introspection answer the real
// control plane gives a self-hosted credential. Loop thread only (loaded on main at start).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"
#include "tests/mock_cp/wire.h"

namespace meshcache::mockcp {

struct Grants {
  std::vector<std::string> account_read;  // account handles
  std::vector<std::string> account_write;
  std::vector<std::string> project_read;  // "handle/project"
  std::vector<std::string> project_write;

  // {"account":{"read":[..],"write":[..]},"project":{...}}; every part optional.
  static Result<Grants> from_json(const json& doc);
  json to_json() const;
  bool empty() const;
};

class Tokens {
 public:
  // Adds `token` (a random one when absent) with `grants`; returns the token. conflict when the
  // token exists already.
  Result<std::string> add(std::optional<std::string> token, Grants grants, std::string subject);
  bool revoke(std::string_view token);
  // {"tokens":[{"token", "grants", "sub"?}]}, as --tokens-file holds it.
  Status load(const json& doc);
  // The introspection answer for a credential of `tenant`: grants narrowed to the tenant
  // (account grants equal to it, project grants under "tenant/", case-insensitively); inactive
  // when the token is unknown or nothing is left. `issuer` is the mock's own URL.
  json introspect(std::string_view token, std::string_view tenant, std::string_view issuer) const;

 private:
  struct Token {
    Grants grants;
    std::string subject;
  };
  std::map<std::string, Token, std::less<>> tokens_;
};

}  // namespace meshcache::mockcp
