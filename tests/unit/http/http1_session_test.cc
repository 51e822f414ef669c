// http1_session_test.cc: Http1Session driven with bytes, no sockets (test thread).
#include <catch2/catch.hpp>

#include "agent/http/http1_session.h"
#include "test_support.h"

namespace meshcache::http::test {
namespace {

struct H1 {
  TestEnv t;
  Http1Session session{t.env, t.host, t.out.get(), "127.0.0.1:5555"};

  std::vector<ParsedResponse> send(std::string_view bytes, std::vector<bool> heads = {}) {
    add(t.in.get(), bytes);
    session.on_input(t.in.get());
    return parse_responses(drain_buffer(t.out.get()), std::move(heads));
  }
};

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("h1: simple GET gets a body, Content-Length, date and a request id") {
  H1 h;
  auto rs = h.send("GET /hello HTTP/1.1\r\nHost: cache.local\r\nUser-Agent: t\r\n\r\n");
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 200);
  CHECK(rs[0].body == "hello");
  CHECK(rs[0].headers["content-length"] == "5");
  CHECK(rs[0].headers["content-type"] == "application/octet-stream");
  CHECK(rs[0].headers.count("date") == 1);
  CHECK(rs[0].headers["x-request-id"].size() > 9);
  CHECK(rs[0].headers.count("connection") == 0);
  CHECK_FALSE(h.session.want_close());
  CHECK(h.session.want_read());
  REQUIRE(h.t.router->requests.size() == 1);
  const Request& r = h.t.router->requests[0];
  CHECK(r.authority == "cache.local");
  CHECK(r.peer == "127.0.0.1:5555");
  CHECK(r.protocol == Protocol::http1);
  CHECK(*r.header("user-agent") == "t");
  CHECK(h.t.counters.requests == 1);
}

TEST_CASE("h1: keep-alive serves two requests with distinct ids") {
  H1 h;
  auto first = h.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  auto second = h.send("GET /nothing-here HTTP/1.1\r\nHost: a\r\n\r\n");
  REQUIRE(first.size() == 1);
  REQUIRE(second.size() == 1);
  CHECK(first[0].status == 200);
  CHECK(second[0].status == 404);
  CHECK(second[0].headers["content-length"] == "0");
  CHECK(first[0].headers["x-request-id"] != second[0].headers["x-request-id"]);
  CHECK_FALSE(h.session.want_close());
}

TEST_CASE("h1: pipelined requests are answered in order") {
  H1 h;
  auto rs = h.send(
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
      "GET /missing HTTP/1.1\r\nHost: a\r\n\r\n");
  REQUIRE(rs.size() == 3);
  CHECK(rs[0].body == "hello");
  CHECK(rs[1].body == "abc");
  CHECK(rs[2].status == 404);
}

TEST_CASE("h1: a late answer at the front holds back the answers queued behind it") {
  H1 h;
  auto rs = h.send(
      "GET /later HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(rs.empty());
  REQUIRE(h.t.router->answer_later());
  CHECK(h.t.host.wakes == 1);  // answered outside a session call: the host must resume it
  h.session.resume();
  rs = parse_responses(drain_buffer(h.t.out.get()));
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].body == "later");
  CHECK(rs[1].body == "hello");
}

TEST_CASE("h1: pipelining is bounded by max_pipelined") {
  H1 h;
  std::string six;
  for (int i = 0; i < 6; ++i) six += "GET /later HTTP/1.1\r\nHost: a\r\n\r\n";
  h.send(six);
  CHECK(h.t.router->requests.size() == 4);
  CHECK_FALSE(h.session.want_read());
  CHECK(evbuffer_get_length(h.t.in.get()) > 0);  // the rest waits in the input
  REQUIRE(h.t.router->answer_later());
  h.session.resume();
  CHECK(h.session.want_read());
  h.session.on_input(h.t.in.get());
  CHECK(h.t.router->requests.size() == 5);
}

