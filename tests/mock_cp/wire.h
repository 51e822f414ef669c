// wire.h: the pieces of wire format the mock's APIs share: replies, bounded JSON parsing, URL
// checks, base64 and random identifiers, clocks (pure functions; the loop thread and main).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/http/exchange.h"

namespace meshcache::mockcp {

using nlohmann::json;

// A whole response, built before it is sent (every mock answer is small).
struct Reply {
  int status = 200;
  std::vector<http::Header> headers;  // content-type included
  std::string body;
};

Reply json_reply(int status, const json& body);
// {"error": code}, the contract's error shape.
Reply error_reply(int status, std::string_view code);
// {"error": code, "message": message}, for the admin API, where a reason helps the test author.
Reply error_reply(int status, std::string_view code, std::string_view message);

// Serialises with invalid UTF-8 replaced, so bytes a client sent can never make dump() throw.
std::string dump(const json& value);
// The document, or nullopt when `text` is not JSON or nests deeper than a sane document does
// (dump() recurses, so an absurdly deep value stored from a client could overflow the stack).
std::optional<json> parse_json(std::string_view text);
// `field` of `object` when it is a string, else nullopt.
std::optional<std::string> string_field(const json& object, std::string_view field);

struct HttpUrl {
  std::string scheme;    // "http" or "https", lowercase
  std::string userinfo;  // what precedes '@' in the authority, "" if none
  std::string host;      // without the brackets of an IPv6 literal; never empty
};
// An absolute http(s) URL with a non-empty host and, if any, a numeric port; nullopt otherwise.
std::optional<HttpUrl> parse_http_url(std::string_view url);

std::string lowercase(std::string_view text);
bool iequals(std::string_view a, std::string_view b);

// Unpadded base64url of `bytes` fresh random bytes (OpenSSL's CSPRNG).
std::string random_base64url(size_t bytes);
std::string base64url(std::span<const uint8_t> bytes);
// Standard-alphabet base64, padded as RFC 4648 requires; nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view text);
// A random (version 4) UUID in its 36-character form.
std::string random_uuid();
std::vector<uint8_t> random_bytes(size_t n);

int64_t now_unix_ms();
// "2026-12-22T10:00:00Z"
std::string iso8601_utc(int64_t unix_seconds);

}  // namespace meshcache::mockcp
