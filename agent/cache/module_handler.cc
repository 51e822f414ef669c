// module_handler.cc: Tuist's module cache, /api/cache/module/* (I/O loop thread).
// Multipart uploads keep their state and parts as ordinary artifacts of the internal producer
// "upload" (tenant scope, keys "{upload_id}/state" and "{upload_id}/part/{n}"), so they survive
// restarts without a second persistence mechanism; an upload older than 24 h is expired when
// next touched, and abandoned parts age out through the store's LRU eviction.
#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

#include "agent/cache/artifact_handler.h"
#include "agent/cache/artifact_put.h"
#include "agent/cache/json_body_handler.h"
#include "agent/cache/key_rules.h"
#include "agent/cache/surfaces.h"
#include "storage/wall_clock.h"

namespace meshcache::agent::cache {
namespace {

constexpr std::string_view kUploadProducer = "upload";
constexpr int64_t kUploadTtlMs = 24 * 3600 * 1000;
constexpr uint64_t kMaxPartBytes = 10 << 20;
constexpr uint64_t kMaxCompleteBytes = 1 << 20;
constexpr int64_t kMaxPartNumber = 10000;

// Tuist's module API: "exists" is HEAD → 204, a part and a completion answer 204.
constexpr SurfaceSpec kModuleRead = [] {
  SurfaceSpec s;
  s.route = route::module;
  s.allow = "GET, HEAD, POST";
  s.head_hit_status = 204;
  return s;
}();

storage::ArtifactRef state_ref(const CacheContext& ctx, std::string_view upload_id) {
  return make_ref(ctx, kUploadProducer, {}, fmt::format("{}/state", upload_id));
}

storage::ArtifactRef part_ref(const CacheContext& ctx, std::string_view upload_id, int64_t part) {
  return make_ref(ctx, kUploadProducer, {}, fmt::format("{}/part/{}", upload_id, part));
}

bool valid_upload_id(std::string_view id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::optional<int64_t> parse_part_number(std::string_view s) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if (n < 1 || n > kMaxPartNumber) return std::nullopt;
  return n;
}

// The module's identity from the query (start and reads): {category}/{hash}/{name}.
Result<std::string> module_key(const http::Request& request) {
  std::optional<std::string> hash = request.query_param("hash");
  std::optional<std::string> name = request.query_param("name");
  std::string category = request.query_param("cache_category").value_or("");
  if (category.empty()) category = "builds";
  if (!hash || hash->empty()) return Status(Code::invalid_argument, "Missing hash");
  if (!name || name->empty()) return Status(Code::invalid_argument, "Missing name");
  // A '/' inside a component would let two (hash, name) pairs share one key.
  for (const std::string* part : {&*hash, &*name, &category}) {
    if (part->find('/') != std::string::npos) {
      return Status(Code::invalid_argument, "hash, name and category may not contain '/'");
    }
  }
  std::string key = fmt::format("{}/{}/{}", category, *hash, *name);
  if (!valid_key(key)) return Status(Code::invalid_argument, "invalid hash, name or category");
  return key;
}

struct Upload {
  std::string id;
  std::string ns;
  std::string key;
};

// Reads an upload's state; an expired one is removed and reported as not found.
Result<Upload> load_upload(const CacheContext& ctx, const http::Request& request) {
  std::string id = request.query_param("upload_id").value_or("");
  if (!valid_upload_id(id)) return Status(Code::invalid_argument, "invalid upload_id");
  storage::ArtifactRef ref = state_ref(ctx, id);
  Result<storage::Manifest> head = ctx.store->head(ref);
  if (!head.ok()) {
    if (head.status().code() == Code::not_found) {
      return Status(Code::not_found, "upload not found");
    }
    return head.status();
  }
  Result<std::string> text = ctx.store->read_all(head.value());
  if (!text.ok()) return text.status();
  nlohmann::json state = nlohmann::json::parse(text.value(), nullptr, false);
  if (!state.is_object() || !state["namespace"].is_string() || !state["key"].is_string() ||
      !state["created_ms"].is_number_integer()) {
    return Status(Code::corruption, fmt::format("upload state {} is unreadable", id));
  }
  if (wall_clock_ms() - state["created_ms"].get<int64_t>() > kUploadTtlMs) {
    (void)ctx.store->remove(ref);
    return Status(Code::not_found, "upload expired");
  }
  return Upload{std::move(id), state["namespace"].get<std::string>(),
                state["key"].get<std::string>()};
}

// POST /api/cache/module/start?hash&name[&cache_category]
class StartHandler final : public CacheHandler {
 public:
  using CacheHandler::CacheHandler;

