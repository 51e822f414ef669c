// usage_outbox.cc: usage events as durable rows, their ids, and the delivery body (transport
// thread; append() also on the main thread at shutdown).
#include "agent/usage/usage_outbox.h"

#include <fmt/core.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "storage/sha256.h"

namespace meshcache::agent::usage {
namespace {

constexpr char kEventPrefix = 'e';
constexpr std::string_view kSeqKey = "s";
constexpr size_t kLoadPage = 1024;

using nlohmann::json;

// Client input (a namespace from a query string) may not be UTF-8: replace, never throw.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string_view direction(const UsageKey& k) { return k.write ? "ingress" : "egress"; }
std::string_view operation(const UsageKey& k) { return k.write ? "write" : "read"; }

bool is_event(const storage::Store::Record& row) {
  return !row.first.empty() && row.first[0] == kEventPrefix;
}

}  // namespace

UsageOutbox::UsageOutbox(storage::Store& store, std::string node_id, std::string region,
                         int64_t window_seconds)
    : store_(store),
      node_id_(std::move(node_id)),
      region_(std::move(region)),
      window_seconds_(window_seconds) {
  // One pass over what an earlier run left: count its events, read the sequence row last.
  std::string after;
  for (;;) {
    auto page = store_.scan_records(kSpace, kLoadPage, after);
    if (!page.ok())
      throw std::runtime_error("usage outbox: cannot read the store: " + page.status().message());
    for (const auto& row : *page) {
      if (is_event(row)) {
        size_.fetch_add(1, std::memory_order_relaxed);
      } else if (row.first == kSeqKey) {
        const auto& v = row.second;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), next_seq_);
        if (ec != std::errc() || end != v.data() + v.size())
          throw std::runtime_error("usage outbox: the stored close sequence is malformed");
      }
    }
    if (page->size() < kLoadPage) break;
    after = page->back().first;
  }
}

Status UsageOutbox::append(std::vector<Aggregate> aggregates) {
  std::lock_guard guard(append_mu_);
  if (!aggregates.empty()) unwritten_.push_back(std::move(aggregates));
  while (!unwritten_.empty()) {
    if (Status s = write_close(unwritten_.front()); !s.ok())
      return Status(s.code(), fmt::format("{} (kept in memory: {} close(s))", s.message(),
                                          unwritten_.size()));
    unwritten_.pop_front();
  }
  return Status::Ok();
}

Status UsageOutbox::write_close(const std::vector<Aggregate>& aggregates) {
  // One sequence per close, persisted in the same batch as its events: a window flushed at
  // shutdown and the rest of it closed after a restart never share an event_id, while a
  // re-sent row keeps the id stored in it.
  const uint64_t seq = next_seq_;
  std::vector<storage::Store::Record> rows;
  rows.reserve(aggregates.size() + 1);
  for (size_t i = 0; i < aggregates.size(); ++i)
    rows.emplace_back(fmt::format("{}{:016x}{:08x}", kEventPrefix, seq, i),
                      event_json(aggregates[i], seq));
  rows.emplace_back(kSeqKey, std::to_string(seq + 1));
  if (Status s = store_.put_records(kSpace, rows); !s.ok()) return s;
  next_seq_ = seq + 1;
  size_.fetch_add(aggregates.size(), std::memory_order_relaxed);
  return Status::Ok();
}

Result<std::vector<storage::Store::Record>> UsageOutbox::oldest(size_t limit) {
  auto rows = store_.scan_records(kSpace, limit);
  if (rows.ok()) std::erase_if(*rows, [](const auto& row) { return !is_event(row); });
  return rows;
}

Status UsageOutbox::remove(std::span<const std::string> keys) {
  if (Status s = store_.delete_records(kSpace, keys); !s.ok()) return s;
  size_.fetch_sub(keys.size(), std::memory_order_relaxed);
  return Status::Ok();
}

std::string UsageOutbox::batch_body(std::span<const storage::Store::Record> rows) const {
  // The rows already hold each event's JSON: splice them in rather than parse them again.
  std::string body = dump({{"schema_version", 1}, {"node_id", node_id_}, {"region", region_}});
  body.pop_back();  // the closing brace
  body += R"(,"events":[)";
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) body += ',';
    body += rows[i].second;
  }
  body += "]}";
  return body;
}

std::string UsageOutbox::event_json(const Aggregate& a, uint64_t seq) const {
  return dump({{"event_id", event_id(a, seq)},
               {"tenant_id", a.key.tenant},
               {"namespace_id", a.key.ns},
               {"node_id", node_id_},
               {"region", region_},
               {"traffic_plane", "client"},
               {"direction", direction(a.key)},
               {"operation", operation(a.key)},
               {"protocol", a.key.protocol},
               {"artifact_kind", a.key.artifact_kind},
               {"bytes", a.bytes},
               {"request_count", a.requests},
               {"window_start_unix_seconds", a.window_start},
               {"window_seconds", window_seconds_}});
}

std::string UsageOutbox::event_id(const Aggregate& a, uint64_t seq) const {
  // A UUID (version 8: custom, here name-based on SHA-256) of everything that makes the event
  // unique; deterministic, so the control plane can deduplicate a re-sent one.
  std::string name;
  const std::string window = std::to_string(a.window_start), close = std::to_string(seq);
  for (std::string_view part :
       {std::string_view(node_id_), std::string_view(window), std::string_view(a.key.tenant),
        std::string_view(a.key.ns), direction(a.key), operation(a.key),
        std::string_view(a.key.protocol), std::string_view(a.key.artifact_kind),
        std::string_view(close)}) {
    name.append(part);
    name.push_back('\0');
  }
  storage::Sha256 hasher;
  hasher.update(name.data(), name.size());
  storage::Digest digest = hasher.finish();
  digest[6] = (digest[6] & 0x0f) | 0x80;
  digest[8] = (digest[8] & 0x3f) | 0x80;
  std::string id;
  id.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id += '-';
    fmt::format_to(std::back_inserter(id), "{:02x}", digest[i]);
  }
  return id;
}

}  // namespace meshcache::agent::usage
