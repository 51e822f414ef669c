// journal.cc: the request log and the deduplicated usage events (loop thread).
#include "tests/mock_cp/journal.h"

namespace meshcache::mockcp {
namespace {

// Enough for any test run; a node heartbeating for days does not grow the mock without bound.
constexpr size_t kMaxRequests = 10000;

}  // namespace

void Journal::record(std::string_view endpoint, const http::Request& request, std::string_view body,
                     int status) {
  json headers = json::object();
  for (const auto& h : request.headers) {
    auto it = headers.find(h.name);
    if (it == headers.end()) {
      headers[h.name] = h.value;
    } else {
      *it = it->get<std::string>() + ", " + h.value;  // repeated headers, joined as RFC 9110 allows
    }
  }
  std::string path = request.raw_path;
  if (!request.query.empty()) path += "?" + request.query;
  requests_.push_back({std::string(endpoint), json{{"endpoint", endpoint},
                                                   {"method", request.method},
                                                   {"path", path},
                                                   {"headers", std::move(headers)},
                                                   {"body", body},
                                                   {"status", status},
                                                   {"at_unix_ms", now_unix_ms()}}});
  if (requests_.size() > kMaxRequests) {
    requests_.pop_front();
    ++dropped_;
  }
}

json Journal::requests(std::optional<std::string_view> endpoint) const {
  json list = json::array();
  for (const auto& entry : requests_) {
    if (!endpoint || entry.endpoint == *endpoint) list.push_back(entry.fields);
  }
  return json{{"requests", std::move(list)}, {"dropped", dropped_}};
}

void Journal::reset() {
  requests_.clear();
  dropped_ = 0;
}

void Journal::add_usage(const json& events) {
  for (const auto& event : events) {
    ++events_received_;
    auto id = event.find("event_id");
    // Events without an id cannot be told apart from repeats: each counts as its own.
    std::string key = id == event.end() ? "#" + std::to_string(events_received_) : dump(*id);
    if (event_ids_.insert(std::move(key)).second) events_.push_back(event);
  }
}

json Journal::usage() const { return json{{"events", events_}, {"received", events_received_}}; }

}  // namespace meshcache::mockcp
