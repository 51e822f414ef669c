// wire.cc: the peer plane's byte formats (batch frames, backfill frames, listing and bodies
// JSON, query encoding), parsed strictly: any bytes give a value or a precise error. Any thread.
#include "replication/wire.h"

#include <fmt/format.h>

#include <limits>

#include "replication/wire_json.h"

namespace meshcache::replication::wire {
namespace {

using nlohmann::json;

// Metas are flat objects; a few nested unknown fields are tolerated for newer senders.
constexpr size_t kMetaDepth = 4;
constexpr size_t kMetaValues = 256;
// A listing or bodies document: {"entries":[{...}]}, about six values an entry.
constexpr size_t kListDepth = 6;
constexpr size_t kValuesPerEntry = 16;
constexpr size_t kMaxListedEntries = 1 << 16;  // a client page, far above kListMaxLimit
constexpr size_t kMaxIdBytes = std::numeric_limits<uint16_t>::max();

constexpr char kHex[] = "0123456789abcdef";

Status invalid(std::string message) { return Status(Code::invalid_argument, std::move(message)); }

void put_be(uint8_t* out, uint64_t v, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out[i] = static_cast<uint8_t>(v >> (8 * (bytes - 1 - i)));
}

uint64_t get_be(const uint8_t* in, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v = (v << 8) | in[i];
  return v;
}

// Not storage::to_hex: the fuzz build compiles this file without the storage library.
std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A JSON integer in [0, INT64_MAX]: versions are u64 on the wire and int64 here.
std::optional<int64_t> version_of(const json& v) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return v.get<int64_t>();
  return std::nullopt;
}

// A field that must be a string when present. nullptr = absent (or null).
Result<const std::string*> optional_string(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return static_cast<const std::string*>(nullptr);
  if (!it->is_string()) return invalid(fmt::format("{} is not a string", name));
  return it->get_ptr<const std::string*>();
}

Result<std::string> required_string(const json& obj, const char* name) {
  auto field = optional_string(obj, name);
  if (!field.ok()) return field.status();
  if (*field == nullptr) return invalid(fmt::format("missing {}", name));
  return **field;
}

// The meta object shared by batch items and backfill frames. `with_version`: batch metas carry
// version_ms (absent = 0); frames carry it in their header, so any meta version is ignored.
Result<ArtifactMeta> meta_from_json(const json& doc, bool with_version) {
  if (!doc.is_object()) return invalid("meta is not a JSON object");
  ArtifactMeta meta;
  for (auto [name, out] : {std::pair{"producer", &meta.producer}, std::pair{"key", &meta.key},
                           std::pair{"content_type", &meta.content_type}}) {
    auto value = required_string(doc, name);
    if (!value.ok()) return value.status();
    *out = std::move(value).value();
  }
  auto ns = optional_string(doc, "namespace_id");
  if (!ns.ok()) return ns.status();
  if (*ns != nullptr) meta.namespace_id = **ns;
  for (auto [name, out] : {std::pair{"branch", &meta.branch}, std::pair{"trunk", &meta.trunk},
                           std::pair{"origin_region", &meta.origin_region}}) {
    auto value = optional_string(doc, name);
    if (!value.ok()) return value.status();
    if (*value != nullptr) *out = **value;
  }
  if (with_version) {
    auto it = doc.find("version_ms");
    if (it != doc.end() && !it->is_null()) {
      std::optional<int64_t> v = version_of(*it);
      if (!v) return invalid("version_ms is not a u64");
      meta.version_ms = *v;
    }
  }
  return meta;
}

json meta_to_json(const ArtifactMeta& meta, bool with_version) {
  json doc = {{"producer", meta.producer},
              {"namespace_id", meta.namespace_id},
              {"key", meta.key},
              {"content_type", meta.content_type}};
  if (with_version) doc["version_ms"] = meta.version_ms;
  if (meta.branch) doc["branch"] = *meta.branch;
  if (with_version && meta.trunk) doc["trunk"] = *meta.trunk;
  if (meta.origin_region) doc["origin_region"] = *meta.origin_region;
  return doc;
}

// {"entries":[...]} with a bound on the entries, as parsed JSON.
Result<const json*> entries_of(const std::optional<json>& doc, size_t max_entries) {
  if (!doc) return invalid("not a JSON document within bounds");
  if (!doc->is_object()) return invalid("not a JSON object");
  auto it = doc->find("entries");
  if (it == doc->end() || !it->is_array()) return invalid("entries is not an array");
  if (it->size() > max_entries) {
    return invalid(fmt::format("more than {} entries", max_entries));
  }
  return &*it;
}

struct EntryFields {
  std::string kind;
  std::string id;
  int64_t version_ms = 0;
  std::optional<uint64_t> size;
};

// One {record_kind, record_id, version_ms, size?} object. `size` is kept only when asked.
Result<EntryFields> entry_of(const json& e, size_t index, bool want_size) {
  auto fail = [index](std::string_view what) {
    return invalid(fmt::format("entry {}: {}", index, what));
  };
  if (!e.is_object()) return fail("not an object");
  EntryFields f;
  auto kind = required_string(e, "record_kind");
  if (!kind.ok()) return fail(kind.status().message());
  auto id = required_string(e, "record_id");
  if (!id.ok()) return fail(id.status().message());
  f.kind = std::move(kind).value();
  f.id = std::move(id).value();
  auto version = e.find("version_ms");
  if (version == e.end()) return fail("missing version_ms");
  std::optional<int64_t> v = version_of(*version);
  if (!v) return fail("version_ms is not a u64");
  f.version_ms = *v;
  if (want_size) {
    auto size = e.find("size");
    if (size != e.end() && !size->is_null()) {
      if (!size->is_number_unsigned()) return fail("size is not a u64");
      f.size = size->get<uint64_t>();
    }
  }
  return f;
}

}  // namespace

