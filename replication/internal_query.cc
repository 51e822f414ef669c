// internal_query.cc: the internal routes' query parameters and their Kura-style errors;
// I/O loop threads.
#include "replication/internal_query.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

namespace meshcache::replication {

std::optional<std::string> Query::optional(std::string_view name) const {
  return request_.query_param(name);
}

std::string Query::required(std::string_view name, bool allow_empty) {
  std::optional<std::string> value = optional(name);
  if (!value || (value->empty() && !allow_empty)) {
    fail(fmt::format("Missing {}", name));
    return {};
  }
  return std::move(*value);
}

uint64_t Query::number(std::string_view name, uint64_t absent) {
  std::optional<std::string> value = optional(name);
  if (!value) return absent;
  uint64_t n = 0;
  const char* end = value->data() + value->size();
  auto [ptr, ec] = std::from_chars(value->data(), end, n);
  if (value->empty() || ec != std::errc() || ptr != end ||
      n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    fail(fmt::format("Invalid {}: {:?} is not a u64", name, *value));
    return absent;
  }
  return n;
}

bool Query::flag(std::string_view name) {
  std::optional<std::string> value = optional(name);
  if (!value || *value == "false") return false;
  if (*value == "true") return true;
  fail(fmt::format("Invalid {}: {:?} is not true or false", name, *value));
  return false;
}

void Query::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
}

}  // namespace meshcache::replication
