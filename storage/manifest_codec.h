// manifest_codec.h: the compact binary form of a Manifest in the manifests column family
// (any thread).
#pragma once

#include <string>

#include <rocksdb/slice.h>

#include "storage/status.h"
#include "storage/store.h"

namespace meshcache::storage {

// The artifact id is the row's key, so it is not stored in the value.
std::string encode_manifest(const Manifest& m);
// Code::corruption when the bytes are not a manifest this version wrote.
Result<Manifest> decode_manifest(rocksdb::Slice bytes, std::string artifact_id);

}  // namespace meshcache::storage
