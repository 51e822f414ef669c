// http2_session.h: one HTTP/2 connection's protocol state (sans-I/O) over an nghttp2 server
// session: streams become exchanges, response bodies are pulled under the output watermark.
// Runs on the I/O loop thread that owns the connection.
#pragma once

#include <nghttp2/nghttp2.h>

#include <memory>
#include <unordered_map>

#include "agent/http/session.h"

namespace meshcache::http {

// Flood limits that are not in Limits: fixed, generous for real clients.
struct Http2Guards {
  double reset_burst = 200;    // RST_STREAM from the client (CVE-2023-44487 rapid reset)
  double reset_rate = 50;      // per second, refilled
  double control_burst = 200;  // SETTINGS / PING / PRIORITY / empty DATA from the client
  double control_rate = 50;
  uint32_t stream_window = 256 * 1024;
  uint32_t connection_window = 1024 * 1024;
};

class Http2Session final : public Session {
 public:
  Http2Session(const SessionEnv& env, SessionHost& host, evbuffer* output, std::string peer,
               Protocol protocol, const Http2Guards& guards = {});
  ~Http2Session() override;

  void on_input(evbuffer* in) override;
  void resume() override;
  void on_input_closed() override;
  void on_timer(Clock::time_point now) override;
  void drain() override;

 private:
  class Stream;
  struct TokenBucket {
    double tokens;
    double burst;
    double rate;
    Clock::time_point last;
    bool take(Clock::time_point now);
  };
  struct SessionDeleter {
    void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
  };

  static const nghttp2_session_callbacks* callbacks();
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) noexcept;
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                       void* user) noexcept;
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) noexcept;
  static int on_data_chunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                           size_t len, void* user) noexcept;
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) noexcept;
  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                             void* user) noexcept;
  static int on_invalid_frame(nghttp2_session*, const nghttp2_frame* frame, int error,
                              void* user) noexcept;
  static ssize_t read_body(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source* source, void* user) noexcept;
  static int send_body(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                       size_t length, nghttp2_data_source* source, void* user) noexcept;

  Stream* find(int32_t stream_id);
  void start_request(Stream& st, bool end_stream);
  void finish_request(Stream& st);
  void submit(Stream& st, Response&& response, std::unique_ptr<BodySource> body);
  void fail_stream(Stream& st, int status);
  void calm_down(const char* why);
  void flush();
  void update();

  std::unique_ptr<nghttp2_session, SessionDeleter> session_;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  Protocol protocol_;
  TokenBucket resets_;
  TokenBucket control_;
  size_t receiving_bodies_ = 0;  // streams whose request body is still arriving
  bool settings_acked_ = false;
  bool fatal_ = false;
  bool input_closed_ = false;
  Clock::time_point now_;
  Clock::time_point started_;
  Clock::time_point idle_since_;
  Clock::time_point last_data_;
};

}  // namespace meshcache::http
