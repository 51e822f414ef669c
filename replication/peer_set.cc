// peer_set.cc: candidates, membership verdicts and the write-target snapshot (push thread,
// set_control_plane_peers' caller, and the I/O loops through write_targets()).
#include "replication/peer_set.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace meshcache::replication {

std::string_view admission_name(Admission a) {
  switch (a) {
    case Admission::pending:
      return "pending";
    case Admission::admitted:
      return "admitted";
    case Admission::rejected:
      return "rejected";
  }
  return "pending";
}

PeerSet::PeerSet(std::string node_url, std::string gateway_url,
                 const std::vector<std::string>& static_peers)
    : node_url_(std::move(node_url)), gateway_url_(std::move(gateway_url)), static_(static_peers) {
  std::lock_guard lock(mu_);
  rebuild_locked();
}

bool PeerSet::is_own(std::string_view url) const {
  // Exact equality, as Kura: no normalisation, so "https://a:443" and "https://a" differ.
  return (!node_url_.empty() && url == node_url_) || (!gateway_url_.empty() && url == gateway_url_);
}

void PeerSet::set_control_plane(const std::vector<std::string>& peers) {
  std::lock_guard lock(mu_);
  control_ = peers;
  rebuild_locked();
}

void PeerSet::rebuild_locked() {
  std::map<std::string, Candidate> next;
  auto add = [&](const std::string& url, const char* source) {
    if (url.empty() || is_own(url) || next.count(url)) return;
    auto old = candidates_.find(url);
    Candidate c = old != candidates_.end() ? old->second : Candidate{};
    c.url = url;
    c.source = source;
    if (old == candidates_.end()) c.reason = "not polled yet";
    next.emplace(url, std::move(c));
  };
  for (const auto& url : static_) add(url, "static");
  for (const auto& url : control_) add(url, "control-plane");
  candidates_ = std::move(next);
  publish_locked();
}

void PeerSet::publish_locked() {
  auto targets = std::make_shared<std::vector<std::string>>();
  for (const auto& [url, c] : candidates_) {
    if (c.admission != Admission::rejected) targets->push_back(url);
  }
  std::lock_guard lock(targets_mu_);
  targets_ = std::move(targets);
}

StatusVerdict PeerSet::judge(std::string_view transport_error, long http_status,
                             std::string_view body, std::string_view tenant) const {
  StatusVerdict v;
  if (!transport_error.empty()) {
    v.reason = fmt::format("unreachable: {}", transport_error);
    return v;
  }
  if (http_status < 200 || http_status > 299) {
    v.reason = fmt::format("status answered {}", http_status);
    return v;
  }
  auto json = nlohmann::json::parse(body, nullptr, false);
  auto text = [&](const char* name) -> const std::string* {
    if (!json.is_object()) return nullptr;
    auto it = json.find(name);
    return it != json.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  const std::string* tenant_id = text("tenant_id");
  const std::string* node_url = text("node_url");
  if (!tenant_id || !node_url || node_url->empty()) {
    v.reason = "status answer is not {tenant_id, node_url} JSON";
    return v;
  }
  v.tenant_id = *tenant_id;
  v.node_url = *node_url;
  if (*tenant_id != tenant) {
    v.admission = Admission::rejected;
    v.reason = fmt::format("tenant {} != {}", *tenant_id, tenant);
  } else if (is_own(*node_url)) {
    v.admission = Admission::rejected;
    v.reason = fmt::format("advertises this node's own URL {}", *node_url);
  } else {
    v.admission = Admission::admitted;
  }
  return v;
}

std::optional<Admission> PeerSet::record(const std::string& url, const StatusVerdict& verdict) {
  std::lock_guard lock(mu_);
  auto it = candidates_.find(url);
  if (it == candidates_.end()) return std::nullopt;
  Candidate& c = it->second;
  Admission before = c.admission;
  if (verdict.admission == Admission::pending) {
    if (c.admission == Admission::pending) c.reason = verdict.reason;
    return before;
  }
  c.admission = verdict.admission;
  c.reason = verdict.reason;
  c.tenant_id = verdict.tenant_id;
  c.node_url = verdict.node_url;
  if ((before == Admission::rejected) != (c.admission == Admission::rejected)) publish_locked();
  return before;
}

std::vector<Candidate> PeerSet::list() const {
  std::lock_guard lock(mu_);
  std::vector<Candidate> out;
  out.reserve(candidates_.size());
  for (const auto& [url, c] : candidates_) out.push_back(c);
  return out;
}

std::optional<Candidate> PeerSet::find(const std::string& url) const {
  std::lock_guard lock(mu_);
  auto it = candidates_.find(url);
  if (it == candidates_.end()) return std::nullopt;
  return it->second;
}

std::shared_ptr<const std::vector<std::string>> PeerSet::write_targets() const {
  std::lock_guard lock(targets_mu_);
  return targets_;
}

}  // namespace meshcache::replication
