// http1_parser.h: our small interface over http-parser 2.9 for HTTP/1.x requests: builds a
// Request, enforces the size limits and framing rules, stops at every message end.
// Runs on the I/O loop thread of its session.
#pragma once

#include <http_parser.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "agent/http/exchange.h"
#include "agent/http/server.h"

namespace meshcache::http {

class Http1Parser {
 public:
  class Events {
   public:
    // The first byte of a request arrived.
    virtual void on_message_begin() = 0;
    // The head is complete and valid. Return false to stop parsing here.
    virtual bool on_head(Request&& request, bool keep_alive) = 0;
    // A piece of the (de-chunked) body. Return false to stop parsing here.
    virtual bool on_body(std::span<const uint8_t> bytes) = 0;
    // The message is complete; parsing stops after it until the next feed().
    virtual void on_message_end() = 0;

   protected:
    ~Events() = default;
  };

  Http1Parser(const Limits& limits, Events& events);
  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  // Parses until a message ends, a callback stops, or an error; returns the bytes used.
  size_t feed(std::string_view data);
  // 0 while the stream is well formed; else the status to answer (400, 411, 413, 414, 431).
  // After an error the parser is dead.
  int error_status() const { return error_status_; }
  bool in_head() const { return state_ == State::head; }
  bool in_body() const { return state_ == State::body; }
  // The minor version of the request being parsed (valid from on_head on).
  int http_minor() const { return parser_.http_minor; }

 private:
  enum class State { idle, head, body };

  static int cb_message_begin(http_parser* p) noexcept;
  static int cb_url(http_parser* p, const char* at, size_t len) noexcept;
  static int cb_header_field(http_parser* p, const char* at, size_t len) noexcept;
  static int cb_header_value(http_parser* p, const char* at, size_t len) noexcept;
  static int cb_headers_complete(http_parser* p) noexcept;
  static int cb_body(http_parser* p, const char* at, size_t len) noexcept;
  static int cb_message_complete(http_parser* p) noexcept;

  bool count_head_bytes(size_t len);
  int fail(int status);
  int validate_head();

  static const http_parser_settings kSettings;

  const Limits& limits_;
  Events& events_;
  http_parser parser_;
  State state_ = State::idle;
  int error_status_ = 0;
  bool in_value_ = false;
  size_t head_bytes_ = 0;
  std::string target_;
  Request request_;
  int content_length_headers_ = 0;
  bool has_transfer_encoding_ = false;
  bool chunked_ = false;
  uint64_t body_bytes_ = 0;
};

}  // namespace meshcache::http
