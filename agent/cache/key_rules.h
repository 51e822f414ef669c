// key_rules.h: what a cache key, namespace or digest may look like, and the path splitting the
// surfaces share. Pure functions, called on the I/O loop threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace meshcache::agent::cache {

inline constexpr size_t kMaxKeyBytes = 1024;
// SHA-256 of the empty string: Bazel treats this CAS blob as always present.
inline constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Non-empty, at most 1024 bytes, no NUL, no backslash and no ".." segment.
bool valid_key(std::string_view key);
// Like a key, but may be empty (tenant scope).
bool valid_namespace(std::string_view ns);
// Exactly 64 lowercase hex digits.
bool is_sha256_hex(std::string_view s);
// A SHA-256 given in hex of either case (client headers), lowercased; nullopt if it is not one.
std::optional<std::string> parse_sha256(std::string_view s);
// "a/b/c" → {"a", "b/c"}; no slash → {s, ""}.
std::pair<std::string_view, std::string_view> split_first(std::string_view s);
// If `s` starts with `prefix`, strips it and returns true.
bool consume(std::string_view& s, std::string_view prefix);

}  // namespace meshcache::agent::cache
