// push_support.cc: the fake peer, test store and test CA of the push worker tests (handlers on
// the fake peer's I/O thread; the rest on the test thread).
#include "push_support.h"

#include <filesystem>
#include <span>
#include <thread>

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "agent/http/string_body.h"
#include "replication/replicate_apply.h"
#include "replication/wire.h"
#include "tls/key_pair.h"
#include "tls/secure_file.h"

namespace meshcache::replication::test {
namespace {

template <typename T>
T must(Result<T> r) {
  INFO(r.status().message());
  REQUIRE(r.ok());
  return std::move(r).value();
}

class RecordingHandler final : public http::Handler {
 public:
  explicit RecordingHandler(FakePeer& peer) : peer_(peer) {}
  void on_request(http::Exchange& ex) override {
    const http::Request& req = ex.request();
    r_.method = req.method;
    r_.path = req.path;
    r_.query = req.query;
    r_.content_length = req.content_length;
    r_.protocol = req.protocol;
    if (const std::string* c = req.header("content-type")) r_.content_type = *c;
  }
  void on_body(http::Exchange&, std::span<const uint8_t> bytes) override {
    r_.body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void on_complete(http::Exchange& ex) override {
    PeerAnswer a = peer_.answer(r_);
    http::Response resp;
    resp.status = a.status;
    if (a.body.empty()) {
      ex.respond(std::move(resp));
      return;
    }
    resp.headers.push_back({"content-type", "application/json"});
    resp.content_length = a.body.size();
    ex.respond(std::move(resp), std::make_unique<http::StringBody>(std::move(a.body)));
  }

 private:
  FakePeer& peer_;
  PeerRequest r_;
};

class RecordingRouter final : public http::Router {
 public:
  explicit RecordingRouter(FakePeer& peer) : peer_(peer) {}
  std::unique_ptr<http::Handler> route(const http::Request&) override {
    return std::make_unique<RecordingHandler>(peer_);
  }

