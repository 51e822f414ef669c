// artifact_id.h: the raw 32-byte form of artifact_id(), used as the key in every column family
// (any thread).
#pragma once

#include "storage/sha256.h"
#include "storage/store.h"

namespace meshcache::storage {

// SHA-256(producer \0 tenant \0 namespace \0 key); artifact_id() is its lowercase hex.
Digest artifact_digest(const ArtifactRef& ref);

}  // namespace meshcache::storage
