// url_host.cc: host extraction from node URLs (any thread).
#include "tls/url_host.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace meshcache::tls {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool valid_port(std::string_view rest) {
  if (rest.empty()) return true;
  if (rest[0] != ':' || rest.size() > 6) return false;
  unsigned port = 0;
  for (char c : rest.substr(1)) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  return port <= 65535;
}

Status bad(std::string_view why) {
  return Status(Code::invalid_argument, "not an http(s) URL with a host: " + std::string(why));
}

}  // namespace

bool valid_host_name(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

std::optional<std::string> ip_literal(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string text(host);
  unsigned char addr[16];
  char out[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6})
    if (inet_pton(family, text.c_str(), addr) == 1 && inet_ntop(family, addr, out, sizeof(out)))
      return std::string(out);
  return std::nullopt;
}

Result<std::string> url_host(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("no scheme");
  std::string scheme = lower(url.substr(0, sep));
  if (scheme != "http" && scheme != "https") return bad("the scheme must be http or https");
  std::string_view authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);

  std::string_view host, rest;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in the host");
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
    if (host.find(':') == std::string_view::npos || !ip_literal(host))
      return bad("the bracketed host is not an IPv6 address");
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
    if (host.empty()) return bad("the host is empty");
    if (!valid_host_name(host)) return bad("the host has characters a host name cannot have");
  }
  if (!valid_port(rest)) return bad("the port is not a number from 0 to 65535");
  return lower(host);
}

}  // namespace meshcache::tls
