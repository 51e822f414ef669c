// wire.cc: replies, bounded JSON parsing, URL checks, base64, random identifiers and clocks
// (pure functions; the loop thread and main).
#include "tests/mock_cp/wire.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <stdexcept>

namespace meshcache::mockcp {
namespace {

// Real contract documents nest three or four levels; this leaves room for test payloads.
constexpr int kMaxJsonDepth = 64;

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

Reply json_reply(int status, const json& body) {
  return Reply{status, {{"content-type", "application/json"}}, dump(body)};
}

Reply error_reply(int status, std::string_view code) {
  return json_reply(status, json{{"error", code}});
}

Reply error_reply(int status, std::string_view code, std::string_view message) {
  return json_reply(status, json{{"error", code}, {"message", message}});
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<json> parse_json(std::string_view text) {
  bool too_deep = false;
  // The callback sees every value with its depth; dropping the deep ones keeps the parser from
  // building them, and the flag rejects the document.
  json::parser_callback_t limit = [&too_deep](int depth, json::parse_event_t, json&) {
    if (depth > kMaxJsonDepth) too_deep = true;
    return !too_deep;
  };
  json doc = json::parse(text.begin(), text.end(), limit, false);
  if (too_deep || doc.is_discarded()) return std::nullopt;
  return doc;
}

std::optional<std::string> string_field(const json& object, std::string_view field) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find(field);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<HttpUrl> parse_http_url(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  HttpUrl out;
  out.scheme = lowercase(url.substr(0, scheme_end));
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(scheme_end + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    out.userinfo.assign(authority.substr(0, at));
    authority.remove_prefix(at + 1);
  }
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty() || !all_digits(port) || port.size() > 5) return std::nullopt;
  for (unsigned char c : host) {
    if (c <= ' ' || c >= 0x7f) return std::nullopt;
  }
  out.host.assign(host);
  return out;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lowercase(a) == lowercase(b);
}

std::vector<uint8_t> random_bytes(size_t n) {
  std::vector<uint8_t> out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    throw std::runtime_error("the OpenSSL random generator failed");
  }
  return out;
}

std::string random_base64url(size_t bytes) { return base64url(random_bytes(bytes)); }

std::string base64url(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::string random_uuid() {
  std::vector<uint8_t> b = random_bytes(16);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string hex;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) hex.push_back('-');
    hex += fmt::format("{:02x}", b[i]);
  }
  return hex;
}

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso8601_utc(int64_t unix_seconds) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(static_cast<std::time_t>(unix_seconds)));
}

}  // namespace meshcache::mockcp
