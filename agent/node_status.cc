// node_status.cc: renders the status document as JSON. Runs on the control socket's thread.
#include "agent/node_status.h"

#include <fmt/format.h>

#include <ctime>

#include <nlohmann/json.hpp>

namespace meshcache::agent {

namespace {

using Json = nlohmann::json;

Json optional_time(const std::optional<int64_t>& t) {
  return t ? Json(iso8601(*t)) : Json(nullptr);
}

Json call_json(const cp::CallStatus& c) {
  return {{"last_attempt", optional_time(c.last_attempt_unix)},
          {"last_success", optional_time(c.last_success_unix)},
          {"last_result", c.last_result.empty() ? Json(nullptr) : Json(c.last_result)},
          {"next_attempt", optional_time(c.next_attempt_unix)}};
}

Json certificate_json(const tls::CertificateInfo& c) {
  return {{"subject", c.subject},
          {"issuer", c.issuer},
          {"sans", c.sans},
          {"not_before", iso8601(c.not_before)},
          {"not_after", iso8601(c.not_after)},
          {"serial", c.serial_hex},
          {"sha256_fingerprint", c.sha256_fingerprint}};
}

Json control_plane_json(const cp::ControlPlaneStatus& s) {
  return {
      {"url", s.url},
      {"client_id", s.client_id},
      {"reachable", s.reachable},
      {"enrollment", s.enrollment_state},
      {"tenant_id", s.tenant_id ? Json(*s.tenant_id) : Json(nullptr)},
      {"certificate", s.certificate ? certificate_json(*s.certificate) : Json(nullptr)},
      {"renew_at", optional_time(s.renew_at_unix)},
      {"peers", {{"static", s.static_peers}, {"dynamic", s.dynamic_peers}}},
      {"warnings", s.warnings},
      {"enroll", call_json(s.enroll)},
      {"heartbeat", call_json(s.heartbeat)},
      {"registration", call_json(s.registration)},
      {"usage", call_json(s.usage)},
  };
}

Json optional_ms(const std::optional<int64_t>& ms) {
  return ms ? Json(iso8601(*ms / 1000)) : Json(nullptr);
}

Json peer_json(const replication::PeerStatus& p) {
  auto text = [](const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); };
  return {{"url", p.url},
          {"source", p.source},
          {"admission", p.admission},
          {"reason", text(p.reason)},
          {"tenant_id", text(p.tenant_id)},
          {"node_url", text(p.node_url)},
          {"outbox_depth", p.outbox_depth},
          {"in_flight", p.in_flight},
          {"delivered", p.delivered},
          {"dropped", p.dropped},
          {"batch_supported", p.batch_supported},
          {"last_success", optional_ms(p.last_success_ms)},
          {"consecutive_failures", p.consecutive_failures},
          {"next_retry", optional_ms(p.next_retry_ms)},
          {"last_error", text(p.last_error)}};
}

Json mesh_json(const replication::MeshStatus& m) {
  const replication::WarmupStatus& w = m.warmup;
  Json peers = Json::array();
  for (const auto& p : m.peers) peers.push_back(peer_json(p));
  return {{"internal_listener", m.internal_listener ? Json(*m.internal_listener) : Json(nullptr)},
          {"mtls", m.mtls},
          {"gateway_url", m.gateway_url.empty() ? Json(nullptr) : Json(m.gateway_url)},
          {"peers", std::move(peers)},
          {"warmup",
           {{"state", w.state},
            {"records_done", w.records_done},
            {"records_known", w.records_known},
            {"bytes_done", w.bytes_done},
            {"bytes_known", w.bytes_known},
            {"bytes_per_second", w.bytes_per_second},
            {"eta_seconds", w.eta_seconds ? Json(*w.eta_seconds) : Json(nullptr)},
            {"started", optional_ms(w.started_ms)},
            {"finished", optional_ms(w.finished_ms)},
            {"last_error", w.last_error.empty() ? Json(nullptr) : Json(w.last_error)}}}};
}

}  // namespace

std::string iso8601(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string render_node_status(const NodeStatus& s) {
  auto optional = [](const std::optional<std::string>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  uint64_t lookups = s.hits + s.misses;
  nlohmann::json doc = {
      {"state", state_name(s.state)},
      {"version", s.version},
      {"pid", s.pid},
      {"uptime_seconds", s.uptime_seconds},
      {"listeners", {{"http", s.http_listener}, {"tls", optional(s.tls_listener)}}},
      {"data_dir", s.data_dir},
      {"tenant_id", s.tenant_id},
      {"region", s.region},
      {"node_url", optional(s.node_url)},
      {"auth", s.auth},
      {"store",
       {{"bytes", s.store.bytes},
        {"capacity_bytes", s.store.capacity_bytes},
        {"artifacts", s.store.artifacts},
        {"evictions", s.store.evictions},
        {"evicted_bytes", s.store.evicted_bytes},
        {"outbox_rows", s.store.outbox_rows}}},
      {"requests", s.requests},
      {"hits", s.hits},
      {"misses", s.misses},
      {"hit_ratio", lookups ? static_cast<double>(s.hits) / static_cast<double>(lookups) : 0.0},
      {"connections_open", s.connections_open},
      {"advertised_url", optional(s.advertised_url)},
      {"auth_cache", {{"decisions", s.auth_cached_decisions}}},
      {"control_plane", s.control_plane ? control_plane_json(*s.control_plane) : Json(nullptr)},
      {"usage_outbox_events", s.usage_outbox_events ? Json(*s.usage_outbox_events) : Json(nullptr)},
      {"mesh", s.mesh ? mesh_json(*s.mesh) : Json(nullptr)},
  };
  // A data dir is any path the operator chose: replace bytes that are not UTF-8.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string human_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

}  // namespace meshcache::agent
