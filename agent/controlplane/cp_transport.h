// cp_transport.h: outbound HTTPS to the control plane, the only way the node talks to it.
// post_*() and schedule() may be called from any thread; every callback runs on the transport's
// own thread (libcurl multi), which must never block.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace meshcache::agent::cp {

struct CpReply {
  long status = 0;    // HTTP status; 0 when no response arrived (see error)
  std::string body;   // bounded (1 MiB); a longer body is an error
  std::string error;  // transport failure for people and logs (never holds a secret)
  std::chrono::milliseconds elapsed{0};
};

struct CpTransportOptions {
  std::string base_url;  // e.g. https://tuist.dev (no trailing slash needed)
  std::string client_id;
  std::string client_secret;           // never logged, never in an error string
  std::optional<std::string> ca_path;  // extra CA bundle trusted besides the system store
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds request_timeout{10000};
  // post_form() is introspection, which a client's request waits on: Kura's auth limits.
  std::chrono::milliseconds form_connect_timeout{500};
  std::chrono::milliseconds form_request_timeout{1500};
  // Runs on the transport thread after every call, before its callback: whether an HTTP
  // answer arrived (status shows the control plane's reachability from it).
  std::function<void(bool answered)> on_reply;
};

class CpTransport {
 public:
  virtual ~CpTransport() = default;
  // POST `json` to base_url + path with `Authorization: Basic base64(id:secret)`.
  virtual void post_json(std::string path, std::string json, std::function<void(CpReply)> done) = 0;
  // POST an application/x-www-form-urlencoded body (fields are encoded here) with no
  // Authorization header: introspection sends the credential as fields (client_secret_post).
  virtual void post_form(std::string path, std::map<std::string, std::string> fields,
                         std::function<void(CpReply)> done) = 0;
  // Runs `task` on the transport thread after `delay`.
  virtual void schedule(std::chrono::milliseconds delay, std::function<void()> task) = 0;
  // Stops the thread: requests in flight are cancelled and their callbacks never run; tasks
  // not yet run are dropped, and so are calls made after stop(). Idempotent; the destructor
  // calls it. Called from a callback (the transport thread), it returns at once and the thread
  // ends after that callback; another thread's stop() or the destructor then joins it.
  virtual void stop() = 0;

  // Starts the thread. Throws std::runtime_error at startup when libcurl cannot be set up.
  static std::unique_ptr<CpTransport> start(CpTransportOptions options);
};

}  // namespace meshcache::agent::cp
