// wire_test.cc: the peer plane's byte formats, byte for byte, and their rejection of malformed
// input (test thread only).
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "replication/wire.h"

namespace meshcache::replication::wire {
namespace {

using namespace std::string_literals;

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// One raw batch item with a hand-written meta.
std::string raw_item(std::string_view meta, std::string_view body) {
  return be32(static_cast<uint32_t>(meta.size())) + be32(static_cast<uint32_t>(body.size())) +
         std::string(meta) + std::string(body);
}

constexpr std::string_view kMeta =
    R"({"producer":"gradle","namespace_id":"","key":"k","content_type":"application/octet-stream","version_ms":7})";

Code batch_error(const std::string& body) {
  auto r = parse_batch(body);
  return r.ok() ? Code::ok : r.status().code();
}

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

}  // namespace

TEST_CASE("wire: url_encode keeps only unreserved characters, upper-case hex") {
  CHECK(url_encode("AZaz09-_.~") == "AZaz09-_.~");
  CHECK(url_encode("a b/c+d&e=f") == "a%20b%2Fc%2Bd%26e%3Df");
  CHECK(url_encode("\xff\x01"s) == "%FF%01");
  CHECK(url_encode(""s + '\0') == "%00");
}

TEST_CASE("wire: batch items round-trip and are framed big-endian") {
  ArtifactMeta a{"gradle", "", "key-1", "application/octet-stream", 1700000000123, {}, {}, {}};
  ArtifactMeta b{"reapi", "ns", "action_cache/x/1", "application/x-protobuf", 5, "main", "t", "eu"};
  std::string body;
  append_batch_item(body, a, "hello");
  append_batch_item(body, b, ""s);
  // The first frame: u32 meta_len, u32 body_len = 5, the meta, then the body.
  uint32_t meta_len = (uint8_t(body[0]) << 24) | (uint8_t(body[1]) << 16) |
                      (uint8_t(body[2]) << 8) | uint8_t(body[3]);
  CHECK(body.substr(4, 4) == be32(5));
  CHECK(body.substr(8, meta_len).front() == '{');
  CHECK(body.substr(8 + meta_len, 5) == "hello");

  auto items = parse_batch(body);
  REQUIRE(items.ok());
  REQUIRE(items->size() == 2);
  const auto& x = (*items)[0].meta;
  CHECK(x.producer == "gradle");
  CHECK(x.namespace_id.empty());
  CHECK(x.key == "key-1");
  CHECK(x.version_ms == 1700000000123);
  CHECK(!x.branch);
  CHECK((*items)[0].body == "hello");
  const auto& y = (*items)[1].meta;
  CHECK(y.branch == "main");
  CHECK(y.trunk == "t");
  CHECK(y.origin_region == "eu");
  CHECK((*items)[1].body.empty());
  CHECK(parse_batch("").ok());
}

TEST_CASE("wire: batch metas from other senders: optional fields and their types") {
  // namespace_id and version_ms may be absent; optional strings may be null.
  auto ok =
      parse_batch(raw_item(R"({"producer":"nx","key":"k","content_type":"c","branch":null})", "b"));
  REQUIRE(ok.ok());
  CHECK((*ok)[0].meta.version_ms == 0);
  CHECK((*ok)[0].meta.namespace_id.empty());
  CHECK(!(*ok)[0].meta.branch);
  // Unknown fields are kept out of the way.
  CHECK(parse_batch(
            raw_item(R"({"producer":"nx","key":"k","content_type":"c","later":{"x":[1,2]}})", ""))
            .ok());
}

TEST_CASE("wire: malformed batches are rejected precisely") {
  std::string good = raw_item(kMeta, "body");
  REQUIRE(batch_error(good) == Code::ok);
  SECTION("truncated") {
    CHECK(batch_error(good.substr(0, 3)) == Code::invalid_argument);   // in the lengths
    CHECK(batch_error(good.substr(0, 20)) == Code::invalid_argument);  // in the meta
    CHECK(batch_error(good.substr(0, good.size() - 1)) == Code::invalid_argument);  // body
    CHECK(batch_error(good + "\0\0\0"s) == Code::invalid_argument);  // a trailing stub
  }
  SECTION("overflowing lengths") {
    CHECK(batch_error(be32(0xffffffff) + be32(0xffffffff) + "x") == Code::invalid_argument);
    CHECK(batch_error(be32(2) + be32(0xfffffffe) + "{}") == Code::invalid_argument);
  }
  SECTION("bad meta JSON") {
    for (std::string meta :
         {"not json"s, "[]"s, "\"s\""s, "{\"producer\":\"\xff\xfe\",\"key\":\"k\"}"s, "{"s,
          R"({"key":"k","content_type":"c"})"s,               // no producer
          R"({"producer":"nx","content_type":"c"})"s,         // no key
          R"({"producer":"nx","key":"k"})"s,                  // no content_type
          R"({"producer":1,"key":"k","content_type":"c"})"s,  // wrong type
          R"({"producer":"nx","key":"k","content_type":"c","namespace_id":3})"s,
          R"({"producer":"nx","key":"k","content_type":"c","version_ms":-1})"s,
          R"({"producer":"nx","key":"k","content_type":"c","version_ms":1.5})"s,
          R"({"producer":"nx","key":"k","content_type":"c","version_ms":"1"})"s,
          R"({"producer":"nx","key":"k","content_type":"c","version_ms":18446744073709551615})"s,
          R"({"producer":"nx","key":"k","content_type":"c","branch":[]})"s,
          R"({"producer":"nx","key":"k","content_type":"c"} trailing)"s,
          std::string(10000, '[') + std::string(10000, ']')}) {
      INFO(meta.substr(0, 80));
      CHECK(batch_error(raw_item(meta, "b")) == Code::invalid_argument);
    }
    auto r = parse_batch(good + raw_item(R"({"key":"k","content_type":"c"})", ""));
    REQUIRE(!r.ok());
    CHECK(r.status().message() == "item 1: missing producer");
  }
  SECTION("too many items") {
    std::string body;
    for (size_t i = 0; i < kMaxBatchItems; ++i) body += raw_item(kMeta, "");
    CHECK(batch_error(body) == Code::ok);
    CHECK(batch_error(body + raw_item(kMeta, "")) == Code::too_large);
  }
}

TEST_CASE("wire: outcomes") {
  std::vector<std::string_view> outcomes = {"applied", "ignored_equal", "error"};
  std::string text = encode_outcomes(outcomes);
  CHECK(text == R"({"outcomes":["applied","ignored_equal","error"]})");
  auto back = parse_outcomes(text);
  REQUIRE(back.ok());
  CHECK(*back == std::vector<std::string>{"applied", "ignored_equal", "error"});
  CHECK(encode_outcomes({}) == R"({"outcomes":[]})");
  for (std::string bad : {"", "[]", R"({"outcomes":1})", R"({"outcomes":[1]})", R"({})"}) {
    CHECK(!parse_outcomes(bad).ok());
  }
}

TEST_CASE("wire: frame headers are 22 bytes, big-endian") {
  FrameHeader h;
  h.kind = 2;
  h.disposition = Disposition::present;
  h.id_len = 64;
  h.version_ms = 0x0102030405060708;
  h.meta_len = 0x0a0b;
  h.body_len = 0x1112131415161718;
  uint8_t out[kFrameHeaderBytes];
  encode_frame_header(h, out);
  CHECK(std::string(reinterpret_cast<char*>(out), sizeof(out)) ==
        unhex("0200004001020304050607080a0b1112131415161718"));
  auto back = decode_frame_header(std::span<const uint8_t, kFrameHeaderBytes>(out));
  REQUIRE(back.ok());
  CHECK(back->kind == 2);
  CHECK(back->disposition == Disposition::present);
  CHECK(back->id_len == 64);
  CHECK(back->version_ms == 0x0102030405060708);
  CHECK(back->meta_len == 0x0a0b);
  CHECK(back->body_len == 0x1112131415161718);

  auto decode = [](FrameHeader f, uint8_t disposition_byte = 255) {
    uint8_t b[kFrameHeaderBytes];
    encode_frame_header(f, b);
    if (disposition_byte != 255) b[1] = disposition_byte;
    return decode_frame_header(std::span<const uint8_t, kFrameHeaderBytes>(b));
  };
  CHECK(!decode(h, 3).ok());  // unknown disposition
  FrameHeader no_id = h;
  no_id.id_len = 0;
  CHECK(!decode(no_id).ok());
  FrameHeader no_meta = h;
  no_meta.meta_len = 0;
  CHECK(!decode(no_meta).ok());
  FrameHeader absent{1, Disposition::absent, 4, 9, 0, 0};
  CHECK(decode(absent).ok());
  FrameHeader absent_body = absent;
  absent_body.body_len = 1;
  CHECK(!decode(absent_body).ok());
  FrameHeader fetch_meta{1, Disposition::fetch_individually, 4, 9, 1, 0};
  CHECK(!decode(fetch_meta).ok());
}

TEST_CASE("wire: frame prefix and meta") {
  ArtifactMeta meta{"xcode", "p", "blob/1", "application/octet-stream", 99, "b", "t", "eu"};
  std::string text = encode_frame_meta(meta);
  // No version (the header has it) and no trunk in a frame's meta.
  CHECK(
      text ==
      R"({"branch":"b","content_type":"application/octet-stream","key":"blob/1","namespace_id":"p","origin_region":"eu","producer":"xcode"})");
  auto back = parse_frame_meta(text);
  REQUIRE(back.ok());
  CHECK(back->producer == "xcode");
  CHECK(back->namespace_id == "p");
  CHECK(back->key == "blob/1");
  CHECK(back->branch == "b");
  CHECK(back->origin_region == "eu");
  CHECK(!parse_frame_meta("{}").ok());
  CHECK(!parse_frame_meta("").ok());

  FrameHeader h{1, Disposition::present, 0, 42, 0, 3};
  std::string prefix = frame_prefix(h, "abcd", text);
  REQUIRE(prefix.size() == kFrameHeaderBytes + 4 + text.size());
  auto decoded = decode_frame_header(std::span<const uint8_t, kFrameHeaderBytes>(
      reinterpret_cast<const uint8_t*>(prefix.data()), kFrameHeaderBytes));
  REQUIRE(decoded.ok());
  CHECK(decoded->id_len == 4);  // taken from what follows
  CHECK(decoded->meta_len == text.size());
  CHECK(decoded->body_len == 3);
  CHECK(prefix.substr(kFrameHeaderBytes, 4) == "abcd");
  CHECK(prefix.substr(kFrameHeaderBytes + 4) == text);
}

TEST_CASE("wire: listing JSON and the after cursor") {
  storage::BackfillPage page;
  page.entries.push_back({storage::BackfillKind::segment, "aa", 5, 100, "k1"});
  page.entries.push_back({storage::BackfillKind::inline_body, "bb", 4, 3, "k2"});
  page.entries.push_back({storage::BackfillKind::tombstone, "ns", 3, 0, "k3"});
  page.next_after = "backfill/idx/\x01\xff"s;
  std::string text = encode_listing(page);
  CHECK(
      text ==
      R"({"entries":[{"record_id":"aa","record_kind":"segment_artifact","size":100,"version_ms":5},)"
      R"({"record_id":"bb","record_kind":"inline_artifact","size":3,"version_ms":4},)"
      R"({"record_id":"ns","record_kind":"namespace_tombstone","version_ms":3}],)"
      R"("next_after":"6261636b66696c6c2f6964782f01ff"})");
  auto listing = parse_listing(text);
  REQUIRE(listing.ok());
  REQUIRE(listing->entries.size() == 3);
  CHECK(listing->entries[0].record_kind == "segment_artifact");
  CHECK(listing->entries[0].size == 100u);
  CHECK(!listing->entries[2].size);
  CHECK(listing->next_after == "6261636b66696c6c2f6964782f01ff");
  auto after = decode_after(*listing->next_after);
  REQUIRE(after.ok());
  CHECK(*after == *page.next_after);

  page.next_after.reset();
  page.entries.clear();
  CHECK(encode_listing(page) == R"({"entries":[],"next_after":null})");
  CHECK(parse_listing(R"({"entries":[],"next_after":null})").ok());
  // Unknown kinds survive parsing, so a client can skip them.
  auto future =
      parse_listing(R"({"entries":[{"record_kind":"x","record_id":"y","version_ms":1}]})");
  REQUIRE(future.ok());
  CHECK(future->entries[0].record_kind == "x");
  for (std::string bad :
       {"", "[]", R"({"entries":{}})", R"({"entries":[1]})",
        R"({"entries":[{"record_kind":"x","record_id":"y"}]})",
        R"({"entries":[{"record_kind":"x","record_id":"y","version_ms":-3}]})",
        R"({"entries":[{"record_kind":"x","record_id":"y","version_ms":1,"size":"1"}]})",
        R"({"entries":[],"next_after":5})"}) {
    INFO(bad);
    CHECK(!parse_listing(bad).ok());
  }

  CHECK(decode_after("")->empty());
  CHECK(decode_after("6261636B66696C6C2F6964782F").ok());  // upper-case hex too
  for (std::string bad : {"6", "zz", "6261", "6261636b66696c6c2f6964782"}) {
    auto r = decode_after(bad);
    REQUIRE(!r.ok());
    CHECK(r.status().code() == Code::invalid_argument);
    CHECK(r.status().message().rfind("Invalid after: ", 0) == 0);
  }
  CHECK(kind_name(storage::BackfillKind::inline_body) == "inline_artifact");
  CHECK(parse_kind("namespace_tombstone") == storage::BackfillKind::tombstone);
  CHECK(!parse_kind("sync_watermark"));
}

TEST_CASE("wire: bodies requests") {
  std::vector<ListedEntry> entries = {{"segment_artifact", "aa", 5, 100},
                                      {"inline_artifact", "bb", 4, std::nullopt}};
  std::string text = encode_bodies_request(entries);
  CHECK(
      text ==
      R"({"entries":[{"record_id":"aa","record_kind":"segment_artifact","size":100,"version_ms":5},)"
      R"({"record_id":"bb","record_kind":"inline_artifact","version_ms":4}]})");
  auto wanted = parse_bodies_request(text);
  REQUIRE(wanted.ok());
  REQUIRE(wanted->size() == 2);
  CHECK((*wanted)[0].kind == storage::BackfillKind::segment);
  CHECK((*wanted)[0].record_id == "aa");
  CHECK((*wanted)[0].version_ms == 5);
  CHECK((*wanted)[1].kind == storage::BackfillKind::inline_body);
  // size is ignored, whatever it holds.
  CHECK(
      parse_bodies_request(
          R"({"entries":[{"record_kind":"inline_artifact","record_id":"b","version_ms":1,"size":"x"}]})")
          .ok());
  for (std::string bad :
       {"", "{}", "[]", R"({"entries":1})",
        R"({"entries":[{"record_kind":"namespace_tombstone","record_id":"n","version_ms":1}]})",
        R"({"entries":[{"record_kind":"what","record_id":"n","version_ms":1}]})",
        R"({"entries":[{"record_kind":"inline_artifact","record_id":"","version_ms":1}]})",
        R"({"entries":[{"record_kind":"inline_artifact","record_id":"x"}]})",
        R"({"entries":[{"record_kind":"inline_artifact","record_id":7,"version_ms":1}]})"}) {
    INFO(bad);
    auto r = parse_bodies_request(bad);
    REQUIRE(!r.ok());
    CHECK(r.status().code() == Code::invalid_argument);
  }
  std::string many = R"({"entries":[)";
  for (size_t i = 0; i <= kMaxBodiesEntries; ++i) {
    if (i > 0) many += ',';
    many += R"({"record_kind":"inline_artifact","record_id":"x","version_ms":1})";
  }
  many += "]}";
  auto r = parse_bodies_request(many);
  REQUIRE(!r.ok());
  CHECK(r.status().message() == "more than 65536 entries");
  std::string long_id = R"({"entries":[{"record_kind":"inline_artifact","record_id":")" +
                        std::string(70000, 'a') + R"(","version_ms":1}]})";
  CHECK(!parse_bodies_request(long_id).ok());
}

TEST_CASE("wire: random bytes never crash the parsers") {
  std::mt19937 rng(12345);
  std::string alphabet = "{}[]\":,0123456789abcdefxyz-.\\ \x00\x01\xff\xc3"s;
  for (int round = 0; round < 20000; ++round) {
    size_t len = rng() % 64;
    std::string s;
    for (size_t i = 0; i < len; ++i) {
      s.push_back(round % 2 ? static_cast<char>(rng()) : alphabet[rng() % alphabet.size()]);
    }
    (void)parse_batch(s);
    (void)parse_batch(raw_item(s, "x"));
    (void)parse_outcomes(s);
    (void)parse_listing(s);
    (void)parse_bodies_request(s);
    (void)parse_frame_meta(s);
    (void)decode_after(s);
    if (s.size() >= kFrameHeaderBytes) {
      (void)decode_frame_header(std::span<const uint8_t, kFrameHeaderBytes>(
          reinterpret_cast<const uint8_t*>(s.data()), kFrameHeaderBytes));
    }
  }
  SUCCEED();
}

}  // namespace meshcache::replication::wire
