// push_requests.cc: the push worker's request URLs and batch bodies (push thread).
#include "replication/push_requests.h"

#include <fmt/format.h>

#include "replication/wire.h"

namespace meshcache::replication {
namespace {

// The receiver requires a non-empty content_type; a write that declared none is bytes.
std::string_view content_type(const storage::Manifest& m) {
  return m.content_type.empty() ? std::string_view("application/octet-stream") : m.content_type;
}

}  // namespace

std::string base_url(std::string_view url) {
  while (url.ends_with('/')) url.remove_suffix(1);
  return std::string(url);
}

std::string artifact_url(std::string_view base, const storage::Manifest& m) {
  using wire::url_encode;
  return fmt::format(
      "{}/_internal/replicate/artifact?producer={}&namespace_id={}&key={}&content_type={}"
      "&inline={}&version_ms={}",
      base, url_encode(m.producer), url_encode(m.ns), url_encode(m.key),
      url_encode(content_type(m)), m.inline_body ? "true" : "false", m.version_ms);
}

std::string namespace_url(std::string_view base, std::string_view ns, int64_t version_ms) {
  // version_ms always: without it Kura purges the namespace and leaves no tombstone.
  return fmt::format("{}/_internal/replicate/namespace?namespace_id={}&version_ms={}", base,
                     wire::url_encode(ns), version_ms);
}

bool PushBatch::add(const storage::OutboxRow& row, storage::Manifest&& m) {
  wire::ArtifactMeta meta;
  meta.producer = m.producer;
  meta.namespace_id = m.ns;
  meta.key = m.key;
  meta.content_type = content_type(m);
  meta.version_ms = m.version_ms;
  size_t before = body.size();
  wire::append_batch_item(body, meta, *m.inline_body);
  if (body.size() > wire::kMaxBatchBytes && !rows.empty()) {
    body.resize(before);
    return false;
  }
  rows.push_back(row);
  manifests.push_back(std::move(m));
  return true;
}

bool PushBatch::full() const { return rows.size() == wire::kMaxBatchItems; }

}  // namespace meshcache::replication
