// usage_reporter_test.cc: window closes into the durable outbox and delivery to a fake
// transport over a real store: 2xx deletes, failures keep and retry with backoff, batches of at
// most 5000, 413 halves, and event ids across a restart in the middle of a window (test
// thread).
#include "agent/usage/usage_reporter.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "usage_test_support.h"

using namespace meshcache;
using namespace meshcache::agent;
using namespace meshcache::agent::usage;
using namespace meshcache::agent::usage::test;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kRetryBase{1000};

// A reporter over `store` and `transport`, with the outcomes it reports collected.
struct Harness {
  Harness(storage::Store& store, FakeTransport& transport) {
    UsageOptions options;
    options.node_id = "node-1.example.com";
    options.region = "eu";
    options.retry_base = kRetryBase;
    options.retry_cap = milliseconds(8000);
    options.now_ms = fake_clock;
    reporter = UsageReporter::make(store, transport, options,
                                   [this](const cp::CallStatus& s) { reports.push_back(s); });
  }
  std::unique_ptr<UsageReporter> reporter;
  std::vector<cp::CallStatus> reports;
};

// Rows in the outbox space (events and the close sequence).
size_t event_rows(storage::Store& store) {
  auto rows = store.scan_records("usage", 100000);
  REQUIRE(rows.ok());
  size_t n = 0;
  for (const auto& row : *rows) n += row.first.starts_with("e");
  return n;
}

json body_of(const FakeTransport::Post& post) {
  CHECK(post.path == "/_internal/kura/usage");
  json body = json::parse(post.json);
  CHECK(body["schema_version"] == 1);
  CHECK(body["node_id"] == "node-1.example.com");
  CHECK(body["region"] == "eu");
  return body;
}

