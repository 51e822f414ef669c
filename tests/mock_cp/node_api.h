// node_api.h: the node-facing endpoints of the control-plane contract (enroll, heartbeat,
// peers, registrations, usage, introspect) with the real status codes and bodies. Loop thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "agent/http/exchange.h"
#include "tests/mock_cp/credentials.h"
#include "tests/mock_cp/endpoint.h"
#include "tests/mock_cp/journal.h"
#include "tests/mock_cp/tenants.h"
#include "tests/mock_cp/tokens.h"
#include "tests/mock_cp/wire.h"

namespace meshcache::mockcp {

struct NodeApiOptions {
  int64_t heartbeat_interval_seconds = 60;
  int64_t lease_seconds = 180;
};

class NodeApi {
 public:
  NodeApi(Tenants& tenants, Credentials& credentials, Tokens& tokens, Journal& journal,
          NodeApiOptions options)
      : tenants_(tenants),
        credentials_(credentials),
        tokens_(tokens),
        journal_(journal),
        options_(options) {}

  Reply handle(Endpoint endpoint, const http::Request& request, std::string_view body);

 private:
  // The tenant of the request's Basic credential, or null (401).
  Tenant* authenticate(const http::Request& request);
  Reply enroll(Tenant& tenant, std::string_view body);
  Reply heartbeat(Tenant& tenant, std::string_view body);
  Reply peers(Tenant& tenant);
  Reply register_lease(Tenant& tenant, std::string_view body);
  Reply usage(Tenant& tenant, std::string_view body);
  Reply introspect(const http::Request& request, std::string_view body);

  Tenants& tenants_;
  Credentials& credentials_;
  Tokens& tokens_;
  Journal& journal_;
  NodeApiOptions options_;
};

}  // namespace meshcache::mockcp
