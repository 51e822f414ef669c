// artifact_id.cc: artifact identity, SHA-256 of the (producer, tenant, namespace, key) tuple
// (any thread; every head() and write computes one).
#include "storage/artifact_id.h"

namespace meshcache::storage {

Digest artifact_digest(const ArtifactRef& ref) {
  // One context per thread, reused: head() is on the GET hot path and a fresh EVP_MD_CTX is a
  // malloc/free pair per call.
  thread_local Sha256 hasher;
  static constexpr char kSeparator = '\0';
  hasher.update(ref.producer.data(), ref.producer.size());
  hasher.update(&kSeparator, 1);
  hasher.update(ref.tenant.data(), ref.tenant.size());
  hasher.update(&kSeparator, 1);
  hasher.update(ref.ns.data(), ref.ns.size());
  hasher.update(&kSeparator, 1);
  hasher.update(ref.key.data(), ref.key.size());
  return hasher.finish();
}

std::string artifact_id(const ArtifactRef& ref) { return to_hex(artifact_digest(ref)); }

}  // namespace meshcache::storage
