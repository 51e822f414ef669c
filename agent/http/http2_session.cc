// http2_session.cc: HTTP/2 server session over nghttp2 1.52 (mem_recv / mem_send), with
// request-body flow control by consumption, zero-copy response DATA and flood guards.
// Runs on the I/O loop thread that owns the connection.
#include "agent/http/http2_session.h"

#include <event2/buffer.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <vector>

#include "agent/http/request_target.h"
#include "agent/http/string_body.h"

namespace meshcache::http {
namespace {

constexpr size_t kMinPull = 16 * 1024;
constexpr size_t kFrameHeader = 9;
constexpr size_t kHpackEntryOverhead = 32;  // RFC 7541 §4.1, so the cap matches the setting

Http2Session& self(void* user) { return *static_cast<Http2Session*>(user); }

nghttp2_nv make_nv(std::string_view name, std::string_view value, uint8_t flags = 0) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          flags};
}

bool header_safe(const Header& h) {
  auto bad = [](char c) { return c == '\r' || c == '\n' || c == '\0' || (c >= 'A' && c <= 'Z'); };
  return !h.name.empty() && std::none_of(h.name.begin(), h.name.end(), bad) &&
         std::none_of(h.value.begin(), h.value.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

}  // namespace

class Http2Session::Stream final : public Exchange {
 public:
  Stream(Http2Session& session, int32_t id) : session_(session), id_(id) {}
  ~Stream() override {
    if (handler_ && !finished_) handler_->on_abort();
  }

  const Request& request() const override { return request_; }
  bool responded() const override { return responded_; }
  void respond(Response response, std::unique_ptr<BodySource> body) override {
    if (responded_) {
      spdlog::debug("h2 {}: second response ignored", request_.request_id);
      return;
    }
    responded_ = true;
    pause_body(false);
    session_.submit(*this, std::move(response), std::move(body));
  }
  void pause_body(bool paused) override {
    if (paused_ == paused) return;
    paused_ = paused;
    if (paused || withheld_ == 0) return;
    // Reopen the window for what arrived meanwhile; the WINDOW_UPDATE goes out on resume.
    nghttp2_session_consume(session_.session_.get(), id_, withheld_);
    withheld_ = 0;
    session_.request_resume();
  }
  LoopExecutor& executor() override { return session_.env_.executor; }

  Http2Session& session_;
  const int32_t id_;
  Request request_;
  std::unique_ptr<Handler> handler_;
  size_t header_bytes_ = 0;
  size_t header_count_ = 0;
  bool too_large_ = false;     // header list over the limits → 431
  bool bad_target_ = false;    // :path unusable → 400
  bool request_done_ = false;  // END_STREAM from the client
  bool responded_ = false;
  bool finished_ = false;  // END_STREAM sent
  // A success answered before the whole body waits here while the rest is read and dropped:
  // curl (7.88) loses a response that comes while it is still uploading, whether RST_STREAM
  // follows it or not. Errors go out at once (and the stream is reset).
  std::optional<Response> deferred_;
  std::unique_ptr<BodySource> deferred_body_;
  uint64_t body_received_ = 0;
  bool paused_ = false;  // the handler holds the body back: its window stays closed
  size_t withheld_ = 0;  // body bytes received but not yet given back to the window
  std::unique_ptr<BodySource> body_;
  uint64_t body_left_ = 0;
  EvbufferPtr staged_;  // pulled body bytes waiting for their DATA frame
};

bool Http2Session::TokenBucket::take(Clock::time_point now) {
  double elapsed = std::chrono::duration<double>(now - last).count();
  last = now;
  tokens = std::min(burst, tokens + elapsed * rate);
  if (tokens < 1) return false;
  tokens -= 1;
  return true;
}

const nghttp2_session_callbacks* Http2Session::callbacks() {
  struct Free {
    void operator()(nghttp2_session_callbacks* c) const { nghttp2_session_callbacks_del(c); }
  };
  static const std::unique_ptr<nghttp2_session_callbacks, Free> cbs = [] {
    nghttp2_session_callbacks* c = nullptr;
    if (nghttp2_session_callbacks_new(&c) != 0) throw std::bad_alloc();
    nghttp2_session_callbacks_set_on_begin_headers_callback(c, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(c, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(c, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(c, on_stream_close);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(c, on_invalid_frame);
    nghttp2_session_callbacks_set_send_data_callback(c, send_body);
    return std::unique_ptr<nghttp2_session_callbacks, Free>(c);
  }();
  return cbs.get();
}

Http2Session::Http2Session(const SessionEnv& env, SessionHost& host, evbuffer* output,
                           std::string peer, Protocol protocol, const Http2Guards& guards)
    : Session(env, host, output, std::move(peer)), protocol_(protocol) {
  linger_ = true;  // frames may be in flight when our GOAWAY goes out
  now_ = Clock::now();
  started_ = idle_since_ = last_data_ = now_;
  resets_ = {guards.reset_burst, guards.reset_burst, guards.reset_rate, now_};
  control_ = {guards.control_burst, guards.control_burst, guards.control_rate, now_};

  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) throw std::bad_alloc();
  std::unique_ptr<nghttp2_option, void (*)(nghttp2_option*)> opt_owner(opt, nghttp2_option_del);
  // Window updates follow what handlers consumed: request-body backpressure.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // nghttp2's own reset limiter stays as a looser backstop behind ours.
  nghttp2_option_set_stream_reset_rate_limit(opt, static_cast<uint64_t>(guards.reset_burst * 2),
                                             static_cast<uint64_t>(guards.reset_rate * 2));
  nghttp2_session* s = nullptr;
  if (nghttp2_session_server_new2(&s, callbacks(), this, opt) != 0) throw std::bad_alloc();
  session_.reset(s);

  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, env.limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, guards.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(env.limits.max_header_bytes)},
  };
  nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(guards.connection_window));
  flush();
  update();
}

