// test_support.cc: recording router, body sources and response reader for the HTTP tests.
#include "test_support.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace meshcache::http::test {
namespace {

Response ok_response(uint64_t length) {
  Response r;
  r.status = 200;
  r.content_length = length;
  r.headers.push_back({"content-type", "application/octet-stream"});
  return r;
}

class RecordingHandler : public Handler {
 public:
  explicit RecordingHandler(TestRouter& router, std::string path)
      : router_(router), path_(std::move(path)) {}
  void on_request(Exchange& ex) override {
    router_.events.push_back("request " + ex.request().method + " " + path_);
    router_.requests.push_back(ex.request());
    answer_on_request(ex);
  }
  void on_body(Exchange&, std::span<const uint8_t> bytes) override {
    router_.events.push_back("body " + std::to_string(bytes.size()));
    body_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void on_complete(Exchange& ex) override {
    router_.events.push_back("complete " + path_);
    answer_on_complete(ex);
  }
  void on_abort() override { router_.events.push_back("abort " + path_); }

 protected:
  virtual void answer_on_request(Exchange&) {}
  virtual void answer_on_complete(Exchange&) {}
  TestRouter& router_;
  std::string path_;
  std::string body_;
};

class HelloHandler final : public RecordingHandler {
  using RecordingHandler::RecordingHandler;
  void answer_on_request(Exchange& ex) override {
    ex.respond(ok_response(5), std::make_unique<StringBody>("hello"));
  }
};

class EchoHandler : public RecordingHandler {
 public:
  using RecordingHandler::RecordingHandler;

 protected:
  void answer_on_complete(Exchange& ex) override {
    ex.respond(ok_response(body_.size()), std::make_unique<StringBody>(body_));
  }
};

// An echo that holds its body back until the test releases it (like an auth lookup).
class HoldHandler final : public EchoHandler {
 public:
  using EchoHandler::EchoHandler;
  ~HoldHandler() override { std::erase(router_.held, exchange_); }

 private:
  void answer_on_request(Exchange& ex) override {
    exchange_ = &ex;
    ex.pause_body(true);
    router_.held.push_back(&ex);
  }
  Exchange* exchange_ = nullptr;
};

class StatusHandler final : public RecordingHandler {
 public:
  StatusHandler(TestRouter& router, std::string path, int status)
      : RecordingHandler(router, std::move(path)), status_(status) {}

 private:
  void answer_on_request(Exchange& ex) override {
    Response r;
    r.status = status_;
    ex.respond(std::move(r));
  }
  int status_;
};

class BigHandler final : public RecordingHandler {
  using RecordingHandler::RecordingHandler;
  void answer_on_request(Exchange& ex) override {
    uint64_t size = std::stoull(ex.request().query_param("size").value_or("0"));
    ex.respond(ok_response(size), std::make_unique<PatternBody>(size, 16 * 1024, &router_.pulls));
  }
};

class FailingBody final : public BodySource {
  Result<size_t> pull(evbuffer*, size_t) override { return Status(Code::io_error, "disk on fire"); }
};

class FailHandler final : public RecordingHandler {
  using RecordingHandler::RecordingHandler;
  void answer_on_request(Exchange& ex) override {
    ex.respond(ok_response(100), std::make_unique<FailingBody>());
  }
};

class LaterHandler final : public RecordingHandler {
  using RecordingHandler::RecordingHandler;
  void answer_on_complete(Exchange& ex) override { router_.later.push_back(&ex); }
  void on_abort() override {
    RecordingHandler::on_abort();
    router_.later.clear();
  }
};

}  // namespace

Result<size_t> StringBody::pull(evbuffer* out, size_t max_bytes) {
  size_t n = std::min({max_bytes, piece_, text_.size() - pos_});
  evbuffer_add(out, text_.data() + pos_, n);
  pos_ += n;
  return n;
}

Result<size_t> PatternBody::pull(evbuffer* out, size_t max_bytes) {
  if (pulls_) ++*pulls_;
  size_t n = static_cast<size_t>(std::min<uint64_t>({max_bytes, piece_, left_}));
  std::string chunk(n, '\0');
  for (size_t i = 0; i < n; ++i) chunk[i] = byte_at(offset_ + i);
  evbuffer_add(out, chunk.data(), n);
  offset_ += n;
  left_ -= n;
  return n;
}

std::unique_ptr<Handler> TestRouter::route(const Request& request) {
  const std::string& p = request.path;
  if (p == "/hello") return std::make_unique<HelloHandler>(*this, p);
  if (p == "/echo") return std::make_unique<EchoHandler>(*this, p);
  if (p == "/reject") return std::make_unique<StatusHandler>(*this, p, 413);
  if (p == "/big") return std::make_unique<BigHandler>(*this, p);
  if (p == "/fail") return std::make_unique<FailHandler>(*this, p);
  if (p == "/later") return std::make_unique<LaterHandler>(*this, p);
  if (p == "/hold") return std::make_unique<HoldHandler>(*this, p);
  return std::make_unique<StatusHandler>(*this, p, 404);
}

bool TestRouter::release_held() {
  if (held.empty()) return false;
  Exchange* ex = held.front();
  held.erase(held.begin());
  ex->pause_body(false);
  return true;
}

bool TestRouter::answer_later() {
  if (later.empty()) return false;
  Exchange* ex = later.front();
  later.erase(later.begin());
  ex->respond(ok_response(5), std::make_unique<StringBody>("later"));
  return true;
}

TestEnv::TestEnv() {
  limits.max_header_bytes = 4096;
  limits.max_headers = 32;
  limits.max_url_bytes = 1024;
  limits.max_body_bytes = 1 << 20;
  limits.max_pipelined = 4;
  limits.output_high_water = 64 * 1024;
}

std::string run(const std::string& command) {
  std::string out;
  FILE* f = popen(command.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

std::string drain_buffer(evbuffer* b) {
  std::string s(evbuffer_get_length(b), '\0');
  evbuffer_remove(b, s.data(), s.size());
  return s;
}

void add(evbuffer* b, std::string_view s) { evbuffer_add(b, s.data(), s.size()); }

std::vector<ParsedResponse> parse_responses(std::string_view wire,
                                            std::vector<bool> head_requests) {
  std::vector<ParsedResponse> out;
  size_t index = 0;
  while (!wire.empty()) {
    size_t end = wire.find("\r\n\r\n");
    if (end == std::string_view::npos) break;
    std::string_view head = wire.substr(0, end);
    ParsedResponse r;
    size_t line_end = head.find("\r\n");
    std::string_view status_line = head.substr(0, line_end);
    std::from_chars(status_line.data() + 9, status_line.data() + 12, r.status);
    while (line_end != std::string_view::npos) {
      head.remove_prefix(line_end + 2);
      line_end = head.find("\r\n");
      std::string_view line = head.substr(0, line_end);
      size_t colon = line.find(':');
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      r.headers[name] = std::string(line.substr(colon + 2));
    }
    wire.remove_prefix(end + 4);
    bool head_request = index < head_requests.size() && head_requests[index];
    if (r.status >= 200) {
      ++index;
      size_t length = r.headers.count("content-length") && !head_request
                          ? std::stoul(r.headers["content-length"])
                          : 0;
      if (wire.size() < length) break;
      r.body = std::string(wire.substr(0, length));
      wire.remove_prefix(length);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace meshcache::http::test
