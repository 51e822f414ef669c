// fuzz_router.cc: handlers and the feeding loop shared by the HTTP fuzz targets.
#include "fuzz_router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

namespace meshcache::http::fuzz {
namespace {

class Bytes final : public BodySource {
 public:
  Bytes(uint64_t size, size_t piece) : left_(size), piece_(piece) {}
  Result<size_t> pull(evbuffer* out, size_t max_bytes) override {
    static const char kFill[4096] = {};
    size_t n = static_cast<size_t>(std::min<uint64_t>({max_bytes, piece_, left_, sizeof(kFill)}));
    evbuffer_add_reference(out, kFill, n, nullptr, nullptr);
    left_ -= n;
    return n;
  }

 private:
  uint64_t left_;
  size_t piece_;
};

Response ok(uint64_t length) {
  Response r;
  r.content_length = length;
  r.headers.push_back({"content-type", "text/plain"});
  return r;
}

// What each handler does is picked by the second character of the path.
class FuzzHandler final : public Handler {
 public:
  FuzzHandler(FuzzRouter& router, char kind) : router_(router), kind_(kind) {}
  ~FuzzHandler() override { router_.held.erase(held_); }

  void on_request(Exchange& ex) override {
    switch (kind_) {
      case 'a':
        ex.respond(ok(2), std::make_unique<Bytes>(2, 2));
        break;
      case 'b':
        ex.respond(ok(100000), std::make_unique<Bytes>(100000, 1000));
        break;
      case 'r': {
        Response r;
        r.status = 413;
        ex.respond(std::move(r));
        break;
      }
      case 's':
        ex.respond(ok(10), std::make_unique<Bytes>(3, 3));
        break;  // short body: an error
      default:
        break;
    }
  }
  void on_body(Exchange&, std::span<const uint8_t> bytes) override { received_ += bytes.size(); }
  void on_complete(Exchange& ex) override {
    if (kind_ == 'l') {
      held_ = &ex;
      router_.held.insert(&ex);
    } else {
      ex.respond(ok(received_), std::make_unique<Bytes>(received_, 4096));
    }
  }
  void on_abort() override {
    router_.held.erase(held_);
    held_ = nullptr;
  }

 private:
  FuzzRouter& router_;
  char kind_;
  uint64_t received_ = 0;
  Exchange* held_ = nullptr;
};

}  // namespace

std::unique_ptr<Handler> FuzzRouter::route(const Request& request) {
  return std::make_unique<FuzzHandler>(*this, request.path.size() > 1 ? request.path[1] : 'e');
}

void FuzzRouter::answer_held() {
  while (!held.empty()) {
    Exchange* ex = *held.begin();
    held.erase(held.begin());
    ex->respond(ok(5), std::make_unique<Bytes>(5, 5));
  }
}

FuzzEnv::FuzzEnv() {
  spdlog::set_level(spdlog::level::off);
  limits.max_header_bytes = 2048;
  limits.max_headers = 16;
  limits.max_url_bytes = 512;
  limits.max_body_bytes = 64 * 1024;
  limits.max_pipelined = 4;
  limits.max_concurrent_streams = 16;
  limits.output_high_water = 8 * 1024;
}

void drive(Session& session, FuzzEnv& env, const uint8_t* data, size_t size) {
  size_t pos = 0;
  size_t step = size > 0 ? data[0] % 61 + 1 : 1;
  bool drained = false;
  while (pos < size && !session.want_close()) {
    size_t n = std::min(step, size - pos);
    evbuffer_add(env.in.get(), data + pos, n);
    pos += n;
    step = (step * 7 + data[pos - 1]) % 509 + 1;
    if (session.want_read()) session.on_input(env.in.get());
    // A reader that takes everything, then lets the session produce more.
    evbuffer_drain(env.out.get(), evbuffer_get_length(env.out.get()));
    session.resume();
    if (!env.router.held.empty() && (data[pos - 1] & 1)) {
      env.router.answer_held();
      session.resume();
    }
    if (!drained && pos > size / 2 && (data[0] & 0x80)) {
      session.drain();
      drained = true;
    }
  }
  if (session.deadline() != Clock::time_point::max()) session.on_timer(session.deadline());
  evbuffer_drain(env.out.get(), evbuffer_get_length(env.out.get()));
  session.on_input_closed();
  session.resume();
  env.router.answer_held();
  session.resume();
}

}  // namespace meshcache::http::fuzz
