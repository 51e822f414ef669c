// tls_command.h: `meshcache tls init-ca | issue`, a CA and per-node leaves for a standalone mesh
// (CLI main thread).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace meshcache::cli {

// The parsed options of both subcommands (bound by add_tls_commands).
struct TlsCommand {
  CLI::App* init_ca = nullptr;
  CLI::App* issue = nullptr;
  std::string ca_dir;  // init-ca --dir, issue --ca-dir
  std::string ca_name = "meshcache mesh CA";
  int ca_days = 1825;
  bool force = false;
  std::string node_url;
  std::vector<std::string> extra_sans;  // issue --san: more names the node is reached under
  std::string out_dir;
  int leaf_days = 30;
};

// Adds `tls` with its `init-ca` and `issue` subcommands to `app`; returns `tls`.
CLI::App* add_tls_commands(CLI::App& app, TlsCommand& cmd);
// Runs the parsed subcommand: 0 done, 1 failed, 2 bad arguments.
int run_tls_command(const TlsCommand& cmd, std::ostream& out, std::ostream& err);

}  // namespace meshcache::cli