Http2Session::~Http2Session() = default;

void Http2Session::on_input(evbuffer* in) {
  Busy busy(*this);
  now_ = Clock::now();
  while (!fatal_) {
    evbuffer_iovec v;
    if (evbuffer_peek(in, -1, nullptr, &v, 1) < 1) break;
    ssize_t rv = nghttp2_session_mem_recv(session_.get(), static_cast<const uint8_t*>(v.iov_base),
                                          v.iov_len);
    if (rv < 0) {
      spdlog::debug("h2 {}: fatal input error: {}", peer_, nghttp2_strerror(static_cast<int>(rv)));
      env_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
      fatal_ = true;
      evbuffer_drain(in, evbuffer_get_length(in));
      break;
    }
    evbuffer_drain(in, static_cast<size_t>(rv));
  }
  flush();
  update();
}

void Http2Session::resume() {
  Busy busy(*this);
  now_ = Clock::now();
  flush();
  update();
}

void Http2Session::on_input_closed() {
  input_closed_ = true;
  update();
}

void Http2Session::on_timer(Clock::time_point now) {
  Busy busy(*this);
  now_ = now;
  if (now < deadline_) return;
  nghttp2_session* s = session_.get();
  if (!settings_acked_ && now >= started_ + env_.limits.header_timeout) {
    spdlog::debug("h2 {}: SETTINGS not acknowledged in time", peer_);
    nghttp2_session_terminate_session(s, NGHTTP2_SETTINGS_TIMEOUT);
  } else if (streams_.empty() && now >= idle_since_ + env_.limits.idle_timeout) {
    nghttp2_session_terminate_session(s, NGHTTP2_NO_ERROR);
  } else if (receiving_bodies_ > 0 && now >= last_data_ + env_.limits.body_timeout) {
    spdlog::debug("h2 {}: request bodies stalled", peer_);
    for (auto& [id, st] : streams_) {
      if (st->request_done_ || !st->request_.has_body) continue;
      if (st->responded_) {
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
      } else {
        fail_stream(*st, 408);
      }
    }
    last_data_ = now;
  }
  flush();
  update();
}