TEST_CASE("h1: chunked request bodies are de-chunked, even byte by byte") {
  H1 h;
  std::string req =
      "PUT /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
  std::string wire;
  for (char c : req) {
    add(h.t.in.get(), std::string_view(&c, 1));
    h.session.on_input(h.t.in.get());
    wire += drain_buffer(h.t.out.get());
  }
  auto rs = parse_responses(wire);
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 200);
  CHECK(rs[0].body == "hello world");
  CHECK_FALSE(h.t.router->requests[0].content_length.has_value());
  CHECK(h.t.router->requests[0].has_body);
}

TEST_CASE("h1: Expect 100-continue is answered before the body when the handler accepts") {
  H1 h;
  add(h.t.in.get(),
      "PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  h.session.on_input(h.t.in.get());
  CHECK(drain_buffer(h.t.out.get()) == "HTTP/1.1 100 Continue\r\n\r\n");
  auto rs = h.send("12345");
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 200);
  CHECK(rs[0].body == "12345");
  CHECK_FALSE(h.session.want_close());
}

TEST_CASE("h1: Expect 100-continue rejected early gets 413 without 100, then closes") {
  H1 h;
  add(h.t.in.get(),
      "PUT /reject HTTP/1.1\r\nHost: a\r\nContent-Length: 500000\r\nExpect: 100-continue\r\n\r\n");
  h.session.on_input(h.t.in.get());
  std::string wire = drain_buffer(h.t.out.get());
  CHECK(wire.find("100 Continue") == std::string::npos);
  auto rs = parse_responses(wire);
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 413);
  CHECK(rs[0].headers["connection"] == "close");
  CHECK(h.session.want_close());
  CHECK(h.session.want_linger());
}

TEST_CASE("h1: an early answer to a small body discards the body and keeps the connection") {
  H1 h;
  auto rs = h.send(
      "PUT /reject HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n12345"
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].status == 413);
  CHECK(rs[0].headers.count("connection") == 0);
  CHECK(rs[1].body == "hello");
  CHECK_FALSE(has(h.t.router->events, "body 5"));  // the handler never saw the discarded body
}

TEST_CASE("h1: framing attacks are answered 400 and close") {
  H1 h;
  std::string req;
  SECTION("Content-Length with Transfer-Encoding") {
    req =
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
  }
  SECTION("two Content-Lengths") {
    req = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
  }
  SECTION("a transfer coding we do not implement") {
    req = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n";
  }
  SECTION("a malformed request line") { req = "GET /hello HTTP/1.1 extra\r\nHost: a\r\n\r\n"; }
  SECTION("garbage") { req = "\x16\x03\x01\x02\x00 hello\r\n\r\n"; }
  SECTION("bad chunk framing") {
    req = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n";
  }
  auto rs = h.send(req);
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 400);
  CHECK(rs[0].headers["connection"] == "close");
  CHECK(rs[0].headers.count("x-request-id") == 1);
  CHECK(h.session.want_close());
  CHECK(h.t.counters.protocol_errors == 1);
  CHECK(h.session.want_linger());  // the rest of the request may still be on its way
}

TEST_CASE("h1: bad chunk framing aborts the handler that saw the head") {
  H1 h;
  h.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nq\r\n");
  CHECK(has(h.t.router->events, "abort /echo"));
  CHECK(h.session.want_close());
}

TEST_CASE("h1: size limits answer 431, 414 and 413") {
  H1 h;
  SECTION("header bytes") {
    auto rs =
        h.send("GET /hello HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(5000, 'x') + "\r\n\r\n");
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].status == 431);
  }
  SECTION("header count") {
    std::string req = "GET /hello HTTP/1.1\r\n";
    for (int i = 0; i < 40; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
    auto rs = h.send(req + "\r\n");
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].status == 431);
  }
  SECTION("url") {
    auto rs = h.send("GET /" + std::string(2000, 'u') + " HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].status == 414);
  }
  SECTION("declared body, refused before reading it") {
    auto rs = h.send("PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n");
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].status == 413);
    CHECK(h.t.router->events.empty());
  }
  SECTION("chunked body growing past the limit") {
    h.t.limits.max_body_bytes = 10;
    auto rs = h.send(
        "PUT /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
        "chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n");
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].status == 413);
    CHECK(has(h.t.router->events, "abort /echo"));
  }
  CHECK(h.session.want_close());
}

