// push_transfer.h: one request of the push worker on a libcurl easy handle (a status poll, a
// recovery probe or a delivery), with its body streamed from the store and its answer kept
// (bounded). Push thread only.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replication/curl_handles.h"
#include "storage/status.h"
#include "storage/store.h"
#include "tls/identity.h"

namespace meshcache::replication {

class PushTransfer {
 public:
  enum class Purpose : uint8_t { poll, probe, artifact, batch, namespace_delete };

  // A GET (poll, probe), DELETE (namespace_delete) or PUT (artifact, batch: give the body with
  // upload_*) of `url`, on behalf of the outbox target `target`.
  static Result<std::unique_ptr<PushTransfer>> make(Purpose purpose, std::string target,
                                                    const std::string& url,
                                                    const std::optional<tls::IdentityPaths>& id);
  ~PushTransfer();  // detaches from the multi handle first

  void set_timeout(std::chrono::milliseconds total);
  // Body from memory (a batch).
  void upload_bytes(std::string bytes);
  // Body streamed from the store, one chunk at a time: a large artifact is never held whole.
  // Fails when the body cannot be opened.
  Status upload_artifact(storage::Store& store, storage::Manifest m);
  Status attach(CURLM* multi);
  // The transfer ended with `code` (from curl_multi_info_read).
  void finish(CURLcode code);

  Purpose purpose() const { return purpose_; }
  const std::string& target() const { return target_; }
  CURL* easy() const { return easy_.get(); }
  // The outbox rows this request delivers, in batch item order.
  std::vector<storage::OutboxRow> rows;

  // After finish(): the HTTP status, or 0 with transport_error() set when no answer came.
  long http_status() const { return http_status_; }
  const std::string& transport_error() const { return transport_error_; }
  const std::string& response() const { return response_; }
  // The local body could not be read (the transfer was aborted for it): not the peer's fault.
  const Status& body_error() const { return body_error_; }
  // The `message` of a {"message": ...} error answer, else the start of the body.
  std::string error_message() const;

 private:
  PushTransfer(Purpose purpose, std::string target, CurlEasy easy);
  void upload(uint64_t size);
  static size_t on_read(char* buf, size_t size, size_t n, void* self) noexcept;
  static int on_seek(void* self, curl_off_t offset, int origin) noexcept;
  static size_t on_write(char* data, size_t size, size_t n, void* self) noexcept;

  Purpose purpose_;
  std::string target_;
  CurlEasy easy_;
  CurlSlist headers_;
  CURLM* multi_ = nullptr;  // set while attached
  char error_buf_[CURL_ERROR_SIZE] = {};

  // Request body: `bytes_` from `bytes_pos_`, or the artifact through `reader_`.
  std::string bytes_;
  size_t bytes_pos_ = 0;
  storage::Store* store_ = nullptr;
  storage::Manifest manifest_;
  std::unique_ptr<storage::BodyReader> reader_;
  std::unique_ptr<storage::Chunk> chunk_;
  size_t chunk_pos_ = 0;
  Status body_error_;

  long http_status_ = 0;
  std::string transport_error_;
  std::string response_;
};

}  // namespace meshcache::replication
