// warmup_support.h: a fake backfill peer on the project's own HTTP server (scripts run on its
// I/O thread), the artifacts it serves, and a store and waiting helpers for the warm-up tests
// (test thread).
#pragma once

#include <atomic>
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

#include "agent/http/server.h"
#include "replication/replication_metrics.h"
#include "replication/task_thread.h"
#include "replication/warmup.h"
#include "replication/wire.h"
#include "storage/store.h"
#include "tests/unit/temp_dir.h"
#include "tls/identity.h"

namespace meshcache::replication::test {

using ::meshcache::testutil::TempDir;

using namespace std::chrono_literals;

inline const std::string kTenant = "acme";
inline constexpr std::string_view kListing = "/_internal/backfill/entries";
inline constexpr std::string_view kBodies = "/_internal/backfill/bodies";
inline constexpr std::string_view kArtifacts = "/_internal/backfill/artifacts/";

struct PeerRequest {
  std::string method;
  std::string path;  // percent-decoded
  std::string raw_path;
  std::string query;
  std::string body;
  http::Protocol protocol = http::Protocol::http1;
  std::chrono::steady_clock::time_point at;  // when it was answered
  std::optional<std::string> param(const std::string& name) const;
};

struct PeerAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<http::Header> headers;
  bool never = false;  // keep the request open, never answer
};
using Script = std::function<PeerAnswer(const PeerRequest&)>;

// One record a fake peer holds: an artifact (segment or inline) or a namespace tombstone.
struct Item {
  storage::BackfillKind kind = storage::BackfillKind::segment;
  wire::ArtifactMeta meta;  // for a tombstone only namespace_id counts
  std::string body;
  int64_t version_ms = 0;
  std::optional<uint64_t> listed_size;  // what the listing says; body.size() by default
  // How the bodies route answers for it.
  wire::Disposition disposition = wire::Disposition::present;

  std::string record_id() const;  // the artifact id under kTenant, or the namespace
  uint64_t size() const { return listed_size.value_or(body.size()); }
};
Item artifact(const std::string& key, std::string body, int64_t version_ms,
              const std::string& ns = "proj");
Item tombstone(const std::string& ns, int64_t version_ms);

// `n` bytes derived from `seed`.
std::string bytes_of(size_t n, uint8_t seed);

// Frames built with wire.h's encoders.
std::string present_frame(const Item& item);
std::string empty_frame(wire::Disposition d, const std::string& record_id, uint8_t kind,
                        int64_t version_ms);

class FakePeer {
 public:
  // Plain HTTP/1.1 and h2c, or with `tls` mTLS (ALPN h2, http/1.1) under a fresh CA, which also
  // signs the client identity the node must present.
  explicit FakePeer(bool tls = false);
  ~FakePeer();
  std::string url() const { return url_; }
  const tls::IdentityPaths& client_identity() const { return client_identity_; }

  // Answers requests to `path` (or, for paths under kArtifacts, to kArtifacts) with `script`.
  // Unscripted paths get 404.
  void on(std::string_view path, Script script);
  void sequence(std::string_view path, std::vector<Script> scripts);  // the last one repeats
  // Serves `items` (newest first) as a Kura peer would: listing pages of `page` entries with
  // opaque upper-case hex cursors, bodies batches, single artifacts.
  void serve(std::vector<Item> items, size_t page = 2048);

  std::vector<PeerRequest> requests(std::string_view path) const;
  bool wait_requests(std::string_view path, size_t n, std::chrono::milliseconds limit = 10s);
  // The most requests to `path` that were in flight at once.
  int max_in_flight(std::string_view path) const;

  // Internal (called by the handlers).
  Script script_for(const std::string& path) const;
  void started(const PeerRequest& r);
  void ended(const std::string& key);

 private:
  TempDir dir_;
  tls::IdentityPaths client_identity_;
  std::unique_ptr<http::Server> server_;
  std::string url_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Script, std::less<>> scripts_;
  std::vector<PeerRequest> requests_;
  std::map<std::string, int, std::less<>> in_flight_, max_in_flight_;
};

// Scripts of a Kura-like peer over `items`.
Script listing_script(std::shared_ptr<const std::vector<Item>> items, size_t page);
Script bodies_script(std::shared_ptr<const std::vector<Item>> items);
Script artifact_script(std::shared_ptr<const std::vector<Item>> items);
PeerAnswer json_answer(int status, const std::string& json);

// A store in a temporary directory.
struct TestStore {
  TempDir dir;
  std::unique_ptr<storage::Store> store;
  explicit TestStore(uint64_t chunk_bytes = 256 * 1024);
  // The body stored for `item` under kTenant, or nullopt.
  std::optional<std::string> body_of(const Item& item);
  std::optional<storage::Manifest> manifest_of(const Item& item);
  // Stores `item` as a replicated apply at its version would.
  void put(const Item& item);
};

// Counts settled() calls and waits for them.
class Settled {
 public:
  std::function<void()> callback();
  bool wait(std::chrono::milliseconds limit = 20s);
  int count() const { return count_.load(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int> count_{0};
};

// A meshcache peer: a store behind the internal router (the real backfill routes) on a plain
// listener.
class RouterPeer {
 public:
  RouterPeer();
  ~RouterPeer();
  std::string url() const { return "http://" + server_->listen_address(); }

  TestStore source;

 private:
  ReplicationMetrics metrics_;
  TaskThread tasks_;
  std::unique_ptr<http::Server> server_;
};

// A node warming up: its store, metrics and the WarmUp under test.
struct Node {
  TestStore local;
  ReplicationMetrics metrics;
  Settled settled;
  std::unique_ptr<WarmUp> warmup;  // last: stopped before the rest goes

  void start(std::vector<std::string> peers, WarmupOptions options = {});
  // Waits for settled() (the test fails if it never comes) and returns the status.
  WarmupStatus settle(std::chrono::milliseconds limit = 20s);
  uint64_t applies(std::string_view outcome) const;  // from the rendered metrics
};

}  // namespace meshcache::replication::test
