// config_parser.cc: flags + MESHCACHE_* env vars (CLI11) → validated Config; main thread.
#include "cli/config_parser.h"

#include <arpa/inet.h>
#include <sys/statvfs.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "tls/url_host.h"

namespace meshcache::cli {
namespace {

namespace fs = std::filesystem;

struct OptionSpec {
  const char* flag;
  const char* type;  // shown in --help
  const char* env;
  std::optional<std::string> RawConfig::*field;
  const char* help;
};

// The one place that pairs each flag with its env var (DESIGN.md §8 names).
constexpr std::array kOptions{
    OptionSpec{"--listen", "HOST:PORT", "MESHCACHE_LISTEN", &RawConfig::listen,
               "cleartext listener host:port, HTTP/1.1 + h2c [127.0.0.1:4000]"},
    OptionSpec{"--tls-listen", "HOST:PORT", "MESHCACHE_TLS_LISTEN", &RawConfig::tls_listen,
               "TLS listener host:port, h2 + http/1.1 (needs cert and key)"},
    OptionSpec{"--tls-cert-path", "PATH", "MESHCACHE_TLS_CERT_PATH", &RawConfig::tls_cert_path,
               "PEM certificate chain of the TLS listener"},
    OptionSpec{"--tls-key-path", "PATH", "MESHCACHE_TLS_KEY_PATH", &RawConfig::tls_key_path,
               "PEM private key of the TLS listener"},
    OptionSpec{"--tenant-id", "ID", "MESHCACHE_TENANT_ID", &RawConfig::tenant_id,
               "tenant the artifacts are stored under [default]"},
    OptionSpec{"--region", "NAME", "MESHCACHE_REGION", &RawConfig::region,
               "region of this node [local]"},
    OptionSpec{"--node-url", "URL", "MESHCACHE_NODE_URL", &RawConfig::node_url,
               "URL peers use to reach this node"},
    OptionSpec{"--advertised-url", "URL", "MESHCACHE_ADVERTISED_URL", &RawConfig::advertised_url,
               "client-facing URL sent in registration leases"},
    OptionSpec{"--auth", "MODE", "MESHCACHE_AUTH", &RawConfig::auth,
               "client auth: none | tokens | control-plane [none on loopback listeners; "
               "control-plane when enrolling]"},
    OptionSpec{"--auth-tokens-file", "PATH", "MESHCACHE_AUTH_TOKENS_FILE",
               &RawConfig::auth_tokens_file, "token hashes and grants, for --auth tokens"},
    OptionSpec{"--auth-cache-ttl-ms", "MS", "MESHCACHE_AUTH_CACHE_TTL_MS",
               &RawConfig::auth_cache_ttl_ms,
               "how long a control-plane allow decision is reused [600000]"},
    OptionSpec{"--enroll-on-boot", "BOOL", "MESHCACHE_ENROLL_ON_BOOT", &RawConfig::enroll_on_boot,
               "enroll with the control plane at start: true | false [false]"},
    OptionSpec{"--control-plane-url", "URL", "MESHCACHE_CONTROL_PLANE_URL",
               &RawConfig::control_plane_url, "control plane base URL (https://)"},
    OptionSpec{"--control-plane-client-id", "ID", "MESHCACHE_CONTROL_PLANE_CLIENT_ID",
               &RawConfig::control_plane_client_id, "this node's credential id (cache_...)"},
    OptionSpec{"--control-plane-client-secret-file", "PATH",
               "MESHCACHE_CONTROL_PLANE_CLIENT_SECRET_FILE",
               &RawConfig::control_plane_client_secret_file,
               "file holding the credential's secret (or MESHCACHE_CONTROL_PLANE_CLIENT_SECRET, "
               "or $CREDENTIALS_DIRECTORY/meshcache-control-plane-client-secret)"},
    OptionSpec{"--control-plane-ca-path", "PATH", "MESHCACHE_CONTROL_PLANE_CA_PATH",
               &RawConfig::control_plane_ca_path,
               "extra CA bundle trusted for the control plane [system store only]"},
    OptionSpec{"--registration-interval-ms", "MS", "MESHCACHE_REGISTRATION_INTERVAL_MS",
               &RawConfig::registration_interval_ms, "registration lease period [60000]"},
    OptionSpec{"--internal-tls-ca-cert-path", "PATH", "MESHCACHE_INTERNAL_TLS_CA_CERT_PATH",
               &RawConfig::internal_tls_ca_path,
               "mesh CA (all three paths or none) [DATA_DIR/tls]"},
    OptionSpec{"--internal-tls-cert-path", "PATH", "MESHCACHE_INTERNAL_TLS_CERT_PATH",
               &RawConfig::internal_tls_cert_path, "this node's mesh certificate"},
    OptionSpec{"--internal-tls-key-path", "PATH", "MESHCACHE_INTERNAL_TLS_KEY_PATH",
               &RawConfig::internal_tls_key_path, "this node's mesh private key (0600)"},
    OptionSpec{"--internal-listen", "HOST:PORT", "MESHCACHE_INTERNAL_LISTEN",
               &RawConfig::internal_listen,
               "peer plane listener (mTLS with TLS material) [unset: outbound-only]"},
    OptionSpec{"--peers", "URL,...", "MESHCACHE_PEERS", &RawConfig::peers,
               "static peers' node URLs, comma-separated"},
    OptionSpec{"--peer-gateway-url", "URL", "MESHCACHE_PEER_GATEWAY_URL",
               &RawConfig::peer_gateway_url,
               "the gateway URL this node answers for (gateways only)"},
    OptionSpec{"--max-outbox-rows", "N", "MESHCACHE_MAX_OUTBOX_ROWS", &RawConfig::max_outbox_rows,
               "rows waiting for peers before writes get 503 [1000000]"},
    OptionSpec{"--warmup-horizon-ms", "MS", "MESHCACHE_WARMUP_HORIZON_MS",
               &RawConfig::warmup_horizon_ms,
               "warm up only versions newer than this [0: down to the capacity]"},
    OptionSpec{"--warmup-absence-ms", "MS", "MESHCACHE_WARMUP_ABSENCE_MS",
               &RawConfig::warmup_absence_ms,
               "a node away from the mesh longer than this warms up again [3600000]"},
    OptionSpec{"--capacity-bytes", "SIZE", "MESHCACHE_CAPACITY_BYTES", &RawConfig::capacity_bytes,
               "store bound, e.g. 50GiB [50% of the data dir's filesystem]"},
    OptionSpec{"--max-artifact-bytes", "SIZE", "MESHCACHE_MAX_ARTIFACT_BYTES",
               &RawConfig::max_artifact_bytes, "largest artifact accepted [2GiB]"},
    OptionSpec{"--io-threads", "N", "MESHCACHE_IO_THREADS", &RawConfig::io_threads,
               "I/O loop threads [number of cores]"},
    OptionSpec{"--drain-timeout-ms", "MS", "MESHCACHE_DRAIN_TIMEOUT_MS",
               &RawConfig::drain_timeout_ms, "how long SIGTERM waits for open requests [30000]"},
    OptionSpec{"--log-format", "FORMAT", "MESHCACHE_LOG_FORMAT", &RawConfig::log_format,
               "text | json [text]"},
    OptionSpec{"--log-level", "LEVEL", "MESHCACHE_LOG_LEVEL", &RawConfig::log_level,
               "trace | debug | info | warn | error | critical | off [info]"},
};

constexpr uint64_t kMaxDrainMs = 24ull * 3600 * 1000;
constexpr int kMaxIoThreads = 1024;

[[noreturn]] void fail(std::string message) { throw ConfigError(std::move(message)); }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<uint64_t> parse_uint(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool valid_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == '_';
  });
}

