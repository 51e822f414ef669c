// tls_command_test.cc: `meshcache tls init-ca` and `issue` end to end: files, modes, SAN, chain.
#include "cli/tls_command.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>
#include <sstream>

#include "tests/unit/temp_dir.h"
#include "tls/certificate.h"
#include "tls/identity.h"
#include "tls/key_pair.h"
#include "tls/secure_file.h"

using namespace meshcache;
using Catch::Matchers::Contains;

namespace {

using ::meshcache::testutil::TempDir;

struct Run {
  int code = -1;
  std::string out, err;
};

// Parses `args` the way main() does and runs the command.
Run run_tls(const std::string& args) {
  CLI::App app;
  cli::TlsCommand cmd;
  cli::add_tls_commands(app, cmd);
  Run run;
  try {
    app.parse("tls " + args, false);
  } catch (const CLI::ParseError& e) {
    run.code = 2;
    run.err = e.what();
    return run;
  }
  std::ostringstream out, err;
  run.code = cli::run_tls_command(cmd, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string read(const std::string& path) { return tls::read_small_file(path).value(); }

}  // namespace

TEST_CASE("tls init-ca writes a CA once and replaces it only with --force") {
  TempDir tmp;
  const std::string dir = tmp.path() + "/ca";
  Run made = run_tls("init-ca --dir " + dir + " --name Test-Mesh-CA --days 10");
  INFO(made.err);
  REQUIRE(made.code == 0);
  CHECK(mode_of(dir + "/ca.key") == 0600);
  CHECK(mode_of(dir + "/ca.pem") == 0644);
  auto ca = tls::parse_certificate_pem(read(dir + "/ca.pem"));
  REQUIRE(ca.ok());
  tls::CertificateInfo info = tls::describe(ca->get());
  CHECK(info.subject == "CN=Test-Mesh-CA");
  CHECK(info.not_after > std::time(nullptr) + 9 * 86400);
  CHECK(info.not_after <= std::time(nullptr) + 10 * 86400);
  CHECK(tls::parse_private_key_pem(read(dir + "/ca.key")).ok());

  const std::string first = read(dir + "/ca.pem");
  Run again = run_tls("init-ca --dir " + dir);
  CHECK(again.code == 1);
  CHECK_THAT(again.err, Contains("already exists") && Contains("--force"));
  CHECK(read(dir + "/ca.pem") == first);

  CHECK(run_tls("init-ca --dir " + dir + " --force").code == 0);
  CHECK(read(dir + "/ca.pem") != first);
}

TEST_CASE("tls issue writes the DATA_DIR/tls layout with a leaf that validates") {
  TempDir tmp;
  const std::string ca_dir = tmp.path() + "/ca";
  REQUIRE(run_tls("init-ca --dir " + ca_dir).code == 0);

  struct Case {
    std::string url, cn, san;
  };
  for (const Case& c :
       {Case{"https://127.0.0.1:7443", "CN=127.0.0.1", "IP:127.0.0.1"},
        Case{"http://[::1]:7443/", "CN=::1", "IP:::1"},
        Case{"https://Node-1.Internal:7443", "CN=node-1.internal", "DNS:node-1.internal"}}) {
    INFO(c.url);
    TempDir data;
    Run run = run_tls("issue --ca-dir " + ca_dir + " --node-url " + c.url + " --out-dir " +
                      data.path() + "/tls --days 7");
    INFO(run.err);
    REQUIRE(run.code == 0);
    CHECK_THAT(run.out, Contains(c.san));

    // Exactly where a node with MESHCACHE_DATA_DIR=data looks.
    tls::IdentityPaths paths = tls::default_identity_paths(data.path());
    CHECK(mode_of(paths.key_path) == 0600);
    CHECK(mode_of(paths.cert_path) == 0644);
    CHECK(mode_of(paths.ca_path) == 0644);
    auto pem = tls::read_identity(paths);
    REQUIRE(pem.ok());
    CHECK(pem->ca_pem == read(ca_dir + "/ca.pem"));
    auto key = tls::parse_private_key_pem(pem->key_pem);
    REQUIRE(key.ok());
    auto info = tls::validate_enrolled(pem->cert_pem, pem->ca_pem, key->get(), std::time(nullptr));
    INFO(info.status().message());
    REQUIRE(info.ok());
    CHECK(info->subject == c.cn);
    CHECK(info->sans == std::vector<std::string>{c.san});
    CHECK(info->not_after <= std::time(nullptr) + 7 * 86400);
  }
}

TEST_CASE("tls issue explains bad URLs (exit 2) and missing or broken CAs (exit 1)") {
  TempDir tmp;
  const std::string ca_dir = tmp.path() + "/ca";
  const std::string out = " --out-dir " + tmp.path() + "/out";

  Run no_ca = run_tls("issue --ca-dir " + ca_dir + " --node-url https://node:7443" + out);
  CHECK(no_ca.code == 1);
  CHECK_THAT(no_ca.err, Contains(ca_dir + "/ca.pem"));

  REQUIRE(run_tls("init-ca --dir " + ca_dir).code == 0);
  for (const char* url : {"ftp://node", "https://:7443", "node:7443", "https://[::1"}) {
    INFO(url);
    Run bad = run_tls("issue --ca-dir " + ca_dir + " --node-url " + url + out);
    CHECK(bad.code == 2);
    CHECK_THAT(bad.err, Contains("--node-url"));
  }
  CHECK(run_tls("issue --ca-dir " + ca_dir + out).code == 2);  // --node-url is required
  CHECK(run_tls("issue --ca-dir " + ca_dir + " --node-url https://node --days 0" + out).code == 2);
  CHECK_FALSE(std::filesystem::exists(tmp.path() + "/out"));

  // A CA key that is not the CA's.
  REQUIRE(tls::write_file_atomic(ca_dir + "/ca.key",
                                 tls::private_key_pem(tls::generate_p256_key()->get()).value(),
                                 0600)
              .ok());
  Run mismatch = run_tls("issue --ca-dir " + ca_dir + " --node-url https://node" + out);
  CHECK(mismatch.code == 1);
  CHECK_THAT(mismatch.err, Contains("does not match"));
}

TEST_CASE("tls issue --san adds the other names a node is reached under") {
  TempDir tmp;
  const std::string ca_dir = tmp.path() + "/ca";
  REQUIRE(run_tls("init-ca --dir " + ca_dir).code == 0);
  const std::string base = "issue --ca-dir " + ca_dir + " --node-url https://127.0.0.1:7443";

  // A gateway node: its node URL's IP first, then its public names; repeats are dropped.
  Run run = run_tls(base + " --san LocalHost --san 127.0.0.1 --san [::1] --san gw.acme.test" +
                    " --out-dir " + tmp.path() + "/gw");
  INFO(run.err);
  REQUIRE(run.code == 0);
  tls::IdentityPaths paths{tmp.path() + "/gw/ca.pem", tmp.path() + "/gw/tls.crt",
                           tmp.path() + "/gw/tls.key"};
  auto pem = tls::read_identity(paths);
  REQUIRE(pem.ok());
  auto key = tls::parse_private_key_pem(pem->key_pem);
  REQUIRE(key.ok());
  auto info = tls::validate_enrolled(pem->cert_pem, pem->ca_pem, key->get(), std::time(nullptr));
  INFO(info.status().message());
  REQUIRE(info.ok());
  CHECK(info->subject == "CN=127.0.0.1");
  CHECK(info->sans ==
        std::vector<std::string>{"IP:127.0.0.1", "DNS:localhost", "IP:::1", "DNS:gw.acme.test"});
  CHECK_THAT(run.out, Contains("DNS:gw.acme.test"));

  for (const char* bad : {"a,DNS:evil", "https://gw", "gw:7443"}) {
    INFO(bad);
    Run refused = run_tls(base + " --san " + bad + " --out-dir " + tmp.path() + "/bad");
    CHECK(refused.code == 2);
    CHECK_THAT(refused.err, Contains("--san"));
  }
  CHECK_FALSE(std::filesystem::exists(tmp.path() + "/bad"));
}
