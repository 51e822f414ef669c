// test_node.h: drives the cache router the way the HTTP server does, without sockets: a fake
// Exchange records the response and drains its BodySource, over a real Store in a temp dir.
// Test thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/auth/authorizer.h"
#include "agent/cache/cache_router.h"
#include "agent/config.h"
#include "agent/metrics.h"
#include "storage/store.h"

namespace meshcache::agent::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Reply {
  int status = 0;
  std::vector<http::Header> headers;
  uint64_t content_length = 0;
  bool has_body_source = false;
  std::string body;
  bool body_error = false;
  bool answered_in_on_request = false;  // before any body byte (the 100-continue case)

  const std::string* header(std::string_view name) const;
};

struct Call {
  std::string method = "GET";
  std::string target = "/";  // path and query, as sent
  std::string body;
  std::vector<http::Header> headers;
  bool chunked = false;    // no declared Content-Length
  size_t piece_bytes = 7;  // on_body slices, to exercise reassembly
  bool expect_continue = false;
  std::optional<uint64_t> declared_length;  // overrides body.size() when set
};

class TestNode {
 public:
  TestNode();
  explicit TestNode(std::function<void(Config&)> configure);
  ~TestNode();

  Reply call(const Call& call);
  Reply simple(std::string method, std::string target, std::string body = {},
               std::vector<http::Header> headers = {});
  Reply get(std::string target, std::vector<http::Header> headers = {});
  Reply head(std::string target, std::vector<http::Header> headers = {});
  Reply put(std::string target, std::string body, std::vector<http::Header> headers = {});
  Reply post(std::string target, std::string body, std::vector<http::Header> headers = {});

  // Closes and reopens the store (state that must survive a restart).
  void reopen();

  Config config;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<Authorizer> auth;
  NodeState state = NodeState::serving;

 private:
  void open();

  TempDir dir_;
  std::shared_ptr<http::Router> router_;
};

std::string sha256_hex(std::string_view data);

}  // namespace meshcache::agent::test
