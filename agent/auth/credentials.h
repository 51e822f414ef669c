// credentials.h: the token a client presents in `Authorization` (Bearer, or the password of
// Basic in either base64 alphabet) and its SHA-256. I/O loop threads (any thread is safe).
#pragma once

#include <optional>
#include <string>

#include "agent/auth/authorizer.h"
#include "agent/http/exchange.h"

namespace meshcache::agent {

// Longer `Authorization` values are refused before any decoding or hashing.
inline constexpr size_t kMaxCredentialBytes = 4096;
inline constexpr const char* kCredentialRequired =
    "a bearer token or basic credentials are required";

// Fills `credential` the first time it is called for a request; later calls cost nothing.
void read_credential(const http::Request& request, RequestCredential& credential);

// The token itself, for the one place that must send it on (introspection); nullopt when the
// request presents none.
std::optional<std::string> presented_token(const http::Request& request);

}  // namespace meshcache::agent
