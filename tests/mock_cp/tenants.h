// tenants.h: the mock's accounts: each tenant's mesh CA and settings, its mesh members and its
// registration leases. Loop thread only (built on main before the server starts).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"
#include "tests/mock_cp/wire.h"
#include "tls/authority.h"

namespace meshcache::mockcp {

// A self-hosted peer row (account_cache_endpoints in the real control plane).
struct Member {
  bool active = true;
  int64_t enrolled_at_ms = 0;
  int64_t last_seen_at_ms = 0;  // enrolment or heartbeat
  int enrollments = 0;
  int heartbeats = 0;
  std::string not_after;  // of the last certificate issued to it
};

// A registration lease (kura_registered_endpoints), upserted by node_id.
struct Registration {
  std::string registration_id;  // stays the same across upserts
  std::string advertised_http_url;
  int64_t last_heartbeat_at_ms = 0;
  int64_t expires_at_ms = 0;
  int heartbeats = 0;
  json last_body;  // what the node sent last, fields the mock does not interpret included
};

struct Tenant {
  std::string name;
  bool managed_mesh = true;  // false: enrolment answers 503 ca_unavailable (standalone account)
  std::vector<std::string> managed_peers;
  int64_t cert_lifetime_seconds = 0;
  bool omit_renew_after = false;
  tls::Authority ca;
  std::map<std::string, Member> members;              // by node URL, so peers come out sorted
  std::map<std::string, Registration> registrations;  // by node_id

  // Active self-hosted members in URL order, then the managed peers; deduplicated, without
  // `caller` (the asking node's own URL).
  std::vector<std::string> peers_for(std::string_view caller) const;
  std::vector<std::string> member_urls() const;  // active ones, in URL order
  // Settings and CA, for GET /_mock/tenants/{name}.
  json describe() const;
};

class Tenants {
 public:
  explicit Tenants(int64_t default_cert_lifetime_seconds)
      : default_lifetime_(default_cert_lifetime_seconds) {}

  // The tenant, compared case-insensitively as the real control plane compares handles.
  Tenant* find(std::string_view name);
  // The existing tenant, or a new one with its own P-256 mesh CA and the default settings.
  // `created` says which. invalid_argument for a name that cannot be an account handle.
  Result<Tenant*> get_or_create(std::string_view name, bool& created);
  std::vector<const Tenant*> all() const;

 private:
  int64_t default_lifetime_;
  std::map<std::string, Tenant> tenants_;  // by lowercase name
};

}  // namespace meshcache::mockcp
