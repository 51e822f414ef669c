// secure_file.h: files that must never be seen half-written or by other users (keys,
// certificates, credentials). Any thread; blocking file I/O.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "storage/status.h"

namespace meshcache::tls {

// Writes `bytes` to a temporary file in the same directory created with `mode` (O_EXCL),
// fsyncs it, renames it over `path` and fsyncs the directory. Creates missing parent
// directories at 0700. A reader sees the old file or the new one, never a mix.
Status write_file_atomic(const std::string& path, std::string_view bytes, mode_t mode);
// The whole file, refusing one larger than `max_bytes`.
Result<std::string> read_small_file(const std::string& path, size_t max_bytes = 1 << 20);

}  // namespace meshcache::tls