std::string url_encode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == '~';
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back("0123456789ABCDEF"[c >> 4]);
      out.push_back("0123456789ABCDEF"[c & 15]);
    }
  }
  return out;
}

// --- Batch frames.

void append_batch_item(std::string& out, const ArtifactMeta& meta, std::string_view body) {
  std::string text = dump_json(meta_to_json(meta, true));
  uint8_t lengths[8];
  put_be(lengths, text.size(), 4);
  put_be(lengths + 4, body.size(), 4);
  out.append(reinterpret_cast<const char*>(lengths), sizeof(lengths));
  out.append(text);
  out.append(body);
}

Result<std::vector<BatchItem>> parse_batch(std::string_view body) {
  std::vector<BatchItem> items;
  const auto* bytes = reinterpret_cast<const uint8_t*>(body.data());
  size_t pos = 0;
  while (pos < body.size()) {
    if (items.size() == kMaxBatchItems) {
      return Status(Code::too_large, fmt::format("more than {} items", kMaxBatchItems));
    }
    if (body.size() - pos < 8)
      return invalid(fmt::format("item {}: truncated frame", items.size()));
    uint64_t meta_len = get_be(bytes + pos, 4);
    uint64_t body_len = get_be(bytes + pos + 4, 4);
    pos += 8;
    // Both lengths are u32, so their sum cannot overflow 64 bits.
    if (meta_len + body_len > body.size() - pos) {
      return invalid(fmt::format("item {}: lengths run past the end of the batch", items.size()));
    }
    std::optional<json> doc = parse_json(body.substr(pos, meta_len), kMetaDepth, kMetaValues);
    if (!doc) return invalid(fmt::format("item {}: meta is not valid JSON", items.size()));
    auto meta = meta_from_json(*doc, true);
    if (!meta.ok()) {
      return invalid(fmt::format("item {}: {}", items.size(), meta.status().message()));
    }
    pos += meta_len;
    items.push_back({std::move(meta).value(), body.substr(pos, body_len)});
    pos += body_len;
  }
  return items;
}

