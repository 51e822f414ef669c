// artifact_put.cc: bounded request-body intake for every surface (I/O loop thread).
#include "agent/cache/artifact_put.h"

#include <fmt/format.h>

namespace meshcache::agent::cache {
namespace {

constexpr size_t kMaxContentTypeBytes = 256;

}  // namespace

Status too_large(uint64_t limit) {
  return Status(Code::too_large, fmt::format("body larger than {} bytes", limit));
}

Status check_declared_length(const http::Request& request, uint64_t limit) {
  if (request.content_length && *request.content_length > limit) return too_large(limit);
  return Status::Ok();
}

Status ArtifactPut::begin(storage::Store& store, const http::Request& request,
                          const storage::ArtifactRef& ref, storage::WriteOptions options,
                          uint64_t limit) {
  if (Status declared = check_declared_length(request, limit); !declared.ok()) return declared;
  if (options.content_type.empty()) {
    const std::string* type = request.header("content-type");
    options.content_type = type != nullptr && !type->empty() && type->size() <= kMaxContentTypeBytes
                               ? *type
                               : "application/octet-stream";
  }
  if (request.content_length) options.expected_size = *request.content_length;
  Result<std::unique_ptr<storage::Writer>> writer = store.begin_write(ref, std::move(options));
  if (!writer.ok()) return writer.status();
  writer_ = std::move(writer.value());
  limit_ = limit;
  received_ = 0;
  return Status::Ok();
}

Status ArtifactPut::append(std::span<const uint8_t> bytes) {
  if (writer_ == nullptr) return Status(Code::internal, "no write in progress");
  received_ += bytes.size();
  if (received_ > limit_) {
    writer_.reset();  // discards the chunks written so far
    return too_large(limit_);
  }
  Status status = writer_->append(bytes);
  if (!status.ok()) writer_.reset();
  return status;
}

Result<storage::Manifest> ArtifactPut::commit() {
  if (writer_ == nullptr) return Status(Code::internal, "no write in progress");
  std::unique_ptr<storage::Writer> writer = std::move(writer_);
  return writer->commit();
}

Result<storage::Manifest> write_small(storage::Store& store, const storage::ArtifactRef& ref,
                                      storage::WriteOptions options, std::string_view body) {
  options.expected_size = body.size();
  Result<std::unique_ptr<storage::Writer>> writer = store.begin_write(ref, std::move(options));
  if (!writer.ok()) return writer.status();
  Status appended =
      writer.value()->append({reinterpret_cast<const uint8_t*>(body.data()), body.size()});
  if (!appended.ok()) return appended;
  return writer.value()->commit();
}

}  // namespace meshcache::agent::cache
