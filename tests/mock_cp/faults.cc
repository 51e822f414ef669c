// faults.cc: parsing and applying the fault plan (loop thread).
#include "tests/mock_cp/faults.h"

#include <array>
#include <string_view>
#include <utility>

namespace meshcache::mockcp {
namespace {

constexpr std::array<std::pair<std::string_view, FaultMode>, 6> kModes{{
    {"none", FaultMode::none},
    {"down", FaultMode::down},
    {"slow", FaultMode::slow},
    {"error", FaultMode::error},
    {"garbage", FaultMode::garbage},
    {"status", FaultMode::status},
}};

// A day: longer than any client timeout, short enough to keep post_after's arithmetic sane.
constexpr int64_t kMaxDelayMs = 24LL * 3600 * 1000;

}  // namespace

Status Faults::set(const json& doc) {
  std::optional<std::string> mode_name = string_field(doc, "mode");
  if (!mode_name) return Status(Code::invalid_argument, "\"mode\" is required");
  Fault fault;
  bool known = false;
  for (const auto& [name, mode] : kModes) {
    if (name == *mode_name) {
      fault.mode = mode;
      known = true;
    }
  }
  if (!known) {
    return Status(Code::invalid_argument, "\"mode\" is none, down, slow, error, garbage or status");
  }

  std::set<Endpoint> endpoints;
  auto list = doc.find("endpoints");
  if (list == doc.end() || list->is_null()) {
    for (const auto& e : kEndpoints) endpoints.insert(e.endpoint);
  } else if (list->is_array()) {
    for (const auto& item : *list) {
      std::optional<Endpoint> e =
          item.is_string() ? endpoint_named(item.get<std::string>()) : std::nullopt;
      if (!e) {
        return Status(Code::invalid_argument,
                      "\"endpoints\" names enroll, heartbeat, peers, registrations, usage or "
                      "introspect");
      }
      endpoints.insert(*e);
    }
  } else {
    return Status(Code::invalid_argument, "\"endpoints\" is a list");
  }

  auto delay = doc.find("delay_ms");
  if (delay != doc.end() && !delay->is_null()) {
    if (!delay->is_number_integer() || delay->get<int64_t>() < 0 ||
        delay->get<int64_t>() > kMaxDelayMs) {
      return Status(Code::invalid_argument, "\"delay_ms\" is an integer from 0 to 86400000");
    }
    fault.delay = std::chrono::milliseconds(delay->get<int64_t>());
  } else if (fault.mode == FaultMode::slow) {
    return Status(Code::invalid_argument, "mode \"slow\" needs \"delay_ms\"");
  }

  if (fault.mode == FaultMode::status) {
    auto status = doc.find("status");
    if (status == doc.end() || !status->is_number_integer() || status->get<int64_t>() < 200 ||
        status->get<int64_t>() > 599) {
      return Status(Code::invalid_argument, "mode \"status\" needs \"status\" from 200 to 599");
    }
    fault.status = status->get<int>();
    fault.body = doc.value("body", json::object());
  }

  std::optional<int64_t> remaining;
  auto count = doc.find("count");
  if (count != doc.end() && !count->is_null()) {
    if (!count->is_number_integer() || count->get<int64_t>() < 1) {
      return Status(Code::invalid_argument, "\"count\" is a positive integer");
    }
    remaining = count->get<int64_t>();
  }

  fault_ = fault;
  endpoints_ = std::move(endpoints);
  remaining_ = remaining;
  return Status::Ok();
}

std::optional<Fault> Faults::take(Endpoint endpoint) {
  if (fault_.mode == FaultMode::none || endpoints_.count(endpoint) == 0) return std::nullopt;
  if (remaining_) {
    if (*remaining_ == 0) return std::nullopt;
    --*remaining_;
  }
  return fault_;
}

json Faults::describe() const {
  std::string_view mode;
  for (const auto& [name, m] : kModes) {
    if (m == fault_.mode) mode = name;
  }
  json endpoints = json::array();
  for (Endpoint e : endpoints_) endpoints.push_back(info(e).name);
  json out{{"mode", mode}, {"endpoints", endpoints}, {"delay_ms", fault_.delay.count()}};
  if (fault_.mode == FaultMode::status) {
    out["status"] = fault_.status;
    out["body"] = fault_.body;
  }
  out["remaining"] = remaining_ ? json(*remaining_) : json(nullptr);
  return out;
}

}  // namespace meshcache::mockcp
