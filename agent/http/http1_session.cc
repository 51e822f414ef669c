// http1_session.cc: HTTP/1.1 session: keep-alive, bounded pipelining, 100-continue,
// Content-Length responses pulled under the output watermark (I/O loop thread).
#include "agent/http/http1_session.h"

#include "agent/http/string_body.h"

#include <event2/buffer.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace meshcache::http {
namespace {

// A body declared this small is read and dropped after an early answer, so the connection
// survives; anything larger (or chunked) closes the connection instead of reading it.
constexpr uint64_t kDiscardLimit = 64 * 1024;
// The smallest pull worth a call into a BodySource.
constexpr size_t kMinPull = 16 * 1024;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool header_safe(const Header& h) {
  auto bad = [](char c) { return c == '\r' || c == '\n' || c == '\0'; };
  return std::none_of(h.name.begin(), h.name.end(), bad) &&
         std::none_of(h.value.begin(), h.value.end(), bad);
}

}  // namespace

class Http1Session::Exchange1 final : public Exchange {
 public:
  Exchange1(Http1Session& session, Request&& request)
      : session_(session), request_(std::move(request)) {}
  ~Exchange1() override {
    if (handler_ && !finished_) handler_->on_abort();
  }

  const Request& request() const override { return request_; }
  bool responded() const override { return response_.has_value(); }
  void respond(Response response, std::unique_ptr<BodySource> body) override {
    if (response_) {
      spdlog::debug("http1 {}: second response ignored", request_.request_id);
      return;
    }
    response_ = std::move(response);
    body_ = std::move(body);
    continue_pending_ = false;  // an answer before the body means no 100
    paused_ = false;
    session_.answered(*this);
  }
  void pause_body(bool paused) override {
    if (paused_ == paused || response_) return;
    paused_ = paused;
    // The parser stopped at the pause; the connection feeds what waited once it is resumed.
    if (!paused) session_.request_resume();
  }
  LoopExecutor& executor() override { return session_.env_.executor; }

  Http1Session& session_;
  Request request_;
  std::unique_ptr<Handler> handler_;
  std::optional<Response> response_;
  std::unique_ptr<BodySource> body_;
  uint64_t body_left_ = 0;      // response bytes still to pull
  uint64_t body_received_ = 0;  // request body bytes seen
  bool keep_alive_ = true;      // the client allows another request after this one
  bool http10_ = false;
  bool close_after_ = false;       // the connection closes after this response
  bool close_ = false;             // the head said `connection: close`
  bool request_done_ = false;      // the whole request has been parsed
  bool continue_pending_ = false;  // 100 Continue owed once this exchange is at the front
  bool continue_sent_ = false;
  bool head_written_ = false;
  bool finished_ = false;  // the response is fully written
  bool paused_ = false;    // the handler holds the body back (pause_body)
};

Http1Session::Http1Session(const SessionEnv& env, SessionHost& host, evbuffer* output,
                           std::string peer)
    : Session(env, host, output, std::move(peer)), parser_(env.limits, *this) {
  now_ = Clock::now();
  idle_since_ = now_;
  update();
}

Http1Session::~Http1Session() = default;

void Http1Session::on_input(evbuffer* in) {
  Busy busy(*this);
  now_ = Clock::now();
  while (reading_ && !body_paused()) {
    bool between_requests = !parser_.in_head() && !parser_.in_body();
    if (between_requests && queue_.size() >= env_.limits.max_pipelined) break;
    evbuffer_iovec v;
    if (evbuffer_peek(in, -1, nullptr, &v, 1) < 1) break;
    size_t used = parser_.feed({static_cast<const char*>(v.iov_base), v.iov_len});
    evbuffer_drain(in, used);
    if (parser_.error_status() != 0) {
      fail_stream(parser_.error_status());
      break;
    }
    if (used == 0) break;
  }
  pump();
  update();
}

void Http1Session::resume() {
  Busy busy(*this);
  now_ = Clock::now();
  pump();
  update();
}

void Http1Session::on_input_closed() {
  Busy busy(*this);
  now_ = Clock::now();
  reading_ = false;
  // A request cut short is dropped (its handler sees on_abort), or closes the connection
  // after its early answer; complete ones still get their responses, for clients that
  // half-close after sending.
  if (receiving_) {
    if (receiving_->responded()) {
      receiving_->close_after_ = true;
    } else {
      queue_.pop_back();
    }
    receiving_ = nullptr;
  }
  pump();
  update();
}

