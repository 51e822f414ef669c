// string_body.cc: in-memory response bodies and the server's own JSON errors (I/O loop threads).
#include "agent/http/string_body.h"

#include <event2/buffer.h>

#include "agent/http/session.h"

namespace meshcache::http {

Result<size_t> StringBody::pull(evbuffer* out, size_t /*max_bytes*/) {
  // These bodies are small: one append is cheaper than slicing.
  if (sent_ || text_.empty()) return size_t{0};
  sent_ = true;
  if (evbuffer_add(out, text_.data(), text_.size()) != 0) {
    return Status(Code::internal, "evbuffer_add failed");
  }
  return text_.size();
}

void respond_error(Exchange& ex, int status) {
  // The code is the reason phrase in snake case ("Request Header Fields Too Large" →
  // request_header_fields_too_large); phrases are ASCII letters and spaces, so no escaping.
  std::string_view reason = reason_phrase(status);
  std::string code;
  code.reserve(reason.size());
  for (char c : reason) {
    if (c == ' ' || c == '-') {
      code.push_back('_');
    } else if (c >= 'A' && c <= 'Z') {
      code.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (c != '\'') {
      code.push_back(c);
    }
  }
  std::string body = "{\"error\":\"" + code + "\",\"message\":\"" + std::string(reason) + "\"}";
  Response r;
  r.status = status;
  r.headers.push_back({"content-type", "application/json"});
  r.content_length = body.size();
  if (ex.request().method == "HEAD") {
    ex.respond(std::move(r), nullptr);
  } else {
    ex.respond(std::move(r), std::make_unique<StringBody>(std::move(body)));
  }
}

}  // namespace meshcache::http
