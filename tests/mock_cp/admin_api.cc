// admin_api.cc: routing and handlers of the /_mock/ admin API (loop thread).
#include "tests/mock_cp/admin_api.h"

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tls/key_pair.h"

namespace meshcache::mockcp {
namespace {

// A leaf may not outlive its tenant CA (1825 days).
constexpr int64_t kMaxCertLifetimeSeconds = 1825LL * 24 * 3600;

Reply bad_request(std::string_view message) { return error_reply(400, "invalid_payload", message); }

Reply not_found(std::string_view message) { return error_reply(404, "not_found", message); }

Reply from_status(const Status& status) {
  switch (status.code()) {
    case Code::invalid_argument:
      return bad_request(status.message());
    case Code::conflict:
      return error_reply(409, "conflict", status.message());
    default:
      return error_reply(500, "internal_server_error", status.message());
  }
}

Reply method_not_allowed(std::string_view allow) {
  Reply reply = error_reply(405, "method_not_allowed", "allowed: " + std::string(allow));
  reply.headers.push_back({"allow", std::string(allow)});
  return reply;
}

// Optional boolean `field`: false when present with another type.
bool read_bool(const json& doc, const char* field, std::optional<bool>& out) {
  auto it = doc.find(field);
  if (it == doc.end() || it->is_null()) return true;
  if (!it->is_boolean()) return false;
  out = it->get<bool>();
  return true;
}

}  // namespace

Reply AdminApi::handle(const http::Request& request, std::string_view body) {
  std::string_view path = std::string_view(request.path).substr(std::string_view("/_mock").size());
  const std::string& method = request.method;
  const bool get = method == "GET" || method == "HEAD";
  const bool post = method == "POST";
  const bool del = method == "DELETE";
  // Every POST takes a JSON object; `handler` is a member or a callable (AdminApi&, const json&).
  auto with_doc = [&](auto handler) {
    std::optional<json> doc = parse_json(body.empty() ? std::string_view("{}") : body);
    if (!doc || !doc->is_object()) return bad_request("the body must be a JSON object");
    return std::invoke(handler, *this, *doc);
  };
  auto tail = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (!path.starts_with(prefix) || path.size() == prefix.size()) return std::nullopt;
    return path.substr(prefix.size());
  };

  if (path == "/tenants") {
    if (post) return with_doc(&AdminApi::upsert_tenant);
    if (!get) return method_not_allowed("GET, POST");
    json list = json::array();
    for (const Tenant* t : state_.tenants.all()) list.push_back(t->describe());
    return json_reply(200, json{{"tenants", list}});
  }
  if (auto name = tail("/tenants/")) {
    constexpr std::string_view kLeaf = "/leaf";
    if (name->ends_with(kLeaf)) {
      if (!post) return method_not_allowed("POST");
      std::string_view tenant = name->substr(0, name->size() - kLeaf.size());
      return with_doc(
          [tenant](AdminApi& api, const json& doc) { return api.issue_leaf(tenant, doc); });
    }
    return get ? get_tenant(*name) : method_not_allowed("GET");
  }
  if (path == "/credentials") {
    if (post) return with_doc(&AdminApi::issue_credential);
    if (!get) return method_not_allowed("GET, POST");
    return json_reply(200, json{{"credentials", state_.credentials.describe()}});
  }
  if (auto client_id = tail("/credentials/")) {
    if (!del) return method_not_allowed("DELETE");
    return state_.credentials.revoke(*client_id) ? json_reply(200, json{{"revoked", true}})
                                                 : not_found("no such client_id");
  }
  if (path == "/tokens") return post ? with_doc(&AdminApi::add_token) : method_not_allowed("POST");
  if (auto token = tail("/tokens/")) {
    if (!del) return method_not_allowed("DELETE");
    return state_.tokens.revoke(*token) ? json_reply(200, json{{"revoked", true}})
                                        : not_found("no such token");
  }
  if (path == "/members") return get ? members(request) : method_not_allowed("GET");
  if (path == "/members/remove") {
    return post ? with_doc(&AdminApi::remove_member) : method_not_allowed("POST");
  }
  if (path == "/faults") {
    if (post) return with_doc(&AdminApi::set_faults);
    return get ? json_reply(200, state_.faults.describe()) : method_not_allowed("GET, POST");
  }
  if (path == "/requests") {
    if (!get) return method_not_allowed("GET");
    std::optional<std::string> endpoint = request.query_param("endpoint");
    return json_reply(200,
                      state_.journal.requests(endpoint ? std::optional<std::string_view>(*endpoint)
                                                       : std::nullopt));
  }
  if (path == "/reset-log") {
    if (!post) return method_not_allowed("POST");
    state_.journal.reset();
    return json_reply(200, json{{"reset", true}});
  }
  if (path == "/registrations") return get ? registrations() : method_not_allowed("GET");
  if (path == "/usage") {
    return get ? json_reply(200, state_.journal.usage()) : method_not_allowed("GET");
  }
  return not_found("no such admin route");
}

