// tenants.cc: tenant creation (one mesh CA each), peer lists and tenant descriptions (loop
// thread; main before the server starts).
#include "tests/mock_cp/tenants.h"

#include <algorithm>
#include <set>

namespace meshcache::mockcp {
namespace {

// As long as the real per-account CA (1825 days): no test outlives it.
constexpr int64_t kCaLifetimeSeconds = 1825LL * 24 * 3600;

bool valid_handle(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

}  // namespace

std::vector<std::string> Tenant::member_urls() const {
  std::vector<std::string> urls;
  for (const auto& [url, member] : members) {
    if (member.active) urls.push_back(url);
  }
  return urls;
}

std::vector<std::string> Tenant::peers_for(std::string_view caller) const {
  std::vector<std::string> peers;
  std::set<std::string, std::less<>> seen;
  auto add = [&](const std::string& url) {
    if (url != caller && seen.insert(url).second) peers.push_back(url);
  };
  for (const auto& url : member_urls()) add(url);
  for (const auto& url : managed_peers) add(url);
  return peers;
}

json Tenant::describe() const {
  return json{{"name", name},
              {"managed_mesh", managed_mesh},
              {"managed_peers", managed_peers},
              {"cert_lifetime_seconds", cert_lifetime_seconds},
              {"omit_renew_after", omit_renew_after},
              {"members", member_urls()},
              {"ca_certificate", ca.cert_pem}};
}

Tenant* Tenants::find(std::string_view name) {
  auto it = tenants_.find(lowercase(name));
  return it == tenants_.end() ? nullptr : &it->second;
}

Result<Tenant*> Tenants::get_or_create(std::string_view name, bool& created) {
  created = false;
  if (Tenant* existing = find(name)) return existing;
  if (!valid_handle(name)) {
    return Status(Code::invalid_argument,
                  "a tenant name is 1-64 characters among letters, digits, '-', '_' and '.'");
  }
  Result<tls::Authority> ca =
      tls::create_authority("meshcache mock mesh CA " + std::string(name), kCaLifetimeSeconds);
  if (!ca.ok()) return ca.status();
  Tenant tenant;
  tenant.name.assign(name);
  tenant.cert_lifetime_seconds = default_lifetime_;
  tenant.ca = std::move(ca).value();
  created = true;
  return &tenants_.emplace(lowercase(name), std::move(tenant)).first->second;
}

std::vector<const Tenant*> Tenants::all() const {
  std::vector<const Tenant*> out;
  for (const auto& [key, tenant] : tenants_) out.push_back(&tenant);
  return out;
}

}  // namespace meshcache::mockcp
