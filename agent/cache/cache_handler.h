// cache_handler.h: the base of every public-port handler: it answers once, times the request,
// counts it in Metrics and applies the Authorizer. Runs on the I/O loop thread of its connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/cache/cache_router.h"
#include "agent/http/exchange.h"

namespace meshcache::agent::cache {

inline constexpr std::string_view kOctetStream = "application/octet-stream";
inline constexpr std::string_view kJson = "application/json";

// The metric labels of the public port (Metrics knows the same fixed list).
namespace route {
inline constexpr std::string_view bazel_ac = "bazel_ac";
inline constexpr std::string_view bazel_cas = "bazel_cas";
inline constexpr std::string_view ccache = "ccache";
inline constexpr std::string_view gradle = "gradle";
inline constexpr std::string_view turbo_artifact = "turbo_artifact";
inline constexpr std::string_view turbo_status = "turbo_status";
inline constexpr std::string_view turbo_events = "turbo_events";
inline constexpr std::string_view nx = "nx";
inline constexpr std::string_view xcode_cas = "xcode_cas";
inline constexpr std::string_view xcode_keyvalue = "xcode_keyvalue";
inline constexpr std::string_view module = "module";
inline constexpr std::string_view module_upload = "module_upload";
inline constexpr std::string_view metro = "metro";
inline constexpr std::string_view probe = "probe";
inline constexpr std::string_view namespace_delete = "namespace_delete";
inline constexpr std::string_view not_found = "not_found";
}  // namespace route

// The server's callbacks are wrapped so that a subclass sees nothing after it has answered
// (a body that keeps arriving after an early 413 is simply dropped), and so that a request
// whose token must first be checked with the control plane reaches start() only once the
// answer is in: meanwhile the body is paused and what still arrives is held back.
class CacheHandler : public http::Handler {
 public:
  CacheHandler(const CacheContext& ctx, std::string_view route);

  void on_request(http::Exchange& ex) final;
  void on_body(http::Exchange& ex, std::span<const uint8_t> bytes) final;
  void on_complete(http::Exchange& ex) final;
  void on_abort() final;

  // Answer once; later calls are ignored. Public so the shared GET/PUT pieces can answer for
  // whichever handler uses them.
  void respond(http::Exchange& ex, http::Response response,
               std::unique_ptr<http::BodySource> body = nullptr);
  // A status with no body (content-length: 0).
  void respond_empty(http::Exchange& ex, int status);
  // HEAD gets the status and headers without the body.
  void respond_json(http::Exchange& ex, int status, std::string json,
                    std::vector<http::Header> headers = {});
  // {"error": code, "message": message}
  void respond_error(http::Exchange& ex, int status, std::string_view code,
                     std::string_view message);
  // Maps a storage error (see http_error); 5xx details go to the log, not to the client.
  void respond_status(http::Exchange& ex, const Status& status, int digest_mismatch_status = 400);
  void respond_method_not_allowed(http::Exchange& ex, std::string_view allow);
  // False when it has answered 401/403/503 for the caller.
  bool authorize(http::Exchange& ex, std::string_view ns, bool write);
  // True once answered or aborted: the exchange must not be touched any more.
  bool answered() const { return answered_; }
  const CacheContext& context() const { return ctx_; }
  // A client write owes one copy to each mesh target: outbox rows committed with it. Call on
  // the options before the write begins, and wake the pusher once it has committed.
  void owe_copies(storage::WriteOptions& options) const;
  void copies_owed() const;

 protected:
  virtual void start(http::Exchange& ex) = 0;
  virtual void body(http::Exchange& ex, std::span<const uint8_t> bytes) {}
  virtual void complete(http::Exchange& ex) {}
  // False for what answers without a client token and while the node enrolls (probes, fixed
  // errors such as 404).
  virtual bool serves_cache() const { return true; }

  const CacheContext& ctx_;

 private:
  // A request waiting for the control plane's answer about its token.
  struct AuthWait {
    std::string body;  // bytes that arrived before the pause took hold
    bool completed = false;
  };

  void wait_for_auth(http::Exchange& ex);
  void resume_after_auth(http::Exchange& ex);

  std::string_view route_;
  std::string_view method_ = "OTHER";  // a static literal: still valid in on_abort
  std::chrono::steady_clock::time_point started_;
  uint64_t bytes_in_ = 0;
  bool answered_ = false;
  // The namespace authorize() was asked about: the request's usage is counted under it.
  std::optional<std::string> usage_ns_;
  RequestCredential credential_;
  // Set while waiting; the resume task holds a weak_ptr to it, so resetting it (abort,
  // destruction) cancels the resume.
  std::shared_ptr<AuthWait> auth_wait_;
};

// Answers every request with one fixed error (bad paths, unknown routes, wrong methods).
std::unique_ptr<http::Handler> make_error_handler(const CacheContext& ctx, std::string_view route,
                                                  int status, std::string_view code,
                                                  std::string message, std::string_view allow = {});

}  // namespace meshcache::agent::cache