void Http2Session::drain() {
  Busy busy(*this);
  now_ = Clock::now();
  // Straight GOAWAY with the last stream we saw: clients retry anything newer elsewhere.
  nghttp2_session* s = session_.get();
  nghttp2_submit_goaway(s, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  flush();
  update();
}

Http2Session::Stream* Http2Session::find(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

int Http2Session::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame,
                                   void* user) noexcept {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto& s = self(user);
  auto st = std::make_unique<Stream>(s, frame->hd.stream_id);
  st->request_.protocol = s.protocol_;
  st->request_.peer = s.peer_;
  st->request_.tls_peer_id = s.tls_peer_id_;
  s.streams_[frame->hd.stream_id] = std::move(st);
  return 0;
}

int Http2Session::on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                            size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                            void* user) noexcept {
  // Trailers (a second HEADERS) are accepted and ignored.
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto& s = self(user);
  Stream* st = s.find(frame->hd.stream_id);
  if (!st || st->too_large_) return 0;
  st->header_bytes_ += namelen + valuelen + kHpackEntryOverhead;
  if (st->header_bytes_ > s.env_.limits.max_header_bytes ||
      ++st->header_count_ > s.env_.limits.max_headers) {
    st->too_large_ = true;
    st->request_.headers.clear();
    return 0;
  }
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  Request& r = st->request_;
  if (!n.empty() && n.front() == ':') {
    if (n == ":method") {
      r.method.assign(v);
    } else if (n == ":path") {
      st->bad_target_ = !set_request_target(r, v);
    } else if (n == ":authority") {
      r.authority.assign(v);
    }
    return 0;
  }
  if (n == "host" && r.authority.empty()) r.authority.assign(v);
  r.headers.push_back({std::string(n), std::string(v)});
  return 0;
}

int Http2Session::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) noexcept {
  auto& s = self(user);
  const bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      if (Stream* st = s.find(frame->hd.stream_id)) {
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) s.start_request(*st, end_stream);
        if (end_stream) s.finish_request(*st);
      }
      break;
    case NGHTTP2_DATA:
      if (frame->hd.length == 0 && !end_stream && !s.control_.take(s.now_)) {
        s.calm_down("empty DATA flood");
      }
      if (Stream* st = end_stream ? s.find(frame->hd.stream_id) : nullptr) s.finish_request(*st);
      break;
    case NGHTTP2_RST_STREAM: {
      // Rapid reset makes the server do work it then throws away: a reset counts while the
      // stream's answer has not all gone out, even one given at once (a cache hit is answered
      // inside the HEADERS callback, so a HEADERS + RST_STREAM flood is all "answered"). A
      // stream already closed here (a client resetting what it has finished with) cost nothing.
      Stream* st = s.find(frame->hd.stream_id);
      if (st != nullptr && !st->finished_ && !s.resets_.take(s.now_)) s.calm_down("rapid reset");
      break;
    }
    case NGHTTP2_SETTINGS:
      if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
        s.settings_acked_ = true;
      } else if (!s.control_.take(s.now_)) {
        s.calm_down("SETTINGS flood");
      }
      break;
    case NGHTTP2_PING:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && !s.control_.take(s.now_)) {
        s.calm_down("PING flood");
      }
      break;
    case NGHTTP2_PRIORITY:
      if (!s.control_.take(s.now_)) s.calm_down("PRIORITY flood");
      break;
    default:
      break;
  }
  return 0;
}

int Http2Session::on_data_chunk(nghttp2_session* session, uint8_t, int32_t stream_id,
                                const uint8_t* data, size_t len, void* user) noexcept {
  auto& s = self(user);
  Stream* st = s.find(stream_id);
  if (st != nullptr) {
    st->body_received_ += len;
    s.last_data_ = s.now_;
    if (st->body_received_ > s.env_.limits.max_body_bytes) {
      if (!st->responded_) {
        s.fail_stream(*st, 413);
      } else if (st->deferred_) {
        st->deferred_.reset();  // a body past every bound will not end: give up on it
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
      }
    } else if (st->handler_ && !st->responded_) {
      st->handler_->on_body(*st, {data, len});
    }
  }
  // The handler took the bytes: open the window again, unless it holds the body back.
  if (st != nullptr && st->paused_) {
    st->withheld_ += len;
  } else {
    nghttp2_session_consume(session, stream_id, len);
  }
  return 0;
}

int Http2Session::on_frame_send(nghttp2_session* session, const nghttp2_frame* frame,
                                void* user) noexcept {
  if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  Stream* st = self(user).find(frame->hd.stream_id);
  if (!st) return 0;
  st->finished_ = true;
  // A complete answer before the whole request: ask the client to stop sending (RFC 9113 §8.1).
  if (!st->request_done_) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st->id_, NGHTTP2_NO_ERROR);
  }
  return 0;
}

