// fake_control_plane.h: an in-process control plane over HTTPS (the project's own server) that
// answers from per-path scripts and records every request, plus waiting helpers for the
// controlplane tests (scripts run on the server's I/O threads; the rest on the test thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/http/server.h"
#include "tests/unit/temp_dir.h"
#include "tls/authority.h"

namespace meshcache::agent::cp::test {

using namespace std::chrono_literals;
using Json = nlohmann::json;

struct Recorded {
  std::string path;
  std::string body;
  std::string authorization;  // "" when absent
  std::string content_type;
  Json json() const { return Json::parse(body, nullptr, false); }
};

struct Answer {
  int status = 200;
  std::string body;
  bool never = false;  // keep the request open and never answer
};

using ::meshcache::testutil::TempDir;

class FakeControlPlane {
 public:
  FakeControlPlane();
  ~FakeControlPlane();

  std::string url() const { return url_; }
  // The CA that signed the server's certificate (a client must trust it explicitly).
  std::string server_ca_path() const { return dir_.path() + "/server-ca.pem"; }

  // Answers requests to `path` with `script` (the default answer is 404).
  void on(const std::string& path, std::function<Answer(const Recorded&)> script);
  // Answers the requests to `path` with `answers` in order, repeating the last one.
  void sequence(const std::string& path,
                std::vector<std::function<Answer(const Recorded&)>> answers);

  std::vector<Recorded> requests(const std::string& path) const;
  std::vector<Recorded> all_requests() const;
  // Waits until `path` has received at least `n` requests.
  bool wait_requests(const std::string& path, size_t n, std::chrono::milliseconds limit = 10s);

  // A 201 enrollment answer for an enroll request: the CSR signed by the mesh CA (or `ca`),
  // with `fields` merged over the defaults.
  Answer enrolled(const Recorded& request, int64_t lifetime_seconds, Json fields = Json::object(),
                  const tls::Authority* ca = nullptr) const;
  const tls::Authority& mesh_ca() const { return mesh_ca_; }

  void record(Recorded r);
  std::function<Answer(const Recorded&)> script_for(const std::string& path) const;

 private:
  TempDir dir_;
  tls::Authority server_ca_;
  tls::Authority mesh_ca_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::function<Answer(const Recorded&)>> scripts_;
  std::vector<Recorded> requests_;
};

// Answers that need no request.
Answer json_answer(int status, const Json& body);
Answer never_answer();
std::function<Answer(const Recorded&)> fixed(int status, const Json& body);

// Waits (on a condition variable, woken by notify() or every few milliseconds) until `pred`
// holds or `limit` passes; returns whether it holds.
class Waiter {
 public:
  template <typename Pred>
  bool until(Pred pred, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mu_);
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      cv_.wait_for(lock, 10ms);
    }
    return true;
  }
  // Runs `read` under the lock (what hooks write is read this way).
  template <typename F>
  auto with(F&& read) {
    std::lock_guard lock(mu_);
    return read();
  }
  // Runs `change` under the lock and wakes waiters. Notifying under the lock lets a waiter
  // destroy the Waiter as soon as it sees the change.
  template <typename F>
  void notify(F&& change) {
    std::lock_guard lock(mu_);
    change();
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace meshcache::agent::cp::test