void Http1Session::on_timer(Clock::time_point now) {
  Busy busy(*this);
  now_ = now;
  if (now < deadline_) return;
  if (parser_.in_head() || parser_.in_body()) {
    spdlog::debug("http1 {}: request {} timed out", peer_, parser_.in_head() ? "head" : "body");
    fail_stream(408);
  } else {
    want_close_ = true;  // idle keep-alive connection: close silently
  }
  pump();
  update();
}

void Http1Session::drain() {
  Busy busy(*this);
  now_ = Clock::now();
  draining_ = true;
  if (parser_.in_head() || parser_.in_body()) {
    last_request_ = true;
  } else {
    reading_ = false;
  }
  pump();
  update();
}

void Http1Session::on_message_begin() { head_started_ = now_; }

bool Http1Session::on_head(Request&& request, bool keep_alive) {
  env_.counters.requests.fetch_add(1, std::memory_order_relaxed);
  request.protocol = Protocol::http1;
  request.request_id = env_.ids.next();
  request.peer = peer_;
  request.tls_peer_id = tls_peer_id_;
  queue_.push_back(std::make_unique<Exchange1>(*this, std::move(request)));
  Exchange1& ex = *queue_.back();
  receiving_ = &ex;
  body_progress_ = now_;
  ex.keep_alive_ = keep_alive;
  ex.http10_ = parser_.http_minor() == 0;
  if (!keep_alive || draining_) last_request_ = true;

  ex.handler_ = env_.router.route(ex.request_);
  if (!ex.handler_) {
    respond_error(ex, 404);
    return reading_;
  }
  ex.handler_->on_request(ex);
  if (!ex.responded() && ex.request_.has_body && ex.request_.expect_continue) {
    ex.continue_pending_ = true;
  }
  return reading_ && !ex.paused_;
}

bool Http1Session::on_body(std::span<const uint8_t> bytes) {
  Exchange1* ex = receiving_;
  body_progress_ = now_;
  ex->body_received_ += bytes.size();
  ex->continue_pending_ = false;  // the client sent the body without waiting for 100
  if (!ex->responded() && ex->handler_) ex->handler_->on_body(*ex, bytes);
  return reading_ && !ex->paused_;
}

void Http1Session::on_message_end() {
  Exchange1* ex = receiving_;
  receiving_ = nullptr;
  ex->request_done_ = true;
  if (!ex->responded() && ex->handler_) ex->handler_->on_complete(*ex);
  if (last_request_) reading_ = false;
}

void Http1Session::answered(Exchange1& ex) {
  if (&ex == receiving_ && ex.request_.has_body) {
    // Answered before the whole body arrived: a small rest is still read and dropped (the
    // handler sees no more of it), else close rather than read (or make the client send) a
    // body nobody wants. A client still waiting for 100 may or may not send the body, so
    // that connection cannot be reused either.
    const auto& cl = ex.request_.content_length;
    bool small_rest = cl && *cl - ex.body_received_ <= kDiscardLimit;
    bool body_withheld = ex.request_.expect_continue && !ex.continue_sent_;
    if (!small_rest || body_withheld) {
      ex.close_after_ = true;
      reading_ = false;
      linger_ = true;
    }
  }
  request_resume();
}

void Http1Session::fail_stream(int status) {
  env_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("http1 {}: answering {} and closing", peer_, status);
  reading_ = false;
  linger_ = true;  // the rest of a broken request may still be on its way
  Exchange1* ex = receiving_;
  receiving_ = nullptr;
  if (ex == nullptr) {
    // The head itself was bad: an exchange of our own carries the answer and an id.
    Request request;
    request.protocol = Protocol::http1;
    request.request_id = env_.ids.next();
    request.peer = peer_;
    queue_.push_back(std::make_unique<Exchange1>(*this, std::move(request)));
    ex = queue_.back().get();
    ex->request_done_ = true;
  }
  ex->close_after_ = true;
  if (!ex->responded()) {
    if (ex->handler_) {
      ex->handler_->on_abort();
      ex->handler_.reset();
    }
    respond_error(*ex, status);
  }
}

