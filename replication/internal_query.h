// internal_query.h: query parameters of the internal routes with Kura's answers: a required
// parameter missing or empty is "Missing {name}", a bad number "Invalid {name}: ...". The
// first error wins and later reads return defaults. I/O loop threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/http/exchange.h"

namespace meshcache::replication {

class Query {
 public:
  explicit Query(const http::Request& request) : request_(request) {}

  // Form-decoded value, nullopt when absent (or not decodable).
  std::optional<std::string> optional(std::string_view name) const;
  // Present and non-empty; or, with allow_empty, present (namespace_id: "" is tenant scope).
  std::string required(std::string_view name, bool allow_empty = false);
  // A decimal u64 (at most INT64_MAX: versions and counts fit int64 here); `absent` when the
  // parameter is not there.
  uint64_t number(std::string_view name, uint64_t absent);
  // Literal true/false; false when absent.
  bool flag(std::string_view name);
  // Records an error of the caller's own ("Invalid limit: 0").
  void fail(std::string message);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  const http::Request& request_;
  std::string error_;
};

}  // namespace meshcache::replication
