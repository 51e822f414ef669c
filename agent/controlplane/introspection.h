// introspection.h: what the control plane says about a client's token (RFC 7662 with Tuist's
// cache_grants). The Introspector is called from I/O loop threads; `done` runs on whatever
// thread the answer arrives on (the transport's).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace meshcache::agent::cp {

struct CacheGrants {
  std::vector<std::string> account_read;  // account handles
  std::vector<std::string> account_write;
  std::vector<std::string> project_read;  // "handle/project"
  std::vector<std::string> project_write;
};

struct Introspection {
  enum class Outcome {
    active,           // 200 {"active":true,...}: grants hold what it may do
    inactive,         // 200 {"active":false}: unknown, expired or revoked token
    client_rejected,  // 401 invalid_client: the node's own credential is wrong or revoked
    unreachable,      // no usable answer: network error, timeout, 5xx, malformed body
  };
  Outcome outcome = Outcome::unreachable;
  CacheGrants grants;
  std::string detail;  // for logs; never contains the token or the secret
};

class Introspector {
 public:
  virtual ~Introspector() = default;
  virtual void introspect(std::string token, std::function<void(Introspection)> done) = 0;
};

// Parses an introspection reply (exposed for tests): status 200 with a JSON object.
Introspection parse_introspection(long status, const std::string& body);

}  // namespace meshcache::agent::cp
