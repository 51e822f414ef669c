// string_body.h: a response body already in memory (errors, probes, small JSON documents).
// Used on the I/O loop thread that owns the response.
#pragma once

#include <string>

#include "agent/http/exchange.h"

namespace meshcache::http {

class StringBody final : public BodySource {
 public:
  explicit StringBody(std::string text) : text_(std::move(text)) {}
  Result<size_t> pull(evbuffer* out, size_t max_bytes) override;
  size_t size() const { return text_.size(); }

 private:
  std::string text_;
  bool sent_ = false;
};

// Answers with the server's own JSON error, {"error": code, "message": reason}, as every
// route of the public API does, so a client sees one error shape whoever produced it.
void respond_error(Exchange& ex, int status);

}  // namespace meshcache::http
