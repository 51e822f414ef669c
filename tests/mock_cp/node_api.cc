// node_api.cc: the six node-facing endpoints, field by field and code by code as the real
// control plane answers them (loop thread).
#include "tests/mock_cp/node_api.h"

#include <openssl/x509.h>

#include <spdlog/spdlog.h>

#include <map>
#include <optional>

#include "agent/http/request_target.h"
#include "tls/certificate.h"
#include "tls/csr.h"

namespace meshcache::mockcp {
namespace {

constexpr size_t kMaxUsageEvents = 5000;
constexpr int64_t kPeersRefreshSeconds = 60;

Reply invalid_payload() { return error_reply(400, "invalid_payload"); }

Reply invalid_client() {
  return json_reply(401, json{{"error", "invalid_client"},
                              {"error_description", "Invalid client_id or client_secret."}});
}

// application/x-www-form-urlencoded fields; a malformed escape drops that field.
std::map<std::string, std::string> form_fields(std::string_view body) {
  std::map<std::string, std::string> fields;
  while (!body.empty()) {
    size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string key;
    std::string value;
    if (eq == std::string_view::npos || !http::percent_decode(pair.substr(0, eq), key, true) ||
        !http::percent_decode(pair.substr(eq + 1), value, true)) {
      continue;
    }
    fields.emplace(std::move(key), std::move(value));
  }
  return fields;
}

// A present, non-null field that is not a list breaks the usage payload's shape.
bool list_or_absent(const json& doc, const char* field) {
  auto it = doc.find(field);
  return it == doc.end() || it->is_null() || it->is_array();
}

}  // namespace

Reply NodeApi::handle(Endpoint endpoint, const http::Request& request, std::string_view body) {
  if (request.method != info(endpoint).method) {
    Reply reply = error_reply(405, "method_not_allowed");
    reply.headers.push_back({"allow", std::string(info(endpoint).method)});
    return reply;
  }
  if (endpoint == Endpoint::introspect) return introspect(request, body);
  Tenant* tenant = authenticate(request);
  if (tenant == nullptr) return error_reply(401, "unauthorized");
  switch (endpoint) {
    case Endpoint::enroll:
      return enroll(*tenant, body);
    case Endpoint::heartbeat:
      return heartbeat(*tenant, body);
    case Endpoint::peers:
      return peers(*tenant);
    case Endpoint::registrations:
      return register_lease(*tenant, body);
    case Endpoint::usage:
      return usage(*tenant, body);
    case Endpoint::introspect:
      break;
  }
  return error_reply(404, "not_found");
}

Tenant* NodeApi::authenticate(const http::Request& request) {
  const std::string* header = request.header("authorization");
  if (header == nullptr || header->size() < 6 || !iequals(header->substr(0, 6), "basic ")) {
    return nullptr;
  }
  std::string_view encoded = std::string_view(*header).substr(6);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  std::optional<std::string> decoded = base64_decode(encoded);
  if (!decoded) return nullptr;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return nullptr;
  std::optional<std::string> tenant = credentials_.verify(
      std::string_view(*decoded).substr(0, colon), std::string_view(*decoded).substr(colon + 1));
  return tenant ? tenants_.find(*tenant) : nullptr;
}

Reply NodeApi::enroll(Tenant& tenant, std::string_view body) {
  std::optional<json> doc = parse_json(body);
  if (!doc) return invalid_payload();
  std::optional<std::string> csr_pem = string_field(*doc, "csr");
  std::optional<std::string> node_url = string_field(*doc, "node_url");
  if (!csr_pem || !node_url) return invalid_payload();
  std::optional<HttpUrl> url = parse_http_url(*node_url);
  if (!url) return error_reply(422, "invalid_node_url");
  Result<tls::X509ReqPtr> csr = tls::parse_csr_pem(*csr_pem);
  EVP_PKEY* subject_key = csr.ok() ? X509_REQ_get0_pubkey(csr->get()) : nullptr;
  if (subject_key == nullptr) return error_reply(422, "invalid_csr");
  if (!tenant.managed_mesh) return error_reply(503, "ca_unavailable");

  Result<std::string> leaf =
      tls::issue_leaf(tenant.ca, subject_key, url->host, tenant.cert_lifetime_seconds);
  Result<tls::X509Ptr> parsed =
      leaf.ok() ? tls::parse_certificate_pem(*leaf) : Result<tls::X509Ptr>(leaf.status());
  if (!parsed.ok()) {
    spdlog::error("issuing a leaf for {} failed: {}", url->host, parsed.status().message());
    return error_reply(500, "internal_server_error");
  }
  std::string not_after = iso8601_utc(tls::describe(parsed->get()).not_after);

  // An upsert: re-enrolment of a removed node makes it a member again.
  int64_t now = now_unix_ms();
  auto [it, inserted] = tenant.members.try_emplace(*node_url);
  Member& member = it->second;
  if (inserted || !member.active) member.enrolled_at_ms = now;
  member.active = true;
  member.last_seen_at_ms = now;
  member.not_after = not_after;
  ++member.enrollments;

  json out{{"tenant_id", tenant.name},
           {"certificate", *leaf},
           {"ca_certificate", tenant.ca.cert_pem},
           {"not_after", not_after},
           {"peers", tenant.peers_for(*node_url)},
           {"managed_peers", tenant.managed_peers}};
  if (!tenant.omit_renew_after) out["renew_after_seconds"] = tenant.cert_lifetime_seconds / 2;
  return json_reply(201, out);
}

Reply NodeApi::heartbeat(Tenant& tenant, std::string_view body) {
  std::optional<json> doc = parse_json(body);
  std::optional<std::string> node_url = doc ? string_field(*doc, "node_url") : std::nullopt;
  if (!node_url) return invalid_payload();
  // Only an active row is touched: a heartbeat never creates or revives membership.
  auto it = tenant.members.find(*node_url);
  bool member = it != tenant.members.end() && it->second.active;
  if (member) {
    it->second.last_seen_at_ms = now_unix_ms();
    ++it->second.heartbeats;
  }
  return json_reply(200, json{{"mesh_member", member},
                              {"peers", tenant.peers_for(*node_url)},
                              {"heartbeat_interval_seconds", options_.heartbeat_interval_seconds}});
}

Reply NodeApi::peers(Tenant& tenant) {
  return json_reply(200, json{{"peers", tenant.member_urls()},
                              {"refresh_interval_seconds", kPeersRefreshSeconds}});
}

Reply NodeApi::register_lease(Tenant& tenant, std::string_view body) {
  std::optional<json> doc = parse_json(body);
  if (!doc || !doc->is_object()) return invalid_payload();
  auto tenant_id = doc->find("tenant_id");
  if (tenant_id != doc->end() && !tenant_id->is_null()) {
    if (!tenant_id->is_string()) return invalid_payload();
    if (!iequals(tenant_id->get<std::string>(), tenant.name)) {
      return error_reply(409, "tenant_mismatch");
    }
  }
  std::optional<std::string> node_id = string_field(*doc, "node_id");
  std::optional<std::string> advertised = string_field(*doc, "advertised_http_url");
  std::optional<HttpUrl> url = advertised ? parse_http_url(*advertised) : std::nullopt;
  if (!node_id || node_id->empty() || !url || !url->userinfo.empty()) {
    return error_reply(422, "invalid_registration");
  }

  int64_t now = now_unix_ms();
  Registration& lease = tenant.registrations[*node_id];
  if (lease.registration_id.empty()) lease.registration_id = random_uuid();
  lease.advertised_http_url = *advertised;
  lease.last_heartbeat_at_ms = now;
  lease.expires_at_ms = now + options_.lease_seconds * 1000;
  ++lease.heartbeats;
  lease.last_body = std::move(*doc);
  return json_reply(200, json{{"accepted", true},
                              {"registration_id", lease.registration_id},
                              {"lease_seconds", options_.lease_seconds},
                              {"heartbeat_interval_seconds", options_.heartbeat_interval_seconds}});
}

Reply NodeApi::usage(Tenant& tenant, std::string_view body) {
  std::optional<json> doc = parse_json(body);
  if (!doc || !doc->is_object()) return invalid_payload();
  auto version = doc->find("schema_version");
  auto events = doc->find("events");
  if (version == doc->end() || !version->is_number_integer() || version->get<int64_t>() != 1 ||
      events == doc->end() || !events->is_array() || !list_or_absent(*doc, "evictions") ||
      !list_or_absent(*doc, "storage_snapshots")) {
    return invalid_payload();
  }
  for (const auto& event : *events) {
    if (!event.is_object()) return invalid_payload();
  }
  if (events->size() > kMaxUsageEvents) return error_reply(413, "too_many_events");
  // One foreign event rejects the whole batch.
  for (const auto& event : *events) {
    std::optional<std::string> event_tenant = string_field(event, "tenant_id");
    if (!event_tenant || !iequals(*event_tenant, tenant.name)) {
      return error_reply(403, "tenant_mismatch");
    }
  }
  journal_.add_usage(*events);
  return json_reply(202, json{{"accepted", events->size()}});
}

Reply NodeApi::introspect(const http::Request& request, std::string_view body) {
  std::map<std::string, std::string> fields;
  const std::string* type = request.header("content-type");
  if (type != nullptr && lowercase(*type).find("json") != std::string::npos) {
    std::optional<json> doc = parse_json(body);
    if (!doc || !doc->is_object()) return invalid_payload();
    for (const char* name : {"client_id", "client_secret", "token"}) {
      if (auto value = string_field(*doc, name)) fields.emplace(name, std::move(*value));
    }
  } else {
    fields = form_fields(body);
  }
  auto id = fields.find("client_id");
  auto secret = fields.find("client_secret");
  if (id == fields.end() || secret == fields.end()) return invalid_client();
  std::optional<std::string> tenant_name = credentials_.verify(id->second, secret->second);
  Tenant* tenant = tenant_name ? tenants_.find(*tenant_name) : nullptr;
  if (tenant == nullptr) return invalid_client();
  auto token = fields.find("token");
  if (token == fields.end()) return invalid_payload();

  json answer = tokens_.introspect(token->second, tenant->name, "https://" + request.authority);
  Reply reply = json_reply(200, answer);
  if (answer.value("active", false)) {
    reply.headers.push_back({"pragma", "no-cache"});
    reply.headers.push_back({"cache-control", "no-store"});
  }
  return reply;
}

}  // namespace meshcache::mockcp
