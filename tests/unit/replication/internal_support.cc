// internal_support.cc: the internal-plane test fixtures (test thread; the server's loops and the
// background thread run on their own).
#include "internal_support.h"

#include <curl/curl.h>
#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "replication/curl_handles.h"
#include "replication/replicate_apply.h"

namespace meshcache::replication::test {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

size_t on_data(char* data, size_t size, size_t n, void* out) noexcept {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* out) noexcept {
  std::string_view line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.remove_suffix(1);
    (*static_cast<std::map<std::string, std::string>*>(
        out))[lower(std::string(line.substr(0, colon)))] = std::string(value);
  }
  return size * n;
}

struct Upload {
  std::string_view rest;
};

size_t on_read(char* buf, size_t size, size_t n, void* arg) noexcept {
  auto* up = static_cast<Upload*>(arg);
  size_t take = std::min(size * n, up->rest.size());
  std::copy_n(up->rest.data(), take, buf);
  up->rest.remove_prefix(take);
  return take;
}

}  // namespace

InternalNode::InternalNode(NodeOptions options) : tls_(static_cast<bool>(options.tls_context)) {
  storage::StoreOptions so;
  so.path = dir_.path() + "/store";
  auto store = storage::Store::open(so);
  if (!store.ok()) FAIL(store.status().message());
  store_ = std::move(store).value();

  InternalContext ctx;
  ctx.store = store_.get();
  ctx.metrics = &metrics;
  ctx.region = options.region;
  ctx.node_url = options.node_url;
  ctx.gateway_url = options.gateway_url;
  ctx.tenant = [this] { return tenant; };
  ctx.joined = [this] { return joined.load(); };
  ctx.traffic_state = [] { return std::string("serving"); };
  ctx.max_artifact_bytes = options.max_artifact_bytes;
  ctx.background = [this](std::function<void()> task) { background_.post(std::move(task)); };

  http::ServerOptions server;
  server.io_threads = 2;
  if (tls_) {
    server.tls_listen = "127.0.0.1:0";
    server.tls_context = options.tls_context;
  } else {
    server.listen = "127.0.0.1:0";
  }
  server_ = http::Server::start(server, make_internal_router(std::move(ctx)));
}

InternalNode::~InternalNode() {
  background_.stop();  // it posts answers to the server's loops: it ends first
  server_->stop();
}

std::string InternalNode::address() const {
  return tls_ ? server_->tls_address().value_or("") : server_->listen_address();
}

std::string InternalNode::url(std::string_view path_and_query) const {
  return (tls_ ? "https://" : "http://") + address() + std::string(path_and_query);
}

uint64_t InternalNode::applies(std::string_view outcome) const {
  std::string text;
  metrics.render(text, {});
  std::string series =
      "meshcache_replication_applies_total{outcome=\"" + std::string(outcome) + "\"} ";
  size_t at = text.find(series);
  if (at == std::string::npos) return 0;
  return std::stoull(text.substr(at + series.size()));
}

storage::ArtifactRef InternalNode::ref(std::string producer, std::string ns,
                                       std::string key) const {
  return {std::move(producer), tenant, std::move(ns), std::move(key)};
}

storage::Manifest InternalNode::put(const storage::ArtifactRef& ref, std::string_view body,
                                    int64_t version_ms, std::string content_type) {
  auto writer = store_->begin_write(
      ref, replica_write_options(std::move(content_type), version_ms, body.size()));
  if (!writer.ok()) FAIL(writer.status().message());
  Status s = writer.value()->append({reinterpret_cast<const uint8_t*>(body.data()), body.size()});
  if (!s.ok()) FAIL(s.message());
  auto m = writer.value()->commit();
  if (!m.ok()) FAIL(m.status().message());
  return std::move(m).value();
}

std::optional<storage::Manifest> InternalNode::head(const storage::ArtifactRef& ref) {
  auto m = store_->head(ref);
  if (!m.ok()) return std::nullopt;
  return std::move(m).value();
}

