// range_test.cc: Range parsing and 206/416 responses, HEAD (test thread).
#include <catch2/catch.hpp>

#include "agent/cache/artifact_get.h"
#include "tests/unit/agent/test_node.h"

using meshcache::agent::cache::ByteRange;
using meshcache::agent::cache::parse_range;
using meshcache::agent::cache::RangeKind;
using meshcache::agent::test::TestNode;

TEST_CASE("parse_range", "[range]") {
  ByteRange r;
  CHECK(parse_range("bytes=0-9", 100, r) == RangeKind::satisfiable);
  CHECK((r.offset == 0 && r.length == 10));
  CHECK(parse_range("bytes=90-", 100, r) == RangeKind::satisfiable);
  CHECK((r.offset == 90 && r.length == 10));
  CHECK(parse_range("bytes=-30", 100, r) == RangeKind::satisfiable);
  CHECK((r.offset == 70 && r.length == 30));
  CHECK(parse_range("bytes=-300", 100, r) == RangeKind::satisfiable);
  CHECK((r.offset == 0 && r.length == 100));
  CHECK(parse_range("bytes=50-1000", 100, r) == RangeKind::satisfiable);
  CHECK((r.offset == 50 && r.length == 50));
  CHECK(parse_range("Bytes= 5-5 ", 100, r) == RangeKind::satisfiable);
  CHECK((r.offset == 5 && r.length == 1));

  CHECK(parse_range("bytes=100-", 100, r) == RangeKind::unsatisfiable);
  CHECK(parse_range("bytes=-0", 100, r) == RangeKind::unsatisfiable);
  CHECK(parse_range("bytes=0-", 0, r) == RangeKind::unsatisfiable);

  CHECK(parse_range("bytes=0-1,5-6", 100, r) == RangeKind::none);
  CHECK(parse_range("bytes=9-1", 100, r) == RangeKind::none);
  CHECK(parse_range("items=0-1", 100, r) == RangeKind::none);
  CHECK(parse_range("bytes=a-b", 100, r) == RangeKind::none);
  CHECK(parse_range("bytes=-", 100, r) == RangeKind::none);
  CHECK(parse_range("bytes=99999999999999999999-", 100, r) == RangeKind::none);
}

TEST_CASE("GET with Range: 206, 416, multiple ranges ignored", "[range]") {
  TestNode node;
  std::string body(5000, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  REQUIRE(node.put("/cache/r", body).status == 200);

  auto r = node.get("/cache/r", {{"range", "bytes=1000-3999"}});  // crosses stored chunks
  CHECK(r.status == 206);
  CHECK(*r.header("content-range") == "bytes 1000-3999/5000");
  CHECK(r.content_length == 3000);
  CHECK(r.body == body.substr(1000, 3000));

  r = node.get("/cache/r", {{"range", "bytes=-10"}});
  CHECK(r.status == 206);
  CHECK(r.body == body.substr(4990));
  CHECK(*r.header("content-range") == "bytes 4990-4999/5000");

  r = node.get("/cache/r", {{"range", "bytes=5000-"}});
  CHECK(r.status == 416);
  CHECK(*r.header("content-range") == "bytes */5000");

  r = node.get("/cache/r", {{"range", "bytes=0-1,3-4"}});
  CHECK(r.status == 200);
  CHECK(r.body == body);

  // If-Range naming another version: the whole body.
  r = node.get("/cache/r", {{"range", "bytes=0-1"}, {"if-range", "\"stale\""}});
  CHECK(r.status == 200);
  CHECK(r.body.size() == 5000);
  r = node.get("/cache/r", {{"range", "bytes=0-1"}, {"if-range", *r.header("etag")}});
  CHECK(r.status == 206);

  auto head = node.head("/cache/r");
  CHECK(head.status == 200);
  CHECK(head.content_length == 5000);
  CHECK_FALSE(head.has_body_source);
}
