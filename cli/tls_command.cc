// tls_command.cc: `meshcache tls init-ca` writes a CA; `meshcache tls issue` writes a node's key,
// leaf and CA in the layout of DATA_DIR/tls/ (CLI main thread).
#include "cli/tls_command.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <ostream>

#include "tls/authority.h"
#include "tls/certificate.h"
#include "tls/identity.h"
#include "tls/key_pair.h"
#include "tls/secure_file.h"
#include "tls/url_host.h"

namespace meshcache::cli {
namespace {

constexpr int kFailure = 1;
constexpr int kUsageError = 2;
constexpr int64_t kSecondsPerDay = 86400;

std::string date(int64_t unix) {
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", fmt::gmtime(static_cast<std::time_t>(unix)));
}

int fail(std::ostream& err, std::string_view command, std::string_view message, int code) {
  err << "meshcache tls " << command << ": " << message << '\n';
  return code;
}

int init_ca(const TlsCommand& cmd, std::ostream& out, std::ostream& err) {
  const std::string cert_path = cmd.ca_dir + "/ca.pem";
  const std::string key_path = cmd.ca_dir + "/ca.key";
  std::error_code ec;
  for (const auto& path : {cert_path, key_path})
    if (!cmd.force && std::filesystem::exists(path, ec))
      return fail(err, "init-ca",
                  path +
                      " already exists; pass --force to replace the CA (the leaves it signed "
                      "will no longer be trusted)",
                  kFailure);

  auto ca = tls::create_authority(cmd.ca_name, cmd.ca_days * kSecondsPerDay);
  if (!ca.ok())
    return fail(err, "init-ca", ca.status().message(),
                ca.status().code() == Code::invalid_argument ? kUsageError : kFailure);
  auto key_pem = tls::private_key_pem(ca->key.get());
  if (!key_pem.ok()) return fail(err, "init-ca", key_pem.status().message(), kFailure);
  // The key first: a crash in between leaves no certificate whose key is lost.
  Status s = tls::write_file_atomic(key_path, key_pem.value(), 0600);
  if (s.ok()) s = tls::write_file_atomic(cert_path, ca->cert_pem, 0644);
  if (!s.ok()) return fail(err, "init-ca", s.message(), kFailure);

  tls::CertificateInfo info = tls::describe(ca->cert.get());
  out << "wrote " << cert_path << " (" << info.subject << ", valid until " << date(info.not_after)
      << ")\n"
      << "wrote " << key_path << " (mode 0600: keep it off the nodes)\n"
      << "next, for each node: meshcache tls issue --ca-dir " << cmd.ca_dir
      << " --node-url <its MESHCACHE_NODE_URL> --out-dir <its MESHCACHE_DATA_DIR>/tls\n";
  return 0;
}

int issue(const TlsCommand& cmd, std::ostream& out, std::ostream& err) {
  auto host = tls::url_host(cmd.node_url);
  if (!host.ok()) return fail(err, "issue", "--node-url: " + host.status().message(), kUsageError);

  auto ca_cert = tls::read_small_file(cmd.ca_dir + "/ca.pem");
  if (!ca_cert.ok()) return fail(err, "issue", ca_cert.status().message(), kFailure);
  auto ca_key = tls::read_small_file(cmd.ca_dir + "/ca.key");
  if (!ca_key.ok()) return fail(err, "issue", ca_key.status().message(), kFailure);
  auto ca = tls::load_authority(ca_cert.value(), ca_key.value());
  if (!ca.ok()) return fail(err, "issue", cmd.ca_dir + ": " + ca.status().message(), kFailure);

  auto key = tls::generate_p256_key();
  if (!key.ok()) return fail(err, "issue", key.status().message(), kFailure);
  // Lowercased like the URL's host, so a certificate never holds two spellings of one name.
  std::vector<std::string> sans = cmd.extra_sans;
  for (std::string& san : sans)
    std::transform(san.begin(), san.end(), san.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto leaf =
      tls::issue_leaf(ca.value(), key->get(), host.value(), cmd.leaf_days * kSecondsPerDay, sans);
  // The URL's host passed url_host() above, so a name refused here is a --san.
  if (!leaf.ok())
    return leaf.status().code() == Code::invalid_argument
               ? fail(err, "issue", "--san: " + leaf.status().message(), kUsageError)
               : fail(err, "issue", leaf.status().message(), kFailure);
  auto key_pem = tls::private_key_pem(key->get());
  if (!key_pem.ok()) return fail(err, "issue", key_pem.status().message(), kFailure);

  // The same names as DATA_DIR/tls/, so --out-dir can be that directory.
  const tls::IdentityPaths paths{cmd.out_dir + "/ca.pem", cmd.out_dir + "/tls.crt",
                                 cmd.out_dir + "/tls.key"};
  if (Status s = tls::write_identity(paths, {key_pem.value(), leaf.value(), ca->cert_pem}); !s.ok())
    return fail(err, "issue", s.message(), kFailure);

  tls::CertificateInfo info = tls::describe(tls::parse_certificate_pem(leaf.value())->get());
  if (info.not_after > tls::describe(ca->cert.get()).not_after)
    err << "meshcache tls issue: warning: the leaf outlives its CA; peers stop trusting it when "
           "the CA expires\n";
  out << "wrote " << paths.key_path << " (mode 0600)\n"
      << "wrote " << paths.cert_path << " (" << info.subject << ", SAN "
      << fmt::format("{}", fmt::join(info.sans, ", ")) << ", serverAuth + clientAuth, valid until "
      << date(info.not_after) << ")\n"
      << "wrote " << paths.ca_path << '\n';
  return 0;
}

}  // namespace

CLI::App* add_tls_commands(CLI::App& app, TlsCommand& cmd) {
  auto* tls = app.add_subcommand("tls", "make a CA and node certificates for a standalone mesh");
  tls->require_subcommand(1);

  cmd.init_ca = tls->add_subcommand("init-ca", "create DIR/ca.pem and DIR/ca.key (0600)");
  cmd.init_ca->add_option("--dir", cmd.ca_dir, "directory for the CA")->required();
  cmd.init_ca->add_option("--name", cmd.ca_name, "the CA's common name")->capture_default_str();
  cmd.init_ca->add_option("--days", cmd.ca_days, "validity in days")
      ->capture_default_str()
      ->check(CLI::Range(1, 36500));
  cmd.init_ca->add_flag("--force", cmd.force, "replace an existing CA");

  cmd.issue = tls->add_subcommand(
      "issue", "create OUT/tls.key (0600), OUT/tls.crt and OUT/ca.pem for one node");
  cmd.issue->add_option("--ca-dir", cmd.ca_dir, "directory of ca.pem and ca.key")->required();
  cmd.issue
      ->add_option("--node-url", cmd.node_url,
                   "the node's MESHCACHE_NODE_URL; its host becomes the CN and SAN")
      ->required();
  cmd.issue->add_option("--san", cmd.extra_sans,
                        "another host name or IP the node is reached under, e.g. the public name "
                        "of a gateway (repeatable)");
  cmd.issue
      ->add_option("--out-dir", cmd.out_dir,
                   "where to write the files, e.g. $MESHCACHE_DATA_DIR/tls")
      ->required();
  cmd.issue->add_option("--days", cmd.leaf_days, "validity in days")
      ->capture_default_str()
      ->check(CLI::Range(1, 36500));
  return tls;
}

int run_tls_command(const TlsCommand& cmd, std::ostream& out, std::ostream& err) {
  if (*cmd.init_ca) return init_ca(cmd, out, err);
  return issue(cmd, out, err);
}

}  // namespace meshcache::cli
