// artifact_get.cc: streaming GET/HEAD with Range for every surface (I/O loop thread).
// A hit is: head → read → respond with a StoreBodySource; nothing else on the hot path.
#include "agent/cache/artifact_get.h"

#include <fmt/format.h>

#include <charconv>

#include "agent/cache/store_body_source.h"

namespace meshcache::agent::cache {
namespace {

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (c != b[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// If-Range carries the entity tag we sent: "\"<sha256>\"".
bool names_version(std::string_view tag, const storage::Manifest& m) {
  return !m.sha256_hex.empty() && tag.size() == m.sha256_hex.size() + 2 && tag.front() == '"' &&
         tag.back() == '"' && tag.substr(1, m.sha256_hex.size()) == m.sha256_hex;
}

}  // namespace

RangeKind parse_range(std::string_view header, uint64_t size, ByteRange& out) {
  header = trim(header);
  if (header.size() < 6 || !iequals(header.substr(0, 6), "bytes=")) return RangeKind::none;
  std::string_view spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return RangeKind::none;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeKind::none;
  std::string_view first = trim(spec.substr(0, dash));
  std::string_view last = trim(spec.substr(dash + 1));

  if (first.empty()) {  // suffix: the last n bytes
    uint64_t n = 0;
    if (!parse_u64(last, n)) return RangeKind::none;
    if (n == 0 || size == 0) return RangeKind::unsatisfiable;
    out.length = n < size ? n : size;
    out.offset = size - out.length;
    return RangeKind::satisfiable;
  }
  uint64_t a = 0;
  if (!parse_u64(first, a)) return RangeKind::none;
  uint64_t b = 0;
  if (!last.empty()) {
    if (!parse_u64(last, b) || b < a) return RangeKind::none;
  }
  if (a >= size) return RangeKind::unsatisfiable;
  uint64_t end = last.empty() || b >= size ? size - 1 : b;
  out.offset = a;
  out.length = end - a + 1;
  return RangeKind::satisfiable;
}

void serve_artifact(CacheHandler& handler, http::Exchange& ex, const storage::ArtifactRef& ref,
                    const GetOptions& options) {
  const CacheContext& ctx = handler.context();
  const http::Request& request = ex.request();
  const bool head_only = request.method == "HEAD";

  Result<storage::Manifest> found = ctx.store->head(ref);
  if (!found.ok()) {
    if (found.status().code() != Code::not_found) {
      handler.respond_status(ex, found.status());
      return;
    }
    if (options.empty_on_miss) {
      http::Response empty;
      empty.headers.push_back({"content-type", std::string(kOctetStream)});
      handler.respond(ex, std::move(empty));
      return;
    }
    if (ctx.metrics != nullptr) ctx.metrics->record_miss();
    handler.respond_error(ex, 404, "not_found", "artifact not found");
    return;
  }
  if (ctx.metrics != nullptr) ctx.metrics->record_hit();
  const storage::Manifest& m = found.value();

  http::Response response;
  response.headers.reserve(5 + m.extras.size());
  response.headers.push_back(
      {"content-type", m.content_type.empty() ? std::string(kOctetStream) : m.content_type});
  response.headers.push_back({"accept-ranges", "bytes"});
  if (!m.sha256_hex.empty()) {
    std::string etag;  // plain appends: this runs on every hit
    etag.reserve(m.sha256_hex.size() + 2);
    etag.append(1, '"').append(m.sha256_hex).append(1, '"');
    response.headers.push_back({"etag", std::move(etag)});
    if (!options.digest_header.empty()) {
      response.headers.push_back({std::string(options.digest_header), m.sha256_hex});
    }
  }
  for (const auto& [name, value] : m.extras) response.headers.push_back({name, value});

  if (head_only) {
    response.status = options.head_hit_status;
    response.content_length = options.head_hit_status == 204 ? 0 : m.size;
    handler.respond(ex, std::move(response));
    return;
  }

  ByteRange range{0, m.size};
  if (const std::string* header = request.header("range")) {
    // If-Range names the version a resumed download started from; another version gets the
    // whole body so a client never splices two versions together.
    const std::string* if_range = request.header("if-range");
    RangeKind kind = if_range != nullptr && !names_version(*if_range, m)
                         ? RangeKind::none
                         : parse_range(*header, m.size, range);
    if (kind == RangeKind::unsatisfiable) {
      handler.respond_json(ex, 416,
                           R"({"error":"range_not_satisfiable","message":"range not satisfiable"})",
                           {{"content-range", fmt::format("bytes */{}", m.size)}});
      return;
    }
    if (kind == RangeKind::satisfiable) {
      response.status = 206;
      response.headers.push_back(
          {"content-range",
           fmt::format("bytes {}-{}/{}", range.offset, range.offset + range.length - 1, m.size)});
    }
  }

  response.content_length = range.length;
  if (range.length == 0) {
    handler.respond(ex, std::move(response));
    return;
  }
  Result<std::unique_ptr<storage::BodyReader>> reader =
      ctx.store->read(m, range.offset, range.length);
  if (!reader.ok()) {
    handler.respond_status(ex, reader.status());
    return;
  }
  handler.respond(ex, std::move(response),
                  std::make_unique<StoreBodySource>(std::move(reader.value()), range.length));
}

}  // namespace meshcache::agent::cache
