// request_test.cc: request-target splitting, percent-decoding and Request accessors (test thread).
#include <catch2/catch.hpp>

#include <event2/buffer.h>
#include "agent/http/request_target.h"

#include "agent/http/session.h"

namespace meshcache::http {

TEST_CASE("percent_decode") {
  std::string out;
  CHECK(percent_decode("a%20b%2Fc", out, false));
  CHECK(out == "a b/c");
  CHECK(percent_decode("a+b", out, false));
  CHECK(out == "a+b");
  CHECK(percent_decode("a+b", out, true));
  CHECK(out == "a b");
  CHECK_FALSE(percent_decode("bad%2", out, false));
  CHECK_FALSE(percent_decode("bad%", out, false));
  CHECK_FALSE(percent_decode("bad%zz", out, false));
}

TEST_CASE("set_request_target") {
  Request r;
  SECTION("origin form") {
    REQUIRE(set_request_target(r, "/a%2Fb/c?x=1&y#frag"));
    CHECK(r.path == "/a/b/c");
    CHECK(r.raw_path == "/a%2Fb/c");
    CHECK(r.query == "x=1&y");
  }
  SECTION("absolute form") {
    REQUIRE(set_request_target(r, "http://host:8080/p?q=2"));
    CHECK(r.path == "/p");
    CHECK(r.query == "q=2");
    REQUIRE(set_request_target(r, "http://host?q=3"));
    CHECK(r.path == "/");
    CHECK(r.query == "q=3");
  }
  SECTION("unusable targets") {
    CHECK_FALSE(set_request_target(r, ""));
    CHECK_FALSE(set_request_target(r, "*"));
    CHECK_FALSE(set_request_target(r, "/bad%g0"));
  }
}

TEST_CASE("Request accessors") {
  Request r;
  r.headers = {{"host", "h"}, {"x-a", "1"}, {"x-a", "2"}};
  r.query = "a=1&b&c=x%20y&a=3&d=";
  CHECK(*r.header("x-a") == "1");
  CHECK(r.header("missing") == nullptr);
  CHECK(r.query_param("a") == "1");
  CHECK(r.query_param("b") == "");
  CHECK(r.query_param("c") == "x y");
  CHECK(r.query_param("d") == "");
  CHECK_FALSE(r.query_param("e").has_value());
}

TEST_CASE("request ids are unique and cheap") {
  RequestIds a, b;
  std::string x = a.next(), y = a.next(), z = b.next();
  CHECK(x != y);
  CHECK(x.substr(0, 8) == y.substr(0, 8));
  CHECK(x.size() <= 15);  // fits the small-string buffer
  CHECK(z != x);
}

TEST_CASE("sniffing the cleartext port") {
  EvbufferPtr b(evbuffer_new());
  CHECK(sniff_protocol(b.get()) == Sniffed::need_more);
  evbuffer_add(b.get(), "PRI * HTTP/2", 12);
  CHECK(sniff_protocol(b.get()) == Sniffed::need_more);
  evbuffer_add(b.get(), ".0\r\n\r\nSM\r\n\r\n", 12);
  CHECK(sniff_protocol(b.get()) == Sniffed::h2);
  EvbufferPtr c(evbuffer_new());
  evbuffer_add(c.get(), "PU", 2);  // decided at the first byte that differs
  CHECK(sniff_protocol(c.get()) == Sniffed::http1);
}

}  // namespace meshcache::http