// Identities end up in artifact ids and status output: keep them to a plain charset.
std::string parse_identity(const char* var, const std::optional<std::string>& raw,
                           std::string fallback) {
  if (!raw) return fallback;
  bool ok = !raw->empty() && raw->size() <= 128 &&
            std::all_of(raw->begin(), raw->end(), [](unsigned char c) {
              return std::isalnum(c) || c == '.' || c == '-' || c == '_';
            });
  if (!ok) fail(fmt::format("{}: \"{}\" must be 1-128 characters of A-Z a-z 0-9 . _ -", var, *raw));
  return *raw;
}

// The node's own URLs end up in certificates, leases and status: the host must parse as
// tls::url_host reads it (what the certificate will name), and no credentials may ride along.
void check_url(const char* var, const std::string& url) {
  auto host = tls::url_host(url);
  if (!host.ok()) fail(fmt::format("{}: \"{}\" is {}", var, url, host.status().message()));
  std::string_view authority = std::string_view(url).substr(url.find("://") + 3);
  if (authority.substr(0, authority.find_first_of("/?#")).find('@') != std::string_view::npos)
    fail(fmt::format("{}: \"{}\" must not carry a user or password", var, url));
}

uint64_t parse_size_var(const char* var, const std::string& raw) {
  auto size = parse_size(raw);
  if (!size) fail(fmt::format("{}: \"{}\" is not a size (examples: 1073741824, 10GiB)", var, raw));
  if (*size == 0) fail(fmt::format("{}: \"{}\" must be greater than 0", var, raw));
  return *size;
}

