// curl_transport.cc: the CpTransport on libcurl's multi interface. Its own thread owns every
// curl handle, runs the timers and runs every callback; other threads only queue work.
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "agent/controlplane/cp_transport.h"
#include "tls/openssl_handles.h"

namespace meshcache::agent::cp {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMaxBody = 1 << 20;
// An upper bound on one wait, so a lost wakeup could never stall the thread for long.
constexpr int kMaxPollMs = 1000;

struct EasyCleanup {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct MultiCleanup {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct CurlFree {
  void operator()(char* p) const { curl_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using EasyPtr = std::unique_ptr<CURL, EasyCleanup>;
using SlistPtr = std::unique_ptr<curl_slist, SlistFree>;
using tls::X509Ptr;

// The extra CA bundle is checked once at start so that a bad file is a startup error rather
// than a TLS failure on every call.
const std::string& checked_ca_bundle(const std::string& path) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    throw std::runtime_error(fmt::format("MESHCACHE_CONTROL_PLANE_CA_PATH: cannot read {}", path));
  }
  X509Ptr first(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!first) {
    throw std::runtime_error(
        fmt::format("MESHCACHE_CONTROL_PLANE_CA_PATH: no PEM certificate in {}", path));
  }
  return path;
}

// The system store as a hashed directory, which OpenSSL consults besides the CAINFO file: with
// an extra CA file as CAINFO, the system roots still count.
std::string system_ca_dir() {
  const char* dir = curl_version_info(CURLVERSION_NOW)->capath;
  return dir ? dir : "/etc/ssl/certs";
}

std::string basic_auth_header(const std::string& id, const std::string& secret) {
  std::string plain = id + ":" + secret;
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                          reinterpret_cast<const unsigned char*>(plain.data()),
                          static_cast<int>(plain.size()));
  encoded.resize(static_cast<size_t>(n));
  std::string header = "Authorization: Basic " + encoded;
  OPENSSL_cleanse(plain.data(), plain.size());
  OPENSSL_cleanse(encoded.data(), encoded.size());
  return header;
}

// One request in flight: the easy handle and everything it points into.
struct Transfer {
  EasyPtr easy;
  SlistPtr headers;
  std::string request_body;
  std::string response_body;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {};
  Clock::time_point started;
  std::function<void(CpReply)> done;
};

size_t on_data(char* data, size_t size, size_t count, void* user) noexcept {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->response_body.size() + n > kMaxBody) {
    t->too_large = true;
    return 0;  // makes libcurl abort the transfer with CURLE_WRITE_ERROR
  }
  t->response_body.append(data, n);
  return n;
}

class CurlTransport final : public CpTransport {
 public:
  explicit CurlTransport(CpTransportOptions options);
  ~CurlTransport() override;

  void post_json(std::string path, std::string json, std::function<void(CpReply)> done) override;
  void post_form(std::string path, std::map<std::string, std::string> fields,
                 std::function<void(CpReply)> done) override;
  void schedule(milliseconds delay, std::function<void()> task) override;
  void stop() override;

 private:
  struct Request {
    std::string path;
    std::string body;
    bool form = false;
    std::function<void(CpReply)> done;
  };

  void enqueue(Clock::time_point due, std::function<void()> task);
  void run();
  void begin(Request request);
  void finish(CURL* easy, CURLcode code);
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  const CpTransportOptions options_;
  const std::string base_url_;  // without a trailing '/'
  const std::string auth_header_;
  const std::optional<std::string> extra_ca_file_;
  const std::string system_ca_dir_;
  std::unique_ptr<CURLM, MultiCleanup> multi_;

  std::mutex mu_;
  std::multimap<Clock::time_point, std::function<void()>> incoming_;  // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::mutex join_mu_;  // two threads calling stop() must not both join
  std::thread thread_;

  // Transport thread only.
  std::multimap<Clock::time_point, std::function<void()>> timers_;
  std::map<CURL*, std::unique_ptr<Transfer>> transfers_;
};

CurlTransport::CurlTransport(CpTransportOptions options)
    : options_(std::move(options)),
      base_url_(options_.base_url.ends_with('/')
                    ? options_.base_url.substr(0, options_.base_url.size() - 1)
                    : options_.base_url),
      auth_header_(basic_auth_header(options_.client_id, options_.client_secret)),
      extra_ca_file_(options_.ca_path ? std::optional(checked_ca_bundle(*options_.ca_path))
                                      : std::nullopt),
      system_ca_dir_(system_ca_dir()),
      multi_(curl_multi_init()) {
  if (!multi_) throw std::runtime_error("libcurl: cannot create a multi handle");
  thread_ = std::thread([this] { run(); });
}

CurlTransport::~CurlTransport() { stop(); }

void CurlTransport::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_.store(true, std::memory_order_release);
    incoming_.clear();
  }
  curl_multi_wakeup(multi_.get());
  // From a callback the thread cannot join itself: it ends once that callback returns.
  if (std::this_thread::get_id() == thread_.get_id()) return;
  std::lock_guard lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

void CurlTransport::enqueue(Clock::time_point due, std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping()) return;
    incoming_.emplace(due, std::move(task));
  }
  curl_multi_wakeup(multi_.get());
}

void CurlTransport::schedule(milliseconds delay, std::function<void()> task) {
  enqueue(Clock::now() + delay, std::move(task));
}

void CurlTransport::post_json(std::string path, std::string json,
                              std::function<void(CpReply)> done) {
  enqueue(Clock::now(), [this, r = Request{std::move(path), std::move(json), false,
                                           std::move(done)}]() mutable { begin(std::move(r)); });
}

