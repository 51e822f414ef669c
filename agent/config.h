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
  AuthMode auth = AuthMode::none;               // MESHCACHE_AUTH
  std::optional<std::string> auth_tokens_file;  // MESHCACHE_AUTH_TOKENS_FILE
  uint64_t capacity_bytes = 0;                  // MESHCACHE_CAPACITY_BYTES (resolved: 50% of fs)
  uint64_t max_artifact_bytes = 2ull << 30;     // MESHCACHE_MAX_ARTIFACT_BYTES
  int io_threads = 0;                           // MESHCACHE_IO_THREADS (0 = cores)
  bool fsync = false;                           // MESHCACHE_FSYNC
  std::chrono::milliseconds drain_timeout{30000};  // MESHCACHE_DRAIN_TIMEOUT_MS
  LogFormat log_format = LogFormat::text;          // MESHCACHE_LOG_FORMAT
  std::string log_level = "info";                  // MESHCACHE_LOG_LEVEL
};

}  // namespace meshcache::agent
