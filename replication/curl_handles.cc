// curl_handles.cc: the peer-plane options shared by every outbound request (push and warm-up
// threads).
#include "replication/curl_handles.h"

namespace meshcache::replication {

void apply_peer_options(CURL* easy, const std::optional<tls::IdentityPaths>& identity) {
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
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
