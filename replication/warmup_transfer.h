// warmup_transfer.h: one backfill exchange on the warm-up thread's curl multi (a listing page,
// a bodies batch, a single artifact). A 200 frame response streams into a FrameReader as it
// arrives; any other body is kept, bounded. Warm-up thread.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "replication/curl_handles.h"
#include "replication/frame_reader.h"
#include "storage/status.h"
#include "tls/identity.h"

namespace meshcache::replication {

struct TransferReply {
  long status = 0;   // HTTP status; 0 when no answer arrived
  std::string body;  // a body that is not frames: a listing, or the start of an error
  std::chrono::seconds retry_after{0};
  Status error;            // why the exchange failed, if it did
  bool transport = false;  // `error` is the network's (worth a retry), not what the peer sent
};

struct TransferSpec {
  std::string url;
  std::string post_json;        // "" = GET
  FrameSink* frames = nullptr;  // set: a 200 body is frames, fed to this sink
  uint64_t max_bytes = 0;       // cap on a 200 body
  void* owner = nullptr;        // CURLOPT_PRIVATE, for the loop to route the completion
};

class BackfillTransfer {
 public:
  // Creates the easy handle and adds it to `multi`. `stop` aborts the transfer from within its
  // data callback, so that stopping never waits for a large body to finish.
  static Result<std::unique_ptr<BackfillTransfer>> start(
      CURLM* multi, TransferSpec spec, const std::optional<tls::IdentityPaths>& identity,
      const std::atomic<bool>& stop);
  ~BackfillTransfer();  // removes the handle from the multi
  BackfillTransfer(const BackfillTransfer&) = delete;
  BackfillTransfer& operator=(const BackfillTransfer&) = delete;

  CURL* easy() const { return easy_.get(); }
  // After the multi reported the transfer done with `code`.
  TransferReply finish(CURLcode code);

 private:
  BackfillTransfer(CURLM* multi, TransferSpec spec, const std::atomic<bool>& stop);
  static size_t on_data(char* data, size_t size, size_t count, void* user) noexcept;
  size_t take(const char* data, size_t n);

  CURLM* multi_;
  TransferSpec spec_;
  const std::atomic<bool>& stop_;
  CurlEasy easy_;
  CurlSlist headers_;
  std::optional<FrameReader> reader_;
  long status_ = 0;  // known from the first body byte on
  uint64_t received_ = 0;
  std::string body_;
  Status aborted_;  // why on_data stopped the transfer
  char error_[CURL_ERROR_SIZE] = {};
  bool attached_ = false;
};

}  // namespace meshcache::replication