 private:
  FakePeer& peer_;
};

}  // namespace

std::string PeerRequest::param(const std::string& name) const {
  // Decoded as the real receiver decodes it.
  http::Request q;
  q.query = query;
  return q.query_param(name).value_or("<absent>");
}

TestMesh::TestMesh() : ca_(must(tls::create_authority("push test mesh CA", 3600))) {}

tls::IdentityPaths TestMesh::identity(const std::string& name) const {
  std::string dir = dir_.path() + "/" + name;
  std::filesystem::create_directories(dir);
  auto paths = tls::default_identity_paths(dir);
  auto key = must(tls::generate_p256_key());
  tls::IdentityPem pem{must(tls::private_key_pem(key.get())),
                       must(tls::issue_leaf(ca_, key.get(), "127.0.0.1", 3600)), ca_.cert_pem};
  REQUIRE(tls::write_identity(paths, pem).ok());
  return paths;
}

tls::IdentityPem TestMesh::pem(const tls::IdentityPaths& paths) const {
  return must(tls::read_identity(paths));
}

FakePeer::FakePeer(std::string tenant, std::optional<tls::IdentityPem> mtls)
    : tenant_(std::move(tenant)), mtls_(std::move(mtls)) {
  listen("127.0.0.1:0");
  address_ = mtls_ ? *server_->tls_address() : server_->listen_address();
  url_ = (mtls_ ? "https://" : "http://") + address_;
}

FakePeer::~FakePeer() { stop(); }

void FakePeer::listen(const std::string& address) {
  http::ServerOptions options;
  options.io_threads = 1;
  if (mtls_) {
    auto ctx = must(tls::make_mtls_server_context(*mtls_, {"h2", "http/1.1"}));
    options.listen = "";
    options.tls_listen = address;
    options.tls_context = [ctx] { return ctx; };
  } else {
    options.listen = address;
  }
  server_ = http::Server::start(options, std::make_shared<RecordingRouter>(*this));
}

void FakePeer::stop() {
  if (!server_) return;
  server_->stop();
  server_.reset();
}

void FakePeer::restart() {
  REQUIRE(!server_);
  listen(address_);
}

void FakePeer::advertise(std::string node_url) {
  std::lock_guard lock(mu_);
  advertised_ = std::move(node_url);
}

void FakePeer::on(const std::string& route, Script script) {
  std::lock_guard lock(mu_);
  scripts_[route] = std::move(script);
}

PeerAnswer FakePeer::answer(const PeerRequest& r) {
  Script script;
  std::string advertised;
  {
    std::lock_guard lock(mu_);
    auto it = scripts_.find(r.method + " " + r.path);
    if (it != scripts_.end()) script = it->second;
    advertised = advertised_.empty() ? url_ : advertised_;
  }
  PeerAnswer a;
  if (script) {
    a = script(r);
  } else if (r.path == "/_internal/status") {
    a = {200, nlohmann::json{{"region", "local"}, {"tenant_id", tenant_}, {"node_url", advertised}}
                  .dump()};
  } else if (r.method == "PUT" && r.path == "/_internal/replicate/artifacts") {
    auto items = wire::parse_batch(r.body);
    if (!items.ok()) {
      a = {400, nlohmann::json{{"message", items.status().message()}}.dump()};
    } else {
      std::vector<std::string_view> outcomes(items->size(), "applied");
      a = {200, wire::encode_outcomes(outcomes)};
    }
  } else if (r.path.starts_with("/_internal/replicate/")) {
    a = {204, {}};
  } else {
    a = {404, R"({"message":"not found"})"};
  }
  {
    std::lock_guard lock(mu_);
    requests_.push_back(r);
  }
  cv_.notify_all();
  return a;
}

std::vector<PeerRequest> FakePeer::requests(const std::string& path) const {
  std::lock_guard lock(mu_);
  std::vector<PeerRequest> out;
  for (const auto& r : requests_) {
    if (path.empty() || r.path == path) out.push_back(r);
  }
  return out;
}

bool FakePeer::wait(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::unique_lock lock(mu_);
  while (true) {
    lock.unlock();
    bool ok = pred();
    lock.lock();
    if (ok) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    cv_.wait_for(lock, 5ms);
  }
}

TestStore::TestStore() {
  storage::StoreOptions options;
  options.path = dir.path() + "/store";
  options.chunk_bytes = 4096;  // several chunks for the streamed bodies
  store = must(storage::Store::open(options));
}

storage::ArtifactRef TestStore::ref(const std::string& key, const std::string& ns,
                                    const std::string& producer) const {
  return storage::ArtifactRef{producer, "acme", ns, key};
}

storage::Manifest TestStore::put(const storage::ArtifactRef& ref, const std::string& bytes,
                                 const std::vector<std::string>& targets,
                                 const std::string& content_type) {
  storage::WriteOptions options;
  options.content_type = content_type;
  options.outbox_targets = targets;
  auto writer = must(store->begin_write(ref, options));
  auto data = reinterpret_cast<const uint8_t*>(bytes.data());
  for (size_t at = 0; at < bytes.size(); at += 1000) {
    REQUIRE(writer->append({data + at, std::min<size_t>(1000, bytes.size() - at)}).ok());
  }
  return must(writer->commit());
}

storage::Manifest TestStore::apply(const storage::ArtifactRef& ref, const std::string& bytes,
                                   int64_t version_ms) {
  auto writer = must(store->begin_write(
      ref, replica_write_options("application/octet-stream", version_ms, bytes.size())));
  REQUIRE(writer->append({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}).ok());
  return must(writer->commit());
}

uint64_t TestStore::depth(const std::string& target) const {
  auto depths = store->outbox_depths();
  auto it = depths.find(target);
  return it == depths.end() ? 0 : it->second;
}

PushNode::PushNode(PushOptions options)
    : worker(std::make_unique<PushWorker>(std::move(options), *s.store, metrics,
                                          [] { return std::string("acme"); })) {}

PushNode::~PushNode() { worker->stop(); }

void PushNode::start() {
  worker->start([this](std::vector<std::string> admitted) {
    std::lock_guard lock(mu_);  // no REQUIRE here: this is the push thread
    ++first_round_calls_;
    first_round_ = std::move(admitted);
  });
}

PeerStatus PushNode::peer(const std::string& url) const {
  for (auto& p : worker->peers()) {
    if (p.url == url) return p;
  }
  FAIL("not a candidate: " << url);
  return {};
}

std::optional<std::vector<std::string>> PushNode::first_round() const {
  std::lock_guard lock(mu_);
  return first_round_;
}

int PushNode::first_round_calls() const {
  std::lock_guard lock(mu_);
  return first_round_calls_;
}

uint64_t PushNode::metric(const std::string& target, const std::string& outcome) const {
  std::string text;
  metrics.render(text, {});
  std::string prefix = fmt::format(
      "meshcache_replication_pushes_total{{target=\"{}\",outcome=\"{}\"}} ", target, outcome);
  auto at = text.find(prefix);
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + prefix.size()));
}

std::string bytes_of(size_t size, uint8_t seed) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + seed * 17 + i / 997));
  return out;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace meshcache::replication::test