agent::AuthMode parse_auth(const std::optional<std::string>& raw,
                           const std::optional<std::string>& tokens_file, bool enrolling) {
  // A tokens file with no explicit mode means tokens: silently serving without auth would
  // be the surprising reading. An enrolled node defaults to its control plane's tokens.
  if (!raw) {
    if (tokens_file) return agent::AuthMode::tokens;
    return enrolling ? agent::AuthMode::control_plane : agent::AuthMode::none;
  }
  if (*raw == "none") {
    if (tokens_file)
      fail(
          "MESHCACHE_AUTH_TOKENS_FILE is set but MESHCACHE_AUTH is none; set MESHCACHE_AUTH=tokens "
          "or unset the tokens file");
    return agent::AuthMode::none;
  }
  if (*raw == "tokens") {
    if (!tokens_file)
      fail(
          "MESHCACHE_AUTH=tokens needs MESHCACHE_AUTH_TOKENS_FILE (a file of token hashes and "
          "grants)");
    return agent::AuthMode::tokens;
  }
  if (*raw == "control-plane") {
    if (tokens_file)
      fail("MESHCACHE_AUTH_TOKENS_FILE is set but MESHCACHE_AUTH is control-plane; unset one");
    return agent::AuthMode::control_plane;
  }
  fail(fmt::format("MESHCACHE_AUTH: \"{}\" is not one of none, tokens, control-plane", *raw));
}

// Auth none exposes every artifact to anyone who can connect, so it is only for loopback.
void check_auth_exposure(const agent::Config& c) {
  if (c.auth != agent::AuthMode::none) return;
  auto exposed = [](const char* var, const std::string& listen) {
    if (is_loopback_host(parse_host_port(var, listen).host)) return;
    fail(fmt::format(
        "MESHCACHE_AUTH=none is only allowed on loopback listeners; {} is {}. Set "
        "MESHCACHE_AUTH=tokens with MESHCACHE_AUTH_TOKENS_FILE, or bind {} to 127.0.0.1",
        var, listen, var));
  };
  exposed("MESHCACHE_LISTEN", c.listen);
  if (c.tls_listen) exposed("MESHCACHE_TLS_LISTEN", *c.tls_listen);
}

bool parse_bool(const char* var, const std::string& raw) {
  std::string v = lower(raw);
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  fail(fmt::format("{}: \"{}\" is not true or false", var, raw));
}

std::chrono::milliseconds parse_ms(const char* var, const std::string& raw, uint64_t min,
                                   uint64_t max) {
  auto ms = parse_uint(raw);
  if (!ms || *ms < min || *ms > max)
    fail(fmt::format("{}: \"{}\" is not a number of milliseconds ({}-{})", var, raw, min, max));
  return std::chrono::milliseconds(*ms);
}

