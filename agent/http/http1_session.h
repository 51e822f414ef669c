// http1_session.h: one HTTP/1.1 connection's protocol state (sans-I/O): parses requests,
// hands them to the router's handlers, writes responses in order with bounded pipelining.
// Runs on the I/O loop thread that owns the connection.
#pragma once

#include <deque>
#include <memory>

#include "agent/http/http1_parser.h"
#include "agent/http/session.h"

namespace meshcache::http {

class Http1Session final : public Session, private Http1Parser::Events {
 public:
  Http1Session(const SessionEnv& env, SessionHost& host, evbuffer* output, std::string peer);
  ~Http1Session() override;

  void on_input(evbuffer* in) override;
  void resume() override;
  void on_input_closed() override;
  void on_timer(Clock::time_point now) override;
  void drain() override;

 private:
  class Exchange1;

  void on_message_begin() override;
  bool on_head(Request&& request, bool keep_alive) override;
  bool on_body(std::span<const uint8_t> bytes) override;
  void on_message_end() override;

  void answered(Exchange1& ex);
  void fail_stream(int status);
  void pump();
  void write_head(Exchange1& ex);
  bool write_body(Exchange1& ex);
  void abort_connection();
  bool body_paused() const;
  void update();

  Http1Parser parser_;
  std::deque<std::unique_ptr<Exchange1>> queue_;  // in request order; front is being answered
  Exchange1* receiving_ = nullptr;                // the exchange whose request is being parsed
  bool reading_ = true;                           // more requests may be parsed
  bool last_request_ = false;                     // stop reading after the current request
  bool draining_ = false;
  Clock::time_point now_;
  Clock::time_point head_started_;
  Clock::time_point body_progress_;
  Clock::time_point idle_since_;
};

}  // namespace meshcache::http
