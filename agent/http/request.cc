// request.cc: Request accessors, request-target splitting and percent-decoding (any thread).
#include "agent/http/exchange.h"
#include "agent/http/request_target.h"

namespace meshcache::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool set_request_target(Request& request, std::string_view target) {
  if (target.empty()) return false;
  std::string_view rest = target;
  if (target.front() != '/') {
    // Absolute form: keep what follows the authority.
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return false;
    size_t start = target.find_first_of("/?#", scheme_end + 3);
    rest = start == std::string_view::npos ? std::string_view() : target.substr(start);
  }
  size_t cut = rest.find_first_of("?#");
  std::string_view path = rest.substr(0, cut);
  if (path.empty()) path = "/";
  std::string_view tail = cut == std::string_view::npos ? std::string_view() : rest.substr(cut);
  if (!tail.empty() && tail.front() == '?') {
    tail.remove_prefix(1);
    request.query.assign(tail.substr(0, tail.find('#')));
  } else {
    request.query.clear();
  }
  request.raw_path.assign(path);
  return percent_decode(path, request.path, false);
}

const std::string* Request::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name == name) return &h.value;
  }
  return nullptr;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::string_view rest = query;
  std::string key;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view raw_key = pair.substr(0, eq);
    if (!percent_decode(raw_key, key, true) || key != name) continue;
    std::string value;
    if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), value, true)) {
      return std::nullopt;
    }
    return value;
  }
  return std::nullopt;
}

}  // namespace meshcache::http