std::string InternalNode::read(const storage::Manifest& m) {
  auto bytes = store_->read_all(m);
  if (!bytes.ok()) FAIL(bytes.status().message());
  return std::move(bytes).value();
}

Call request(std::string method, std::string url, std::optional<std::string> body) {
  Call c;
  c.method = std::move(method);
  c.url = std::move(url);
  c.body = std::move(body);
  return c;
}

Reply call(const Call& c) {
  CurlEasy easy(curl_easy_init());
  REQUIRE(easy);
  CURL* h = easy.get();
  Reply reply;
  curl_easy_setopt(h, CURLOPT_URL, c.url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c.method.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
  bool tls = c.url.rfind("https://", 0) == 0;
  long version = !c.h2 ? CURL_HTTP_VERSION_1_1
                 : tls ? CURL_HTTP_VERSION_2TLS
                       : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, version);
  if (!c.ca_path.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, c.ca_path.c_str());
  if (!c.cert_path.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, c.cert_path.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, c.key_path.c_str());
  }
  CurlSlist headers;
  for (const auto& line : c.headers)
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  // No 100-continue round trip: the body follows the head at once.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  Upload upload{c.body ? std::string_view(*c.body) : std::string_view()};
  // The server wants a length on every PUT and POST (411 otherwise): a missing body is empty.
  if (c.body || c.method == "PUT" || c.method == "POST") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &upload);
    // Without a size curl sends HTTP/1.1 chunked and h2 without content-length.
    if (!c.chunked) {
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload.rest.size()));
    }
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    reply.error = curl_easy_strerror(rc);
    return reply;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

Reply read_response(int fd) {
  std::string wire;
  Reply reply;
  size_t head_end = std::string::npos;
  uint64_t length = 0;
  for (;;) {
    if (head_end == std::string::npos) {
      head_end = wire.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::string head = wire.substr(0, head_end);
        reply.status = std::stol(head.substr(9, 3));
        size_t pos = head.find("\r\n");
        while (pos != std::string::npos) {
          size_t next = head.find("\r\n", pos + 2);
          std::string line =
              head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
          size_t colon = line.find(':');
          if (colon != std::string::npos) {
            reply.headers[lower(line.substr(0, colon))] = line.substr(colon + 2);
          }
          pos = next;
        }
        if (reply.headers.count("content-length")) {
          length = std::stoull(reply.headers["content-length"]);
        }
      }
    }
    if (head_end != std::string::npos && wire.size() >= head_end + 4 + length) {
      reply.body = wire.substr(head_end + 4, length);
      return reply;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) break;
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    wire.append(buf, static_cast<size_t>(n));
  }
  reply.status = 0;
  return reply;
}

std::vector<Frame> decode_frames(std::string_view bytes) {
  auto be = [](std::string_view b, size_t at, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
    return v;
  };
  std::vector<Frame> frames;
  while (!bytes.empty()) {
    REQUIRE(bytes.size() >= 22);
    Frame f;
    f.kind = static_cast<uint8_t>(bytes[0]);
    f.disposition = static_cast<uint8_t>(bytes[1]);
    uint64_t id_len = be(bytes, 2, 2);
    f.version_ms = be(bytes, 4, 8);
    uint64_t meta_len = be(bytes, 12, 2);
    uint64_t body_len = be(bytes, 14, 8);
    REQUIRE(bytes.size() - 22 >= id_len + meta_len);
    REQUIRE(bytes.size() - 22 - id_len - meta_len >= body_len);
    f.id = bytes.substr(22, id_len);
    f.meta = bytes.substr(22 + id_len, meta_len);
    f.body = bytes.substr(22 + id_len + meta_len, body_len);
    bytes.remove_prefix(22 + id_len + meta_len + body_len);
    frames.push_back(std::move(f));
  }
  return frames;
}

}  // namespace meshcache::replication::test
