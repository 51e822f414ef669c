// warmup_support.cc: the fake backfill peer and fixtures of the warm-up tests (handlers on the
// fake's I/O thread, the rest on the test thread).
#include "warmup_support.h"

#include "replication/internal_router.h"
#include "replication/replicate_apply.h"
#include "tls/authority.h"
#include "tls/key_pair.h"

#include <event2/buffer.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace meshcache::replication::test {
namespace {

using Json = nlohmann::json;

// Counts the response as in flight until the server has pulled all of it (or dropped it).
class TrackedBody final : public http::BodySource {
 public:
  TrackedBody(std::string text, FakePeer& peer, std::string key)
      : text_(std::move(text)), peer_(peer), key_(std::move(key)) {}
  ~TrackedBody() override { peer_.ended(key_); }
  Result<size_t> pull(evbuffer* out, size_t max_bytes) override {
    size_t n = std::min(max_bytes, text_.size() - pos_);
    if (n > 0) evbuffer_add(out, text_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string text_;
  size_t pos_ = 0;
  FakePeer& peer_;
  std::string key_;
};

std::string script_key(const std::string& path) {
  return path.starts_with(kArtifacts) ? std::string(kArtifacts) : path;
}

class PeerHandler final : public http::Handler {
 public:
  explicit PeerHandler(FakePeer& peer) : peer_(peer) {}
  void on_request(http::Exchange& ex) override {
    const http::Request& q = ex.request();
    r_ = {q.method, q.path, q.raw_path, q.query, {}, q.protocol, {}};
  }
  void on_body(http::Exchange&, std::span<const uint8_t> bytes) override {
    r_.body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void on_complete(http::Exchange& ex) override {
    std::string key = script_key(r_.path);
    Script script = peer_.script_for(key);
    peer_.started(r_);
    PeerAnswer a = script ? script(r_) : json_answer(404, R"({"message":"no such route"})");
    if (a.never) return;
    http::Response resp;
    resp.status = a.status;
    resp.headers = std::move(a.headers);
    resp.headers.push_back({"content-type", a.content_type});
    resp.content_length = a.body.size();
    if (a.body.empty()) {
      peer_.ended(key);
      ex.respond(std::move(resp));
      return;
    }
    ex.respond(std::move(resp), std::make_unique<TrackedBody>(std::move(a.body), peer_, key));
  }

 private:
  FakePeer& peer_;
  PeerRequest r_;
};

class PeerRouter final : public http::Router {
 public:
  explicit PeerRouter(FakePeer& peer) : peer_(peer) {}
  std::unique_ptr<http::Handler> route(const http::Request&) override {
    return std::make_unique<PeerHandler>(peer_);
  }

 private:
  FakePeer& peer_;
};

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) throw std::runtime_error(std::string(what) + ": " + r.status().message());
  return std::move(r).value();
}

void must(Status s, const char* what) {
  if (!s.ok()) throw std::runtime_error(std::string(what) + ": " + s.message());
}

std::string upper_hex(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string cursor_for(size_t position) {
  return upper_hex(std::string(wire::kIndexPrefix) + std::to_string(position));
}

const Item* find_item(const std::vector<Item>& items, std::string_view id) {
  for (const Item& i : items) {
    if (i.kind != storage::BackfillKind::tombstone && i.record_id() == id) return &i;
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> PeerRequest::param(const std::string& name) const {
  http::Request q;
  q.query = query;
  return q.query_param(name);
}

std::string Item::record_id() const {
  if (kind == storage::BackfillKind::tombstone) return meta.namespace_id;
  return storage::artifact_id({meta.producer, kTenant, meta.namespace_id, meta.key});
}

Item artifact(const std::string& key, std::string body, int64_t version_ms, const std::string& ns) {
  Item i;
  i.meta.producer = "gradle";
  i.meta.namespace_id = ns;
  i.meta.key = key;
  i.meta.content_type = "application/octet-stream";
  i.body = std::move(body);
  i.version_ms = version_ms;
  return i;
}

Item tombstone(const std::string& ns, int64_t version_ms) {
  Item i;
  i.kind = storage::BackfillKind::tombstone;
  i.meta.namespace_id = ns;
  i.version_ms = version_ms;
  return i;
}

std::string bytes_of(size_t n, uint8_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    out[i] = static_cast<char>(x >> 24);
  }
  return out;
}

std::string present_frame(const Item& item) {
  wire::FrameHeader h;
  h.kind = static_cast<uint8_t>(item.kind);
  h.disposition = wire::Disposition::present;
  h.version_ms = static_cast<uint64_t>(item.version_ms);
  h.body_len = item.body.size();
  return wire::frame_prefix(h, item.record_id(), wire::encode_frame_meta(item.meta)) + item.body;
}

std::string empty_frame(wire::Disposition d, const std::string& record_id, uint8_t kind,
                        int64_t version_ms) {
  wire::FrameHeader h;
  h.kind = kind;
  h.disposition = d;
  h.version_ms = static_cast<uint64_t>(version_ms);
  return wire::frame_prefix(h, record_id, "");
}

PeerAnswer json_answer(int status, const std::string& json) {
  PeerAnswer a;
  a.status = status;
  a.body = json;
  return a;
}

Script listing_script(std::shared_ptr<const std::vector<Item>> items, size_t page) {
  return [items, page](const PeerRequest& r) {
    size_t from = 0;
    if (auto after = r.param("after"); after && !after->empty()) {
      // Only the cursors this peer issued, byte for byte (they are upper-case on purpose).
      bool found = false;
      for (size_t p = 0; p <= items->size() && !found; ++p) {
        if (cursor_for(p) == *after) {
          from = p;
          found = true;
        }
      }
      if (!found) return json_answer(400, R"({"message":"Invalid after: unknown cursor"})");
    }
    Json entries = Json::array();
    size_t to = std::min(items->size(), from + page);
    for (size_t i = from; i < to; ++i) {
      const Item& it = (*items)[i];
      Json e = {{"record_kind", wire::kind_name(it.kind)},
                {"record_id", it.record_id()},
                {"version_ms", it.version_ms}};
      if (it.kind != storage::BackfillKind::tombstone) e["size"] = it.size();
      entries.push_back(std::move(e));
    }
    Json doc = {{"entries", std::move(entries)}, {"next_after", nullptr}};
    if (to < items->size()) doc["next_after"] = cursor_for(to);
    return json_answer(200, doc.dump());
  };
}

Script bodies_script(std::shared_ptr<const std::vector<Item>> items) {
  return [items](const PeerRequest& r) {
    auto wanted = wire::parse_bodies_request(r.body);
    if (!wanted.ok()) return json_answer(400, Json{{"message", wanted.status().message()}}.dump());
    PeerAnswer a;
    a.content_type = "application/octet-stream";
    for (const wire::WantedRecord& w : *wanted) {
      const Item* it = find_item(*items, w.record_id);
      auto kind = static_cast<uint8_t>(w.kind);
      if (!it) {
        a.body += empty_frame(wire::Disposition::absent, w.record_id, kind, w.version_ms);
      } else if (it->disposition == wire::Disposition::present) {
        a.body += present_frame(*it);
      } else {
        a.body += empty_frame(it->disposition, w.record_id, kind, w.version_ms);
      }
    }
    return a;
  };
}

Script artifact_script(std::shared_ptr<const std::vector<Item>> items) {
  return [items](const PeerRequest& r) {
    const Item* it = find_item(*items, r.path.substr(kArtifacts.size()));
    if (!it) return json_answer(404, R"({"message":"Not found"})");
    PeerAnswer a;
    a.content_type = "application/octet-stream";
    a.body = present_frame(*it);
    return a;
  };
}

FakePeer::FakePeer(bool tls) {
  http::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.io_threads = 1;
  if (tls) {
    auto ca = must(tls::create_authority("fake peer CA", 3600), "CA");
    auto issue = [&] {
      auto key = must(tls::generate_p256_key(), "key");
      return tls::IdentityPem{must(tls::private_key_pem(key.get()), "pem"),
                              must(tls::issue_leaf(ca, key.get(), "127.0.0.1", 3600), "leaf"),
                              ca.cert_pem};
    };
    // As a node's internal listener: the client must present a certificate of the same CA.
    auto ctx = must(tls::make_mtls_server_context(issue(), {"h2", "http/1.1"}), "server context");
    options.listen = "";
    options.tls_listen = "127.0.0.1:0";
    options.tls_context = [ctx] { return ctx; };
    client_identity_ = tls::default_identity_paths(dir_.path());
    must(tls::write_identity(client_identity_, issue()), "client identity");
  }
  server_ = http::Server::start(options, std::make_shared<PeerRouter>(*this));
  url_ = tls ? "https://" + *server_->tls_address() : "http://" + server_->listen_address();
}

FakePeer::~FakePeer() {
  server_->stop();
  server_.reset();  // drops held exchanges, whose bodies report to this peer
}

void FakePeer::on(std::string_view path, Script script) {
  std::lock_guard lock(mu_);
  scripts_[std::string(path)] = std::move(script);
}

void FakePeer::sequence(std::string_view path, std::vector<Script> scripts) {
  auto calls = std::make_shared<std::atomic<size_t>>(0);
  on(path, [scripts = std::move(scripts), calls](const PeerRequest& r) {
    size_t i = calls->fetch_add(1);
    return scripts[std::min(i, scripts.size() - 1)](r);
  });
}

void FakePeer::serve(std::vector<Item> items, size_t page) {
  auto shared = std::make_shared<const std::vector<Item>>(std::move(items));
  on(kListing, listing_script(shared, page));
  on(kBodies, bodies_script(shared));
  on(kArtifacts, artifact_script(shared));
}

Script FakePeer::script_for(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = scripts_.find(path);
  return it == scripts_.end() ? nullptr : it->second;
}

void FakePeer::started(const PeerRequest& r) {
  std::lock_guard lock(mu_);
  requests_.push_back(r);
  requests_.back().at = std::chrono::steady_clock::now();
  std::string key = script_key(r.path);
  int n = ++in_flight_[key];
  max_in_flight_[key] = std::max(max_in_flight_[key], n);
  cv_.notify_all();
}

void FakePeer::ended(const std::string& key) {
  std::lock_guard lock(mu_);
  --in_flight_[key];
}

std::vector<PeerRequest> FakePeer::requests(std::string_view path) const {
  std::lock_guard lock(mu_);
  std::vector<PeerRequest> out;
  for (const PeerRequest& r : requests_) {
    if (script_key(r.path) == path) out.push_back(r);
  }
  return out;
}

bool FakePeer::wait_requests(std::string_view path, size_t n, std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [&] {
    return static_cast<size_t>(
               std::count_if(requests_.begin(), requests_.end(),
                             [&](const auto& r) { return script_key(r.path) == path; })) >= n;
  });
}

int FakePeer::max_in_flight(std::string_view path) const {
  std::lock_guard lock(mu_);
  auto it = max_in_flight_.find(path);
  return it == max_in_flight_.end() ? 0 : it->second;
}

TestStore::TestStore(uint64_t chunk_bytes) {
  storage::StoreOptions options;
  options.path = dir.path() + "/store";
  options.chunk_bytes = chunk_bytes;
  auto opened = storage::Store::open(options);
  if (!opened.ok()) throw std::runtime_error("store: " + opened.status().message());
  store = std::move(opened).value();
}

std::optional<storage::Manifest> TestStore::manifest_of(const Item& item) {
  auto m = store->head({item.meta.producer, kTenant, item.meta.namespace_id, item.meta.key});
  if (!m.ok()) return std::nullopt;
  return *m;
}

std::optional<std::string> TestStore::body_of(const Item& item) {
  auto m = manifest_of(item);
  if (!m) return std::nullopt;
  auto body = store->read_all(*m);
  if (!body.ok()) return std::nullopt;
  return *body;
}

void TestStore::put(const Item& item) {
  auto w = store->begin_write(
      {item.meta.producer, kTenant, item.meta.namespace_id, item.meta.key},
      replica_write_options(item.meta.content_type, item.version_ms, item.body.size()));
  if (!w.ok()) throw std::runtime_error("begin_write: " + w.status().message());
  Status s = (*w)->append({reinterpret_cast<const uint8_t*>(item.body.data()), item.body.size()});
  if (!s.ok()) throw std::runtime_error("append: " + s.message());
  if (auto m = (*w)->commit(); !m.ok()) throw std::runtime_error("commit: " + m.status().message());
}

std::function<void()> Settled::callback() {
  return [this] {
    std::lock_guard lock(mu_);
    ++count_;
    cv_.notify_all();
  };
}

bool Settled::wait(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [&] { return count_.load() > 0; });
}

}  // namespace meshcache::replication::test

namespace meshcache::replication::test {

RouterPeer::RouterPeer() {
  InternalContext ctx;
  ctx.store = source.store.get();
  ctx.metrics = &metrics_;
  ctx.tenant = [] { return kTenant; };
  ctx.joined = [] { return true; };
  ctx.traffic_state = [] { return std::string("serving"); };
  ctx.background = [this](std::function<void()> task) { tasks_.post(std::move(task)); };
  http::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.io_threads = 1;
  server_ = http::Server::start(options, make_internal_router(std::move(ctx)));
}

RouterPeer::~RouterPeer() {
  server_->stop();
  tasks_.stop();
}

void Node::start(std::vector<std::string> peers, WarmupOptions options) {
  options.tenant = kTenant;
  warmup = WarmUp::start(std::move(options), std::move(peers), *local.store, metrics,
                         settled.callback());
}

WarmupStatus Node::settle(std::chrono::milliseconds limit) {
  if (!settled.wait(limit)) throw std::runtime_error("warm-up never settled");
  return warmup->status();
}

uint64_t Node::applies(std::string_view outcome) const {
  std::string text;
  metrics.render(text, {});
  std::string prefix =
      fmt::format("meshcache_replication_applies_total{{outcome=\"{}\"}} ", outcome);
  size_t at = text.find(prefix);
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + prefix.size()));
}

}  // namespace meshcache::replication::test