// The secret from exactly one place; the messages never quote it.
std::optional<std::string> resolve_secret(const RawConfig& raw) {
  constexpr const char* kCredential = "meshcache-control-plane-client-secret";
  std::optional<std::string> path = raw.control_plane_client_secret_file;
  if (raw.control_plane_client_secret && path)
    fail(
        "MESHCACHE_CONTROL_PLANE_CLIENT_SECRET and MESHCACHE_CONTROL_PLANE_CLIENT_SECRET_FILE are "
        "both set; set one");
  if (raw.control_plane_client_secret) return raw.control_plane_client_secret;
  const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
  if (!path && creds && creds[0] != '\0' && fs::exists(fs::path(creds) / kCredential))
    path = (fs::path(creds) / kCredential).string();
  if (!path) return std::nullopt;
  std::ifstream in(*path, std::ios::binary);
  if (!in)
    fail(fmt::format("MESHCACHE_CONTROL_PLANE_CLIENT_SECRET_FILE: cannot read {}: {}", *path,
                     std::strerror(errno)));
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Files written by `echo` end in a newline that is not part of the secret.
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back())))
    secret.pop_back();
  if (secret.empty())
    fail(fmt::format("MESHCACHE_CONTROL_PLANE_CLIENT_SECRET_FILE: {} is empty", *path));
  return secret;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A peer or gateway URL is a replication target compared by exact string (as Kura does), so it
// is kept as given, only checked.
void check_peer_url(const char* var, const std::string& url) {
  if (!url.starts_with("https://") && !url.starts_with("http://"))
    fail(fmt::format("{}: \"{}\" must be an http:// or https:// URL", var, url));
  check_url(var, url);
}

void resolve_mesh(const RawConfig& raw, agent::Config& c) {
  if (raw.internal_listen) {
    parse_host_port("MESHCACHE_INTERNAL_LISTEN", *raw.internal_listen);
    c.internal_listen = raw.internal_listen;
  }
  if (raw.peer_gateway_url) {
    // Kura trims the setting and reads an empty one as unset.
    std::string url(trim(*raw.peer_gateway_url));
    if (!url.empty()) {
      check_peer_url("MESHCACHE_PEER_GATEWAY_URL", url);
      c.peer_gateway_url = url;
    }
  }
  if (raw.peers) {
    std::string_view rest = *raw.peers;
    while (!rest.empty()) {
      std::string_view item = rest.substr(0, rest.find(','));
      rest.remove_prefix(std::min(rest.size(), item.size() + 1));
      std::string url(trim(item));
      if (url.empty()) continue;
      check_peer_url("MESHCACHE_PEERS", url);
      if (std::find(c.peers.begin(), c.peers.end(), url) == c.peers.end()) c.peers.push_back(url);
    }
  }
  if (raw.max_outbox_rows) {
    auto n = parse_uint(*raw.max_outbox_rows);
    if (!n || *n == 0)
      fail(fmt::format("MESHCACHE_MAX_OUTBOX_ROWS: \"{}\" is not a positive number of rows",
                       *raw.max_outbox_rows));
    c.max_outbox_rows = *n;
  }
  constexpr uint64_t kYearMs = 366ull * 24 * 3600 * 1000;
  if (raw.warmup_horizon_ms)
    c.warmup_horizon = parse_ms("MESHCACHE_WARMUP_HORIZON_MS", *raw.warmup_horizon_ms, 0, kYearMs);
  if (raw.warmup_absence_ms)
    c.warmup_absence = parse_ms("MESHCACHE_WARMUP_ABSENCE_MS", *raw.warmup_absence_ms, 0, kYearMs);
}

