// internal_backfill_test.cc: serving warm-up: the backfill listing, bodies frames byte for byte
// (Present, Absent, FetchIndividually), single artifacts, and one bodies request in flight per
// mTLS peer (test thread plus the server's loops).
#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <openssl/ssl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "internal_support.h"
#include "replication/wire.h"
#include "tls/authority.h"
#include "tls/certificate.h"
#include "tls/identity.h"
#include "tls/key_pair.h"
#include "tls/server_context.h"

namespace meshcache::replication::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint8_t kSegment = 1, kInline = 2, kTombstone = 3;
constexpr uint8_t kPresent = 0, kAbsent = 1, kFetchIndividually = 2;

std::string hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

std::string pattern(size_t size, char seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + i * 7 % 251);
  return s;
}

Reply list(InternalNode& node, const std::string& query) {
  return call(request("GET", node.url("/_internal/backfill/entries" + query)));
}

Reply post_bodies(InternalNode& node, const std::string& body) {
  Call c = request("POST", node.url("/_internal/backfill/bodies"), body);
  c.headers.push_back("Content-Type: application/json");
  return call(c);
}

json want(std::string_view kind, const std::string& id, int64_t version) {
  return {{"record_kind", kind}, {"record_id", id}, {"version_ms", version}, {"size", 1}};
}

std::string bodies_request(std::vector<json> entries) { return json{{"entries", entries}}.dump(); }

void check_present(const Frame& f, const storage::Manifest& m, uint8_t kind,
                   const std::string& body) {
  CHECK(f.disposition == kPresent);
  CHECK(f.kind == kind);
  CHECK(f.id == m.artifact_id);
  CHECK(f.version_ms == static_cast<uint64_t>(m.version_ms));
  CHECK(json::parse(f.meta) == json{{"producer", m.producer},
                                    {"namespace_id", m.ns},
                                    {"key", m.key},
                                    {"content_type", m.content_type}});
  CHECK(f.body == body);
}

void check_empty(const Frame& f, uint8_t disposition, uint8_t kind, const std::string& id,
                 uint64_t version) {
  CHECK(f.disposition == disposition);
  CHECK(f.kind == kind);
  CHECK(f.id == id);
  CHECK(f.version_ms == version);
  CHECK(f.meta.empty());
  CHECK(f.body.empty());
}

}  // namespace

TEST_CASE("backfill entries: newest first, paged by an opaque cursor") {
  InternalNode node;
  std::string big = pattern(100 * 1024, 'a');  // over the store's inline bound: a segment
  auto m1 = node.put(node.ref("nx", "proj", "one"), "1", 100);
  auto m2 = node.put(node.ref("nx", "proj", "two"), big, 200);
  auto m3 = node.put(node.ref("gradle", "", "three"), "333", 300);
  REQUIRE(call(request("DELETE",
                       node.url("/_internal/replicate/namespace?namespace_id=gone&version_ms=50")))
              .status == 204);

  Reply first = list(node, "?limit=2");
  REQUIRE(first.status == 200);
  CHECK(first.headers["content-type"] == "application/json");
  json page = json::parse(first.body);
  CHECK(page["entries"] ==
        json::parse(fmt::format(R"([{{"record_kind":"inline_artifact","record_id":"{}",)"
                                R"("version_ms":300,"size":3}},)"
                                R"({{"record_kind":"segment_artifact","record_id":"{}",)"
                                R"("version_ms":200,"size":{}}}])",
                                m3.artifact_id, m2.artifact_id, big.size())));
  REQUIRE(page["next_after"].is_string());
  Reply second = list(node, "?limit=2&after=" + page["next_after"].get<std::string>());
  REQUIRE(second.status == 200);
  page = json::parse(second.body);
  CHECK(page["entries"] ==
        json::parse(fmt::format(R"([{{"record_kind":"inline_artifact","record_id":"{}",)"
                                R"("version_ms":100,"size":1}},)"
                                R"({{"record_kind":"namespace_tombstone","record_id":"gone",)"
                                R"("version_ms":50}}])",
                                m1.artifact_id)));
  // The cursor is echoed verbatim, upper-case hex too.
  std::string cursor = page["next_after"].is_null() ? "" : page["next_after"].get<std::string>();
  if (!cursor.empty()) {
    for (char& c : cursor) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    Reply last = list(node, "?after=" + cursor);
    REQUIRE(last.status == 200);
    CHECK(json::parse(last.body) == json::parse(R"({"entries":[],"next_after":null})"));
  }
  // Defaults and the clamp.
  Reply all = list(node, "?order=desc&limit=100000");
  REQUIRE(all.status == 200);
  CHECK(json::parse(all.body)["entries"].size() == 4);
  CHECK(json::parse(all.body)["next_after"].is_null());
  CHECK(json::parse(list(node, "").body)["entries"].size() == 4);
}