Reply AdminApi::upsert_tenant(const json& doc) {
  // Everything is checked before anything changes: a bad request leaves the tenant as it was.
  std::optional<std::string> name = string_field(doc, "name");
  if (!name) return bad_request("\"name\" is required");
  std::optional<bool> managed_mesh;
  std::optional<bool> omit_renew_after;
  if (!read_bool(doc, "managed_mesh", managed_mesh) ||
      !read_bool(doc, "omit_renew_after", omit_renew_after)) {
    return bad_request("\"managed_mesh\" and \"omit_renew_after\" are booleans");
  }
  std::optional<std::vector<std::string>> managed_peers;
  if (auto it = doc.find("managed_peers"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return bad_request("\"managed_peers\" is a list of URLs");
    managed_peers.emplace();
    for (const auto& url : *it) {
      if (!url.is_string() || !parse_http_url(url.get<std::string>())) {
        return bad_request("\"managed_peers\" holds http(s) URLs");
      }
      managed_peers->push_back(url.get<std::string>());
    }
  }
  std::optional<int64_t> lifetime;
  if (auto it = doc.find("cert_lifetime_seconds"); it != doc.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 ||
        it->get<int64_t>() > kMaxCertLifetimeSeconds) {
      return bad_request("\"cert_lifetime_seconds\" is an integer from 1 to 157680000");
    }
    lifetime = it->get<int64_t>();
  }

  bool created = false;
  Result<Tenant*> tenant = state_.tenants.get_or_create(*name, created);
  if (!tenant.ok()) return from_status(tenant.status());
  Tenant& t = **tenant;
  if (managed_mesh) t.managed_mesh = *managed_mesh;
  if (omit_renew_after) t.omit_renew_after = *omit_renew_after;
  if (managed_peers) t.managed_peers = std::move(*managed_peers);
  if (lifetime) t.cert_lifetime_seconds = *lifetime;
  return json_reply(created ? 201 : 200, t.describe());
}

Reply AdminApi::get_tenant(std::string_view name) {
  Tenant* tenant = state_.tenants.find(name);
  return tenant ? json_reply(200, tenant->describe()) : not_found("no such tenant");
}

// A node identity signed by the tenant's mesh CA without enrolling, for nodes that answer under
// several names (a gateway: its node URL's host and its public one) or for scripted peers.
Reply AdminApi::issue_leaf(std::string_view tenant_name, const json& doc) {
  Tenant* tenant = state_.tenants.find(tenant_name);
  if (tenant == nullptr) return not_found("no such tenant");
  auto hosts_it = doc.find("hosts");
  if (hosts_it == doc.end() || !hosts_it->is_array() || hosts_it->empty())
    return bad_request("\"hosts\" is a non-empty list of host names or IP addresses");
  std::vector<std::string> hosts;
  for (const auto& host : *hosts_it) {
    if (!host.is_string()) return bad_request("\"hosts\" holds strings");
    hosts.push_back(host.get<std::string>());
  }
  int64_t lifetime = tenant->cert_lifetime_seconds;
  if (auto it = doc.find("lifetime_seconds"); it != doc.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 ||
        it->get<int64_t>() > kMaxCertLifetimeSeconds) {
      return bad_request("\"lifetime_seconds\" is an integer from 1 to 157680000");
    }
    lifetime = it->get<int64_t>();
  }
  Result<tls::PkeyPtr> key = tls::generate_p256_key();
  if (!key.ok()) return from_status(key.status());
  Result<std::string> leaf =
      tls::issue_leaf(tenant->ca, key->get(), hosts.front(), lifetime, std::span(hosts).subspan(1));
  if (!leaf.ok()) return from_status(leaf.status());
  Result<std::string> key_pem = tls::private_key_pem(key->get());
  if (!key_pem.ok()) return from_status(key_pem.status());
  return json_reply(
      201,
      json{{"certificate", *leaf}, {"key", *key_pem}, {"ca_certificate", tenant->ca.cert_pem}});
}

