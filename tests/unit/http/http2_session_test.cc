// http2_session_test.cc: Http2Session driven by an nghttp2 client session, no sockets
// (test thread).
#include <nghttp2/nghttp2.h>
#include <catch2/catch.hpp>

#include <cstring>

#include "agent/http/http2_session.h"
#include "test_support.h"

namespace meshcache::http::test {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  bool closed = false;
  uint32_t close_error = 0;
  bool got_rst = false;
};

// An nghttp2 client session that talks to a server session through the test buffers.
class H2Client {
 public:
  H2Client() {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    nghttp2_session_client_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2Client() { nghttp2_session_del(session_); }

  // `declare_length` false sends the body without a content-length.
  int32_t request(const std::string& method, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> extra = {},
                  std::optional<std::string> body = std::nullopt, bool declare_length = true) {
    std::vector<std::pair<std::string, std::string>> all = {
        {":method", method}, {":scheme", "http"}, {":authority", "cache.test"}, {":path", path}};
    if (body && declare_length) all.push_back({"content-length", std::to_string(body->size())});
    for (auto& h : extra) all.push_back(h);
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : all) {
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                     n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    auto upload = std::make_unique<Upload>();
    if (body) {
      upload->data = std::move(*body);
      provider.source.ptr = upload.get();
      provider.read_callback = read_upload;
    }
    int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                        body ? &provider : nullptr, nullptr);
    uploads_.push_back(std::move(upload));
    return id;
  }

  // Opens a stream with HEADERS only: its body never comes.
  int32_t open_stream(std::string method, std::string path) {
    std::string n[] = {":method", ":scheme", ":authority", ":path"};
    std::string v[] = {std::move(method), "http", "cache.test", std::move(path)};
    nghttp2_nv nva[4];
    for (int i = 0; i < 4; ++i) {
      nva[i] = {reinterpret_cast<uint8_t*>(n[i].data()), reinterpret_cast<uint8_t*>(v[i].data()),
                n[i].size(), v[i].size(), NGHTTP2_NV_FLAG_NONE};
    }
    return nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, -1, nullptr, nva, 4, nullptr);
  }

  // Queues the client's pending frames as the server's input, without running the server.
  void flush(TestEnv& t) {
    const uint8_t* data = nullptr;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
      evbuffer_add(t.in.get(), data, static_cast<size_t>(n));
    }
  }

  // Moves bytes both ways until nothing moves; checks the server's output bound on the way.
  void pump(Http2Session& server, TestEnv& t, size_t* max_queued = nullptr) {
    for (int round = 0; round < 100000; ++round) {
      bool moved = false;
      flush(t);
      if (evbuffer_get_length(t.in.get()) > 0) {
        server.on_input(t.in.get());
        moved = true;
      }
      size_t queued = evbuffer_get_length(t.out.get());
      if (max_queued) *max_queued = std::max(*max_queued, queued);
      if (queued > 0) {
        std::string out = drain_buffer(t.out.get());
        wire += out;
        nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(out.data()),
                                 out.size());
        server.resume();
        moved = true;
      }
      if (!moved) return;
    }
    FAIL("pump did not settle");
  }

  nghttp2_session* session() { return session_; }
  std::map<int32_t, Reply> replies;
  std::optional<uint32_t> goaway_error;
  int32_t goaway_last_stream = -1;
  std::string wire;  // everything the server sent

 private:
  struct Upload {
    std::string data;
    size_t pos = 0;
  };
  static ssize_t read_upload(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                             uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* u = static_cast<Upload*>(source->ptr);
    size_t n = std::min(length, u->data.size() - u->pos);
    std::memcpy(buf, u->data.data() + u->pos, n);
    u->pos += n;
    if (u->pos == u->data.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto& c = *static_cast<H2Client*>(user);
    std::string n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    Reply& r = c.replies[frame->hd.stream_id];
    if (n == ":status") {
      r.status = std::stoi(v);
    } else {
      r.headers[n] = v;
    }
    return 0;
  }
  static int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                     void* user) {
    static_cast<H2Client*>(user)->replies[id].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int on_frame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto& c = *static_cast<H2Client*>(user);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      c.goaway_error = frame->goaway.error_code;
      c.goaway_last_stream = frame->goaway.last_stream_id;
    } else if (frame->hd.type == NGHTTP2_RST_STREAM) {
      c.replies[frame->hd.stream_id].got_rst = true;
    }
    return 0;
  }
  static int on_close(nghttp2_session*, int32_t id, uint32_t error, void* user) {
    Reply& r = static_cast<H2Client*>(user)->replies[id];
    r.closed = true;
    r.close_error = error;
    return 0;
  }

  nghttp2_session* session_ = nullptr;
  std::vector<std::unique_ptr<Upload>> uploads_;
};