TEST_CASE("backfill entries: bad parameters are 400") {
  InternalNode node;
  auto message = [&](const std::string& query) {
    Reply r = list(node, query);
    CHECK(r.status == 400);
    return json::parse(r.body)["message"].get<std::string>();
  };
  CHECK(message("?limit=0").rfind("Invalid limit", 0) == 0);
  CHECK(message("?limit=x").rfind("Invalid limit", 0) == 0);
  CHECK(message("?after=zz").rfind("Invalid after: ", 0) == 0);
  CHECK(message("?after=" + hex("backfill/id")).rfind("Invalid after: ", 0) == 0);
  CHECK(message("?after=abc").rfind("Invalid after: ", 0) == 0);
  CHECK(message("?order=asc").rfind("Invalid order", 0) == 0);
  CHECK(message("?order=sideways").rfind("Invalid order", 0) == 0);
  CHECK(message("?wait=5").rfind("Invalid wait", 0) == 0);
  CHECK(message("?order=desc&from_version_ms=1").rfind("Invalid from_version_ms", 0) == 0);
  CHECK(message("?origin_region=eu").rfind("Invalid origin_region", 0) == 0);
  CHECK(list(node, "?after=" + hex("backfill/idx/")).status == 200);
}

TEST_CASE("backfill bodies: one frame per tuple, in order, with an exact length") {
  InternalNode node;
  std::string big = pattern(300 * 1024, 'q');
  auto small = node.put(node.ref("xcode", "p", "action_cache/1"), R"({"entries":[]})", 1111,
                        "application/json");
  auto seg = node.put(node.ref("gradle", "", "g/key"), big, 2222);
  std::string missing(64, 'f');
  // The requested versions and kinds are stale on purpose: Present carries the current ones,
  // Absent echoes the requested ones.
  Reply r = post_bodies(node, bodies_request({want("segment_artifact", small.artifact_id, 1),
                                              want("segment_artifact", missing, 77),
                                              want("inline_artifact", seg.artifact_id, 9),
                                              want("inline_artifact", "not-hex", 5)}));
  REQUIRE(r.status == 200);
  CHECK(r.headers["content-type"] == "application/octet-stream");
  CHECK(r.headers["content-length"] == std::to_string(r.body.size()));
  auto frames = decode_frames(r.body);
  REQUIRE(frames.size() == 4);
  check_present(frames[0], small, kInline, R"({"entries":[]})");
  check_empty(frames[1], kAbsent, kSegment, missing, 77);
  check_present(frames[2], seg, kSegment, big);
  check_empty(frames[3], kAbsent, kInline, "not-hex", 5);
  // Exactly the 22-byte header of the first frame.
  std::string meta = frames[0].meta;
  std::string header = r.body.substr(0, 22);
  CHECK(hex(header) == fmt::format("0200{:04x}{:016x}{:04x}{:016x}", 64, 1111, meta.size(),
                                   std::string(R"({"entries":[]})").size()));
  // Over HTTP/2 too, and an empty request gives an empty answer.
  Call h2_call = request("POST", node.url("/_internal/backfill/bodies"),
                         bodies_request({want("inline_artifact", small.artifact_id, 1)}));
  h2_call.h2 = true;
  Reply h2 = call(h2_call);
  REQUIRE(h2.status == 200);
  REQUIRE(decode_frames(h2.body).size() == 1);
  Reply none = post_bodies(node, R"({"entries":[]})");
  CHECK(none.status == 200);
  CHECK(none.body.empty());
}