 private:
  void start(http::Exchange& ex) override {
    std::optional<std::string> ns = query_namespace(ex.request());
    Result<std::string> key = module_key(ex.request());
    if (!ns || !key.ok()) {
      respond_status(ex, ns ? key.status() : Status(Code::invalid_argument, "invalid namespace"));
      return;
    }
    if (!authorize(ex, *ns, true)) return;
    Result<storage::Manifest> existing =
        ctx_.store->head(make_ref(ctx_, "module", *ns, key.value()));
    if (existing.ok()) {
      respond_json(ex, 200, R"({"upload_id":null})");
      return;
    }
    if (existing.status().code() != Code::not_found) {
      respond_status(ex, existing.status());
      return;
    }
    uint8_t random[16];
    if (RAND_bytes(random, sizeof random) != 1) {
      respond_status(ex, Status(Code::internal, "RAND_bytes failed"));
      return;
    }
    std::string id = fmt::format("{:02x}", fmt::join(random, random + sizeof random, ""));
    nlohmann::json state{{"namespace", *ns}, {"key", key.value()}, {"created_ms", wall_clock_ms()}};
    storage::WriteOptions options;
    options.content_type = std::string(kJson);
    Result<storage::Manifest> written =
        write_small(*ctx_.store, state_ref(ctx_, id), std::move(options), state.dump());
    if (!written.ok()) {
      respond_status(ex, written.status());
      return;
    }
    respond_json(ex, 200, nlohmann::json{{"upload_id", id}}.dump());
  }
};

// POST /api/cache/module/part?upload_id&part_number: one part, streamed into the store.
class PartHandler final : public CacheHandler {
 public:
  using CacheHandler::CacheHandler;

 private:
  void start(http::Exchange& ex) override {
    std::optional<int64_t> part =
        parse_part_number(ex.request().query_param("part_number").value_or(""));
    if (!part) {
      respond_error(ex, 400, "bad_request", "part_number must be an integer in 1..10000");
      return;
    }
    Result<Upload> upload = load_upload(ctx_, ex.request());
    if (!upload.ok()) {
      respond_status(ex, upload.status());
      return;
    }
    if (!authorize(ex, upload->ns, true)) return;
    storage::WriteOptions options;
    options.content_type = std::string(kOctetStream);
    Status begun = put_.begin(*ctx_.store, ex.request(), part_ref(ctx_, upload->id, *part),
                              std::move(options), kMaxPartBytes);
    if (!begun.ok()) respond_status(ex, begun);
  }

  void body(http::Exchange& ex, std::span<const uint8_t> bytes) override {
    Status appended = put_.append(bytes);
    if (!appended.ok()) respond_status(ex, appended);
  }

  void complete(http::Exchange& ex) override {
    Result<storage::Manifest> committed = put_.commit();
    if (!committed.ok()) {
      respond_status(ex, committed.status());
      return;
    }
    respond_empty(ex, 204);
  }

  ArtifactPut put_;
};

// POST /api/cache/module/complete?upload_id {"parts":[..], "checksum_sha256"?}: assembles the
// parts in ascending order into one artifact, streaming chunk by chunk through one Writer.
class CompleteHandler final : public JsonBodyHandler {
 public:
  explicit CompleteHandler(const CacheContext& ctx)
      : JsonBodyHandler(ctx, route::module_upload, kMaxCompleteBytes) {}

 private:
  void start(http::Exchange& ex) override {
    Result<Upload> upload = load_upload(ctx_, ex.request());
    if (!upload.ok()) {
      respond_status(ex, upload.status());
      return;
    }
    upload_ = std::move(upload.value());
    if (authorize(ex, upload_.ns, true)) (void)accept_body(ex);
  }

  void complete(http::Exchange& ex) override {
    nlohmann::json doc = document();
    std::vector<int64_t> parts;
    std::optional<std::string> checksum;
    if (!parse_request(doc, parts, checksum)) {
      respond_error(ex, 400, "bad_request",
                    "expected {\"parts\": [part numbers], \"checksum_sha256\"?: 64 hex}");
      return;
    }
    std::vector<storage::Manifest> manifests;
    manifests.reserve(parts.size());
    uint64_t total = 0;
    for (int64_t part : parts) {
      Result<storage::Manifest> m = ctx_.store->head(part_ref(ctx_, upload_.id, part));
      if (!m.ok()) {
        if (m.status().code() == Code::not_found) {
          respond_error(ex, 400, "parts_mismatch", fmt::format("part {} was not uploaded", part));
        } else {
          respond_status(ex, m.status());
        }
        return;
      }
      total += m->size;
      manifests.push_back(std::move(m.value()));
    }
    if (total > ctx_.config->max_artifact_bytes) {
      cleanup(parts);
      respond_error(
          ex, 413, "too_large",
          fmt::format("the parts add up to more than {} bytes", ctx_.config->max_artifact_bytes));
      return;
    }
    Status assembled = assemble(manifests, total, std::move(checksum));
    if (assembled.ok() || assembled.code() == Code::digest_mismatch) cleanup(parts);
    if (!assembled.ok()) {
      respond_status(ex, assembled, 422);
      return;
    }
    respond_empty(ex, 204);
  }