void resolve_control_plane(const RawConfig& raw, agent::Config& c) {
  if (raw.enroll_on_boot)
    c.enroll_on_boot = parse_bool("MESHCACHE_ENROLL_ON_BOOT", *raw.enroll_on_boot);
  if (raw.control_plane_url) {
    // The credential travels in every request: never over cleartext.
    if (!raw.control_plane_url->starts_with("https://"))
      fail(fmt::format("MESHCACHE_CONTROL_PLANE_URL: \"{}\" must be an https:// URL",
                       *raw.control_plane_url));
    check_url("MESHCACHE_CONTROL_PLANE_URL", *raw.control_plane_url);
    std::string url = *raw.control_plane_url;
    while (url.ends_with('/')) url.pop_back();
    c.control_plane_url = url;
  }
  if (raw.control_plane_client_id) {
    const std::string& id = *raw.control_plane_client_id;
    bool ok =
        !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](unsigned char ch) {
          return std::isalnum(ch) || ch == '_' || ch == '-' || ch == '.';
        });
    if (!ok)
      fail(fmt::format(
          "MESHCACHE_CONTROL_PLANE_CLIENT_ID: \"{}\" is not a client id (like cache_ followed by "
          "22 characters)",
          id));
    c.control_plane_client_id = id;
  }
  c.control_plane_client_secret = resolve_secret(raw);
  if (raw.control_plane_ca_path) c.control_plane_ca_path = raw.control_plane_ca_path;
  if (raw.registration_interval_ms)
    c.registration_interval = parse_ms("MESHCACHE_REGISTRATION_INTERVAL_MS",
                                       *raw.registration_interval_ms, 1000, 3600 * 1000);

  int tls_paths = (raw.internal_tls_ca_path ? 1 : 0) + (raw.internal_tls_cert_path ? 1 : 0) +
                  (raw.internal_tls_key_path ? 1 : 0);
  if (tls_paths != 0 && tls_paths != 3)
    fail(
        "MESHCACHE_INTERNAL_TLS_CA_CERT_PATH, MESHCACHE_INTERNAL_TLS_CERT_PATH and "
        "MESHCACHE_INTERNAL_TLS_KEY_PATH must be set together (or none, for DATA_DIR/tls/)");
  c.internal_tls_ca_path = raw.internal_tls_ca_path;
  c.internal_tls_cert_path = raw.internal_tls_cert_path;
  c.internal_tls_key_path = raw.internal_tls_key_path;

  resolve_mesh(raw, c);

  bool any_cp = c.control_plane_url || c.control_plane_client_id || c.control_plane_client_secret;
  if (c.enroll_on_boot || any_cp) {
    if (!c.control_plane_url)
      fail("MESHCACHE_CONTROL_PLANE_URL is not set (the control plane's https:// URL)");
    if (!c.control_plane_client_id) fail("MESHCACHE_CONTROL_PLANE_CLIENT_ID is not set");
    if (!c.control_plane_client_secret)
      fail(
          "the control-plane client secret is not set: set MESHCACHE_CONTROL_PLANE_CLIENT_SECRET, "
          "MESHCACHE_CONTROL_PLANE_CLIENT_SECRET_FILE, or the systemd credential "
          "meshcache-control-plane-client-secret");
  }
  if (c.enroll_on_boot && !c.node_url)
    fail(
        "MESHCACHE_ENROLL_ON_BOOT needs MESHCACHE_NODE_URL (the URL peers reach this node at; its "
        "host becomes the certificate's name)");
}

}  // namespace

void add_run_options(CLI::App& app, RawConfig& raw) {
  for (const auto& o : kOptions)
    app.add_option(o.flag, raw.*o.field, o.help)->type_name(o.type)->envname(o.env);
  // The secret has no flag: a command line is visible to every user of the machine (ps).
  if (const char* secret = std::getenv("MESHCACHE_CONTROL_PLANE_CLIENT_SECRET"))
    raw.control_plane_client_secret = secret;
  add_data_dir_option(app, raw.data_dir);
  app.add_flag("--fsync{true}", raw.fsync, "sync the WAL on every write: true | false [false]")
      ->envname("MESHCACHE_FSYNC");
}

void add_data_dir_option(CLI::App& app, std::optional<std::string>& data_dir) {
  app.add_option("--data-dir", data_dir,
                 "store, control socket [$XDG_CACHE_HOME/meshcache or ~/.cache/meshcache]")
      ->type_name("DIR")
      ->envname("MESHCACHE_DATA_DIR");
}

