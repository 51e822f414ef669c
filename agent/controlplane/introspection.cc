// introspection.cc: reading an introspection reply into an outcome and grants (transport
// thread).
#include "agent/controlplane/introspection.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace meshcache::agent::cp {
namespace {

using Json = nlohmann::json;

// A missing list means no grant; anything but an array of strings makes the reply unusable.
bool read_list(const Json& scope, const char* name, std::vector<std::string>& out) {
  auto it = scope.find(name);
  if (it == scope.end() || it->is_null()) return true;
  if (!it->is_array()) return false;
  for (const auto& v : *it) {
    if (!v.is_string()) return false;
    out.push_back(v.get<std::string>());
  }
  return true;
}

bool read_scope(const Json& grants, const char* name, std::vector<std::string>& read,
                std::vector<std::string>& write) {
  auto it = grants.find(name);
  if (it == grants.end() || it->is_null()) return true;
  if (!it->is_object()) return false;
  return read_list(*it, "read", read) && read_list(*it, "write", write);
}

}  // namespace

Introspection parse_introspection(long status, const std::string& body) {
  Introspection out;
  if (status == 401) {
    out.outcome = Introspection::Outcome::client_rejected;
    out.detail = "the control plane rejected this node's client credential (401)";
    return out;
  }
  if (status != 200) {
    out.detail = status == 0 ? "no answer" : fmt::format("http {}", status);
    return out;
  }
  Json doc = Json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    out.detail = "introspection answer is not a JSON object";
    return out;
  }
  auto active = doc.find("active");
  if (active == doc.end() || !active->is_boolean()) {
    out.detail = "introspection answer has no boolean \"active\"";
    return out;
  }
  if (!active->get<bool>()) {
    out.outcome = Introspection::Outcome::inactive;
    return out;
  }
  auto grants = doc.find("cache_grants");
  if (grants != doc.end() && !grants->is_null()) {
    CacheGrants& g = out.grants;
    if (!grants->is_object() || !read_scope(*grants, "account", g.account_read, g.account_write) ||
        !read_scope(*grants, "project", g.project_read, g.project_write)) {
      out.detail = "introspection answer has malformed cache_grants";
      out.grants = {};
      return out;
    }
  }
  out.outcome = Introspection::Outcome::active;
  return out;
}

}  // namespace meshcache::agent::cp
