// main.cc: the `meshcache` command (run | status | tls | version); main thread, kept by `run`.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <iostream>

#include "agent/logging.h"
#include "agent/node.h"
#include "cli/config_parser.h"
#include "cli/status_command.h"
#include "cli/tls_command.h"

namespace {

using namespace meshcache;

constexpr int kUsageError = 2;

int run_node(const cli::RawConfig& raw) {
  agent::Config config;
  try {
    config = cli::resolve_config(raw);
  } catch (const cli::ConfigError& e) {
    std::cerr << "meshcache: " << e.what() << '\n';
    return kUsageError;
  }
  agent::setup_logging(config.log_format, config.log_level);
  return agent::Node(std::move(config), MESHCACHE_VERSION).run();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meshcache: a build-cache node for Bazel, ccache, Gradle, Turborepo, Nx, Xcode"};
  app.require_subcommand(0, 1);

  cli::RawConfig raw;
  auto* run = app.add_subcommand("run", "serve the cache until SIGTERM");
  cli::add_run_options(*run, raw);

  bool json = false;
  std::optional<std::string> status_data_dir;
  auto* status = app.add_subcommand(
      "status", "show the running node's status; exit 0 serving, 1 not serving, 2 unreachable");
  status->add_flag("--json", json, "print JSON even on a terminal");
  cli::add_data_dir_option(*status, status_data_dir);

  auto* version = app.add_subcommand("version", "print the version");

  cli::TlsCommand tls_command;
  auto* tls = cli::add_tls_commands(app, tls_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every usage error exits 2, like a bad configuration.
    return app.exit(e) == 0 ? 0 : kUsageError;
  }

  if (*run) return run_node(raw);
  if (*status) {
    try {
      return cli::run_status(cli::resolve_data_dir(status_data_dir), json, std::cout, std::cerr);
    } catch (const cli::ConfigError& e) {
      std::cerr << "meshcache status: " << e.what() << '\n';
      return kUsageError;
    }
  }
  if (*tls) return cli::run_tls_command(tls_command, std::cout, std::cerr);
  if (*version) {
    std::cout << "meshcache " << MESHCACHE_VERSION << '\n';
    return 0;
  }
  std::cout << app.help();
  return 0;
}
