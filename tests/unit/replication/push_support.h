// push_support.h: fixtures of the push worker tests: a fake peer serving the internal routes on
// a real http::Server (cleartext, or mTLS), recording every request and answering from
// per-route scripts; a store in a temp dir; a test mesh CA. Handlers run on the server's I/O
// thread, everything else on the test thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/http/server.h"
#include "replication/push_worker.h"
#include "replication/replication_metrics.h"
#include "storage/store.h"
#include "tests/unit/temp_dir.h"
#include "tls/authority.h"
#include "tls/identity.h"

namespace meshcache::replication::test {

using ::meshcache::testutil::TempDir;

using namespace std::chrono_literals;

struct PeerRequest {
  std::string method;
  std::string path;
  std::string query;  // raw, as sent
  std::string body;
  std::string content_type;
  std::optional<uint64_t> content_length;
  http::Protocol protocol = http::Protocol::http1;
  std::string param(const std::string& name) const;  // decoded; "<absent>" when not sent
};

struct PeerAnswer {
  int status = 204;
  std::string body;  // JSON when non-empty
};
using Script = std::function<PeerAnswer(const PeerRequest&)>;

// One CA and a leaf per name, written as identity files (ca.pem, tls.crt, tls.key).
class TestMesh {
 public:
  TestMesh();
  // Files of a fresh leaf for 127.0.0.1 under dir/name.
  tls::IdentityPaths identity(const std::string& name) const;
  tls::IdentityPem pem(const tls::IdentityPaths& paths) const;

 private:
  TempDir dir_;
  tls::Authority ca_;
};

class FakePeer {
 public:
  // Cleartext HTTP/1.1 when `mtls` is null; else an mTLS port (h2 and HTTP/1.1 by ALPN) whose
  // server identity is `mtls`, verifying clients against its CA.
  explicit FakePeer(std::string tenant = "acme",
                    std::optional<tls::IdentityPem> mtls = std::nullopt);
  ~FakePeer();

  std::string url() const { return url_; }
  // The node_url its /_internal/status advertises (its own URL unless set).
  void advertise(std::string node_url);
  // Replaces the answer of "METHOD /path" (defaults: status JSON; 204 for the replicate
  // routes; every batch item "applied").
  void on(const std::string& route, Script script);

  void stop();     // the port closes: connections are refused
  void restart();  // listens again on the same port

  std::vector<PeerRequest> requests(const std::string& path = "") const;
  size_t count(const std::string& path) const { return requests(path).size(); }
  // Waits until `pred` holds (re-checked on every request and every few milliseconds).
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s);

  // For the handlers.
  PeerAnswer answer(const PeerRequest& r);

 private:
  void listen(const std::string& address);

  std::string tenant_;
  std::optional<tls::IdentityPem> mtls_;
  std::string address_;
  std::string url_;
  std::unique_ptr<http::Server> server_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string advertised_;
  std::map<std::string, Script> scripts_;
  std::vector<PeerRequest> requests_;
};

// A store in a temp dir, plus client writes that commit rows for the given targets.
struct TestStore {
  TestStore();
  storage::ArtifactRef ref(const std::string& key, const std::string& ns = "proj",
                           const std::string& producer = "gradle") const;
  storage::Manifest put(const storage::ArtifactRef& ref, const std::string& bytes,
                        const std::vector<std::string>& targets,
                        const std::string& content_type = "application/octet-stream");
  // A replicated apply (origin replica): never enqueued.
  storage::Manifest apply(const storage::ArtifactRef& ref, const std::string& bytes,
                          int64_t version_ms);
  uint64_t depth(const std::string& target) const;

  TempDir dir;
  std::unique_ptr<storage::Store> store;
};

// A node's push side: its store, metrics and worker (tenant "acme"), and what first_round said.
struct PushNode {
  explicit PushNode(PushOptions options);
  ~PushNode();
  void start();
  std::vector<std::string> targets() const { return *worker->write_targets(); }
  // The worker's view of `url` (REQUIREs that it is a candidate).
  PeerStatus peer(const std::string& url) const;
  std::optional<std::vector<std::string>> first_round() const;
  int first_round_calls() const;
  uint64_t metric(const std::string& target, const std::string& outcome) const;

  TestStore s;
  ReplicationMetrics metrics;
  std::unique_ptr<PushWorker> worker;

 private:
  mutable std::mutex mu_;
  std::optional<std::vector<std::string>> first_round_;
  int first_round_calls_ = 0;
};

std::string bytes_of(size_t size, uint8_t seed);
// Waits for `pred` on the test thread (no server to wake it: re-checks every few ms).
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s);

}  // namespace meshcache::replication::test