TEST_CASE("backfill bodies: past 32 MiB of bodies a tuple becomes FetchIndividually") {
  InternalNode node;
  std::string twenty = pattern(20 << 20, 'b');
  auto a = node.put(node.ref("nx", "nx", "a"), twenty, 10);
  auto b = node.put(node.ref("nx", "nx", "b"), twenty, 20);
  auto c = node.put(node.ref("nx", "nx", "c"), "small", 30);
  Reply r = post_bodies(node, bodies_request({want("segment_artifact", a.artifact_id, 10),
                                              want("segment_artifact", b.artifact_id, 21),
                                              want("inline_artifact", c.artifact_id, 30)}));
  REQUIRE(r.status == 200);
  auto frames = decode_frames(r.body);
  REQUIRE(frames.size() == 3);
  check_present(frames[0], a, kSegment, twenty);
  check_empty(frames[1], kFetchIndividually, kSegment, b.artifact_id, 21);
  check_present(frames[2], c, kInline, "small");  // still fits after the one that did not

  // What did not fit comes one at a time, by its percent-encoded id.
  std::string encoded;
  for (char ch : b.artifact_id) encoded += fmt::format("%{:02X}", ch);
  Reply one = call(request("GET", node.url("/_internal/backfill/artifacts/" + encoded)));
  REQUIRE(one.status == 200);
  CHECK(one.headers["content-type"] == "application/octet-stream");
  CHECK(one.headers["content-length"] == std::to_string(one.body.size()));
  auto single = decode_frames(one.body);
  REQUIRE(single.size() == 1);
  check_present(single[0], b, kSegment, twenty);
}

TEST_CASE("backfill artifacts: 404 when gone") {
  InternalNode node;
  auto m = node.put(node.ref("nx", "nx", "x"), "x", 5);
  CHECK(call(request("GET", node.url("/_internal/backfill/artifacts/" + m.artifact_id))).status ==
        200);
  REQUIRE(node.store().remove(node.ref("nx", "nx", "x")).ok());
  Reply gone = call(request("GET", node.url("/_internal/backfill/artifacts/" + m.artifact_id)));
  CHECK(gone.status == 404);
  CHECK(json::parse(gone.body).contains("message"));
  CHECK(call(request("GET", node.url("/_internal/backfill/artifacts/nothing%20here"))).status ==
        404);
}

