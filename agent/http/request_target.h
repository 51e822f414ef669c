// request_target.h: request-target parsing and percent-decoding shared by both protocols
// (pure functions; any thread).
#pragma once

#include <string>
#include <string_view>

#include "agent/http/exchange.h"

namespace meshcache::http {

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in query strings).
// Returns false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

// Fills request.raw_path, path (decoded) and query from an origin-form ("/p?q") or
// absolute-form ("http://h/p?q") target. Returns false when the target is unusable (400).
bool set_request_target(Request& request, std::string_view target);

}  // namespace meshcache::http
