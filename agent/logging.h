// logging.h: installs the process-wide stderr spdlog logger; main thread, before other threads.
#pragma once

#include <string_view>

#include "agent/config.h"

namespace meshcache::agent {

// `level` is one of spdlog's names (trace ... off), already validated by the CLI.
void setup_logging(LogFormat format, std::string_view level);

}  // namespace meshcache::agent