TEST_CASE("backfill bodies: malformed or oversized requests") {
  InternalNode node;
  auto status = [&](const std::string& body) { return post_bodies(node, body).status; };
  CHECK(status("") == 400);
  CHECK(status("{") == 400);
  CHECK(status(R"({"entries":{}})") == 400);
  CHECK(status(bodies_request({want("namespace_tombstone", "ns", 1)})) == 400);
  CHECK(status(bodies_request({want("sync_watermark", "x", 1)})) == 400);
  CHECK(status(bodies_request({want("inline_artifact", "", 1)})) == 400);
  int fd = connect_to(node.address());
  send_all(fd, "POST /_internal/backfill/bodies HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                   std::to_string(wire::kMaxBodiesRequestBytes + 1) + "\r\n\r\n");
  CHECK(read_response(fd).status == 413);
  close(fd);
  Call chunked = request("POST", node.url("/_internal/backfill/bodies"),
                         std::string(wire::kMaxBodiesRequestBytes + 1, ' '));
  chunked.chunked = true;
  CHECK(call(chunked).status == 413);
  CHECK(status(R"({"entries":[]})") == 200);
}

namespace {

// A CA and one leaf for 127.0.0.1, in memory and as files for curl.
struct Pki {
  tls::IdentityPem pem;
  std::string ca_path, cert_path, key_path;
};

template <typename T>
T must(Result<T> r) {
  if (!r.ok()) FAIL(r.status().message());
  return std::move(r).value();
}

Pki make_pki(const std::string& dir) {
  tls::Authority ca = must(tls::create_authority("mesh", 3600));
  tls::PkeyPtr key = must(tls::generate_p256_key());
  Pki p{{must(tls::private_key_pem(key.get())),
         must(tls::issue_leaf(ca, key.get(), "127.0.0.1", 3600)), ca.cert_pem},
        dir + "/ca.pem",
        dir + "/leaf.pem",
        dir + "/key.pem"};
  std::ofstream(p.ca_path) << p.pem.ca_pem;
  std::ofstream(p.cert_path) << p.pem.cert_pem;
  std::ofstream(p.key_path) << p.pem.key_pem;
  return p;
}

// A blocking TLS client for a request sent in two parts.
class TlsClient {
 public:
  TlsClient(const std::string& address, const tls::IdentityPem& pem)
      : ctx_(must(tls::make_mtls_client_context(pem))), fd_(connect_to(address)) {
    ssl_.reset(SSL_new(ctx_.get()));
    REQUIRE(ssl_);
    SSL_set_fd(ssl_.get(), fd_);
    REQUIRE(SSL_connect(ssl_.get()) == 1);
  }
  ~TlsClient() { close(fd_); }
  void send(std::string_view bytes) {
    REQUIRE(SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())) ==
            static_cast<int>(bytes.size()));
  }
  // The status and body of one Content-Length response.
  std::pair<int, std::string> response() {
    std::string wire;
    char buf[16384];
    size_t head_end = std::string::npos;
    for (;;) {
      head_end = wire.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t cl = wire.find("content-length: ");
        size_t length = std::stoul(wire.substr(cl + 16));
        if (wire.size() >= head_end + 4 + length) {
          return {std::stoi(wire.substr(9, 3)), wire.substr(head_end + 4, length)};
        }
      }
      int n = SSL_read(ssl_.get(), buf, sizeof(buf));
      if (n <= 0) return {0, {}};
      wire.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  tls::SharedCtx ctx_;
  int fd_;
  tls::SslPtr ssl_;
};

}  // namespace

TEST_CASE("backfill bodies: one request in flight per mTLS peer, none without TLS") {
  TempDir dir;
  Pki pki = make_pki(dir.path());
  std::string wanted = bodies_request({want("inline_artifact", std::string(64, 'a'), 1)});
  std::string head = "POST /_internal/backfill/bodies HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                     std::to_string(wanted.size()) + "\r\n\r\n";

  SECTION("mTLS: the same identity waits its turn") {
    auto ctx = must(tls::make_mtls_server_context(pki.pem, {"h2", "http/1.1"}));
    NodeOptions options;
    options.tls_context = [ctx] { return ctx; };
    InternalNode node(options);
    Call second = request("POST", node.url("/_internal/backfill/bodies"), wanted);
    second.ca_path = pki.ca_path;
    second.cert_path = pki.cert_path;
    second.key_path = pki.key_path;
    // The first request's head is in; its body is not.
    TlsClient first(node.address(), pki.pem);
    first.send(head + wanted.substr(0, 5));
    Reply busy;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (busy.status != 503 && std::chrono::steady_clock::now() < deadline) busy = call(second);
    REQUIRE(busy.status == 503);
    CHECK((busy.headers["retry-after"] == "1" || busy.headers["retry-after"] == "2"));
    CHECK(json::parse(busy.body)["error"] == "peer_busy");
    CHECK(json::parse(busy.body).contains("message"));
    second.h2 = true;
    CHECK(call(second).status == 503);

    first.send(wanted.substr(5));
    auto [status, body] = first.response();
    CHECK(status == 200);
    CHECK(decode_frames(body).size() == 1);
    // Released with the answer.
    second.h2 = false;
    CHECK(call(second).status == 200);
  }
  SECTION("plain HTTP: no identity, no cap") {
    InternalNode node;
    int fd = connect_to(node.address());
    send_all(fd, head + wanted.substr(0, 5));
    Call second = request("POST", node.url("/_internal/backfill/bodies"), wanted);
    CHECK(call(second).status == 200);
    send_all(fd, wanted.substr(5));
    CHECK(read_response(fd).status == 200);
    close(fd);
  }
}

}  // namespace meshcache::replication::test