TEST_CASE("h1: PUT without a length gets 411") {
  H1 h;
  auto rs = h.send("PUT /echo HTTP/1.1\r\nHost: a\r\n\r\n");
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 411);
  CHECK(h.session.want_close());
}

TEST_CASE("h1: HEAD carries the real Content-Length and no body") {
  H1 h;
  auto rs = h.send(
      "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
      {true, false});
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].headers["content-length"] == "5");
  CHECK(rs[0].body.empty());
  CHECK(rs[1].body == "hello");  // had HEAD sent a body, this would not parse
}

TEST_CASE("h1: a large body is pulled only while the output is under the watermark") {
  H1 h;
  const size_t high = h.t.limits.output_high_water;
  const size_t piece = 16 * 1024;
  const uint64_t size = 1 << 20;
  add(h.t.in.get(), "GET /big?size=1048576 HTTP/1.1\r\nHost: a\r\n\r\n");
  h.session.on_input(h.t.in.get());
  std::string wire;
  int rounds = 0;
  while (true) {
    size_t queued = evbuffer_get_length(h.t.out.get());
    CHECK(queued <= high + piece + 512);
    if (queued == 0) break;
    // A slow reader: take half of what is queued, then let the session top it up.
    std::string part(queued / 2 + 1, '\0');
    evbuffer_remove(h.t.out.get(), part.data(), part.size());
    wire += part;
    h.session.resume();
    ++rounds;
  }
  auto rs = parse_responses(wire);
  REQUIRE(rs.size() == 1);
  REQUIRE(rs[0].body.size() == size);
  for (uint64_t i = 0; i < size; i += 4099) REQUIRE(rs[0].body[i] == PatternBody::byte_at(i));
  CHECK(rounds > 10);
  CHECK(h.t.router->pulls == static_cast<int>(size / piece));
}

TEST_CASE("h1: a failing body source closes the connection") {
  H1 h;
  h.send("GET /fail HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(h.session.want_close());
}

TEST_CASE("h1: timeouts") {
  H1 h;
  SECTION("idle keep-alive closes silently") {
    REQUIRE(h.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n").size() == 1);
    CHECK(h.session.deadline() != Clock::time_point::max());
    h.session.on_timer(h.session.deadline() - std::chrono::milliseconds(1));
    CHECK_FALSE(h.session.want_close());
    h.session.on_timer(h.session.deadline());
    CHECK(h.session.want_close());
    CHECK(evbuffer_get_length(h.t.out.get()) == 0);
  }
  SECTION("a slow head gets 408") {
    auto before = Clock::now();
    h.send("GET /hello HTTP/1.1\r\nHo");
    CHECK(h.session.deadline() <= before + h.t.limits.header_timeout + std::chrono::seconds(1));
    h.session.on_timer(h.session.deadline());
    auto rs = parse_responses(drain_buffer(h.t.out.get()));
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].status == 408);
    CHECK(h.session.want_close());
  }
  SECTION("a stalled body gets 408 and the handler an abort") {
    h.send("PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345");
    h.session.on_timer(h.session.deadline());
    auto rs = parse_responses(drain_buffer(h.t.out.get()));
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].status == 408);
    CHECK(has(h.t.router->events, "abort /echo"));
    CHECK(h.session.want_close());
  }
}

TEST_CASE("h1: HTTP/1.0 closes unless keep-alive is asked") {
  H1 h;
  SECTION("plain 1.0") {
    auto rs = h.send("GET /hello HTTP/1.0\r\n\r\n");
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].headers["connection"] == "close");
    CHECK(h.session.want_close());
  }
  SECTION("1.0 with keep-alive") {
    auto rs = h.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].headers["connection"] == "keep-alive");
    CHECK_FALSE(h.session.want_close());
  }
  SECTION("1.1 asking to close") {
    auto rs = h.send("GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].headers["connection"] == "close");
    CHECK(h.session.want_close());
    CHECK_FALSE(h.session.want_linger());  // nothing more is coming: close at once
  }
}