  // Part numbers as integers or digit strings (as Tuist accepts), sorted and deduplicated.
  static bool parse_request(const nlohmann::json& doc, std::vector<int64_t>& parts,
                            std::optional<std::string>& checksum) {
    if (!doc.is_object()) return false;
    auto list = doc.find("parts");
    if (list == doc.end() || !list->is_array() || list->empty() ||
        list->size() > static_cast<size_t>(kMaxPartNumber)) {
      return false;
    }
    for (const nlohmann::json& item : *list) {
      std::optional<int64_t> n;
      if (item.is_number_integer()) {
        n = parse_part_number(std::to_string(item.get<int64_t>()));
      } else if (item.is_string()) {
        n = parse_part_number(item.get_ref<const std::string&>());
      }
      if (!n) return false;
      parts.push_back(*n);
    }
    std::sort(parts.begin(), parts.end());
    parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
    auto sum = doc.find("checksum_sha256");
    if (sum != doc.end() && !sum->is_null()) {
      if (!sum->is_string()) return false;
      checksum = parse_sha256(sum->get_ref<const std::string&>());
      if (!checksum) return false;
    }
    return true;
  }

  Status assemble(const std::vector<storage::Manifest>& parts, uint64_t total,
                  std::optional<std::string> checksum) {
    storage::WriteOptions options;
    options.content_type = std::string(kOctetStream);
    options.expected_size = total;
    options.expected_sha256 = std::move(checksum);
    owe_copies(options);
    Result<std::unique_ptr<storage::Writer>> writer = ctx_.store->begin_write(
        make_ref(ctx_, "module", upload_.ns, upload_.key), std::move(options));
    if (!writer.ok()) return writer.status();
    for (const storage::Manifest& part : parts) {
      Result<std::unique_ptr<storage::BodyReader>> reader = ctx_.store->read(part, 0, part.size);
      if (!reader.ok()) return reader.status();
      for (;;) {
        Result<std::unique_ptr<storage::Chunk>> chunk = reader.value()->next();
        if (!chunk.ok()) return chunk.status();
        if (chunk.value() == nullptr) break;
        Status appended = writer.value()->append({chunk.value()->data(), chunk.value()->size()});
        if (!appended.ok()) return appended;
      }
    }
    Status committed = writer.value()->commit().status();
    if (committed.ok()) copies_owed();
    return committed;
  }

  // Best effort: whatever is left behind ages out through eviction.
  void cleanup(const std::vector<int64_t>& parts) {
    for (int64_t part : parts) (void)ctx_.store->remove(part_ref(ctx_, upload_.id, part));
    (void)ctx_.store->remove(state_ref(ctx_, upload_.id));
  }

  Upload upload_;
};

}  // namespace

HandlerPtr route_module(const CacheContext& ctx, const http::Request& request,
                        std::string_view rest) {
  if (request.method == "POST") {
    if (rest == "start") return std::make_unique<StartHandler>(ctx, route::module_upload);
    if (rest == "part") return std::make_unique<PartHandler>(ctx, route::module_upload);
    if (rest == "complete") return std::make_unique<CompleteHandler>(ctx);
    return make_error_handler(ctx, route::module, 405, "method_not_allowed", {}, "GET, HEAD");
  }
  if (rest.empty() || rest.find('/') != std::string_view::npos) {
    return make_error_handler(ctx, route::module, 404, "not_found", "unknown module route");
  }
  std::optional<std::string> ns = query_namespace(request);
  Result<std::string> key = module_key(request);
  if (!ns || !key.ok()) {
    return make_error_handler(ctx, route::module, 400, "bad_request",
                              ns ? key.status().message() : "invalid namespace");
  }
  return make_artifact_handler(
      ctx, kModuleRead,
      ArtifactRequest(make_ref(ctx, "module", std::move(*ns), std::move(key.value()))));
}

}  // namespace meshcache::agent::cache
