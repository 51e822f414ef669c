// url_host.h: the host of a node URL, which is the node's certificate CN and SAN and its
// node_id (CLI, control-plane thread, mock control plane; any thread).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "storage/status.h"

namespace meshcache::tls {

// The host of an http:// or https:// URL, lowercased, IPv6 without its brackets:
// "https://Node-1.internal:7443/x" → "node-1.internal", "http://[::1]:7443" → "::1".
// invalid_argument saying what is wrong (the URL itself is not repeated: it may hold a
// password) when the scheme is another, the host is empty or malformed, or the port is bad.
Result<std::string> url_host(std::string_view url);

// Letters, digits, '-', '.' and '_' only, and not empty: a name OpenSSL and URLs take as is.
bool valid_host_name(std::string_view host);

// The canonical text of an IPv4 or IPv6 literal (brackets allowed), or nothing for a name.
std::optional<std::string> ip_literal(std::string_view host);

}  // namespace meshcache::tls
