// fuzz_wire.cc: libFuzzer target for the peer plane's parsers (batch frames, backfill requests,
// listings, frame headers and meta, outcomes, cursors): whatever a peer sends, they must answer
// with a Result, never crash or over-read (fuzzer thread).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "replication/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace wire = meshcache::replication::wire;
  if (size == 0) return 0;
  // The first byte picks the parser, so one corpus covers all of them.
  const uint8_t which = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (which % 7) {
    case 0: {
      auto items = wire::parse_batch(input);
      // Re-encoding what parsed must parse again to the same count.
      if (items.ok()) {
        std::string again;
        for (const auto& item : items.value()) wire::append_batch_item(again, item.meta, item.body);
        auto reparsed = wire::parse_batch(again);
        if (!reparsed.ok() || reparsed.value().size() != items.value().size()) __builtin_trap();
      }
      break;
    }
    case 1:
      (void)wire::parse_bodies_request(input);
      break;
    case 2:
      (void)wire::parse_listing(input);
      break;
    case 3:
      (void)wire::parse_frame_meta(input);
      break;
    case 4:
      if (input.size() >= wire::kFrameHeaderBytes) {
        auto header = wire::decode_frame_header(
            std::span<const uint8_t, wire::kFrameHeaderBytes>(data + 1, wire::kFrameHeaderBytes));
        if (header.ok()) {
          uint8_t out[wire::kFrameHeaderBytes];
          wire::encode_frame_header(header.value(), out);
          if (std::string_view(reinterpret_cast<const char*>(out), sizeof out) !=
              input.substr(0, wire::kFrameHeaderBytes))
            __builtin_trap();
        }
      }
      break;
    case 5:
      (void)wire::parse_outcomes(input);
      break;
    case 6:
      (void)wire::decode_after(input);
      break;
  }
  return 0;
}
