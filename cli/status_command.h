// status_command.h: `meshcache status` over the node's control socket; CLI main thread.
#pragma once

#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

namespace meshcache::cli {

// The status document as a two-column table for a person.
std::string format_status_table(const nlohmann::json& doc);
// 0 when the node serves, 1 when it answers but does not (starting, draining).
int status_exit_code(const nlohmann::json& doc);
// Prints the status of the node using `data_dir` (a table on a TTY unless `json`) and returns
// the exit code: 0 serving, 1 not serving, 2 unreachable.
int run_status(const std::string& data_dir, bool json, std::ostream& out, std::ostream& err);

}  // namespace meshcache::cli
