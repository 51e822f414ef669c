// authorizer.h: decides whether a request may read or write a (tenant, namespace).
// Built at startup on the main thread (throws on a bad tokens file); check() runs on the I/O
// loop threads and must be cheap and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "agent/config.h"
#include "agent/http/exchange.h"

namespace meshcache::agent {

struct AuthDecision {
  int status = 0;       // 0 = allowed; else 401, 403 or 503
  std::string message;  // for the JSON error body; never contains the token
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual AuthDecision check(const http::Request& request, std::string_view tenant,
                             std::string_view ns, bool write) = 0;
  virtual std::string_view mode() const = 0;  // "none", "tokens"
  // none: refused unless every listener binds loopback; tokens: loads the file.
  static std::unique_ptr<Authorizer> make(const Config& config);
};

}  // namespace meshcache::agent