const json* event_for(const json& body, std::string_view ns, std::string_view direction) {
  for (const auto& e : body["events"])
    if (e["namespace_id"] == ns && e["direction"] == direction) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("a window closes at its boundary into the outbox, and a 2xx deletes what was sent") {
  fake_now_ms = kWindowStart * 1000 + 5000;
  TempDir dir;
  auto store = open_store(dir.path());
  FakeTransport transport;
  Harness h(*store, transport);
  h.reporter->start();
  // The first tick finds nothing to send and comes back at the boundary, 55 s on.
  CHECK(transport.run_tasks() == std::vector<milliseconds>{milliseconds(0)});
  CHECK(transport.posts.empty());
  REQUIRE(transport.tasks.size() == 1);
  CHECK(transport.tasks.front().delay == milliseconds(55000));

  h.reporter->record("acme", "web", false, "bazel", "cas", 100);
  h.reporter->record("acme", "web", false, "bazel", "cas", 50);
  h.reporter->record("acme", "web", true, "bazel", "ac", 7);
  fake_now_ms = (kWindowStart + 60) * 1000 + 3;
  h.reporter->record("acme", "web", false, "bazel", "cas", 1);  // the next window's
  transport.run_tasks();

  CHECK(h.reporter->outbox_events() == 2);
  CHECK(event_rows(*store) == 2);
  REQUIRE(transport.posts.size() == 1);
  json body = body_of(transport.posts.front());
  REQUIRE(body["events"].size() == 2);
  const json* read = event_for(body, "web", "egress");
  REQUIRE(read);
  CHECK(*read == json{{"event_id", (*read)["event_id"]},
                      {"tenant_id", "acme"},
                      {"namespace_id", "web"},
                      {"node_id", "node-1.example.com"},
                      {"region", "eu"},
                      {"traffic_plane", "client"},
                      {"direction", "egress"},
                      {"operation", "read"},
                      {"protocol", "bazel"},
                      {"artifact_kind", "cas"},
                      {"bytes", 150},
                      {"request_count", 2},
                      {"window_start_unix_seconds", kWindowStart},
                      {"window_seconds", 60}});
  const std::string id = (*read)["event_id"];
  CHECK(id.size() == 36);
  CHECK(id[14] == '8');  // a version 8 UUID
  const json* write = event_for(body, "web", "ingress");
  REQUIRE(write);
  CHECK((*write)["operation"] == "write");
  CHECK((*write)["bytes"] == 7);
  CHECK((*write)["event_id"] != id);
  // The next tick is at the next boundary.
  REQUIRE(transport.tasks.size() == 1);
  CHECK(transport.tasks.front().delay == milliseconds(59997));

  transport.answer(202, R"({"accepted":2})");
  CHECK(h.reporter->outbox_events() == 0);
  CHECK(event_rows(*store) == 0);
  CHECK(transport.posts.empty());  // nothing left to send
  REQUIRE(h.reports.size() == 1);
  CHECK(h.reports.back().last_result == "ok: 2 events");
  CHECK(h.reports.back().last_success_unix == kWindowStart + 60);
  CHECK_FALSE(h.reports.back().next_attempt_unix);
}

TEST_CASE("a failed delivery keeps the rows and retries them, with growing backoff") {
  fake_now_ms = kWindowStart * 1000 + 5000;
  TempDir dir;
  auto store = open_store(dir.path());
  FakeTransport transport;
  Harness h(*store, transport);
  h.reporter->record("acme", "web", false, "gradle", "artifact", 10);
  h.reporter->flush_open_window();
  h.reporter->start();
  transport.run_tasks();
  REQUIRE(transport.posts.size() == 1);
  const std::string first = transport.posts.front().json;

  transport.answer(500, R"({"error":"internal"})");
  CHECK(h.reporter->outbox_events() == 1);
  CHECK(event_rows(*store) == 1);
  CHECK(h.reports.back().last_result == "http 500 internal");
  CHECK(h.reports.back().next_attempt_unix.has_value());
  REQUIRE(transport.tasks.size() == 2);  // the next tick and the retry
  const milliseconds retry = transport.tasks.back().delay;
  CHECK(retry >= kRetryBase / 2);
  CHECK(retry <= kRetryBase);

  // The tick does not jump the retry's queue; the retry re-sends the same events.
  transport.run_tasks();
  REQUIRE(transport.posts.size() == 1);
  CHECK(transport.posts.front().json == first);

  transport.answer(0, "connect: Connection refused");
  CHECK(h.reports.back().last_result == "connect: Connection refused");
  CHECK(transport.tasks.back().delay >= kRetryBase);
  CHECK(transport.tasks.back().delay <= 2 * kRetryBase);
  transport.run_tasks();
  transport.answer(403, R"({"error":"tenant_mismatch"})");
  CHECK(h.reports.back().last_result == "http 403 tenant_mismatch");
  CHECK(event_rows(*store) == 1);
  CHECK(transport.tasks.back().delay >= 2 * kRetryBase);
  transport.run_tasks();
  transport.answer(500);
  CHECK(transport.tasks.back().delay <= milliseconds(8000));  // capped
  transport.run_tasks();
  REQUIRE(transport.posts.size() == 1);
  CHECK(transport.posts.front().json == first);
  transport.answer(202);
  CHECK(event_rows(*store) == 0);
  CHECK(h.reports.back().last_result == "ok: 1 events");
}

TEST_CASE("more than 5000 events go out in batches of at most 5000, one after another") {
  fake_now_ms = kWindowStart * 1000 + 5000;
  TempDir dir;
  auto store = open_store(dir.path());
  FakeTransport transport;
  Harness h(*store, transport);
  // Over two windows: a window keeps at most 10000 keys.
  for (int i = 0; i < 12000; ++i) {
    if (i == 6000) fake_now_ms += 60'000;
    h.reporter->record("acme", "ns" + std::to_string(i), false, "http", "blob", i);
  }
  h.reporter->flush_open_window();
  CHECK(h.reporter->outbox_events() == 12000);
  h.reporter->start();
  transport.run_tasks();

  std::set<std::string> ids, namespaces;
  std::vector<size_t> sizes;
  while (!transport.posts.empty()) {
    json body = body_of(transport.posts.front());
    sizes.push_back(body["events"].size());
    for (const auto& e : body["events"]) {
      ids.insert(e["event_id"].get<std::string>());
      namespaces.insert(e["namespace_id"].get<std::string>());
    }
    transport.answer(202);
  }
  CHECK(sizes == std::vector<size_t>{5000, 5000, 2000});
  CHECK(ids.size() == 12000);
  CHECK(namespaces.size() == 12000);
  CHECK(h.reporter->outbox_events() == 0);
  CHECK(event_rows(*store) == 0);
}

TEST_CASE("a 413 halves the batch instead of retrying it as it was") {
  fake_now_ms = kWindowStart * 1000 + 5000;
  TempDir dir;
  auto store = open_store(dir.path());
  FakeTransport transport;
  Harness h(*store, transport);
  for (int i = 0; i < 10; ++i)
    h.reporter->record("acme", "ns" + std::to_string(i), true, "turbo", "artifact", 1);
  h.reporter->flush_open_window();
  h.reporter->start();
  transport.run_tasks();

  std::vector<size_t> sizes;
  auto answer = [&](long status) {
    REQUIRE(transport.posts.size() == 1);
    sizes.push_back(body_of(transport.posts.front())["events"].size());
    transport.answer(status, R"({"error":"too_many_events"})");
  };
  answer(413);
  CHECK(h.reports.back().last_result == "http 413 too_many_events: batch halved to 5");
  answer(413);
  while (!transport.posts.empty()) answer(202);
  CHECK(sizes == std::vector<size_t>{10, 5, 2, 2, 2, 2, 2});
  CHECK(event_rows(*store) == 0);

  // A single event that is still too large is an ordinary failure: kept, retried later.
  h.reporter->record("acme", "one", true, "turbo", "artifact", 1);
  h.reporter->flush_open_window();
  transport.run_tasks();
  answer(413);
  CHECK(transport.posts.empty());
  CHECK(event_rows(*store) == 1);
  CHECK(h.reports.back().next_attempt_unix.has_value());
}

TEST_CASE("a restart in the middle of a window loses nothing and reuses no event id") {
  fake_now_ms = kWindowStart * 1000 + 5000;
  TempDir dir;
  json first;
  {
    auto store = open_store(dir.path());
    FakeTransport transport;
    Harness h(*store, transport);
    h.reporter->start();
    transport.run_tasks();
    h.reporter->record("acme", "web", false, "xcode", "cas", 40);
    h.reporter->record("acme", "app", true, "xcode", "keyvalue", 2);
    // Shutdown: the open window goes to the outbox. A POST of it starts and never gets its
    // answer (the transport stops).
    h.reporter->flush_open_window();
    CHECK(event_rows(*store) == 2);
    transport.run_tasks();
    REQUIRE(transport.posts.size() == 1);
    first = body_of(transport.posts.front());
    REQUIRE(first["events"].size() == 2);
  }

  auto store = open_store(dir.path());
  FakeTransport transport;
  Harness h(*store, transport);
  CHECK(h.reporter->outbox_events() == 2);
  h.reporter->start();
  transport.run_tasks();
  REQUIRE(transport.posts.size() == 1);
  CHECK(body_of(transport.posts.front())["events"] == first["events"]);
  transport.answer(202);
  CHECK(event_rows(*store) == 0);

  // The same window goes on after the restart: its events are new ones.
  h.reporter->record("acme", "web", false, "xcode", "cas", 60);
  fake_now_ms = (kWindowStart + 60) * 1000;
  transport.run_tasks();
  REQUIRE(transport.posts.size() == 1);
  json later = body_of(transport.posts.front());
  REQUIRE(later["events"].size() == 1);
  const json& again = later["events"][0];
  CHECK(again["window_start_unix_seconds"] == kWindowStart);
  CHECK(again["namespace_id"] == "web");
  CHECK(again["bytes"] == 60);
  const json* earlier = event_for(first, "web", "egress");
  REQUIRE(earlier);
  CHECK((*earlier)["bytes"] == 40);
  CHECK((*earlier)["event_id"] != again["event_id"]);
}
