// json_error.h: JSON error bodies and the mapping from a storage Status to an HTTP error.
// Used on the I/O loop threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "agent/http/exchange.h"
#include "agent/http/string_body.h"

namespace meshcache::agent::cache {

using http::StringBody;

// {"error": code, "message": message}, escaped by nlohmann.
std::string json_error_body(std::string_view code, std::string_view message);

struct HttpError {
  int status;
  std::string_view code;
};
// not_found 404, invalid_argument 400, too_large 413, digest_mismatch `digest_mismatch_status`,
// unavailable 503, conflict 409, everything else 500.
HttpError http_error(Code code, int digest_mismatch_status);

}  // namespace meshcache::agent::cache
