// config_parser_test.cc: flags and env vars → Config, defaults, and every validation message.
#include "cli/config_parser.h"
#include "tests/unit/temp_dir.h"

#include <sys/statvfs.h>

#include <CLI/CLI.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

using namespace meshcache;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

namespace {

// Every env var the parser reads, cleared for each test and restored afterwards so tests do not
// see the developer's environment or each other's.
class EnvScope {
 public:
  EnvScope() {
    for (const char* name : {"MESHCACHE_LISTEN",
                             "MESHCACHE_TLS_LISTEN",
                             "MESHCACHE_TLS_CERT_PATH",
                             "MESHCACHE_TLS_KEY_PATH",
                             "MESHCACHE_DATA_DIR",
                             "MESHCACHE_TENANT_ID",
                             "MESHCACHE_REGION",
                             "MESHCACHE_NODE_URL",
                             "MESHCACHE_AUTH",
                             "MESHCACHE_AUTH_TOKENS_FILE",
                             "MESHCACHE_CAPACITY_BYTES",
                             "MESHCACHE_MAX_ARTIFACT_BYTES",
                             "MESHCACHE_IO_THREADS",
                             "MESHCACHE_FSYNC",
                             "MESHCACHE_DRAIN_TIMEOUT_MS",
                             "MESHCACHE_LOG_FORMAT",
                             "MESHCACHE_LOG_LEVEL",
                             "MESHCACHE_PEERS",
                             "MESHCACHE_ENROLL_ON_BOOT",
                             "XDG_CACHE_HOME",
                             "HOME",
                             "MESHCACHE_ADVERTISED_URL",
                             "MESHCACHE_AUTH_CACHE_TTL_MS",
                             "MESHCACHE_CONTROL_PLANE_URL",
                             "MESHCACHE_CONTROL_PLANE_CLIENT_ID",
                             "MESHCACHE_CONTROL_PLANE_CLIENT_SECRET",
                             "MESHCACHE_CONTROL_PLANE_CLIENT_SECRET_FILE",
                             "MESHCACHE_CONTROL_PLANE_CA_PATH",
                             "MESHCACHE_REGISTRATION_INTERVAL_MS",
                             "MESHCACHE_INTERNAL_TLS_CA_CERT_PATH",
                             "MESHCACHE_INTERNAL_TLS_CERT_PATH",
                             "MESHCACHE_INTERNAL_TLS_KEY_PATH",
                             "MESHCACHE_INTERNAL_LISTEN",
                             "MESHCACHE_PEER_GATEWAY_URL",
                             "MESHCACHE_MAX_OUTBOX_ROWS",
                             "MESHCACHE_WARMUP_HORIZON_MS",
                             "MESHCACHE_WARMUP_ABSENCE_MS",
                             "CREDENTIALS_DIRECTORY"})
      unset(name);
    set("HOME", "/tmp/meshcache-test-home");
  }
  ~EnvScope() {
    for (const auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }
  void set(const std::string& name, const std::string& value) {
    remember(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    remember(name);
    ::unsetenv(name.c_str());
  }

 private:
  void remember(const std::string& name) {
    if (saved_.count(name)) return;
    const char* v = std::getenv(name.c_str());
    saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

agent::Config parse(const std::string& args = "") {
  CLI::App app;
  cli::RawConfig raw;
  cli::add_run_options(app, raw);
  app.parse(args, false);
  return cli::resolve_config(raw);
}

std::string error_of(const std::string& args = "") {
  try {
    parse(args);
  } catch (const cli::ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

using ::meshcache::testutil::TempDir;

uint64_t half_of_fs(const char* path) {
  struct statvfs st;
  REQUIRE(statvfs(path, &st) == 0);
  return static_cast<uint64_t>(st.f_blocks) * st.f_frsize / 2;
}

}  // namespace

TEST_CASE("defaults with no flags and no env") {
  EnvScope env;
  auto c = parse();
  CHECK(c.listen == "127.0.0.1:4000");
  CHECK(!c.tls_listen);
  CHECK(c.data_dir == "/tmp/meshcache-test-home/.cache/meshcache");
  CHECK(c.tenant_id == "default");
  CHECK(c.region == "local");
  CHECK(c.auth == agent::AuthMode::none);
  CHECK(c.capacity_bytes == half_of_fs("/tmp"));
  CHECK(c.max_artifact_bytes == (2ull << 30));
  CHECK(c.io_threads == static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  CHECK(!c.fsync);
  CHECK(c.drain_timeout == std::chrono::milliseconds(30000));
  CHECK(c.log_format == agent::LogFormat::text);
  CHECK(c.log_level == "info");
}

TEST_CASE("data dir: XDG_CACHE_HOME when absolute, else HOME, flag and env made absolute") {
  EnvScope env;
  env.set("XDG_CACHE_HOME", "/var/tmp/xdg");
  CHECK(parse().data_dir == "/var/tmp/xdg/meshcache");
  env.set("XDG_CACHE_HOME", "relative/xdg");  // the XDG spec says to ignore it
  CHECK(parse().data_dir == "/tmp/meshcache-test-home/.cache/meshcache");
  env.set("MESHCACHE_DATA_DIR", "/srv/cache/");
  CHECK(parse().data_dir == "/srv/cache");
  CHECK(parse("--data-dir rel/dir").data_dir ==
        (std::filesystem::current_path() / "rel/dir").string());
  env.unset("MESHCACHE_DATA_DIR");
  env.unset("XDG_CACHE_HOME");
  env.unset("HOME");
  CHECK_THAT(error_of(), Contains("MESHCACHE_DATA_DIR is not set"));
}

TEST_CASE("every option comes from its env var") {
  EnvScope env;
  env.set("MESHCACHE_LISTEN", "0.0.0.0:8080");
  env.set("MESHCACHE_TLS_LISTEN", "[::]:8443");
  env.set("MESHCACHE_TLS_CERT_PATH", "/etc/mc/tls.crt");
  env.set("MESHCACHE_TLS_KEY_PATH", "/etc/mc/tls.key");
  env.set("MESHCACHE_DATA_DIR", "/srv/meshcache");
  env.set("MESHCACHE_TENANT_ID", "acme");
  env.set("MESHCACHE_REGION", "eu-west-1");
  env.set("MESHCACHE_NODE_URL", "https://node1.example.com:4000");
  env.set("MESHCACHE_AUTH", "tokens");
  env.set("MESHCACHE_AUTH_TOKENS_FILE", "/etc/mc/tokens");
  env.set("MESHCACHE_CAPACITY_BYTES", "10GiB");
  env.set("MESHCACHE_MAX_ARTIFACT_BYTES", "512M");
  env.set("MESHCACHE_IO_THREADS", "3");
  env.set("MESHCACHE_FSYNC", "true");
  env.set("MESHCACHE_DRAIN_TIMEOUT_MS", "1500");
  env.set("MESHCACHE_LOG_FORMAT", "json");
  env.set("MESHCACHE_LOG_LEVEL", "debug");
  auto c = parse();
  CHECK(c.listen == "0.0.0.0:8080");
  CHECK(c.tls_listen == "[::]:8443");
  CHECK(c.tls_cert_path == "/etc/mc/tls.crt");
  CHECK(c.tls_key_path == "/etc/mc/tls.key");
  CHECK(c.data_dir == "/srv/meshcache");
  CHECK(c.tenant_id == "acme");
  CHECK(c.region == "eu-west-1");
  CHECK(c.node_url == "https://node1.example.com:4000");
  CHECK(c.auth == agent::AuthMode::tokens);
  CHECK(c.auth_tokens_file == "/etc/mc/tokens");
  CHECK(c.capacity_bytes == 10ull << 30);
  CHECK(c.max_artifact_bytes == 512ull << 20);
  CHECK(c.io_threads == 3);
  CHECK(c.fsync);
  CHECK(c.drain_timeout == std::chrono::milliseconds(1500));
  CHECK(c.log_format == agent::LogFormat::json);
  CHECK(c.log_level == "debug");
}

TEST_CASE("flags set options and win over env vars") {
  EnvScope env;
  env.set("MESHCACHE_LISTEN", "127.0.0.1:1");
  env.set("MESHCACHE_LOG_LEVEL", "debug");
  auto c = parse(
      "--listen 127.0.0.1:2 --log-level warn --capacity-bytes 1000 --max-artifact-bytes 10KB "
      "--io-threads 1 --drain-timeout-ms 0 --tenant-id t --region r --log-format json");
  CHECK(c.listen == "127.0.0.1:2");
  CHECK(c.log_level == "warn");
  CHECK(c.capacity_bytes == 1000);
  CHECK(c.max_artifact_bytes == 10000);
  CHECK(c.io_threads == 1);
  CHECK(c.drain_timeout == std::chrono::milliseconds(0));
  CHECK(c.tenant_id == "t");
  CHECK(c.region == "r");
  CHECK(c.log_format == agent::LogFormat::json);
}

TEST_CASE("fsync: a bare flag, a flag value, or the env var") {
  EnvScope env;
  CHECK(parse("--fsync").fsync);
  CHECK(!parse("--fsync=false").fsync);
  env.set("MESHCACHE_FSYNC", "false");
  CHECK(!parse().fsync);
  env.set("MESHCACHE_FSYNC", "1");
  CHECK(parse().fsync);
  env.set("MESHCACHE_FSYNC", "maybe");
  CHECK_THAT(error_of(), Equals("MESHCACHE_FSYNC: \"maybe\" is not true or false"));
}

TEST_CASE("each bad value gets a message naming its variable") {
  struct Case {
    const char* var;
    const char* value;
    const char* message;
  };
  const Case cases[] = {
      {"MESHCACHE_LISTEN", "foo", "MESHCACHE_LISTEN: \"foo\" is not host:port"},
      {"MESHCACHE_LISTEN", ":4000", "MESHCACHE_LISTEN: \":4000\" is not host:port"},
      {"MESHCACHE_LISTEN", "::1:4000", "MESHCACHE_LISTEN: \"::1:4000\" is not host:port"},
      {"MESHCACHE_LISTEN", "[::1]4000", "MESHCACHE_LISTEN: \"[::1]4000\" is not host:port"},
      {"MESHCACHE_LISTEN", "[nope]:4000", "MESHCACHE_LISTEN: \"[nope]:4000\" is not host:port"},
      {"MESHCACHE_LISTEN", "127.0.0.1:99999",
       "MESHCACHE_LISTEN: \"127.0.0.1:99999\" has a bad port \"99999\" (expected 0-65535)"},
      {"MESHCACHE_LISTEN", "127.0.0.1:http",
       "MESHCACHE_LISTEN: \"127.0.0.1:http\" has a bad port \"http\" (expected 0-65535)"},
      {"MESHCACHE_CAPACITY_BYTES", "12x",
       "MESHCACHE_CAPACITY_BYTES: \"12x\" is not a size (examples: 1073741824, 10GiB)"},
      {"MESHCACHE_CAPACITY_BYTES", "0", "MESHCACHE_CAPACITY_BYTES: \"0\" must be greater than 0"},
      {"MESHCACHE_MAX_ARTIFACT_BYTES", "-1",
       "MESHCACHE_MAX_ARTIFACT_BYTES: \"-1\" is not a size (examples: 1073741824, 10GiB)"},
      {"MESHCACHE_IO_THREADS", "0",
       "MESHCACHE_IO_THREADS: \"0\" is not a number of threads (1-1024)"},
      {"MESHCACHE_IO_THREADS", "two",
       "MESHCACHE_IO_THREADS: \"two\" is not a number of threads (1-1024)"},
      {"MESHCACHE_DRAIN_TIMEOUT_MS", "5s",
       "MESHCACHE_DRAIN_TIMEOUT_MS: \"5s\" is not a number of milliseconds (0-86400000)"},
      {"MESHCACHE_LOG_FORMAT", "xml", "MESHCACHE_LOG_FORMAT: \"xml\" is not one of text, json"},
      {"MESHCACHE_LOG_LEVEL", "loud",
       "MESHCACHE_LOG_LEVEL: \"loud\" is not one of trace, debug, info, warn, error, critical, "
       "off"},
      {"MESHCACHE_AUTH", "basic",
       "MESHCACHE_AUTH: \"basic\" is not one of none, tokens, control-plane"},
      {"MESHCACHE_TENANT_ID", "a b",
       "MESHCACHE_TENANT_ID: \"a b\" must be 1-128 characters of A-Z a-z 0-9 . _ -"},
      {"MESHCACHE_REGION", "eu/west",
       "MESHCACHE_REGION: \"eu/west\" must be 1-128 characters of A-Z a-z 0-9 . _ -"},
      {"MESHCACHE_NODE_URL", "node1:4000",
       "MESHCACHE_NODE_URL: \"node1:4000\" is not an http(s) URL with a host: no scheme"},
      {"MESHCACHE_NODE_URL", "https:///x",
       "MESHCACHE_NODE_URL: \"https:///x\" is not an http(s) URL with a host: the host is empty"},
      {"MESHCACHE_ADVERTISED_URL", "https://ci:pw@cache.example",
       "MESHCACHE_ADVERTISED_URL: \"https://ci:pw@cache.example\" must not carry a user or "
       "password"},
  };
  for (const auto& c : cases) {
    EnvScope env;
    env.set(c.var, c.value);
    INFO(c.var << "=" << c.value);
    CHECK_THAT(error_of(), Equals(c.message));
  }
}

TEST_CASE("TLS listener needs cert and key, and they need the listener") {
  EnvScope env;
  env.set("MESHCACHE_TLS_LISTEN", "127.0.0.1:4443");
  CHECK_THAT(error_of(), Contains("MESHCACHE_TLS_LISTEN is set but a TLS listener needs both "
                                  "MESHCACHE_TLS_CERT_PATH and MESHCACHE_TLS_KEY_PATH"));
  env.set("MESHCACHE_TLS_CERT_PATH", "/c");
  CHECK_THAT(error_of(), Contains("needs both"));
  env.set("MESHCACHE_TLS_KEY_PATH", "/k");
  CHECK(parse().tls_listen == "127.0.0.1:4443");
  env.unset("MESHCACHE_TLS_LISTEN");
  CHECK_THAT(error_of(),
             Contains("MESHCACHE_TLS_CERT_PATH is set but MESHCACHE_TLS_LISTEN is not"));
  env.unset("MESHCACHE_TLS_CERT_PATH");
  CHECK_THAT(error_of(), Contains("MESHCACHE_TLS_KEY_PATH is set but MESHCACHE_TLS_LISTEN is not"));
  env.set("MESHCACHE_TLS_LISTEN", "127.0.0.1");
  env.set("MESHCACHE_TLS_CERT_PATH", "/c");
  CHECK_THAT(error_of(), Equals("MESHCACHE_TLS_LISTEN: \"127.0.0.1\" is not host:port"));
}

TEST_CASE("auth modes") {
  EnvScope env;
  SECTION("tokens needs a tokens file") {
    env.set("MESHCACHE_AUTH", "tokens");
    CHECK_THAT(error_of(), Equals("MESHCACHE_AUTH=tokens needs MESHCACHE_AUTH_TOKENS_FILE (a file "
                                  "of token hashes and grants)"));
  }
  SECTION("a tokens file alone means tokens") {
    env.set("MESHCACHE_AUTH_TOKENS_FILE", "/etc/tokens");
    CHECK(parse().auth == agent::AuthMode::tokens);
  }
  SECTION("none with a tokens file is contradictory") {
    env.set("MESHCACHE_AUTH", "none");
    env.set("MESHCACHE_AUTH_TOKENS_FILE", "/etc/tokens");
    CHECK_THAT(error_of(),
               Contains("MESHCACHE_AUTH_TOKENS_FILE is set but MESHCACHE_AUTH is none"));
  }
  SECTION("control-plane needs a control plane and a credential") {
    env.set("MESHCACHE_AUTH", "control-plane");
    CHECK_THAT(error_of(),
               Contains("MESHCACHE_AUTH=control-plane needs MESHCACHE_CONTROL_PLANE_URL"));
    env.set("MESHCACHE_CONTROL_PLANE_URL", "https://cp.example/");
    env.set("MESHCACHE_CONTROL_PLANE_CLIENT_ID", "cache_abc");
    env.set("MESHCACHE_CONTROL_PLANE_CLIENT_SECRET", "s3cret-sentinel");
    auto c = parse();
    CHECK(c.auth == agent::AuthMode::control_plane);
    CHECK(c.control_plane_url == "https://cp.example");
    CHECK(c.auth_cache_ttl == std::chrono::milliseconds(600000));
  }
}

TEST_CASE("enrollment settings") {
  EnvScope env;
  env.set("MESHCACHE_ENROLL_ON_BOOT", "true");
  CHECK_THAT(error_of(), Contains("MESHCACHE_CONTROL_PLANE_URL is not set"));
  env.set("MESHCACHE_CONTROL_PLANE_URL", "http://cp.example");
  CHECK_THAT(error_of(), Contains("must be an https:// URL"));
  env.set("MESHCACHE_CONTROL_PLANE_URL", "https://cp.example");
  CHECK_THAT(error_of(), Equals("MESHCACHE_CONTROL_PLANE_CLIENT_ID is not set"));
  env.set("MESHCACHE_CONTROL_PLANE_CLIENT_ID", "cache:bad");
  CHECK_THAT(error_of(), Contains("MESHCACHE_CONTROL_PLANE_CLIENT_ID: \"cache:bad\""));
  env.set("MESHCACHE_CONTROL_PLANE_CLIENT_ID", "cache_AAAAAAAAAAAAAAAAAAAAAA");
  CHECK_THAT(error_of(), Contains("the control-plane client secret is not set"));

  TempDir dir;
  std::string file = dir.path() + "/secret";
  { std::ofstream(file) << "from-file-sentinel\n"; }
  env.set("MESHCACHE_CONTROL_PLANE_CLIENT_SECRET_FILE", file);
  CHECK_THAT(error_of(), Contains("MESHCACHE_ENROLL_ON_BOOT needs MESHCACHE_NODE_URL"));
  env.set("MESHCACHE_NODE_URL", "https://10.0.0.7:7443");
  auto c = parse();
  CHECK(c.enroll_on_boot);
  CHECK(c.control_plane_client_secret == "from-file-sentinel");  // the newline is not the secret
  CHECK(c.auth == agent::AuthMode::control_plane);               // the default once enrolling

  env.set("MESHCACHE_CONTROL_PLANE_CLIENT_SECRET", "env-sentinel");
  std::string both = error_of();
  CHECK_THAT(both, Contains("are both set"));
  CHECK_THAT(both, !Contains("sentinel"));
  env.unset("MESHCACHE_CONTROL_PLANE_CLIENT_SECRET");
  env.unset("MESHCACHE_CONTROL_PLANE_CLIENT_SECRET_FILE");

  // systemd credentials
  std::filesystem::create_directories(dir.path() + "/creds");
  { std::ofstream(dir.path() + "/creds/meshcache-control-plane-client-secret") << "cred-sentinel"; }
  env.set("CREDENTIALS_DIRECTORY", dir.path() + "/creds");
  CHECK(parse().control_plane_client_secret == "cred-sentinel");

  env.set("MESHCACHE_INTERNAL_TLS_CERT_PATH", "/tls/crt");
  CHECK_THAT(error_of(), Contains("must be set together"));
  env.set("MESHCACHE_INTERNAL_TLS_CA_CERT_PATH", "/tls/ca");
  env.set("MESHCACHE_INTERNAL_TLS_KEY_PATH", "/tls/key");
  CHECK(parse().internal_tls_key_path == "/tls/key");

  env.set("MESHCACHE_REGISTRATION_INTERVAL_MS", "10");
  CHECK_THAT(error_of(), Contains("MESHCACHE_REGISTRATION_INTERVAL_MS: \"10\""));
  env.set("MESHCACHE_REGISTRATION_INTERVAL_MS", "5000");
  CHECK(parse().registration_interval == std::chrono::milliseconds(5000));
  env.set("MESHCACHE_ENROLL_ON_BOOT", "yes");
  CHECK_THAT(error_of(), Equals("MESHCACHE_ENROLL_ON_BOOT: \"yes\" is not true or false"));
}

TEST_CASE("auth none only on loopback listeners") {
  EnvScope env;
  const std::string refused =
      "MESHCACHE_AUTH=none is only allowed on loopback listeners; MESHCACHE_LISTEN is "
      "0.0.0.0:4000. Set MESHCACHE_AUTH=tokens with MESHCACHE_AUTH_TOKENS_FILE, or bind "
      "MESHCACHE_LISTEN to 127.0.0.1";
  env.set("MESHCACHE_LISTEN", "0.0.0.0:4000");
  CHECK_THAT(error_of(), Equals(refused));  // the default auth is refused too
  env.set("MESHCACHE_AUTH", "none");
  CHECK_THAT(error_of(), Equals(refused));
  env.set("MESHCACHE_AUTH", "tokens");
  env.set("MESHCACHE_AUTH_TOKENS_FILE", "/etc/tokens");
  CHECK(parse().auth == agent::AuthMode::tokens);

  env.unset("MESHCACHE_AUTH");
  env.unset("MESHCACHE_AUTH_TOKENS_FILE");
  for (const char* listen : {"127.0.0.1:0", "127.1.2.3:4000", "localhost:4000", "[::1]:4000"}) {
    env.set("MESHCACHE_LISTEN", listen);
    INFO(listen);
    CHECK(parse().auth == agent::AuthMode::none);
  }
  env.set("MESHCACHE_TLS_LISTEN", "10.0.0.5:4443");
  env.set("MESHCACHE_TLS_CERT_PATH", "/c");
  env.set("MESHCACHE_TLS_KEY_PATH", "/k");
  CHECK_THAT(error_of(), Contains("MESHCACHE_TLS_LISTEN is 10.0.0.5:4443"));
}

TEST_CASE("host:port parsing and the loopback rule") {
  auto hp = cli::parse_host_port("X", "[::1]:0");
  CHECK(hp.host == "::1");
  CHECK(hp.port == 0);
  hp = cli::parse_host_port("X", "cache.internal:65535");
  CHECK(hp.host == "cache.internal");
  CHECK(hp.port == 65535);

  for (const char* host :
       {"127.0.0.1", "127.255.255.254", "::1", "localhost", "LocalHost", "::ffff:127.0.0.1"})
    CHECK(cli::is_loopback_host(host));
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "localhost.example.com",
                           "::ffff:10.0.0.1", "example.com"})
    CHECK_FALSE(cli::is_loopback_host(host));
}

TEST_CASE("size parsing") {
  CHECK(cli::parse_size("0") == 0u);
  CHECK(cli::parse_size("1073741824") == 1073741824u);
  CHECK(cli::parse_size("512B") == 512u);
  CHECK(cli::parse_size("4K") == 4096u);
  CHECK(cli::parse_size("4KiB") == 4096u);
  CHECK(cli::parse_size("4KB") == 4000u);
  CHECK(cli::parse_size("3M") == 3ull << 20);
  CHECK(cli::parse_size("3MB") == 3000000u);
  CHECK(cli::parse_size("10GiB") == 10ull << 30);
  CHECK(cli::parse_size("10 gib") == 10ull << 30);
  CHECK(cli::parse_size("2G") == 2ull << 30);
  CHECK(cli::parse_size("1GB") == 1000000000u);
  CHECK(cli::parse_size("1T") == 1ull << 40);
  CHECK(cli::parse_size("2TB") == 2000000000000u);
  for (const char* bad : {"", "x", "12x", "-1", "1.5G", "G", " 1G", "1  G", "10GiBs",
                          "99999999999999999999", "20000000T"})
    CHECK_FALSE(cli::parse_size(bad));
}

TEST_CASE("default capacity sizes the nearest existing parent of the data dir") {
  CHECK(cli::default_capacity("/tmp/does/not/exist/yet") == half_of_fs("/tmp"));
  CHECK(cli::default_capacity("/tmp") == half_of_fs("/tmp"));
}

TEST_CASE("mesh settings") {
  EnvScope env;
  SECTION("defaults: outbound-only, no peers") {
    agent::Config c = parse();
    CHECK_FALSE(c.internal_listen);
    CHECK_FALSE(c.peer_gateway_url);
    CHECK(c.peers.empty());
    CHECK(c.max_outbox_rows == 1'000'000);
    CHECK(c.warmup_horizon.count() == 0);
    CHECK(c.warmup_absence.count() == 3'600'000);
  }
  SECTION("peers are split, trimmed, de-duplicated and kept verbatim") {
    env.set("MESHCACHE_PEERS",
            " https://a.internal:7443/ ,http://10.0.0.2:7000,,https://a.internal:7443/");
    env.set("MESHCACHE_INTERNAL_LISTEN", "0.0.0.0:7443");
    env.set("MESHCACHE_PEER_GATEWAY_URL", "  https://gw.example.com  ");
    env.set("MESHCACHE_MAX_OUTBOX_ROWS", "5000");
    env.set("MESHCACHE_WARMUP_HORIZON_MS", "86400000");
    env.set("MESHCACHE_WARMUP_ABSENCE_MS", "0");
    agent::Config c = parse();
    CHECK(c.peers == std::vector<std::string>{"https://a.internal:7443/", "http://10.0.0.2:7000"});
    CHECK(c.internal_listen == "0.0.0.0:7443");
    CHECK(c.peer_gateway_url == "https://gw.example.com");
    CHECK(c.max_outbox_rows == 5000);
    CHECK(c.warmup_horizon.count() == 86'400'000);
    CHECK(c.warmup_absence.count() == 0);
  }
  SECTION("an empty gateway setting means unset, as in Kura") {
    env.set("MESHCACHE_PEER_GATEWAY_URL", "   ");
    CHECK_FALSE(parse().peer_gateway_url);
  }
  SECTION("bad values name their variable") {
    env.set("MESHCACHE_PEERS", "https://ok.example,cache-2:7443");
    CHECK_THAT(error_of(),
               Contains("MESHCACHE_PEERS: \"cache-2:7443\" must be an http:// or https:// URL"));
    env.set("MESHCACHE_PEERS", "https://u:p@cache-2:7443");
    CHECK_THAT(error_of(), Contains("must not carry a user or password"));
    env.unset("MESHCACHE_PEERS");
    env.set("MESHCACHE_INTERNAL_LISTEN", "7443");
    CHECK_THAT(error_of(), Equals("MESHCACHE_INTERNAL_LISTEN: \"7443\" is not host:port"));
    env.unset("MESHCACHE_INTERNAL_LISTEN");
    env.set("MESHCACHE_PEER_GATEWAY_URL", "gw.example.com");
    CHECK_THAT(error_of(), Contains("MESHCACHE_PEER_GATEWAY_URL"));
    env.unset("MESHCACHE_PEER_GATEWAY_URL");
    env.set("MESHCACHE_MAX_OUTBOX_ROWS", "0");
    CHECK_THAT(error_of(),
               Equals("MESHCACHE_MAX_OUTBOX_ROWS: \"0\" is not a positive number of rows"));
  }
}
