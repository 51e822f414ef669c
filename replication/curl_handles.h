// curl_handles.h: RAII for libcurl handles, the process-wide libcurl set-up, and the peer-plane
// options every outbound request shares (mTLS identity, timeouts). Used on the push and warm-up
// threads (make_multi() on the thread that creates them).
#pragma once

#include <curl/curl.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

#include "storage/status.h"
#include "tls/identity.h"

namespace meshcache::replication {

struct CurlEasyDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct CurlMultiDeleter {
  void operator()(CURLM* h) const noexcept { curl_multi_cleanup(h); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// A multi handle, after initialising libcurl once for the process. Throws std::runtime_error
// when either fails (start-up only).
CurlMulti make_multi();

// Appends header lines ("Name: value") to `list`.
[[nodiscard]] Status append_headers(CurlSlist& list, std::initializer_list<const char*> lines);

// Kura's peer client: connect 5 s, abort a transfer idle for 30 s, no total timeout; HTTP/2
// over TLS (ALPN, falling back to HTTP/1.1), HTTP/1.1 in clear. With an identity the node
// presents its certificate and trusts only the account CA; the peer's host must match its SAN.
// Files are read when a connection is made, so a renewed certificate is used from the next one.
void apply_peer_options(CURL* easy, const std::optional<tls::IdentityPaths>& identity);

}  // namespace meshcache::replication
