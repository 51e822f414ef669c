// control_plane_authorizer.cc: the `control-plane` client auth mode. check() and needs_lookup()
// run on every I/O loop thread and, for a cached token, cost one SHA-256 (shared through the
// request's RequestCredential) and one shard lock each; lookup() starts or joins the single
// introspection of a token, whose answer arrives on the control-plane client's thread.
//
// Fail closed: no token or an inactive one → 401, no grant → 403, no decision possible (control
// plane unreachable, this node's credential rejected, too many lookups) → 503 + Retry-After.
#include "agent/auth/control_plane_authorizer.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <optional>

#include "agent/auth/credentials.h"

namespace meshcache::agent {
namespace {

using Clock = DecisionCache::Clock;

// At most one line per interval, whichever thread gets there first.
class LogLimiter {
 public:
  bool due(Clock::time_point now) {
    int64_t at = now.time_since_epoch().count();
    int64_t next = next_.load(std::memory_order_relaxed);
    return at >= next && next_.compare_exchange_strong(
                             next, at + Clock::duration(std::chrono::minutes(1)).count());
  }

 private:
  std::atomic<int64_t> next_{0};
};

// What outlives the authorizer while an introspection is still out.
struct State {
  explicit State(const AuthCacheOptions& options) : cache(options) {}

  void answered(const DecisionCache::Key& key, const cp::Introspection& answer) {
    Clock::time_point now = Clock::now();
    using Outcome = cp::Introspection::Outcome;
    if (answer.outcome == Outcome::client_rejected && rejected_log.due(now)) {
      spdlog::error(
          "client auth: the control plane rejected this node's credential ({}); requests with "
          "uncached tokens get 503 until the credential is fixed",
          answer.detail);
    } else if (answer.outcome == Outcome::unreachable && unreachable_log.due(now)) {
      spdlog::warn(
          "client auth: token introspection failed ({}); cached tokens keep working, new ones "
          "get 503",
          answer.detail);
    }
    cache.finish(key, answer, now);
  }

  DecisionCache cache;
  LogLimiter rejected_log;
  LogLimiter unreachable_log;
};

class ControlPlaneAuthorizer final : public Authorizer {
 public:
  ControlPlaneAuthorizer(const AuthCacheOptions& options, cp::Introspector& introspector)
      : state_(std::make_shared<State>(options)),
        introspector_(introspector),
        retry_after_seconds_(
            static_cast<int>(std::max<int64_t>(1, (options.failure_hold.count() + 999) / 1000))) {}

  AuthDecision check(const http::Request& request, RequestCredential& credential,
                     std::string_view tenant, std::string_view ns, bool write) override {
    read_credential(request, credential);
    if (credential.state != RequestCredential::State::present) return {401, kCredentialRequired};
    using Kind = DecisionCache::Verdict::Kind;
    DecisionCache::Verdict verdict =
        state_->cache.decide(credential.sha256, tenant, ns, write, Clock::now());
    switch (verdict.kind) {
      case Kind::allowed:
        return {};
      case Kind::no_grant:
        return {403, fmt::format("the token has no {} grant for {}{}{}", write ? "write" : "read",
                                 tenant, ns.empty() ? "" : "/", ns)};
      case Kind::inactive:
        return {401, "the token is not active (unknown, expired or revoked)"};
      case Kind::failed:
      case Kind::unknown:
        break;
    }
    const char* message =
        verdict.failure == DecisionCache::Failure::client_rejected
            ? "the control plane does not accept this node's credential, so tokens cannot be "
              "checked"
        : verdict.failure == DecisionCache::Failure::busy
            ? "too many tokens are being checked at once; retry shortly"
            : "the control plane cannot be reached to check this token";
    return {503, message, retry_after_seconds_};
  }

  std::string_view mode() const override { return "control-plane"; }

  bool needs_lookup(const http::Request& request, RequestCredential& credential) override {
    read_credential(request, credential);
    return credential.state == RequestCredential::State::present &&
           !state_->cache.decidable(credential.sha256, Clock::now());
  }

  void lookup(const http::Request& request, std::function<void()> ready) override {
    RequestCredential credential;
    read_credential(request, credential);
    if (credential.state != RequestCredential::State::present) {
      ready();  // check() answers 401
      return;
    }
    if (!state_->cache.join(credential.sha256, std::move(ready), Clock::now())) return;
    std::optional<std::string> token = presented_token(request);
    introspector_.introspect(std::move(*token),
                             [state = state_, key = credential.sha256](cp::Introspection answer) {
                               state->answered(key, answer);
                             });
  }

  size_t cached_decisions() const override { return state_->cache.decisions(); }

 private:
  std::shared_ptr<State> state_;
  cp::Introspector& introspector_;
  const int retry_after_seconds_;
};

}  // namespace

std::unique_ptr<Authorizer> make_control_plane_authorizer(const AuthCacheOptions& options,
                                                          cp::Introspector& introspector) {
  return std::make_unique<ControlPlaneAuthorizer>(options, introspector);
}

}  // namespace meshcache::agent
