// authorizer.h: decides whether a request may read or write a (tenant, namespace).
// Built at startup on the main thread (throws on a bad tokens file); check() runs on the I/O
// loop threads and must be cheap and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "agent/config.h"
#include "agent/controlplane/introspection.h"
#include "agent/http/exchange.h"

namespace meshcache::agent {

struct AuthDecision {
  int status = 0;               // 0 = allowed; else 401, 403 or 503
  std::string message;          // for the JSON error body; never contains the token
  int retry_after_seconds = 0;  // > 0: sent as `retry-after` (503)
};

// A request's token as read from `Authorization`, kept by the caller for the request's life
// and passed to needs_lookup() and check(): the header is parsed and the token hashed once.
struct RequestCredential {
  enum class State : uint8_t { unread, absent, present };
  State state = State::unread;
  std::array<uint8_t, 32> sha256{};  // of the token, when present
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual AuthDecision check(const http::Request& request, RequestCredential& credential,
                             std::string_view tenant, std::string_view ns, bool write) = 0;
  // For callers without a per-request credential.
  AuthDecision check(const http::Request& request, std::string_view tenant, std::string_view ns,
                     bool write) {
    RequestCredential credential;
    return check(request, credential, tenant, ns, write);
  }
  virtual std::string_view mode() const = 0;  // "none", "tokens", "control-plane"
  // Whether check() can decide this request now. When it cannot (control-plane auth holding no
  // fresh decision for the token), the caller calls lookup() and then check() once `ready`
  // has run; `ready` may run on any thread, so the caller posts back to its own loop.
  virtual bool needs_lookup(const http::Request& request, RequestCredential& credential) {
    return false;
  }
  virtual void lookup(const http::Request& request, std::function<void()> ready) { ready(); }
  // Decisions held in the cache (status).
  virtual size_t cached_decisions() const { return 0; }
  // none: refused unless every listener binds loopback; tokens: loads the file;
  // control-plane: needs `introspector` (the node's control-plane client).
  static std::unique_ptr<Authorizer> make(const Config& config,
                                          cp::Introspector* introspector = nullptr);
};

}  // namespace meshcache::agent
