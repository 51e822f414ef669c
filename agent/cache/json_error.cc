// json_error.cc: JSON error bodies and Status → HTTP error mapping (I/O loop threads).
#include "agent/cache/json_error.h"

#include <event2/buffer.h>

#include <nlohmann/json.hpp>

namespace meshcache::agent::cache {

std::string json_error_body(std::string_view code, std::string_view message) {
  nlohmann::json body{{"error", code}, {"message", message}};
  // Invalid UTF-8 in a message (e.g. an echoed key) is replaced rather than thrown on.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpError http_error(Code code, int digest_mismatch_status) {
  switch (code) {
    case Code::not_found:
      return {404, "not_found"};
    case Code::invalid_argument:
      return {400, "bad_request"};
    case Code::too_large:
      return {413, "too_large"};
    case Code::digest_mismatch:
      return {digest_mismatch_status, "digest_mismatch"};
    case Code::unavailable:
      return {503, "unavailable"};
    case Code::conflict:
      return {409, "conflict"};
    default:
      return {500, "internal_error"};
  }
}

}  // namespace meshcache::agent::cache
