// peer_set.h: the push worker's candidates (static and control-plane peers, minus this node)
// and what membership learnt about each; the write-target list the I/O loops read on every
// client write. Written by the push thread and set_control_plane_peers(); read by any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meshcache::replication {

enum class Admission { pending, admitted, rejected };
std::string_view admission_name(Admission a);

// What one /_internal/status poll says about a candidate. pending = it did not answer
// usefully (unreachable, non-2xx, undecodable), which decides nothing.
struct StatusVerdict {
  Admission admission = Admission::pending;
  std::string reason;     // why pending or rejected
  std::string tenant_id;  // as answered
  std::string node_url;   // as answered: where rows are sent once admitted
};

struct Candidate {
  std::string url;     // as configured: the outbox target key
  std::string source;  // "static" or "control-plane"
  Admission admission = Admission::pending;
  std::string reason;
  std::string tenant_id;
  std::string node_url;
};

class PeerSet {
 public:
  PeerSet(std::string node_url, std::string gateway_url,
          const std::vector<std::string>& static_peers);

  // Replaces the control-plane peers (static peers stay).
  void set_control_plane(const std::vector<std::string>& peers);

  // Membership's rule (Kura's is_self_or_own_gateway, exact string equality): admitted when a
  // 2xx carries decodable JSON with our tenant and a node_url that is neither ours nor our
  // gateway's. `transport_error` is non-empty when no HTTP answer came at all.
  StatusVerdict judge(std::string_view transport_error, long http_status, std::string_view body,
                      std::string_view tenant) const;
  // Records a poll's verdict for a current candidate. A pending verdict keeps an earlier
  // decision: a peer that stops answering stays a target, so nothing is lost while it is down.
  // Returns the admission before, or nullopt when `url` is no longer a candidate.
  std::optional<Admission> record(const std::string& url, const StatusVerdict& verdict);

  std::vector<Candidate> list() const;
  std::optional<Candidate> find(const std::string& url) const;
  // Every candidate not rejected. Immutable and swapped whole, so a write copies a pointer.
  std::shared_ptr<const std::vector<std::string>> write_targets() const;

 private:
  bool is_own(std::string_view url) const;
  void rebuild_locked();  // candidates from static_ ∪ control_, then publish the targets
  void publish_locked();

  const std::string node_url_;
  const std::string gateway_url_;
  const std::vector<std::string> static_;
  mutable std::mutex mu_;
  std::vector<std::string> control_;
  std::map<std::string, Candidate> candidates_;
  mutable std::mutex targets_mu_;  // only the pointer swap: the write path's lock stays tiny
  std::shared_ptr<const std::vector<std::string>> targets_;
};

}  // namespace meshcache::replication
