// warmup_frame_reader_test.cc: the incremental backfill frame parser, fed in every split the
// network could produce, and its byte layout checked by hand (test thread).
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "replication/frame_reader.h"
#include "warmup_support.h"

namespace meshcache::replication::test {
namespace {

// Records what the reader reports, as text; can be told to fail on a call.
class RecordingSink final : public FrameSink {
 public:
  Status begin(const wire::FrameHeader& h, std::string_view id, std::string_view meta) override {
    events.push_back("begin " + std::to_string(static_cast<int>(h.disposition)) + " " +
                     std::string(id) + " " + std::string(meta) + " v" +
                     std::to_string(h.version_ms) + " n" + std::to_string(h.body_len));
    return fail_begin ? Status(Code::invalid_argument, "refused") : Status::Ok();
  }
  Status body(std::span<const uint8_t> bytes) override {
    if (events.empty() || !events.back().starts_with("body ")) events.push_back("body ");
    events.back().append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return Status::Ok();
  }
  Status end() override {
    events.push_back("end");
    return Status::Ok();
  }
  std::vector<std::string> events;
  bool fail_begin = false;
};

std::string header_bytes(uint8_t kind, uint8_t disposition, uint16_t id_len, uint64_t version,
                         uint16_t meta_len, uint64_t body_len) {
  std::string h;
  h.push_back(static_cast<char>(kind));
  h.push_back(static_cast<char>(disposition));
  h.push_back(static_cast<char>(id_len >> 8));
  h.push_back(static_cast<char>(id_len & 0xff));
  for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>(version >> (8 * i)));
  h.push_back(static_cast<char>(meta_len >> 8));
  h.push_back(static_cast<char>(meta_len & 0xff));
  for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>(body_len >> (8 * i)));
  return h;
}

const std::string kMeta =
    R"({"producer":"gradle","namespace_id":"p","key":"k","content_type":"x"})";

Status feed(FrameReader& r, std::string_view bytes) {
  return r.feed({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

// Three frames: Present with a body, Absent, Present with an empty body.
std::string three_frames() {
  std::string s =
      header_bytes(1, 0, 3, 1700000000123, kMeta.size(), 11) + "abc" + kMeta + "hello world";
  s += header_bytes(2, 1, 2, 42, 0, 0) + "de";
  s += header_bytes(2, 0, 1, 7, kMeta.size(), 0) + "f" + kMeta;
  return s;
}

std::vector<std::string> expected_events() {
  return {"begin 0 abc " + kMeta + " v1700000000123 n11",
          "body hello world",
          "end",
          "begin 1 de  v42 n0",
          "end",
          "begin 0 f " + kMeta + " v7 n0",
          "end"};
}

}  // namespace

TEST_CASE("the frame header layout is 22 big-endian bytes, as wire.h encodes it") {
  wire::FrameHeader h;
  h.kind = 2;
  h.disposition = wire::Disposition::fetch_individually;
  h.id_len = 0x0102;
  h.version_ms = 0x0102030405060708;
  h.meta_len = 0;
  h.body_len = 0;
  uint8_t out[wire::kFrameHeaderBytes];
  wire::encode_frame_header(h, out);
  std::string hand = header_bytes(2, 2, 0x0102, 0x0102030405060708, 0, 0);
  REQUIRE(hand.size() == 22);
  CHECK(std::memcmp(out, hand.data(), 22) == 0);
  const uint8_t expect[22] = {2, 2, 1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(std::memcmp(out, expect, 22) == 0);
}

TEST_CASE("frames parse the same however the stream is split") {
  std::string stream = three_frames();
  SECTION("in one piece") {
    RecordingSink sink;
    FrameReader r(sink);
    REQUIRE(feed(r, stream).ok());
    REQUIRE(r.finish().ok());
    CHECK(r.frames() == 3);
    CHECK(sink.events == expected_events());
  }
  SECTION("byte by byte") {
    RecordingSink sink;
    FrameReader r(sink);
    for (char c : stream) REQUIRE(feed(r, std::string_view(&c, 1)).ok());
    REQUIRE(r.finish().ok());
    CHECK(sink.events == expected_events());
  }
  SECTION("split in two at every offset") {
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
      RecordingSink sink;
      FrameReader r(sink);
      REQUIRE(feed(r, std::string_view(stream).substr(0, cut)).ok());
      REQUIRE(feed(r, std::string_view(stream).substr(cut)).ok());
      REQUIRE(r.finish().ok());
      CHECK(sink.events == expected_events());
    }
  }
}

TEST_CASE("a stream that ends inside a frame is an error") {
  std::string stream = three_frames();
  // Every cut except the frame boundaries (0, after frame 1, after frame 2, the end).
  size_t first = 22 + 3 + kMeta.size() + 11;
  size_t second = first + 22 + 2;
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    if (cut == first || cut == second) continue;
    RecordingSink sink;
    FrameReader r(sink);
    REQUIRE(feed(r, std::string_view(stream).substr(0, cut)).ok());
    INFO("cut at " << cut);
    CHECK_FALSE(r.finish().ok());
  }
}

TEST_CASE("bad headers and sink errors stop the reader") {
  RecordingSink sink;
  FrameReader r(sink);
  SECTION("unknown disposition") {
    CHECK_FALSE(feed(r, std::string(22, '\xff') + "x").ok());
    CHECK(sink.events.empty());
  }
  SECTION("empty record_id") { CHECK_FALSE(feed(r, header_bytes(1, 1, 0, 1, 0, 0)).ok()); }
  SECTION("Absent with a body") { CHECK_FALSE(feed(r, header_bytes(1, 1, 1, 1, 0, 5)).ok()); }
  SECTION("Present without meta") { CHECK_FALSE(feed(r, header_bytes(1, 0, 1, 1, 0, 5)).ok()); }
  SECTION("the sink refuses a frame") {
    sink.fail_begin = true;
    Status s = feed(r, three_frames());
    CHECK(s.message() == "refused");
    CHECK(sink.events.size() == 1);
    // Stays failed: later bytes are not parsed.
    CHECK_FALSE(feed(r, "more").ok());
    CHECK(sink.events.size() == 1);
    CHECK_FALSE(r.finish().ok());
  }
}

TEST_CASE("a body of any declared length streams without being buffered") {
  RecordingSink sink;
  FrameReader r(sink);
  // A header claiming an enormous body: the reader only passes on what arrives.
  REQUIRE(feed(r, header_bytes(1, 0, 1, 1, kMeta.size(), ~uint64_t{0}) + "a" + kMeta + "xyz").ok());
  CHECK(sink.events.back() == "body xyz");
  CHECK_FALSE(r.finish().ok());
}

}  // namespace meshcache::replication::test
