// cp_context.cc: reply descriptions, call records for status and self-exclusion from peer
// lists (CpTransport thread).
#include "agent/controlplane/cp_context.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace meshcache::agent::cp {
namespace {

std::string_view trim_slash(std::string_view url) {
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return url;
}

}  // namespace

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t unix_after(std::chrono::milliseconds delay) {
  return unix_now() + std::chrono::duration_cast<std::chrono::seconds>(delay).count();
}

std::string utc_text(int64_t unix) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(static_cast<std::time_t>(unix)));
}

std::string error_code(const std::string& body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object()) return {};
  auto it = doc.find("error");
  if (it == doc.end() || !it->is_string()) return {};
  // A server could put anything here; keep status lines short and printable.
  std::string code = it->get<std::string>().substr(0, 64);
  for (char& c : code) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return code;
}

std::string describe_reply(const CpReply& reply) {
  if (reply.status == 0) return reply.error;
  std::string code = error_code(reply.body);
  return code.empty() ? fmt::format("http {}", reply.status)
                      : fmt::format("http {} {}", reply.status, code);
}

std::vector<std::string> without_self(std::vector<std::string> peers, std::string_view node_url) {
  std::string_view self = trim_slash(node_url);
  std::erase_if(peers, [&](const std::string& p) { return trim_slash(p) == self; });
  return peers;
}

void record_call(CallStatus& call, bool ok, std::string result,
                 std::optional<int64_t> next_attempt_unix) {
  int64_t now = unix_now();
  call.last_attempt_unix = now;
  if (ok) call.last_success_unix = now;
  call.last_result = std::move(result);
  call.next_attempt_unix = next_attempt_unix;
}

}  // namespace meshcache::agent::cp
