// internal_support.h: fixtures for the internal-plane tests: a node's internal router on a real
// http::Server (127.0.0.1:0) over a real store in a temp dir, a libcurl client, raw sockets, and
// an independent decoder of backfill frames (test thread; the server runs its own loops).
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/http/server.h"
#include "replication/internal_router.h"
#include "replication/replication_metrics.h"
#include "replication/task_thread.h"
#include "storage/store.h"
#include "tests/unit/http/raw_socket.h"
#include "tests/unit/temp_dir.h"

namespace meshcache::replication::test {

using ::meshcache::testutil::TempDir;

struct NodeOptions {
  std::string region = "eu-west";
  std::string node_url = "https://node-a.internal:7443";
  std::string gateway_url;
  uint64_t max_artifact_bytes = 64ull << 20;
  // Set: the internal port is TLS only, with this context source (mTLS).
  http::TlsContextSource tls_context;
};

// One node's internal plane. Tenant "acme"; joined unless the test says otherwise.
class InternalNode {
 public:
  explicit InternalNode(NodeOptions options = {});
  ~InternalNode();

  std::string url(std::string_view path_and_query) const;  // http(s)://127.0.0.1:port + path
  std::string address() const;                             // 127.0.0.1:port
  storage::Store& store() { return *store_; }
  // How many applies ended with `outcome`, from the rendered metrics.
  uint64_t applies(std::string_view outcome) const;
  storage::ArtifactRef ref(std::string producer, std::string ns, std::string key) const;
  // Stores `body` directly at `version_ms` (as a replica would be), bypassing HTTP.
  storage::Manifest put(const storage::ArtifactRef& ref, std::string_view body, int64_t version_ms,
                        std::string content_type = "application/octet-stream");
  std::optional<storage::Manifest> head(const storage::ArtifactRef& ref);
  std::string read(const storage::Manifest& m);

  std::atomic<bool> joined{true};
  std::string tenant = "acme";
  ReplicationMetrics metrics;

 private:
  TempDir dir_;
  std::unique_ptr<storage::Store> store_;
  TaskThread background_;
  std::unique_ptr<http::Server> server_;
  bool tls_ = false;
};

struct Reply {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  std::string error;  // transfer failure (curl's message)
};

struct Call {
  std::string method = "GET";
  std::string url;
  std::optional<std::string> body;
  std::vector<std::string> headers;  // "Name: value"
  bool chunked = false;              // send the body without a Content-Length
  bool h2 = false;                   // h2c prior knowledge, or h2 by ALPN over TLS
  // TLS: trust this CA file and present this certificate.
  std::string ca_path, cert_path, key_path;
};
Call request(std::string method, std::string url, std::optional<std::string> body = {});
Reply call(const Call& c);

// Raw sockets for what curl will not do (a head without its body).
using meshcache::testutil::connect_to;
using meshcache::testutil::send_all;
// Reads one HTTP/1.1 response (status, headers, Content-Length body); status 0 when the
// connection closed first.
Reply read_response(int fd);

// An independent reading of Kura's backfill frames: 22-byte big-endian header, id, meta, body.
struct Frame {
  uint8_t kind = 0;
  uint8_t disposition = 0;
  uint64_t version_ms = 0;
  std::string id;
  std::string meta;
  std::string body;
};
// Every frame of `bytes`; fails the test on trailing or truncated bytes.
std::vector<Frame> decode_frames(std::string_view bytes);

}  // namespace meshcache::replication::test
