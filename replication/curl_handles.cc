// curl_handles.cc: the peer-plane options shared by every outbound request (push and warm-up
// threads).
#include "replication/curl_handles.h"

#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

namespace meshcache::replication {

CurlMulti make_multi() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) {
    throw std::runtime_error(
        fmt::format("libcurl: global init failed: {}", curl_easy_strerror(code)));
  }
  CurlMulti multi(curl_multi_init());
  if (!multi) throw std::runtime_error("libcurl: cannot create a multi handle");
  return multi;
}

Status append_headers(CurlSlist& list, std::initializer_list<const char*> lines) {
  for (const char* line : lines) {
    curl_slist* grown = curl_slist_append(list.get(), line);
    if (!grown) return Status(Code::internal, "libcurl: out of memory");
    (void)list.release();  // `grown` is the same list, one line longer
    list.reset(grown);
  }
  return Status::Ok();
}

void apply_peer_options(CURL* easy, const std::optional<tls::IdentityPaths>& identity) {
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "meshcache");
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  // "Idle 30 s": below 1 byte/s for 30 s aborts, a slow but moving transfer does not.
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  // Peers are addressed by their node URL; a proxy from the environment must not intercept.
  curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
  if (identity) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, identity->cert_path.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLKEY, identity->key_path.c_str());
    curl_easy_setopt(easy, CURLOPT_CAINFO, identity->ca_path.c_str());
    curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
  }
}

}  // namespace meshcache::replication