TEST_CASE("h1: drain closes idle connections and marks the last answer") {
  H1 h;
  SECTION("idle") {
    h.session.drain();
    CHECK(h.session.want_close());
  }
  SECTION("in flight") {
    h.send("GET /later HTTP/1.1\r\nHost: a\r\n\r\n");
    h.session.drain();
    CHECK_FALSE(h.session.want_close());
    REQUIRE(h.t.router->answer_later());
    h.session.resume();
    auto rs = parse_responses(drain_buffer(h.t.out.get()));
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].body == "later");
    CHECK(rs[0].headers["connection"] == "close");
    CHECK(h.session.want_close());
  }
}

TEST_CASE("h1: a peer that goes away aborts the request in flight only") {
  H1 h;
  h.send(
      "GET /later HTTP/1.1\r\nHost: a\r\n\r\nPUT /echo HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc");
  h.session.on_input_closed();
  CHECK(has(h.t.router->events, "abort /echo"));
  CHECK_FALSE(h.session.want_close());  // /later is complete and still gets its answer
  REQUIRE(h.t.router->answer_later());
  h.session.resume();
  auto rs = parse_responses(drain_buffer(h.t.out.get()));
  REQUIRE(rs.size() == 1);
  CHECK(h.session.want_close());
}

TEST_CASE("h1: a peer that goes away while its discarded body arrives gets closed") {
  H1 h;
  auto rs = h.send("PUT /reject HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n12345");
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 413);
  CHECK_FALSE(h.session.want_close());  // still discarding the rest of the body
  h.session.on_input_closed();
  CHECK(h.session.want_close());
}

TEST_CASE("h1: destroying the session aborts unanswered exchanges") {
  auto t = std::make_unique<H1>();
  t->send("GET /later HTTP/1.1\r\nHost: a\r\n\r\n");
  auto router = t->t.router;
  t.reset();
  CHECK(has(router->events, "abort /later"));
}

TEST_CASE("h1: path and query are split and decoded") {
  H1 h;
  h.send("GET /some%20where/x?b=1&a=h%C3%A9+llo HTTP/1.1\r\nHost: a\r\n\r\n");
  REQUIRE(h.t.router->requests.size() == 1);
  const Request& r = h.t.router->requests[0];
  CHECK(r.path == "/some where/x");
  CHECK(r.raw_path == "/some%20where/x");
  CHECK(r.query == "b=1&a=h%C3%A9+llo");
  CHECK(r.query_param("a") == "h\xC3\xA9 llo");
  CHECK(r.query_param("b") == "1");
  CHECK_FALSE(r.query_param("c").has_value());
}

}  // namespace meshcache::http::test

namespace meshcache::http::test {

TEST_CASE("h1: a paused body is not read until released, then the exchange completes") {
  H1 h;
  std::string body(10000, 'q');
  auto rs = h.send("PUT /hold HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n" + body);
  CHECK(rs.empty());
  CHECK_FALSE(h.session.want_read());
  // The parser stopped at the head: the body is still waiting in the input.
  CHECK(evbuffer_get_length(h.t.in.get()) >= body.size());
  int wakes = h.t.host.wakes;
  REQUIRE(h.t.router->release_held());
  CHECK(h.t.host.wakes == wakes + 1);
  h.session.resume();
  CHECK(h.session.want_read());
  h.session.on_input(h.t.in.get());  // what the connection does once reading is wanted again
  auto done = parse_responses(drain_buffer(h.t.out.get()), {});
  REQUIRE(done.size() == 1);
  CHECK(done[0].status == 200);
  CHECK(done[0].body == body);
}

TEST_CASE("h1: no 100 Continue while the body is paused") {
  H1 h;
  auto rs =
      h.send("PUT /hold HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  CHECK(h.t.out.get() != nullptr);
  CHECK(drain_buffer(h.t.out.get()).empty());
  REQUIRE(h.t.router->release_held());
  h.session.resume();
  CHECK(drain_buffer(h.t.out.get()).find("100 Continue") != std::string::npos);
  rs = h.send("abc");
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].body == "abc");
}

}  // namespace meshcache::http::test