int Http2Session::on_stream_close(nghttp2_session* session, int32_t stream_id, uint32_t,
                                  void* user) noexcept {
  auto& s = self(user);
  auto it = s.streams_.find(stream_id);
  if (it == s.streams_.end()) return 0;
  std::unique_ptr<Stream> st = std::move(it->second);
  s.streams_.erase(it);
  // Bytes a paused stream held back still count against the connection's window.
  if (st->withheld_ > 0) nghttp2_session_consume_connection(session, st->withheld_);
  if (st->request_.has_body && !st->request_done_ && st->handler_ != nullptr) {
    --s.receiving_bodies_;
  }
  if (s.streams_.empty()) s.idle_since_ = s.now_;
  return 0;  // `st` dies here: an unfinished handler sees on_abort
}

int Http2Session::on_invalid_frame(nghttp2_session*, const nghttp2_frame* frame, int error,
                                   void* user) noexcept {
  auto& s = self(user);
  s.env_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("h2 {}: invalid frame type {} on stream {}: {}", s.peer_, frame->hd.type,
                frame->hd.stream_id, nghttp2_strerror(error));
  return 0;
}

void Http2Session::start_request(Stream& st, bool end_stream) {
  Request& r = st.request_;
  r.has_body = !end_stream;
  r.request_id = env_.ids.next();
  if (st.too_large_) {
    env_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    respond_error(st, 431);
    return;
  }
  if (st.bad_target_ || r.method.empty() || r.path.empty()) {
    env_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    respond_error(st, 400);
    return;
  }
  if (const std::string* cl = r.header("content-length")) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (ec == std::errc() && end == cl->data() + cl->size()) r.content_length = n;
  }
  if (r.content_length && *r.content_length > env_.limits.max_body_bytes) {
    respond_error(st, 413);
    return;
  }
  env_.counters.requests.fetch_add(1, std::memory_order_relaxed);
  st.handler_ = env_.router.route(r);
  if (!st.handler_) {
    respond_error(st, 404);
    return;
  }
  if (r.has_body) {
    ++receiving_bodies_;
    last_data_ = now_;
  }
  st.handler_->on_request(st);
}

void Http2Session::finish_request(Stream& st) {
  if (st.request_done_) return;
  st.request_done_ = true;
  if (st.request_.has_body && st.handler_) --receiving_bodies_;
  if (st.handler_ && !st.responded_) st.handler_->on_complete(st);
  if (st.deferred_) {
    Response response = std::move(*st.deferred_);
    st.deferred_.reset();
    submit(st, std::move(response), std::move(st.deferred_body_));
  }
}

void Http2Session::fail_stream(Stream& st, int status) {
  env_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
  if (st.handler_) {
    if (st.request_.has_body && !st.request_done_) --receiving_bodies_;
    st.handler_->on_abort();
    st.handler_.reset();
  }
  respond_error(st, status);
}

void Http2Session::submit(Stream& st, Response&& response, std::unique_ptr<BodySource> body) {
  if (st.request_.has_body && !st.request_done_ && response.status >= 200 &&
      response.status < 300) {
    st.deferred_ = std::move(response);
    st.deferred_body_ = std::move(body);
    return;
  }
  const Response& r = response;
  bool head = st.request_.method == "HEAD";
  bool bodiless = status_without_body(r.status);
  uint64_t length = bodiless ? 0 : (body || head) ? r.content_length : 0;
  st.body_left_ = (head || bodiless || !body) ? 0 : r.content_length;
  if (st.body_left_ > 0) {
    st.body_ = std::move(body);
    st.staged_.reset(evbuffer_new());
  }

  char status[8];
  auto status_end = fmt::format_to_n(status, sizeof(status), "{}", r.status).out;
  fmt::format_int cl(length);
  std::vector<nghttp2_nv> nva;
  nva.reserve(4 + r.headers.size());
  nva.push_back(make_nv(":status", {status, static_cast<size_t>(status_end - status)}));
  if (!bodiless) nva.push_back(make_nv("content-length", {cl.data(), cl.size()}));
  nva.push_back(make_nv("date", http_date()));
  // Unique per response: indexing it would only churn the HPACK table.
  nva.push_back(make_nv("x-request-id", st.request_.request_id, NGHTTP2_NV_FLAG_NO_INDEX));
  for (const auto& h : r.headers) {
    if (reserved_response_header(h.name) || !header_safe(h)) continue;
    nva.push_back(make_nv(h.name, h.value));
  }
  nghttp2_data_provider provider;
  provider.source.ptr = &st;
  provider.read_callback = read_body;
  int rv = nghttp2_submit_response(session_.get(), st.id_, nva.data(), nva.size(),
                                   st.body_ ? &provider : nullptr);
  if (rv != 0) {
    spdlog::debug("h2 {}: cannot submit response: {}", peer_, nghttp2_strerror(rv));
    nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, st.id_, NGHTTP2_INTERNAL_ERROR);
  }
  request_resume();
}

