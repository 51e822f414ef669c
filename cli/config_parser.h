// config_parser.h: flags and MESHCACHE_* env vars → validated agent::Config; main thread.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"

namespace CLI {
class App;
}

namespace meshcache::cli {

// A configuration the node cannot start with. The message names the env var and says what is
// wrong; the CLI prints it and exits 2.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The values exactly as the flags or env vars gave them (nullopt = not set), so validation can
// quote them back.
struct RawConfig {
  std::optional<std::string> listen, tls_listen, tls_cert_path, tls_key_path, data_dir, tenant_id,
      region, node_url, advertised_url, auth, auth_tokens_file, auth_cache_ttl_ms, capacity_bytes,
      max_artifact_bytes, io_threads, fsync, drain_timeout_ms, log_format, log_level,
      enroll_on_boot, control_plane_url, control_plane_client_id, control_plane_client_secret,
      control_plane_client_secret_file, control_plane_ca_path, registration_interval_ms,
      internal_tls_ca_path, internal_tls_cert_path, internal_tls_key_path, internal_listen,
      peer_gateway_url, peers, max_outbox_rows, warmup_horizon_ms, warmup_absence_ms;
};

// Binds every option of `meshcache run` as a flag and its MESHCACHE_* env var.
void add_run_options(CLI::App& app, RawConfig& raw);
// Just --data-dir / MESHCACHE_DATA_DIR, for the commands that talk to a running node.
void add_data_dir_option(CLI::App& app, std::optional<std::string>& data_dir);

// Validates and fills defaults (data dir, capacity from the filesystem, io threads from the
// cores). Throws ConfigError.
agent::Config resolve_config(const RawConfig& raw);
// The flag/env value made absolute, else $XDG_CACHE_HOME/meshcache, else ~/.cache/meshcache.
std::string resolve_data_dir(const std::optional<std::string>& value);

struct HostPort {
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;
};
// Parses host:port or [v6]:port; throws ConfigError naming `var`.
HostPort parse_host_port(std::string_view var, std::string_view value);
// 127.0.0.0/8, ::1 (also v4-mapped), localhost. Names are not resolved.
bool is_loopback_host(std::string_view host);
// Plain bytes or a suffix: K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB of 1000.
std::optional<uint64_t> parse_size(std::string_view text);
// Half of the filesystem holding `dir` (or its nearest existing parent). Throws ConfigError.
uint64_t default_capacity(const std::string& dir);

}  // namespace meshcache::cli
