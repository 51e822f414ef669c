// push_transfer.cc: one push-worker request on a libcurl easy handle; its callbacks run on the
// push thread inside curl_multi_perform.
#include "replication/push_transfer.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace meshcache::replication {
namespace {

// Answers are status JSON, batch outcomes (512 short strings) or error messages.
constexpr size_t kMaxResponseBytes = 1 << 20;

}  // namespace

Result<std::unique_ptr<PushTransfer>> PushTransfer::make(
    Purpose purpose, std::string target, const std::string& url,
    const std::optional<tls::IdentityPaths>& identity) {
  CurlEasy easy(curl_easy_init());
  if (!easy) return Status(Code::internal, "libcurl: cannot create a request");
  std::unique_ptr<PushTransfer> t(new PushTransfer(purpose, std::move(target), std::move(easy)));
  CURL* e = t->easy_.get();
  apply_peer_options(e, identity);
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_buf_);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  if (purpose == Purpose::namespace_delete) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
  return t;
}

PushTransfer::PushTransfer(Purpose purpose, std::string target, CurlEasy easy)
    : purpose_(purpose), target_(std::move(target)), easy_(std::move(easy)) {}

PushTransfer::~PushTransfer() {
  if (multi_) curl_multi_remove_handle(multi_, easy_.get());
}

void PushTransfer::set_timeout(std::chrono::milliseconds total) {
  curl_easy_setopt(easy_.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(total.count()));
}

void PushTransfer::upload(uint64_t size) {
  CURL* e = easy_.get();
  // Without "Expect:" curl would hold a large HTTP/1.1 body back waiting for 100 Continue.
  (void)append_headers(headers_, {"Content-Type: application/octet-stream", "Expect:"});
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_.get());
  curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);  // PUT with Content-Length = size
  curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
  curl_easy_setopt(e, CURLOPT_READFUNCTION, &on_read);
  curl_easy_setopt(e, CURLOPT_READDATA, this);
  curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, &on_seek);
  curl_easy_setopt(e, CURLOPT_SEEKDATA, this);
}

void PushTransfer::upload_bytes(std::string bytes) {
  bytes_ = std::move(bytes);
  upload(bytes_.size());
}

Status PushTransfer::upload_artifact(storage::Store& store, storage::Manifest m) {
  auto reader = store.read(m, 0, m.size);
  if (!reader.ok()) return reader.status();
  store_ = &store;
  reader_ = std::move(reader).value();
  manifest_ = std::move(m);
  upload(manifest_.size);
  return Status::Ok();
}

Status PushTransfer::attach(CURLM* multi) {
  if (CURLMcode mc = curl_multi_add_handle(multi, easy_.get()); mc != CURLM_OK) {
    return Status(Code::internal, fmt::format("libcurl: {}", curl_multi_strerror(mc)));
  }
  multi_ = multi;
  return Status::Ok();
}

void PushTransfer::finish(CURLcode code) {
  if (code == CURLE_OK) {
    curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &http_status_);
    return;
  }
  transport_error_ = error_buf_[0] != '\0' ? std::string(error_buf_) : curl_easy_strerror(code);
}

std::string PushTransfer::error_message() const {
  auto json = nlohmann::json::parse(response_, nullptr, false);
  if (json.is_object()) {
    auto it = json.find("message");
    if (it != json.end() && it->is_string()) return it->get<std::string>();
  }
  return response_.substr(0, 200);
}

size_t PushTransfer::on_read(char* buf, size_t size, size_t n, void* self) noexcept {
  auto* t = static_cast<PushTransfer*>(self);
  size_t room = size * n;
  if (!t->reader_) {
    size_t k = std::min(room, t->bytes_.size() - t->bytes_pos_);
    std::memcpy(buf, t->bytes_.data() + t->bytes_pos_, k);
    t->bytes_pos_ += k;
    return k;
  }
  while (!t->chunk_ || t->chunk_pos_ == t->chunk_->size()) {
    auto next = t->reader_->next();
    if (!next.ok()) {
      t->body_error_ = next.status();
      return CURL_READFUNC_ABORT;
    }
    t->chunk_ = std::move(next).value();
    t->chunk_pos_ = 0;
    if (!t->chunk_) return 0;  // the whole body has been sent
  }
  size_t k = std::min(room, t->chunk_->size() - t->chunk_pos_);
  std::memcpy(buf, t->chunk_->data() + t->chunk_pos_, k);
  t->chunk_pos_ += k;
  return k;
}

int PushTransfer::on_seek(void* self, curl_off_t offset, int origin) noexcept {
  // curl rewinds only to resend the whole body (a reused connection that turned out dead).
  auto* t = static_cast<PushTransfer*>(self);
  if (offset != 0 || origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
  t->bytes_pos_ = 0;
  if (!t->reader_) return CURL_SEEKFUNC_OK;
  auto reader = t->store_->read(t->manifest_, 0, t->manifest_.size);
  if (!reader.ok()) {
    t->body_error_ = reader.status();
    return CURL_SEEKFUNC_FAIL;
  }
  t->reader_ = std::move(reader).value();
  t->chunk_.reset();
  t->chunk_pos_ = 0;
  return CURL_SEEKFUNC_OK;
}

size_t PushTransfer::on_write(char* data, size_t size, size_t n, void* self) noexcept {
  auto* t = static_cast<PushTransfer*>(self);
  size_t len = size * n;
  size_t keep = std::min(len, kMaxResponseBytes - std::min(kMaxResponseBytes, t->response_.size()));
  t->response_.append(data, keep);
  return len;  // the rest is read and discarded: only the start of a long answer matters
}

}  // namespace meshcache::replication
