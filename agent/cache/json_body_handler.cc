// json_body_handler.cc: bounded buffering of small JSON request bodies (I/O loop threads).
#include "agent/cache/json_body_handler.h"

#include "agent/cache/artifact_put.h"

namespace meshcache::agent::cache {

bool JsonBodyHandler::accept_body(http::Exchange& ex) {
  const http::Request& request = ex.request();
  if (Status declared = check_declared_length(request, limit_); !declared.ok()) {
    respond_status(ex, declared);
    return false;
  }
  if (request.content_length) text_.reserve(*request.content_length);
  return true;
}

void JsonBodyHandler::body(http::Exchange& ex, std::span<const uint8_t> bytes) {
  // Chunked bodies declare nothing: the bound holds as they arrive.
  if (text_.size() + bytes.size() > limit_) {
    respond_status(ex, too_large(limit_));
    return;
  }
  text_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

nlohmann::json JsonBodyHandler::document() const {
  return nlohmann::json::parse(text_, nullptr, false);
}

}  // namespace meshcache::agent::cache