Reply AdminApi::issue_credential(const json& doc) {
  std::optional<std::string> tenant_name = string_field(doc, "tenant");
  std::optional<std::string> name = string_field(doc, "name");
  if (!tenant_name || !name) return bad_request("\"tenant\" and \"name\" are required");
  Tenant* tenant = state_.tenants.find(*tenant_name);
  if (tenant == nullptr) return not_found("no such tenant: create it with POST /_mock/tenants");
  Result<IssuedCredential> issued = state_.credentials.issue(tenant->name, *name);
  if (!issued.ok()) return from_status(issued.status());
  return json_reply(
      201, json{{"client_id", issued->client_id}, {"client_secret", issued->client_secret}});
}

Reply AdminApi::add_token(const json& doc) {
  std::optional<std::string> token;
  if (auto it = doc.find("token"); it != doc.end() && !it->is_null()) {
    if (!it->is_string()) return bad_request("\"token\" is a string");
    token = it->get<std::string>();
  }
  Result<Grants> grants = Grants::from_json(doc.value("grants", json::object()));
  if (!grants.ok()) return from_status(grants.status());
  Result<std::string> added = state_.tokens.add(std::move(token), std::move(grants).value(),
                                                string_field(doc, "sub").value_or("mock-token"));
  if (!added.ok()) return from_status(added.status());
  return json_reply(201, json{{"token", *added}});
}

Reply AdminApi::remove_member(const json& doc) {
  std::optional<std::string> tenant_name = string_field(doc, "tenant");
  std::optional<std::string> node_url = string_field(doc, "node_url");
  if (!tenant_name || !node_url) return bad_request("\"tenant\" and \"node_url\" are required");
  Tenant* tenant = state_.tenants.find(*tenant_name);
  if (tenant == nullptr) return not_found("no such tenant");
  auto it = tenant->members.find(*node_url);
  if (it == tenant->members.end()) return not_found("no such member");
  it->second.active = false;
  return json_reply(200, json{{"removed", true}});
}

Reply AdminApi::set_faults(const json& doc) {
  if (Status s = state_.faults.set(doc); !s.ok()) return from_status(s);
  return json_reply(200, state_.faults.describe());
}

Reply AdminApi::members(const http::Request& request) {
  std::optional<std::string> only = request.query_param("tenant");
  json list = json::array();
  for (const Tenant* t : state_.tenants.all()) {
    if (only && !iequals(*only, t->name)) continue;
    for (const auto& [url, m] : t->members) {
      list.push_back({{"tenant", t->name},
                      {"node_url", url},
                      {"active", m.active},
                      {"enrolled_at_unix_ms", m.enrolled_at_ms},
                      {"last_seen_at_unix_ms", m.last_seen_at_ms},
                      {"enrollments", m.enrollments},
                      {"heartbeats", m.heartbeats},
                      {"not_after", m.not_after}});
    }
  }
  return json_reply(200, json{{"members", list}});
}

Reply AdminApi::registrations() {
  int64_t now = now_unix_ms();
  json list = json::array();
  for (const Tenant* t : state_.tenants.all()) {
    for (const auto& [node_id, r] : t->registrations) {
      auto ready = r.last_body.find("ready");
      list.push_back(
          {{"tenant", t->name},
           {"node_id", node_id},
           {"registration_id", r.registration_id},
           {"advertised_http_url", r.advertised_http_url},
           // As the real server reads it: only the JSON literal true counts.
           {"ready", ready != r.last_body.end() && ready->is_boolean() && ready->get<bool>()},
           {"last_heartbeat_at_unix_ms", r.last_heartbeat_at_ms},
           {"expires_at_unix_ms", r.expires_at_ms},
           {"active", r.expires_at_ms > now},
           {"heartbeats", r.heartbeats},
           {"last_body", r.last_body}});
    }
  }
  return json_reply(200, json{{"registrations", list}});
}

}  // namespace meshcache::mockcp
