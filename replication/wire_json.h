// wire_json.h: JSON in and out of the peer plane with hard bounds: nesting depth and the number
// of values are capped while parsing, so a hostile document can exhaust neither the stack nor
// memory; serialising never throws. Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace meshcache::replication::wire {

// The document, or nullopt when `text` is not one JSON value (or not UTF-8), nests deeper than
// `max_depth`, or holds more than `max_values` values (keys not counted).
std::optional<nlohmann::json> parse_json(std::string_view text, size_t max_depth,
                                         size_t max_values);

// Compact text. Stored keys are bytes, not necessarily UTF-8: invalid sequences become U+FFFD
// instead of an exception.
std::string dump_json(const nlohmann::json& doc);

}  // namespace meshcache::replication::wire
