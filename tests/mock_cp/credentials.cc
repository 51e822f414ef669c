// credentials.cc: issuing, verifying (salted SHA-256, constant-time compare) and revoking
// client credentials (loop thread).
#include "tests/mock_cp/credentials.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>

namespace meshcache::mockcp {

Credentials::Digest Credentials::hash_secret(const std::array<uint8_t, 16>& salt,
                                             std::string_view secret) {
  std::string salted(salt.begin(), salt.end());
  salted.append(secret);
  Digest out{};
  unsigned int length = 0;
  if (EVP_Digest(salted.data(), salted.size(), out.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != out.size()) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

Result<IssuedCredential> Credentials::issue(std::string_view tenant, std::string_view name) {
  if (name.empty() || name.size() > 64 || name.find_first_of("\r\n") != std::string_view::npos) {
    return Status(Code::invalid_argument,
                  "a credential name is 1-64 characters without line breaks");
  }
  bool taken = std::any_of(by_id_.begin(), by_id_.end(), [&](const auto& entry) {
    return iequals(entry.second.tenant, tenant) && entry.second.name == name;
  });
  if (taken) return Status(Code::conflict, "the tenant already has a credential with this name");

  IssuedCredential issued{"cache_" + random_base64url(16), random_base64url(32)};
  Credential c;
  c.tenant.assign(tenant);
  c.name.assign(name);
  std::vector<uint8_t> salt = random_bytes(c.salt.size());
  std::copy(salt.begin(), salt.end(), c.salt.begin());
  c.hash = hash_secret(c.salt, issued.client_secret);
  c.last_four = issued.client_secret.substr(issued.client_secret.size() - 4);
  c.created_at_ms = now_unix_ms();
  by_id_.emplace(issued.client_id, std::move(c));
  return issued;
}

bool Credentials::revoke(std::string_view client_id) {
  auto it = by_id_.find(client_id);
  if (it == by_id_.end()) return false;
  by_id_.erase(it);
  return true;
}

std::optional<std::string> Credentials::verify(std::string_view client_id,
                                               std::string_view secret) {
  static const std::array<uint8_t, 16> kDummySalt{};
  static const Digest kDummyHash{};
  auto it = by_id_.find(client_id);
  const bool known = it != by_id_.end();
  Digest presented = hash_secret(known ? it->second.salt : kDummySalt, secret);
  const Digest& stored = known ? it->second.hash : kDummyHash;
  bool match = CRYPTO_memcmp(presented.data(), stored.data(), stored.size()) == 0;
  if (!known || !match) return std::nullopt;
  it->second.last_used_at_ms = now_unix_ms();
  return it->second.tenant;
}

json Credentials::describe() const {
  json out = json::array();
  for (const auto& [id, c] : by_id_) {
    out.push_back({{"client_id", id},
                   {"tenant", c.tenant},
                   {"name", c.name},
                   {"secret_last_four", c.last_four},
                   {"created_at_unix_ms", c.created_at_ms},
                   {"last_used_at_unix_ms", c.last_used_at_ms}});
  }
  return out;
}

}  // namespace meshcache::mockcp