std::string resolve_data_dir(const std::optional<std::string>& value) {
  if (value) {
    fs::path p = fs::absolute(*value).lexically_normal();
    return (p.has_filename() ? p : p.parent_path()).string();  // no trailing '/'
  }
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdg && xdg[0] == '/') return (fs::path(xdg) / "meshcache").string();
  const char* home = std::getenv("HOME");
  if (!home || home[0] == '\0')
    fail(
        "MESHCACHE_DATA_DIR is not set and neither XDG_CACHE_HOME nor HOME is: set "
        "MESHCACHE_DATA_DIR");
  return (fs::path(home) / ".cache" / "meshcache").string();
}

HostPort parse_host_port(std::string_view var, std::string_view value) {
  auto bad = [&] { fail(fmt::format("{}: \"{}\" is not host:port", var, value)); };
  HostPort hp;
  std::string_view port;
  if (value.starts_with('[')) {
    auto close = value.find(']');
    if (close == std::string_view::npos || value.substr(close + 1, 1) != ":") bad();
    hp.host = value.substr(1, close - 1);
    in6_addr a6;
    if (inet_pton(AF_INET6, hp.host.c_str(), &a6) != 1) bad();
    port = value.substr(close + 2);
  } else {
    auto colon = value.rfind(':');
    if (colon == std::string_view::npos) bad();
    hp.host = value.substr(0, colon);
    // An unbracketed IPv6 address would make the port ambiguous.
    if (!valid_hostname(hp.host)) bad();
    port = value.substr(colon + 1);
  }
  auto n = parse_uint(port);
  if (!n || *n > 65535)
    fail(fmt::format("{}: \"{}\" has a bad port \"{}\" (expected 0-65535)", var, value, port));
  hp.port = static_cast<uint16_t>(*n);
  return hp;
}

