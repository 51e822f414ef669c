// warmup_transfer.cc: one backfill exchange on the warm-up thread's curl multi.
#include "replication/warmup_transfer.h"

#include <algorithm>
#include <span>

#include <fmt/format.h>

namespace meshcache::replication {
namespace {

// An error answer is only read for its `error` field and a message for the log.
constexpr size_t kMaxErrorBody = 64 * 1024;
// Large reads mean fewer callbacks and larger appends into the store's writer.
constexpr long kReceiveBuffer = 512 * 1024;

}  // namespace

BackfillTransfer::BackfillTransfer(CURLM* multi, TransferSpec spec, const std::atomic<bool>& stop)
    : multi_(multi), spec_(std::move(spec)), stop_(stop), easy_(curl_easy_init()) {
  if (spec_.frames) reader_.emplace(*spec_.frames);
}

BackfillTransfer::~BackfillTransfer() {
  if (attached_) curl_multi_remove_handle(multi_, easy_.get());
}

Result<std::unique_ptr<BackfillTransfer>> BackfillTransfer::start(
    CURLM* multi, TransferSpec spec, const std::optional<tls::IdentityPaths>& identity,
    const std::atomic<bool>& stop) {
  std::unique_ptr<BackfillTransfer> t(new BackfillTransfer(multi, std::move(spec), stop));
  CURL* e = t->easy_.get();
  if (!e) return Status(Code::internal, "libcurl: cannot create a request");
  apply_peer_options(e, identity);
  curl_easy_setopt(e, CURLOPT_URL, t->spec_.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t->spec_.owner);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &BackfillTransfer::on_data);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, kReceiveBuffer);
  if (!t->spec_.post_json.empty()) {
    if (Status s = append_headers(t->headers_, {"Content-Type: application/json", "Expect:"});
        !s.ok()) {
      return s;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers_.get());
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->spec_.post_json.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t->spec_.post_json.size()));
  }
  if (CURLMcode mc = curl_multi_add_handle(multi, e); mc != CURLM_OK) {
    return Status(Code::internal, fmt::format("libcurl: {}", curl_multi_strerror(mc)));
  }
  t->attached_ = true;
  return t;
}

size_t BackfillTransfer::on_data(char* data, size_t size, size_t count, void* user) noexcept {
  return static_cast<BackfillTransfer*>(user)->take(data, size * count);
}

// Returning less than `n` makes libcurl abort the transfer with CURLE_WRITE_ERROR.
size_t BackfillTransfer::take(const char* data, size_t n) {
  if (stop_.load(std::memory_order_relaxed)) return 0;
  if (status_ == 0) curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status_);
  received_ += n;
  if (status_ != 200) {
    size_t keep = std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, body_.size()));
    body_.append(data, keep);
    return n;
  }
  if (received_ > spec_.max_bytes) {
    aborted_ =
        Status(Code::too_large, fmt::format("the answer is larger than {} bytes", spec_.max_bytes));
    return 0;
  }
  if (!reader_) {
    body_.append(data, n);
    return n;
  }
  if (Status s = reader_->feed({reinterpret_cast<const uint8_t*>(data), n}); !s.ok()) {
    aborted_ = std::move(s);
    return 0;
  }
  return n;
}

TransferReply BackfillTransfer::finish(CURLcode code) {
  TransferReply r;
  curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &r.status);
  curl_off_t retry_after = 0;
  if (curl_easy_getinfo(easy_.get(), CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
      retry_after > 0) {
    r.retry_after = std::chrono::seconds(retry_after);
  }
  if (!aborted_.ok()) {
    r.error = std::move(aborted_);
  } else if (code != CURLE_OK) {
    r.error = Status(Code::unavailable, error_[0] ? error_ : curl_easy_strerror(code));
    r.transport = true;
  } else if (reader_ && r.status == 200) {
    r.error = reader_->finish();
  }
  r.body = std::move(body_);
  return r;
}

}  // namespace meshcache::replication
