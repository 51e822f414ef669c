// session.cc: helpers shared by the HTTP sessions (ids, sniffing, dates); I/O loop threads.
#include "agent/http/session.h"

#include <event2/buffer.h>
#include <fmt/format.h>

#include <cstring>
#include <ctime>
#include <random>

namespace meshcache::http {
namespace {

constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace

void EvbufferFree::operator()(evbuffer* b) const { evbuffer_free(b); }

RequestIds::RequestIds() {
  std::random_device rd;
  fmt::format_to_n(prefix_, sizeof(prefix_) - 1, "{:08x}", rd());
  prefix_[8] = '\0';
}

std::string RequestIds::next() {
  std::string id;
  id.reserve(15);
  id.append(prefix_, 8);
  id.push_back('-');
  fmt::format_to(std::back_inserter(id), "{:x}", ++counter_);
  return id;
}

Sniffed sniff_protocol(evbuffer* in) {
  char buf[kH2Preface.size()];
  ev_ssize_t n = evbuffer_copyout(in, buf, sizeof(buf));
  if (n <= 0) return Sniffed::need_more;
  if (std::memcmp(buf, kH2Preface.data(), static_cast<size_t>(n)) != 0) return Sniffed::http1;
  return static_cast<size_t>(n) == kH2Preface.size() ? Sniffed::h2 : Sniffed::need_more;
}

std::string_view http_date() {
  thread_local time_t cached_sec = 0;
  thread_local char cached[40];
  thread_local size_t cached_len = 0;
  time_t now = time(nullptr);
  if (now != cached_sec) {
    struct tm tm;
    gmtime_r(&now, &tm);
    cached_len = strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_sec = now;
  }
  return {cached, cached_len};
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 507:
      return "Insufficient Storage";
    default:
      return "Unknown";
  }
}

bool reserved_response_header(std::string_view name) {
  return name == "content-length" || name == "date" || name == "x-request-id" ||
         name == "connection" || name == "transfer-encoding" || name == "keep-alive" ||
         name == "upgrade" || name == "proxy-connection";
}

}  // namespace meshcache::http