bool is_loopback_host(std::string_view host) {
  if (lower(host) == "localhost") return true;
  std::string h(host);
  in_addr a4;
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6;
  if (inet_pton(AF_INET6, h.c_str(), &a6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

std::optional<uint64_t> parse_size(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  auto number = parse_uint(text.substr(0, digits));
  if (!number) return std::nullopt;
  std::string_view suffix = text.substr(digits);
  if (suffix.starts_with(' ')) suffix.remove_prefix(1);
  struct Unit {
    const char* name;
    uint64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"b", 1},
      {"k", 1ull << 10},
      {"kib", 1ull << 10},
      {"kb", 1000},
      {"m", 1ull << 20},
      {"mib", 1ull << 20},
      {"mb", 1000ull * 1000},
      {"g", 1ull << 30},
      {"gib", 1ull << 30},
      {"gb", 1000ull * 1000 * 1000},
      {"t", 1ull << 40},
      {"tib", 1ull << 40},
      {"tb", 1000ull * 1000 * 1000 * 1000},
  };
  std::string unit = lower(suffix);
  for (const auto& u : kUnits) {
    if (unit != u.name) continue;
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(*number, u.factor, &bytes)) return std::nullopt;
    return bytes;
  }
  return std::nullopt;
}

uint64_t default_capacity(const std::string& dir) {
  // The data dir may not exist yet: size the filesystem it will be created on.
  fs::path p = dir;
  std::error_code ec;
  while (!fs::exists(p, ec) && p.has_parent_path() && p != p.parent_path()) p = p.parent_path();
  struct statvfs st;
  if (statvfs(p.c_str(), &st) != 0)
    fail(
        fmt::format("MESHCACHE_CAPACITY_BYTES is not set and the filesystem of {} cannot be "
                    "sized ({}): set MESHCACHE_CAPACITY_BYTES",
                    dir, std::strerror(errno)));
  return static_cast<uint64_t>(st.f_blocks) * st.f_frsize / 2;
}

agent::Config resolve_config(const RawConfig& raw) {
  agent::Config c;
  if (raw.listen) c.listen = *raw.listen;
  parse_host_port("MESHCACHE_LISTEN", c.listen);

  if (raw.tls_listen) parse_host_port("MESHCACHE_TLS_LISTEN", *raw.tls_listen);
  if (raw.tls_listen && (!raw.tls_cert_path || !raw.tls_key_path))
    fail(
        "MESHCACHE_TLS_LISTEN is set but a TLS listener needs both MESHCACHE_TLS_CERT_PATH and "
        "MESHCACHE_TLS_KEY_PATH");
  if (!raw.tls_listen && (raw.tls_cert_path || raw.tls_key_path))
    fail(fmt::format("{} is set but MESHCACHE_TLS_LISTEN is not: set the TLS listener's host:port",
                     raw.tls_cert_path ? "MESHCACHE_TLS_CERT_PATH" : "MESHCACHE_TLS_KEY_PATH"));
  c.tls_listen = raw.tls_listen;
  c.tls_cert_path = raw.tls_cert_path;
  c.tls_key_path = raw.tls_key_path;

  c.data_dir = resolve_data_dir(raw.data_dir);
  c.tenant_id = parse_identity("MESHCACHE_TENANT_ID", raw.tenant_id, c.tenant_id);
  c.region = parse_identity("MESHCACHE_REGION", raw.region, c.region);
  if (raw.node_url) check_url("MESHCACHE_NODE_URL", *raw.node_url);
  c.node_url = raw.node_url;

  if (raw.advertised_url) check_url("MESHCACHE_ADVERTISED_URL", *raw.advertised_url);
  c.advertised_url = raw.advertised_url;
  resolve_control_plane(raw, c);

  c.auth = parse_auth(raw.auth, raw.auth_tokens_file, c.enroll_on_boot);
  c.auth_tokens_file = raw.auth_tokens_file;
  check_auth_exposure(c);
  if (c.auth == agent::AuthMode::control_plane && !c.control_plane_url)
    fail(
        "MESHCACHE_AUTH=control-plane needs MESHCACHE_CONTROL_PLANE_URL, "
        "MESHCACHE_CONTROL_PLANE_CLIENT_ID and the client secret");
  if (raw.auth_cache_ttl_ms)
    c.auth_cache_ttl =
        parse_ms("MESHCACHE_AUTH_CACHE_TTL_MS", *raw.auth_cache_ttl_ms, 100, kMaxDrainMs);

  c.capacity_bytes = raw.capacity_bytes
                         ? parse_size_var("MESHCACHE_CAPACITY_BYTES", *raw.capacity_bytes)
                         : default_capacity(c.data_dir);
  if (raw.max_artifact_bytes)
    c.max_artifact_bytes = parse_size_var("MESHCACHE_MAX_ARTIFACT_BYTES", *raw.max_artifact_bytes);

  if (raw.io_threads) {
    auto n = parse_uint(*raw.io_threads);
    if (!n || *n < 1 || *n > kMaxIoThreads)
      fail(fmt::format("MESHCACHE_IO_THREADS: \"{}\" is not a number of threads (1-{})",
                       *raw.io_threads, kMaxIoThreads));
    c.io_threads = static_cast<int>(*n);
  } else {
    c.io_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }

  if (raw.fsync) c.fsync = parse_bool("MESHCACHE_FSYNC", *raw.fsync);

  if (raw.drain_timeout_ms)
    c.drain_timeout = parse_ms("MESHCACHE_DRAIN_TIMEOUT_MS", *raw.drain_timeout_ms, 0, kMaxDrainMs);

  if (raw.log_format) {
    if (*raw.log_format == "text") {
      c.log_format = agent::LogFormat::text;
    } else if (*raw.log_format == "json") {
      c.log_format = agent::LogFormat::json;
    } else {
      fail(fmt::format("MESHCACHE_LOG_FORMAT: \"{}\" is not one of text, json", *raw.log_format));
    }
  }
  if (raw.log_level) {
    static constexpr std::string_view kLevels[] = {"trace", "debug",    "info", "warn",
                                                   "error", "critical", "off"};
    if (std::find(std::begin(kLevels), std::end(kLevels), *raw.log_level) == std::end(kLevels))
      fail(
          fmt::format("MESHCACHE_LOG_LEVEL: \"{}\" is not one of trace, debug, info, warn, error, "
                      "critical, off",
                      *raw.log_level));
    c.log_level = *raw.log_level;
  }
  return c;
}

}  // namespace meshcache::cli
