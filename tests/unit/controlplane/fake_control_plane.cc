// fake_control_plane.cc: the scripted HTTPS control plane of the controlplane tests (handlers on
// the server's I/O threads, setup and inspection on the test thread).
#include "fake_control_plane.h"

#include <event2/buffer.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <filesystem>
#include <span>
#include <stdexcept>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "tls/csr.h"
#include "tls/key_pair.h"
#include "tls/secure_file.h"
#include "tls/url_host.h"

namespace meshcache::agent::cp::test {
namespace {

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) throw std::runtime_error(fmt::format("{}: {}", what, r.status().message()));
  return std::move(r).value();
}

void must(Status s, const char* what) {
  if (!s.ok()) throw std::runtime_error(fmt::format("{}: {}", what, s.message()));
}

class TextBody final : public http::BodySource {
 public:
  explicit TextBody(std::string text) : text_(std::move(text)) {}
  Result<size_t> pull(evbuffer* out, size_t max_bytes) override {
    size_t n = std::min(max_bytes, text_.size() - pos_);
    if (n > 0) evbuffer_add(out, text_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string text_;
  size_t pos_ = 0;
};

class ScriptedHandler final : public http::Handler {
 public:
  explicit ScriptedHandler(FakeControlPlane& cp) : cp_(cp) {}
  void on_request(http::Exchange& ex) override {
    const http::Request& req = ex.request();
    r_.path = req.path;
    if (const std::string* a = req.header("authorization")) r_.authorization = *a;
    if (const std::string* c = req.header("content-type")) r_.content_type = *c;
  }
  void on_body(http::Exchange&, std::span<const uint8_t> bytes) override {
    r_.body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void on_complete(http::Exchange& ex) override {
    auto script = cp_.script_for(r_.path);
    Answer a = script ? script(r_) : Answer{404, R"({"error":"not_found"})"};
    cp_.record(r_);
    if (a.never) return;
    http::Response resp;
    resp.status = a.status;
    resp.headers.push_back({"content-type", "application/json"});
    resp.content_length = a.body.size();
    ex.respond(std::move(resp), std::make_unique<TextBody>(std::move(a.body)));
  }

 private:
  FakeControlPlane& cp_;
  Recorded r_;
};

class ScriptedRouter final : public http::Router {
 public:
  explicit ScriptedRouter(FakeControlPlane& cp) : cp_(cp) {}
  std::unique_ptr<http::Handler> route(const http::Request&) override {
    return std::make_unique<ScriptedHandler>(cp_);
  }

 private:
  FakeControlPlane& cp_;
};

std::string iso8601(int64_t unix) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(static_cast<std::time_t>(unix)));
}

}  // namespace

Answer json_answer(int status, const Json& body) { return {status, body.dump()}; }

Answer never_answer() { return {0, {}, true}; }

std::function<Answer(const Recorded&)> fixed(int status, const Json& body) {
  return [a = json_answer(status, body)](const Recorded&) { return a; };
}

FakeControlPlane::FakeControlPlane()
    : server_ca_(must(tls::create_authority("fake control plane CA", 3600), "server CA")),
      mesh_ca_(must(tls::create_authority("fake mesh CA", 3600), "mesh CA")) {
  auto key = must(tls::generate_p256_key(), "server key");
  std::string leaf = must(tls::issue_leaf(server_ca_, key.get(), "127.0.0.1", 3600), "leaf");
  std::string key_pem = must(tls::private_key_pem(key.get()), "key pem");
  http::TlsFiles files{dir_.path() + "/server.crt", dir_.path() + "/server.key"};
  must(tls::write_file_atomic(files.cert_path, leaf, 0644), "write leaf");
  must(tls::write_file_atomic(files.key_path, key_pem, 0600), "write key");
  must(tls::write_file_atomic(server_ca_path(), server_ca_.cert_pem, 0644), "write CA");

  http::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_listen = "127.0.0.1:0";
  options.tls = files;
  options.io_threads = 1;
  server_ = http::Server::start(options, std::make_shared<ScriptedRouter>(*this));
  url_ = "https://" + *server_->tls_address();
}

FakeControlPlane::~FakeControlPlane() { server_->stop(); }

void FakeControlPlane::on(const std::string& path, std::function<Answer(const Recorded&)> script) {
  std::lock_guard lock(mu_);
  scripts_[path] = std::move(script);
}

void FakeControlPlane::sequence(const std::string& path,
                                std::vector<std::function<Answer(const Recorded&)>> answers) {
  auto calls = std::make_shared<std::atomic<size_t>>(0);
  on(path, [answers = std::move(answers), calls](const Recorded& r) {
    size_t i = calls->fetch_add(1);
    return answers[std::min(i, answers.size() - 1)](r);
  });
}

std::function<Answer(const Recorded&)> FakeControlPlane::script_for(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = scripts_.find(path);
  return it == scripts_.end() ? nullptr : it->second;
}

void FakeControlPlane::record(Recorded r) {
  {
    std::lock_guard lock(mu_);
    requests_.push_back(std::move(r));
  }
  cv_.notify_all();
}

std::vector<Recorded> FakeControlPlane::requests(const std::string& path) const {
  std::lock_guard lock(mu_);
  std::vector<Recorded> out;
  for (const auto& r : requests_) {
    if (r.path == path) out.push_back(r);
  }
  return out;
}

std::vector<Recorded> FakeControlPlane::all_requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

bool FakeControlPlane::wait_requests(const std::string& path, size_t n,
                                     std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [&] {
    return std::count_if(requests_.begin(), requests_.end(), [&](const Recorded& r) {
             return r.path == path;
           }) >= static_cast<std::ptrdiff_t>(n);
  });
}

Answer FakeControlPlane::enrolled(const Recorded& request, int64_t lifetime_seconds, Json fields,
                                  const tls::Authority* ca) const {
  Json in = request.json();
  auto csr = must(tls::parse_csr_pem(in.at("csr").get<std::string>()), "csr");
  std::string host = must(tls::url_host(in.at("node_url").get<std::string>()), "node_url");
  const tls::Authority& signer = ca ? *ca : mesh_ca_;
  std::string leaf = must(
      tls::issue_leaf(signer, X509_REQ_get0_pubkey(csr.get()), host, lifetime_seconds), "issue");
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  Json body = {
      {"tenant_id", "acme"},
      {"certificate", leaf},
      {"ca_certificate", mesh_ca_.cert_pem},
      {"not_after", iso8601(now + lifetime_seconds)},
      {"renew_after_seconds", 1296000},
      {"peers", Json::array()},
      {"managed_peers", Json::array()},
  };
  body.merge_patch(fields);
  return json_answer(201, body);
}

}  // namespace meshcache::agent::cp::test
