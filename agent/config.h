// config.h: the node's whole configuration, filled by the CLI (flags and MESHCACHE_* env vars)
// and read by every part of the agent. Built on the main thread at startup; read-only after.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace meshcache::agent {

enum class AuthMode { none, tokens, control_plane };
enum class LogFormat { text, json };

struct Config {
  std::string listen = "127.0.0.1:4000";        // MESHCACHE_LISTEN
  std::optional<std::string> tls_listen;        // MESHCACHE_TLS_LISTEN
  std::optional<std::string> tls_cert_path;     // MESHCACHE_TLS_CERT_PATH
  std::optional<std::string> tls_key_path;      // MESHCACHE_TLS_KEY_PATH
  std::string data_dir;                         // MESHCACHE_DATA_DIR (default resolved by the CLI)
  std::string tenant_id = "default";            // MESHCACHE_TENANT_ID
  std::string region = "local";                 // MESHCACHE_REGION
  std::optional<std::string> node_url;          // MESHCACHE_NODE_URL
  std::optional<std::string> advertised_url;    // MESHCACHE_ADVERTISED_URL
  AuthMode auth = AuthMode::none;               // MESHCACHE_AUTH
  std::optional<std::string> auth_tokens_file;  // MESHCACHE_AUTH_TOKENS_FILE
  // How long a control-plane allow decision is used before asking again (a revoked token stops
  // working within it). MESHCACHE_AUTH_CACHE_TTL_MS
  std::chrono::milliseconds auth_cache_ttl{600000};

  // Control plane (enrollment, leases, usage, introspection).
  bool enroll_on_boot = false;                         // MESHCACHE_ENROLL_ON_BOOT
  std::optional<std::string> control_plane_url;        // MESHCACHE_CONTROL_PLANE_URL
  std::optional<std::string> control_plane_client_id;  // MESHCACHE_CONTROL_PLANE_CLIENT_ID
  // MESHCACHE_CONTROL_PLANE_CLIENT_SECRET, _FILE, or $CREDENTIALS_DIRECTORY/
  // meshcache-control-plane-client-secret. A secret: never logged or shown.
  std::optional<std::string> control_plane_client_secret;
  std::optional<std::string> control_plane_ca_path;        // MESHCACHE_CONTROL_PLANE_CA_PATH
  std::chrono::milliseconds registration_interval{60000};  // MESHCACHE_REGISTRATION_INTERVAL_MS
  // MESHCACHE_INTERNAL_TLS_{CA_CERT,CERT,KEY}_PATH: all three or none (then DATA_DIR/tls/).
  std::optional<std::string> internal_tls_ca_path;
  std::optional<std::string> internal_tls_cert_path;
  std::optional<std::string> internal_tls_key_path;
  // The mesh (issue 4): the internal peer plane, static peers, the gateway this node stands for.
  std::optional<std::string> internal_listen;   // MESHCACHE_INTERNAL_LISTEN; unset = outbound-only
  std::optional<std::string> peer_gateway_url;  // MESHCACHE_PEER_GATEWAY_URL
  std::vector<std::string> peers;               // MESHCACHE_PEERS
  uint64_t max_outbox_rows = 1'000'000;         // MESHCACHE_MAX_OUTBOX_ROWS
  std::chrono::milliseconds warmup_horizon{0};  // MESHCACHE_WARMUP_HORIZON_MS (0 = capacity)
  std::chrono::milliseconds warmup_absence{3'600'000};  // MESHCACHE_WARMUP_ABSENCE_MS
  uint64_t capacity_bytes = 0;                     // MESHCACHE_CAPACITY_BYTES (resolved: 50% of fs)
  uint64_t max_artifact_bytes = 2ull << 30;        // MESHCACHE_MAX_ARTIFACT_BYTES
  int io_threads = 0;                              // MESHCACHE_IO_THREADS (0 = cores)
  bool fsync = false;                              // MESHCACHE_FSYNC
  std::chrono::milliseconds drain_timeout{30000};  // MESHCACHE_DRAIN_TIMEOUT_MS
  LogFormat log_format = LogFormat::text;          // MESHCACHE_LOG_FORMAT
  std::string log_level = "info";                  // MESHCACHE_LOG_LEVEL
};

}  // namespace meshcache::agent
