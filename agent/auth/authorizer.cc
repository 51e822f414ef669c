// authorizer.cc: client auth modes `none` and `tokens`, and make() for all three. make() runs on
// the main thread at startup (and throws on a bad tokens file); check() runs on the I/O loop
// threads, reads only the immutable token table, and keeps no per-token cache.
//
// Tokens file (MESHCACHE_AUTH_TOKENS_FILE), JSON:
//   {"tokens": [
//     {"name": "ci", "sha256": "<64 hex: SHA-256 of the token>",
//      "read": ["*"], "write": ["ios-app", ""]}
//   ]}
// "read"/"write" list namespaces ("" is tenant scope, used by ccache and Bazel without an
// instance); "*" matches every namespace; write implies read. Only hashes are stored, so the
// file never holds a usable secret. Clients send `Authorization: Bearer <token>` or
// `Basic base64(user:token)` (standard or URL-safe base64; the user name is ignored).
#include "agent/auth/authorizer.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "agent/auth/control_plane_authorizer.h"
#include "agent/auth/credentials.h"

namespace meshcache::agent {
namespace {

using Digest = std::array<uint8_t, SHA256_DIGEST_LENGTH>;

class AllowAll final : public Authorizer {
 public:
  AuthDecision check(const http::Request&, RequestCredential&, std::string_view, std::string_view,
                     bool) override {
    return {};
  }
  std::string_view mode() const override { return "none"; }
};

struct Grants {
  bool all = false;
  std::vector<std::string> namespaces;

  bool covers(std::string_view ns) const {
    return all || std::find(namespaces.begin(), namespaces.end(), ns) != namespaces.end();
  }
};

struct TokenEntry {
  std::string name;
  Digest digest{};
  Grants read;
  Grants write;
};

std::optional<Digest> parse_hex_digest(const std::string& hex) {
  Digest digest{};
  size_t length = 0;
  if (hex.size() != 2 * digest.size() ||
      OPENSSL_hexstr2buf_ex(digest.data(), digest.size(), &length, hex.c_str(), '\0') != 1 ||
      length != digest.size()) {
    return std::nullopt;
  }
  return digest;
}

class TokenAuthorizer final : public Authorizer {
 public:
  explicit TokenAuthorizer(std::vector<TokenEntry> entries) : entries_(std::move(entries)) {}

  AuthDecision check(const http::Request& request, RequestCredential& credential,
                     std::string_view /*tenant*/, std::string_view ns, bool write) override {
    read_credential(request, credential);
    if (credential.state != RequestCredential::State::present) return {401, kCredentialRequired};
    // Every entry is compared, in constant time, so timing says nothing about which matched.
    const TokenEntry* match = nullptr;
    for (const TokenEntry& entry : entries_) {
      if (CRYPTO_memcmp(entry.digest.data(), credential.sha256.data(), entry.digest.size()) == 0) {
        match = &entry;
      }
    }
    if (match == nullptr) return {401, "unknown token"};
    bool allowed = match->write.covers(ns) || (!write && match->read.covers(ns));
    if (!allowed) {
      return {403, fmt::format("token \"{}\" may not {} this namespace", match->name,
                               write ? "write" : "read")};
    }
    return {};
  }

  std::string_view mode() const override { return "tokens"; }

 private:
  const std::vector<TokenEntry> entries_;
};

Grants parse_grants(const nlohmann::json& entry, const char* field, const std::string& where) {
  Grants grants;
  auto list = entry.find(field);
  if (list == entry.end()) return grants;
  if (!list->is_array())
    throw std::runtime_error(fmt::format("{}: \"{}\" must be an array", where, field));
  for (const nlohmann::json& ns : *list) {
    if (!ns.is_string()) {
      throw std::runtime_error(fmt::format("{}: \"{}\" must list strings", where, field));
    }
    if (ns.get_ref<const std::string&>() == "*") {
      grants.all = true;
    } else {
      grants.namespaces.push_back(ns.get<std::string>());
    }
  }
  return grants;
}

std::vector<TokenEntry> load_tokens(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    throw std::runtime_error(fmt::format("cannot read the auth tokens file {}", path));
  }
  std::stringstream text;
  text << file.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded()) {
    throw std::runtime_error(fmt::format("auth tokens file {} is not valid JSON", path));
  }
  auto tokens = doc.is_object() ? doc.find("tokens") : doc.end();
  if (!doc.is_object() || tokens == doc.end() || !tokens->is_array()) {
    throw std::runtime_error(
        fmt::format("auth tokens file {} must be {{\"tokens\": [...]}}", path));
  }
  std::vector<TokenEntry> entries;
  for (size_t i = 0; i < tokens->size(); ++i) {
    const nlohmann::json& item = (*tokens)[i];
    std::string where = fmt::format("auth tokens file {}, token #{}", path, i + 1);
    if (!item.is_object()) throw std::runtime_error(where + ": must be an object");
    auto name = item.find("name");
    auto sha = item.find("sha256");
    if (name == item.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
      throw std::runtime_error(where + ": needs a non-empty \"name\"");
    }
    std::optional<Digest> digest;
    if (sha != item.end() && sha->is_string()) digest = parse_hex_digest(sha->get<std::string>());
    if (!digest) {
      throw std::runtime_error(where + ": \"sha256\" must be the 64-hex SHA-256 of the token");
    }
    for (const TokenEntry& seen : entries) {
      if (seen.digest == *digest) {
        throw std::runtime_error(fmt::format("{}: same token hash as \"{}\"", where, seen.name));
      }
    }
    entries.push_back({name->get<std::string>(), *digest, parse_grants(item, "read", where),
                       parse_grants(item, "write", where)});
  }
  if (entries.empty()) {
    throw std::runtime_error(fmt::format("auth tokens file {} lists no tokens", path));
  }
  return entries;
}

}  // namespace

std::unique_ptr<Authorizer> Authorizer::make(const Config& config, cp::Introspector* introspector) {
  switch (config.auth) {
    case AuthMode::none:
      return std::make_unique<AllowAll>();
    case AuthMode::tokens:
      if (!config.auth_tokens_file || config.auth_tokens_file->empty()) {
        throw std::runtime_error("MESHCACHE_AUTH=tokens needs MESHCACHE_AUTH_TOKENS_FILE");
      }
      return std::make_unique<TokenAuthorizer>(load_tokens(*config.auth_tokens_file));
    case AuthMode::control_plane: {
      if (introspector == nullptr) {
        throw std::runtime_error(
            "MESHCACHE_AUTH=control-plane needs the control-plane client: set "
            "MESHCACHE_CONTROL_PLANE_URL, MESHCACHE_CONTROL_PLANE_CLIENT_ID and its secret");
      }
      AuthCacheOptions options;
      options.allow_ttl = config.auth_cache_ttl;
      return make_control_plane_authorizer(options, *introspector);
    }
  }
  throw std::logic_error("unknown auth mode");
}

}  // namespace meshcache::agent