std::string encode_outcomes(std::span<const std::string_view> outcomes) {
  std::string out = "{\"outcomes\":[";
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(dump_json(outcomes[i]));
  }
  out.append("]}");
  return out;
}

Result<std::vector<std::string>> parse_outcomes(std::string_view text) {
  std::optional<json> doc = parse_json(text, 3, kMaxBatchItems * 4);
  if (!doc || !doc->is_object()) return invalid("outcomes reply is not a JSON object");
  auto it = doc->find("outcomes");
  if (it == doc->end() || !it->is_array()) return invalid("outcomes is not an array");
  std::vector<std::string> out;
  out.reserve(it->size());
  for (const json& v : *it) {
    if (!v.is_string()) return invalid("an outcome is not a string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// --- Backfill listing.

std::string_view kind_name(storage::BackfillKind kind) {
  switch (kind) {
    case storage::BackfillKind::segment:
      return "segment_artifact";
    case storage::BackfillKind::inline_body:
      return "inline_artifact";
    case storage::BackfillKind::tombstone:
      return "namespace_tombstone";
  }
  return "unknown";
}

std::optional<storage::BackfillKind> parse_kind(std::string_view name) {
  for (auto kind : {storage::BackfillKind::segment, storage::BackfillKind::inline_body,
                    storage::BackfillKind::tombstone}) {
    if (kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string encode_listing(const storage::BackfillPage& page) {
  json entries = json::array();
  for (const auto& e : page.entries) {
    json entry = {{"record_kind", kind_name(e.kind)},
                  {"record_id", e.record_id},
                  {"version_ms", e.version_ms}};
    if (e.kind != storage::BackfillKind::tombstone) entry["size"] = e.size;
    entries.push_back(std::move(entry));
  }
  json doc = {{"entries", std::move(entries)}, {"next_after", nullptr}};
  if (page.next_after) doc["next_after"] = to_hex(*page.next_after);
  return dump_json(doc);
}

Result<Listing> parse_listing(std::string_view text) {
  std::optional<json> doc = parse_json(text, kListDepth, kMaxListedEntries * kValuesPerEntry);
  auto entries = entries_of(doc, kMaxListedEntries);
  if (!entries.ok()) return invalid("bad listing: " + entries.status().message());
  Listing listing;
  listing.entries.reserve((*entries)->size());
  for (size_t i = 0; i < (*entries)->size(); ++i) {
    auto f = entry_of((**entries)[i], i, true);
    if (!f.ok()) return invalid("bad listing: " + f.status().message());
    listing.entries.push_back({std::move(f->kind), std::move(f->id), f->version_ms, f->size});
  }
  auto next = optional_string(*doc, "next_after");
  if (!next.ok()) return invalid("bad listing: " + next.status().message());
  if (*next != nullptr) listing.next_after = **next;
  return listing;
}

Result<std::string> decode_after(std::string_view hex) {
  if (hex.size() % 2 != 0) return invalid(fmt::format("Invalid after: odd hex length"));
  std::string raw;
  raw.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_digit(hex[i]);
    int lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return invalid("Invalid after: not hex");
    raw.push_back(static_cast<char>(hi * 16 + lo));
  }
  if (!raw.empty() && raw.compare(0, kIndexPrefix.size(), kIndexPrefix) != 0) {
    return invalid(fmt::format("Invalid after: not a key under {}", kIndexPrefix));
  }
  return raw;
}

// --- Backfill bodies request.

std::string encode_bodies_request(std::span<const ListedEntry> entries) {
  json list = json::array();
  for (const auto& e : entries) {
    json entry = {
        {"record_kind", e.record_kind}, {"record_id", e.record_id}, {"version_ms", e.version_ms}};
    if (e.size) entry["size"] = *e.size;
    list.push_back(std::move(entry));
  }
  return dump_json(json{{"entries", std::move(list)}});
}

Result<std::vector<WantedRecord>> parse_bodies_request(std::string_view text) {
  std::optional<json> doc = parse_json(text, kListDepth, kMaxBodiesEntries * kValuesPerEntry);
  auto entries = entries_of(doc, kMaxBodiesEntries);
  if (!entries.ok()) return entries.status();
  std::vector<WantedRecord> wanted;
  wanted.reserve((*entries)->size());
  for (size_t i = 0; i < (*entries)->size(); ++i) {
    auto f = entry_of((**entries)[i], i, false);
    if (!f.ok()) return f.status();
    std::optional<storage::BackfillKind> kind = parse_kind(f->kind);
    if (!kind || *kind == storage::BackfillKind::tombstone) {
      return invalid(fmt::format("entry {}: record_kind {} has no body", i, f->kind));
    }
    if (f->id.empty()) return invalid(fmt::format("entry {}: empty record_id", i));
    // Every answer frame echoes the id behind a u16 length.
    if (f->id.size() > kMaxIdBytes) return invalid(fmt::format("entry {}: record_id too long", i));
    wanted.push_back({*kind, std::move(f->id), f->version_ms});
  }
  return wanted;
}

// --- Backfill frames.

void encode_frame_header(const FrameHeader& h, uint8_t out[kFrameHeaderBytes]) {
  out[0] = h.kind;
  out[1] = static_cast<uint8_t>(h.disposition);
  put_be(out + 2, h.id_len, 2);
  put_be(out + 4, h.version_ms, 8);
  put_be(out + 12, h.meta_len, 2);
  put_be(out + 14, h.body_len, 8);
}

Result<FrameHeader> decode_frame_header(std::span<const uint8_t, kFrameHeaderBytes> bytes) {
  const uint8_t* in = bytes.data();
  if (in[1] > static_cast<uint8_t>(Disposition::fetch_individually)) {
    return invalid(fmt::format("frame: unknown disposition {}", in[1]));
  }
  FrameHeader h;
  h.kind = in[0];
  h.disposition = static_cast<Disposition>(in[1]);
  h.id_len = static_cast<uint16_t>(get_be(in + 2, 2));
  h.version_ms = get_be(in + 4, 8);
  h.meta_len = static_cast<uint16_t>(get_be(in + 12, 2));
  h.body_len = get_be(in + 14, 8);
  if (h.id_len == 0) return invalid("frame: empty record_id");
  if (h.disposition == Disposition::present) {
    if (h.meta_len == 0) return invalid("frame: Present without meta");
  } else if (h.meta_len != 0 || h.body_len != 0) {
    return invalid("frame: Absent or FetchIndividually with meta or body");
  }
  return h;
}

std::string frame_prefix(const FrameHeader& h, std::string_view record_id, std::string_view meta) {
  // The lengths come from what follows, so they cannot disagree with it (callers keep both
  // within u16: ids by parse_bodies_request, metas by their size check).
  FrameHeader full = h;
  full.id_len = static_cast<uint16_t>(record_id.size());
  full.meta_len = static_cast<uint16_t>(meta.size());
  std::string out(kFrameHeaderBytes, '\0');
  encode_frame_header(full, reinterpret_cast<uint8_t*>(out.data()));
  out.append(record_id);
  out.append(meta);
  return out;
}

std::string encode_frame_meta(const ArtifactMeta& meta) {
  return dump_json(meta_to_json(meta, false));
}

Result<ArtifactMeta> parse_frame_meta(std::string_view text) {
  std::optional<json> doc = parse_json(text, kMetaDepth, kMetaValues);
  if (!doc) return invalid("frame meta is not valid JSON");
  return meta_from_json(*doc, false);
}

}  // namespace meshcache::replication::wire