void Http1Session::pump() {
  while (!queue_.empty() && !want_close_) {
    Exchange1& ex = *queue_.front();
    if (ex.continue_pending_ && !ex.paused_) {
      evbuffer_add(out_, kContinue.data(), kContinue.size());
      ex.continue_pending_ = false;
      ex.continue_sent_ = true;
    }
    if (!ex.response_) return;
    if (!ex.head_written_) write_head(ex);
    if (!write_body(ex)) return;
    ex.finished_ = true;
    if (ex.close_ || ex.close_after_) {
      abort_connection();
      return;
    }
    if (!ex.request_done_) return;  // the rest of its body is still being discarded
    queue_.pop_front();
    if (queue_.empty()) idle_since_ = now_;
  }
}

void Http1Session::write_head(Exchange1& ex) {
  const Response& r = *ex.response_;
  bool head = ex.request_.method == "HEAD";
  bool bodiless = status_without_body(r.status);
  uint64_t length = bodiless ? 0 : (ex.body_ || head) ? r.content_length : 0;
  ex.body_left_ = (head || bodiless || !ex.body_) ? 0 : r.content_length;
  if (ex.body_left_ == 0) ex.body_.reset();
  // While draining, the last request in flight tells the client to go away.
  bool last_in_flight = &ex == queue_.back().get() && !parser_.in_head();
  ex.close_ = ex.close_after_ || !ex.keep_alive_ || (draining_ && last_in_flight);

  fmt::memory_buffer buf;
  auto out = std::back_inserter(buf);
  fmt::format_to(out, "HTTP/1.1 {} {}\r\n", r.status, reason_phrase(r.status));
  if (!bodiless) fmt::format_to(out, "content-length: {}\r\n", length);
  fmt::format_to(out, "date: {}\r\nx-request-id: {}\r\n", http_date(), ex.request_.request_id);
  for (const auto& h : r.headers) {
    if (reserved_response_header(h.name) || !header_safe(h)) continue;
    fmt::format_to(out, "{}: {}\r\n", h.name, h.value);
  }
  if (ex.close_) {
    fmt::format_to(out, "connection: close\r\n");
  } else if (ex.http10_) {
    fmt::format_to(out, "connection: keep-alive\r\n");
  }
  fmt::format_to(out, "\r\n");
  evbuffer_add(out_, buf.data(), buf.size());
  ex.head_written_ = true;
}

bool Http1Session::write_body(Exchange1& ex) {
  const size_t high = env_.limits.output_high_water;
  while (ex.body_left_ > 0) {
    size_t queued = evbuffer_get_length(out_);
    if (queued >= high) return false;
    size_t want = static_cast<size_t>(
        std::min<uint64_t>(ex.body_left_, std::max(high - queued, std::min(kMinPull, high))));
    Result<size_t> pulled = ex.body_->pull(out_, want);
    if (!pulled.ok() || *pulled == 0 || *pulled > ex.body_left_) {
      // The Content-Length already went out: the only honest signal left is closing.
      spdlog::warn("http1 {}: response body for {} failed ({}); closing", peer_,
                   ex.request_.request_id,
                   pulled.ok() ? "wrong length" : pulled.status().message());
      abort_connection();
      return false;
    }
    ex.body_left_ -= *pulled;
  }
  ex.body_.reset();
  return true;
}

bool Http1Session::body_paused() const { return receiving_ != nullptr && receiving_->paused_; }

void Http1Session::abort_connection() {
  reading_ = false;
  want_close_ = true;
  receiving_ = nullptr;
  queue_.clear();
}

void Http1Session::update() {
  if (!reading_ && queue_.empty()) want_close_ = true;
  if (want_close_) {
    want_read_ = false;
    deadline_ = Clock::time_point::max();
    return;
  }
  bool in_head = parser_.in_head();
  bool in_body = parser_.in_body();
  bool pipeline_full = !in_head && !in_body && queue_.size() >= env_.limits.max_pipelined;
  want_read_ = reading_ && !pipeline_full && !body_paused();
  if (!want_read_) {
    deadline_ = Clock::time_point::max();  // slow readers meet the connection's write timeout
  } else if (in_head) {
    deadline_ = head_started_ + env_.limits.header_timeout;
  } else if (in_body) {
    deadline_ = body_progress_ + env_.limits.body_timeout;
  } else if (queue_.empty()) {
    deadline_ = idle_since_ + env_.limits.idle_timeout;
  } else {
    deadline_ = Clock::time_point::max();
  }
}

}  // namespace meshcache::http
