// admin_api.h: the test-facing API under /_mock/ (JSON in and out, no auth: the mock is for
// loopback and CI use only): tenants (and leaves signed by their CA), credentials, tokens,
// members, faults and what nodes sent.
// Loop thread.
#pragma once

#include <string_view>

#include "agent/http/exchange.h"
#include "tests/mock_cp/mock_state.h"
#include "tests/mock_cp/wire.h"

namespace meshcache::mockcp {

class AdminApi {
 public:
  explicit AdminApi(MockState& state) : state_(state) {}

  // Any request whose path starts with /_mock/.
  Reply handle(const http::Request& request, std::string_view body);

 private:
  Reply upsert_tenant(const json& doc);
  Reply get_tenant(std::string_view name);
  Reply issue_leaf(std::string_view tenant, const json& doc);
  Reply issue_credential(const json& doc);
  Reply add_token(const json& doc);
  Reply remove_member(const json& doc);
  Reply set_faults(const json& doc);
  Reply members(const http::Request& request);
  Reply registrations();

  MockState& state_;
};

}  // namespace meshcache::mockcp