void CurlTransport::post_form(std::string path, std::map<std::string, std::string> fields,
                              std::function<void(CpReply)> done) {
  std::string body;
  for (const auto& [name, value] : fields) {
    std::unique_ptr<char, CurlFree> k(curl_easy_escape(nullptr, name.data(), name.size()));
    std::unique_ptr<char, CurlFree> v(curl_easy_escape(nullptr, value.data(), value.size()));
    if (!body.empty()) body += '&';
    body += fmt::format("{}={}", k ? k.get() : "", v ? v.get() : "");
  }
  enqueue(Clock::now(), [this, r = Request{std::move(path), std::move(body), true,
                                           std::move(done)}]() mutable { begin(std::move(r)); });
}

void CurlTransport::begin(Request request) {
  auto t = std::make_unique<Transfer>();
  t->easy.reset(curl_easy_init());
  t->done = std::move(request.done);
  t->started = Clock::now();
  if (!t->easy) {
    t->done(CpReply{0, {}, "libcurl: cannot create a request", {}});
    return;
  }
  CURL* e = t->easy.get();
  t->request_body = std::move(request.body);
  auto add = [&](const char* line) {
    curl_slist* l = curl_slist_append(t->headers.get(), line);
    if (l) {
      t->headers.release();
      t->headers.reset(l);
    }
  };
  add("Accept: application/json");
  add("Expect:");  // large usage batches would otherwise wait for a 100 Continue
  if (request.form) {
    add("Content-Type: application/x-www-form-urlencoded");
  } else {
    add("Content-Type: application/json");
    add(auth_header_.c_str());
  }
  std::string url = base_url_ + request.path;
  auto connect = request.form ? options_.form_connect_timeout : options_.connect_timeout;
  auto total = request.form ? options_.form_request_timeout : options_.request_timeout;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers.get());
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request_body.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->request_body.size()));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect.count()));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(total.count()));
  curl_easy_setopt(e, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (extra_ca_file_) {
    curl_easy_setopt(e, CURLOPT_CAINFO, extra_ca_file_->c_str());
    curl_easy_setopt(e, CURLOPT_CAPATH, system_ca_dir_.c_str());
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_data);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "meshcache");
  if (CURLMcode mc = curl_multi_add_handle(multi_.get(), e); mc != CURLM_OK) {
    t->done(CpReply{0, {}, fmt::format("libcurl: {}", curl_multi_strerror(mc)), {}});
    return;
  }
  transfers_.emplace(e, std::move(t));
}

void CurlTransport::finish(CURL* easy, CURLcode code) {
  auto it = transfers_.find(easy);
  if (it == transfers_.end()) return;
  std::unique_ptr<Transfer> t = std::move(it->second);
  transfers_.erase(it);
  curl_multi_remove_handle(multi_.get(), easy);

  CpReply reply;
  reply.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - t->started);
  if (t->too_large) {
    reply.error = "the control plane's answer is larger than 1 MiB";
  } else if (code != CURLE_OK) {
    reply.error = t->error[0] != '\0' ? std::string(t->error) : curl_easy_strerror(code);
  } else {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &reply.status);
    reply.body = std::move(t->response_body);
  }
  if (options_.on_reply) options_.on_reply(reply.status != 0);
  t->done(std::move(reply));
}

void CurlTransport::run() {
  while (!stopping()) {
    {
      std::lock_guard lock(mu_);
      timers_.merge(incoming_);
    }
    auto now = Clock::now();
    while (!stopping() && !timers_.empty() && timers_.begin()->first <= now) {
      auto task = std::move(timers_.begin()->second);
      timers_.erase(timers_.begin());
      task();
    }

    int running = 0;
    curl_multi_perform(multi_.get(), &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
      if (stopping()) break;
      if (msg->msg == CURLMSG_DONE) finish(msg->easy_handle, msg->data.result);
    }
    if (stopping()) break;

    long curl_ms = -1;
    curl_multi_timeout(multi_.get(), &curl_ms);
    long wait_ms = curl_ms < 0 ? kMaxPollMs : std::min<long>(curl_ms, kMaxPollMs);
    {
      std::lock_guard lock(mu_);
      if (!incoming_.empty()) wait_ms = 0;
    }
    if (!timers_.empty()) {
      auto until = std::chrono::duration_cast<milliseconds>(timers_.begin()->first - Clock::now());
      wait_ms = std::clamp<long>(until.count(), 0, wait_ms);
    }
    curl_multi_poll(multi_.get(), nullptr, 0, static_cast<int>(wait_ms), nullptr);
  }
  // Cancel what is in flight without running its callbacks.
  for (auto& [easy, t] : transfers_) curl_multi_remove_handle(multi_.get(), easy);
  transfers_.clear();
  timers_.clear();
}

}  // namespace

std::unique_ptr<CpTransport> CpTransport::start(CpTransportOptions options) {
  static std::once_flag init;
  static CURLcode init_code = CURLE_OK;
  std::call_once(init, [] { init_code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init_code != CURLE_OK) {
    throw std::runtime_error(
        fmt::format("libcurl: global init failed: {}", curl_easy_strerror(init_code)));
  }
  if (options.base_url.empty()) {
    throw std::runtime_error("MESHCACHE_CONTROL_PLANE_URL is required for the control plane");
  }
  return std::make_unique<CurlTransport>(std::move(options));
}

}  // namespace meshcache::agent::cp