struct H2 {
  TestEnv t;
  Http2Session session{t.env, t.host, t.out.get(), "10.0.0.1:4242", Protocol::h2c};
  H2Client client;
  void pump(size_t* max_queued = nullptr) { client.pump(session, t, max_queued); }
};

struct RawFrame {
  uint8_t type;
  uint8_t flags;
  uint32_t stream;
  std::string payload;
};

std::vector<RawFrame> parse_frames(std::string_view wire) {
  std::vector<RawFrame> frames;
  while (wire.size() >= 9) {
    auto b = reinterpret_cast<const uint8_t*>(wire.data());
    size_t len = (size_t{b[0]} << 16) | (size_t{b[1]} << 8) | b[2];
    if (wire.size() < 9 + len) break;
    uint32_t stream = ((b[5] & 0x7fu) << 24) | (b[6] << 16) | (b[7] << 8) | b[8];
    frames.push_back({b[3], b[4], stream, std::string(wire.substr(9, len))});
    wire.remove_prefix(9 + len);
  }
  return frames;
}

std::optional<uint32_t> goaway_code(const std::vector<RawFrame>& frames) {
  for (const auto& f : frames) {
    if (f.type == NGHTTP2_GOAWAY && f.payload.size() >= 8) {
      auto p = reinterpret_cast<const uint8_t*>(f.payload.data()) + 4;
      return (uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
    }
  }
  return std::nullopt;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("h2: GET gets headers and a body") {
  H2 h;
  int32_t id = h.client.request("GET", "/hello?x=1", {{"user-agent", "t"}});
  h.pump();
  Reply& r = h.client.replies[id];
  CHECK(r.status == 200);
  CHECK(r.body == "hello");
  CHECK(r.headers["content-length"] == "5");
  CHECK(r.headers["content-type"] == "application/octet-stream");
  CHECK(r.headers.count("date") == 1);
  CHECK(r.headers["x-request-id"].size() > 9);
  CHECK(r.closed);
  REQUIRE(h.t.router->requests.size() == 1);
  const Request& req = h.t.router->requests[0];
  CHECK(req.method == "GET");
  CHECK(req.path == "/hello");
  CHECK(req.query == "x=1");
  CHECK(req.authority == "cache.test");
  CHECK(req.protocol == Protocol::h2c);
  CHECK(req.peer == "10.0.0.1:4242");
  CHECK(*req.header("user-agent") == "t");
  CHECK_FALSE(req.has_body);
  CHECK_FALSE(h.session.want_close());
}

TEST_CASE("h2: POST bodies larger than the windows flow as the handler consumes them") {
  H2 h;
  std::string body(600 * 1024, 'b');
  for (size_t i = 0; i < body.size(); i += 7) body[i] = static_cast<char>('a' + i % 26);
  int32_t id = h.client.request("POST", "/echo", {}, body);
  h.pump();
  Reply& r = h.client.replies[id];
  CHECK(r.status == 200);
  CHECK(r.body == body);
  REQUIRE(h.t.router->requests.size() == 1);
  CHECK(h.t.router->requests[0].content_length == body.size());
  CHECK(h.t.router->requests[0].has_body);
}

TEST_CASE("h2: several streams at once") {
  H2 h;
  int32_t a = h.client.request("GET", "/hello");
  int32_t b = h.client.request("POST", "/echo", {}, std::string("xyz"));
  int32_t c = h.client.request("GET", "/missing");
  h.pump();
  CHECK(h.client.replies[a].body == "hello");
  CHECK(h.client.replies[b].body == "xyz");
  CHECK(h.client.replies[c].status == 404);
  CHECK(h.t.counters.requests == 3);
}

TEST_CASE("h2: a large response is pulled under the output watermark") {
  H2 h;
  const uint64_t size = 1 << 20;
  int32_t id = h.client.request("GET", "/big?size=1048576");
  size_t max_queued = 0;
  h.pump(&max_queued);
  Reply& r = h.client.replies[id];
  REQUIRE(r.body.size() == size);
  for (uint64_t i = 0; i < size; i += 4099) REQUIRE(r.body[i] == PatternBody::byte_at(i));
  CHECK(max_queued <= h.t.limits.output_high_water + 16 * 1024 + 9);
}

TEST_CASE("h2: HEAD has content-length and no DATA") {
  H2 h;
  int32_t id = h.client.request("HEAD", "/hello");
  h.pump();
  Reply& r = h.client.replies[id];
  CHECK(r.status == 200);
  CHECK(r.headers["content-length"] == "5");
  CHECK(r.body.empty());
  for (const auto& f : parse_frames(h.client.wire)) CHECK(f.type != NGHTTP2_DATA);
}

TEST_CASE("h2: a header list over the limit gets 431 and the connection lives on") {
  H2 h;
  std::vector<std::pair<std::string, std::string>> big;
  for (int i = 0; i < 10; ++i) big.push_back({"x-big-" + std::to_string(i), std::string(600, 'v')});
  int32_t id = h.client.request("GET", "/hello", big);
  h.pump();
  CHECK(h.client.replies[id].status == 431);
  CHECK(h.t.router->requests.empty());
  int32_t next = h.client.request("GET", "/hello");
  h.pump();
  CHECK(h.client.replies[next].body == "hello");
}

TEST_CASE("h2: a declared body over the limit gets 413 without reaching a handler") {
  H2 h;
  int32_t id = h.client.request("PUT", "/echo", {}, std::string(2 << 20, 'x'));
  h.pump();
  CHECK(h.client.replies[id].status == 413);
  CHECK(h.t.router->events.empty());
  CHECK_FALSE(h.session.want_close());
}

TEST_CASE("h2: an early answer stops the upload with RST_STREAM NO_ERROR") {
  H2 h;
  int32_t id = h.client.request("PUT", "/reject", {}, std::string(500 * 1024, 'x'));
  h.pump();
  Reply& r = h.client.replies[id];
  CHECK(r.status == 413);
  CHECK(r.got_rst);
  CHECK(r.close_error == NGHTTP2_NO_ERROR);
  auto frames = parse_frames(h.client.wire);
  CHECK(std::count_if(frames.begin(), frames.end(), [&](const RawFrame& f) {
          return f.type == NGHTTP2_RST_STREAM && f.stream == static_cast<uint32_t>(id);
        }) == 1);
  CHECK_FALSE(has(h.t.router->events, "abort /reject"));
  for (const auto& e : h.t.router->events) CHECK(e.rfind("body", 0) != 0);
  int32_t next = h.client.request("GET", "/hello");
  h.pump();
  CHECK(h.client.replies[next].body == "hello");
}

TEST_CASE("h2: an early success waits for the upload instead of resetting it") {
  // curl 7.88 loses an answer that arrives while it still uploads, reset or not.
  H2 h;
  int32_t id = h.client.request("PUT", "/hello", {}, std::string(500 * 1024, 'x'));
  h.pump();
  Reply& r = h.client.replies[id];
  CHECK(r.status == 200);
  CHECK(r.body == "hello");
  CHECK_FALSE(r.got_rst);
  CHECK(r.close_error == NGHTTP2_NO_ERROR);
  for (const auto& e : h.t.router->events) CHECK(e.rfind("body", 0) != 0);  // dropped unread
  int32_t next = h.client.request("GET", "/hello");
  h.pump();
  CHECK(h.client.replies[next].body == "hello");
}

TEST_CASE("h2: an early success whose upload runs past the body bound is reset, not answered") {
  H2 h;  // max_body_bytes is 1 MiB; without a content-length the excess shows while reading
  int32_t id = h.client.request("PUT", "/hello", {}, std::string((1 << 20) + 1, 'x'), false);
  h.pump();
  Reply& r = h.client.replies[id];
  CHECK(r.status == 0);
  CHECK(r.got_rst);
  CHECK(r.close_error == NGHTTP2_CANCEL);
  CHECK_FALSE(h.session.want_close());
  int32_t next = h.client.request("GET", "/hello");
  h.pump();
  CHECK(h.client.replies[next].body == "hello");
}

TEST_CASE("h2: a client reset aborts the handler") {
  H2 h;
  int32_t sid = h.client.request("GET", "/later");
  h.pump();
  nghttp2_submit_rst_stream(h.client.session(), NGHTTP2_FLAG_NONE, sid, NGHTTP2_CANCEL);
  h.pump();
  CHECK(has(h.t.router->events, "abort /later"));
  CHECK_FALSE(h.session.want_close());
}

TEST_CASE("h2: rapid resets end in GOAWAY ENHANCE_YOUR_CALM") {
  H2 h;
  h.pump();
  for (int i = 0; i < 400 && !h.client.goaway_error; ++i) {
    // Open a stream whose body never comes, then cancel it.
    int32_t id = h.client.open_stream("PUT", "/echo");
    h.pump();  // nghttp2 would cancel HEADERS not yet sent instead of resetting
    nghttp2_submit_rst_stream(h.client.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    h.pump();
  }
  REQUIRE(h.client.goaway_error.has_value());
  CHECK(*h.client.goaway_error == NGHTTP2_ENHANCE_YOUR_CALM);
  CHECK(h.session.want_close());
  CHECK(h.t.counters.protocol_errors >= 1);
}

TEST_CASE("h2: rapid resets of requests answered at once end in GOAWAY ENHANCE_YOUR_CALM") {
  // CVE-2023-44487 against cache hits: each HEADERS is answered inside its own callback, and
  // the RST_STREAM right behind it throws the answer away before a byte of it is sent.
  H2 h;
  h.pump();
  int unsent = 0;
  for (int i = 0; i < 400 && !h.client.goaway_error; ++i) {
    int32_t id = h.client.request("GET", "/hello");
    h.client.flush(h.t);  // the HEADERS are on their way before the reset is submitted
    nghttp2_submit_rst_stream(h.client.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    h.pump();
    unsent += h.client.replies[id].status == 0;
  }
  // /hello answers in on_request: every handler answered, and each answer was dropped unsent.
  CHECK(h.t.router->requests.size() > 200);
  CHECK(unsent == static_cast<int>(h.t.router->requests.size()));
  REQUIRE(h.client.goaway_error.has_value());
  // The server's own guard, not nghttp2's looser backstop (INTERNAL_ERROR at twice the burst).
  CHECK(*h.client.goaway_error == NGHTTP2_ENHANCE_YOUR_CALM);
  CHECK(h.session.want_close());
}

TEST_CASE("h2: resets of streams already answered in full are not rapid resets") {
  // More than the guard's burst (200), fewer than nghttp2's own backstop lets through (400).
  H2 h;
  for (int i = 0; i < 350; ++i) {
    int32_t id = h.client.request("GET", "/hello");
    h.pump();
    REQUIRE(h.client.replies[id].body == "hello");
    nghttp2_submit_rst_stream(h.client.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    h.pump();
  }
  CHECK_FALSE(h.client.goaway_error.has_value());
  CHECK_FALSE(h.session.want_close());
}

TEST_CASE("h2: a PING flood ends in GOAWAY ENHANCE_YOUR_CALM") {
  H2 h;
  h.pump();
  for (int i = 0; i < 300; ++i) nghttp2_submit_ping(h.client.session(), NGHTTP2_FLAG_NONE, nullptr);
  h.pump();
  REQUIRE(h.client.goaway_error.has_value());
  CHECK(*h.client.goaway_error == NGHTTP2_ENHANCE_YOUR_CALM);
  CHECK(h.session.want_close());
}

TEST_CASE("h2: a frame with a wrong length ends the connection with GOAWAY") {
  H2 h;
  std::string bytes(kPreface);
  bytes += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);  // SETTINGS
  bytes += std::string(
      "\x00\x00\x07\x06\x00\x00\x00\x00\x00"
      "1234567",
      16);  // PING, 7 bytes
  add(h.t.in.get(), bytes);
  h.session.on_input(h.t.in.get());
  auto frames = parse_frames(drain_buffer(h.t.out.get()));
  REQUIRE(goaway_code(frames).has_value());
  CHECK(*goaway_code(frames) == NGHTTP2_FRAME_SIZE_ERROR);
  CHECK(h.session.want_close());
}

TEST_CASE("h2: a bad client preface closes the connection") {
  H2 h;
  add(h.t.in.get(), "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n");
  h.session.on_input(h.t.in.get());
  CHECK(h.session.want_close());
}

TEST_CASE("h2: drain sends GOAWAY and lets the stream in flight finish") {
  H2 h;
  int32_t id = h.client.request("GET", "/later");
  h.pump();
  h.session.drain();
  h.pump();
  REQUIRE(h.client.goaway_error.has_value());
  CHECK(*h.client.goaway_error == NGHTTP2_NO_ERROR);
  CHECK(h.client.goaway_last_stream == id);
  CHECK_FALSE(h.session.want_close());
  REQUIRE(h.t.router->answer_later());
  CHECK(h.t.host.wakes == 1);
  h.session.resume();
  h.pump();
  CHECK(h.client.replies[id].body == "later");
  CHECK(h.session.want_close());
}

TEST_CASE("h2: timeouts") {
  H2 h;
  SECTION("SETTINGS never acknowledged") {
    drain_buffer(h.t.out.get());
    h.session.on_timer(h.session.deadline());
    auto frames = parse_frames(drain_buffer(h.t.out.get()));
    REQUIRE(goaway_code(frames).has_value());
    CHECK(*goaway_code(frames) == NGHTTP2_SETTINGS_TIMEOUT);
    h.session.resume();
    CHECK(h.session.want_close());
  }
  SECTION("idle connection") {
    int32_t id = h.client.request("GET", "/hello");
    h.pump();
    CHECK(h.client.replies[id].status == 200);
    h.session.on_timer(h.session.deadline());
    h.pump();
    REQUIRE(h.client.goaway_error.has_value());
    CHECK(*h.client.goaway_error == NGHTTP2_NO_ERROR);
    CHECK(h.session.want_close());
  }
  SECTION("stalled request body") {
    int32_t id = h.client.open_stream("PUT", "/echo");
    h.pump();
    h.session.on_timer(h.session.deadline());
    h.pump();
    CHECK(h.client.replies[id].status == 408);
    CHECK(has(h.t.router->events, "abort /echo"));
    CHECK_FALSE(h.session.want_close());
  }
}

TEST_CASE("h2: destroying the session aborts the streams in flight") {
  auto h = std::make_unique<H2>();
  h->client.request("GET", "/later");
  h->pump();
  auto router = h->t.router;
  h.reset();
  CHECK(has(router->events, "abort /later"));
}

}  // namespace meshcache::http::test

namespace meshcache::http::test {

TEST_CASE("h2: a paused body stops at the stream window and flows in full once released") {
  H2 h;
  std::string body(600 * 1024, 'p');
  for (size_t i = 0; i < body.size(); i += 5) body[i] = static_cast<char>('a' + i % 26);
  int32_t id = h.client.request("PUT", "/hold", {}, body);
  h.pump();
  // Held: no more than the initial stream window (256 KiB) may have arrived, and no answer.
  size_t received = 0;
  for (const auto& e : h.t.router->events) {
    if (e.rfind("body ", 0) == 0) received += std::stoul(e.substr(5));
  }
  CHECK(received <= 256 * 1024);
  CHECK(h.client.replies[id].status == 0);
  int wakes = h.t.host.wakes;
  REQUIRE(h.t.router->release_held());
  CHECK(h.t.host.wakes == wakes + 1);
  h.session.resume();  // what the connection does on wake(): the WINDOW_UPDATE goes out
  h.pump();
  Reply& r = h.client.replies[id];
  CHECK(r.status == 200);
  CHECK(r.body == body);
}

TEST_CASE("h2: a stream reset while paused gives its held bytes back to the connection window") {
  H2 h;
  int32_t a = h.client.request("PUT", "/hold", {}, std::string(200 * 1024, 'x'));
  h.pump();
  nghttp2_submit_rst_stream(h.client.session(), NGHTTP2_FLAG_NONE, a, NGHTTP2_CANCEL);
  h.pump();
  CHECK(h.t.router->held.empty());
  // Five more 200 KiB uploads only fit through a 1 MiB connection window if nothing leaked.
  std::vector<int32_t> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(h.client.request("POST", "/echo", {}, std::string(200 * 1024, 'y')));
  h.pump();
  for (int32_t id : ids) CHECK(h.client.replies[id].body.size() == 200 * 1024);
}

}  // namespace meshcache::http::test
