// json_body_handler.h: the base of handlers whose request body is a small JSON document (Xcode
// keyvalue, Turborepo events, Tuist module complete): buffered whole up to a bound, parsed once.
// Runs on the I/O loop thread of its connection.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "agent/cache/cache_handler.h"

namespace meshcache::agent::cache {

class JsonBodyHandler : public CacheHandler {
 protected:
  JsonBodyHandler(const CacheContext& ctx, std::string_view route, uint64_t limit)
      : CacheHandler(ctx, route), limit_(limit) {}

  // Call from start() once the request is authorized; false when it has answered 413 for a
  // declared length over the bound.
  bool accept_body(http::Exchange& ex);
  // The buffered body, or a discarded value (is_discarded()) when it is not JSON.
  nlohmann::json document() const;

 private:
  void body(http::Exchange& ex, std::span<const uint8_t> bytes) final;

  uint64_t limit_;
  std::string text_;
};

}  // namespace meshcache::agent::cache
