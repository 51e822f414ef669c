// push_requests.h: what the push worker puts on the wire for each outbox row (Kura's query for
// the per-artifact and namespace routes, the batch body of small artifacts). Push thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/store.h"

namespace meshcache::replication {

// A peer URL as the base of request URLs: without its trailing '/' (warm-up's too).
std::string base_url(std::string_view url);
// {base}/_internal/replicate/artifact?producer&namespace_id&key&content_type&inline&version_ms
std::string artifact_url(std::string_view base, const storage::Manifest& m);
// {base}/_internal/replicate/namespace?namespace_id&version_ms
std::string namespace_url(std::string_view base, std::string_view ns, int64_t version_ms);

// Inline artifacts for one PUT /_internal/replicate/artifacts (≤ 512 items, ≤ 8 MiB).
struct PushBatch {
  std::vector<storage::OutboxRow> rows;
  std::vector<storage::Manifest> manifests;  // for the single-PUT fallback of a lone item
  std::string body;

  // Appends the artifact (m.inline_body set) and takes `m`. False, with `m` untouched, when it
  // would pass the byte bound: send this batch first. An empty batch takes any item.
  bool add(const storage::OutboxRow& row, storage::Manifest&& m);
  bool full() const;
};

}  // namespace meshcache::replication
