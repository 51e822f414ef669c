// key_rules.cc: key, namespace and digest validation for every surface (I/O loop threads).
#include "agent/cache/key_rules.h"

namespace meshcache::agent::cache {
namespace {

// The rules a key and a namespace share. A ".." segment is refused even though keys never reach
// a filesystem: peers (Kura) and operators map keys onto paths, and "a/../b" aliasing "b" would
// make two names for one artifact.
bool safe_text(std::string_view s) {
  if (s.size() > kMaxKeyBytes) return false;
  if (s.find('\0') != std::string_view::npos || s.find('\\') != std::string_view::npos) {
    return false;
  }
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('/', start);
    if (end == std::string_view::npos) end = s.size();
    if (s.substr(start, end - start) == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

bool valid_key(std::string_view key) { return !key.empty() && safe_text(key); }

bool valid_namespace(std::string_view ns) { return safe_text(ns); }

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<std::string> parse_sha256(std::string_view s) {
  std::string lower(s);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  if (!is_sha256_hex(lower)) return std::nullopt;
  return lower;
}

std::pair<std::string_view, std::string_view> split_first(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return {s, {}};
  return {s.substr(0, slash), s.substr(slash + 1)};
}

bool consume(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

}  // namespace meshcache::agent::cache