ssize_t Http2Session::read_body(nghttp2_session*, int32_t, uint8_t*, size_t length, uint32_t* flags,
                                nghttp2_data_source* source, void* user) noexcept {
  auto& st = *static_cast<Stream*>(source->ptr);
  size_t staged = evbuffer_get_length(st.staged_.get());
  if (staged == 0) {
    size_t want =
        static_cast<size_t>(std::min<uint64_t>(st.body_left_, std::max(length, kMinPull)));
    Result<size_t> pulled = st.body_->pull(st.staged_.get(), want);
    staged = evbuffer_get_length(st.staged_.get());
    if (!pulled.ok() || *pulled == 0 || staged == 0) {
      spdlog::warn("h2 {}: response body for {} failed ({}); resetting the stream",
                   self(user).peer_, st.request_.request_id,
                   pulled.ok() ? "ended early" : pulled.status().message());
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
  }
  // A source that over-delivers is cut at the announced content-length.
  size_t n = static_cast<size_t>(std::min<uint64_t>(std::min(length, staged), st.body_left_));
  st.body_left_ -= n;
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (st.body_left_ == 0) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

int Http2Session::send_body(nghttp2_session*, nghttp2_frame*, const uint8_t* framehd, size_t length,
                            nghttp2_data_source* source, void* user) noexcept {
  auto& s = self(user);
  auto& st = *static_cast<Stream*>(source->ptr);
  // No padding is ever negotiated (no select_padding_callback), so a frame is head + data.
  evbuffer_add(s.out_, framehd, kFrameHeader);
  evbuffer_remove_buffer(st.staged_.get(), s.out_, length);
  if (st.body_left_ == 0) {
    st.body_.reset();
    st.staged_.reset();
  }
  // PAUSE makes mem_send return, so the output stays near the watermark.
  return evbuffer_get_length(s.out_) >= s.env_.limits.output_high_water ? NGHTTP2_ERR_PAUSE : 0;
}

void Http2Session::calm_down(const char* why) {
  spdlog::debug("h2 {}: {}: GOAWAY ENHANCE_YOUR_CALM", peer_, why);
  env_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
  nghttp2_session_terminate_session(session_.get(), NGHTTP2_ENHANCE_YOUR_CALM);
}

void Http2Session::flush() {
  const size_t high = env_.limits.output_high_water;
  while (!fatal_ && evbuffer_get_length(out_) < high) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) {
      spdlog::debug("h2 {}: fatal output error: {}", peer_, nghttp2_strerror(static_cast<int>(n)));
      fatal_ = true;
      break;
    }
    if (n == 0) break;
    evbuffer_add(out_, data, static_cast<size_t>(n));
  }
}

void Http2Session::update() {
  nghttp2_session* s = session_.get();
  bool want_read = nghttp2_session_want_read(s) != 0;
  if (fatal_ || input_closed_ || (!want_read && !nghttp2_session_want_write(s))) {
    want_close_ = true;
    want_read_ = false;
    deadline_ = Clock::time_point::max();
    return;
  }
  want_read_ = want_read;
  Clock::time_point d = Clock::time_point::max();
  if (!settings_acked_) d = started_ + env_.limits.header_timeout;
  if (streams_.empty()) {
    d = std::min(d, idle_since_ + env_.limits.idle_timeout);
  } else if (receiving_bodies_ > 0) {
    d = std::min(d, last_data_ + env_.limits.body_timeout);
  }
  deadline_ = d;
}

}  // namespace meshcache::http
