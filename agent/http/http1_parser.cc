// http1_parser.cc: HTTP/1.x request parsing over http-parser 2.9 (I/O loop thread).
#include "agent/http/http1_parser.h"

#include <strings.h>

#include "agent/http/request_target.h"

namespace meshcache::http {
namespace {

constexpr size_t kHeaderOverhead = 4;  // ": " and CRLF, so the cap counts roughly wire bytes

Http1Parser& self(http_parser* p) { return *static_cast<Http1Parser*>(p->data); }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

const http_parser_settings Http1Parser::kSettings = [] {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = cb_message_begin;
  s.on_url = cb_url;
  s.on_header_field = cb_header_field;
  s.on_header_value = cb_header_value;
  s.on_headers_complete = cb_headers_complete;
  s.on_body = cb_body;
  s.on_message_complete = cb_message_complete;
  return s;
}();

Http1Parser::Http1Parser(const Limits& limits, Events& events) : limits_(limits), events_(events) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

size_t Http1Parser::feed(std::string_view data) {
  // An empty feed would tell http-parser the stream ended.
  if (error_status_ != 0 || data.empty()) return 0;
  if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED) http_parser_pause(&parser_, 0);
  size_t n = http_parser_execute(&parser_, &kSettings, data.data(), data.size());
  http_errno err = HTTP_PARSER_ERRNO(&parser_);
  if (err != HPE_OK && err != HPE_PAUSED && error_status_ == 0) {
    error_status_ = err == HPE_HEADER_OVERFLOW ? 431 : 400;
  }
  return n;
}

int Http1Parser::fail(int status) {
  error_status_ = status;
  return -1;
}

bool Http1Parser::count_head_bytes(size_t len) {
  head_bytes_ += len;
  return head_bytes_ <= limits_.max_header_bytes;
}

int Http1Parser::cb_message_begin(http_parser* p) noexcept {
  auto& s = self(p);
  s.state_ = State::head;
  s.in_value_ = false;
  s.head_bytes_ = 0;
  s.target_.clear();
  s.content_length_headers_ = 0;
  s.has_transfer_encoding_ = false;
  s.chunked_ = false;
  s.body_bytes_ = 0;
  s.events_.on_message_begin();
  return 0;
}

int Http1Parser::cb_url(http_parser* p, const char* at, size_t len) noexcept {
  auto& s = self(p);
  if (!s.count_head_bytes(len)) return s.fail(431);
  if (s.target_.size() + len > s.limits_.max_url_bytes) return s.fail(414);
  s.target_.append(at, len);
  return 0;
}

int Http1Parser::cb_header_field(http_parser* p, const char* at, size_t len) noexcept {
  auto& s = self(p);
  if (!s.count_head_bytes(len)) return s.fail(431);
  auto& headers = s.request_.headers;
  if (s.in_value_ || headers.empty()) {
    if (headers.size() >= s.limits_.max_headers) return s.fail(431);
    if (!s.count_head_bytes(kHeaderOverhead)) return s.fail(431);
    headers.emplace_back();
    s.in_value_ = false;
  }
  std::string& name = headers.back().name;
  for (size_t i = 0; i < len; ++i) name.push_back(lower(at[i]));
  return 0;
}

int Http1Parser::cb_header_value(http_parser* p, const char* at, size_t len) noexcept {
  auto& s = self(p);
  if (!s.count_head_bytes(len)) return s.fail(431);
  s.in_value_ = true;
  s.request_.headers.back().value.append(at, len);
  return 0;
}

int Http1Parser::validate_head() {
  Request& r = request_;
  if (parser_.http_major != 1) return 400;
  for (auto& h : r.headers) {
    std::string_view v = trim(h.value);
    if (v.size() != h.value.size()) h.value.assign(v);
    if (h.name == "content-length") {
      ++content_length_headers_;
    } else if (h.name == "transfer-encoding") {
      // Only plain chunked framing is implemented; anything else cannot be delimited safely.
      if (has_transfer_encoding_ || !iequals(h.value, "chunked")) return 400;
      has_transfer_encoding_ = true;
      chunked_ = true;
    } else if (h.name == "expect") {
      r.expect_continue = iequals(h.value, "100-continue") && parser_.http_minor >= 1;
    } else if (h.name == "host" && r.authority.empty()) {
      r.authority = h.value;
    }
  }
  // Request smuggling guards: one length, never both framings.
  if (content_length_headers_ > 1 || (content_length_headers_ == 1 && has_transfer_encoding_)) {
    return 400;
  }
  if (!set_request_target(r, target_)) return 400;
  r.method = http_method_str(static_cast<http_method>(parser_.method));
  if (content_length_headers_ == 1) r.content_length = parser_.content_length;
  r.has_body = chunked_ || (r.content_length && *r.content_length > 0);
  if (!chunked_ && content_length_headers_ == 0 && (r.method == "PUT" || r.method == "POST")) {
    return 411;
  }
  if (r.content_length && *r.content_length > limits_.max_body_bytes) return 413;
  return 0;
}

int Http1Parser::cb_headers_complete(http_parser* p) noexcept {
  auto& s = self(p);
  if (int status = s.validate_head(); status != 0) return s.fail(status);
  s.state_ = State::body;
  bool keep_alive = http_should_keep_alive(p) != 0;
  bool go_on = s.events_.on_head(std::move(s.request_), keep_alive);
  s.request_ = Request{};
  if (!go_on) http_parser_pause(p, 1);
  return 0;
}

int Http1Parser::cb_body(http_parser* p, const char* at, size_t len) noexcept {
  auto& s = self(p);
  s.body_bytes_ += len;
  if (s.body_bytes_ > s.limits_.max_body_bytes) return s.fail(413);
  if (!s.events_.on_body({reinterpret_cast<const uint8_t*>(at), len})) http_parser_pause(p, 1);
  return 0;
}

int Http1Parser::cb_message_complete(http_parser* p) noexcept {
  auto& s = self(p);
  s.state_ = State::idle;
  s.events_.on_message_end();
  // Stop at every message end so the session can bound pipelining.
  http_parser_pause(p, 1);
  return 0;
}

}  // namespace meshcache::http
