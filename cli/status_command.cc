// status_command.cc: `meshcache status` (table or JSON, health-check exit code); main thread.
#include "cli/status_command.h"

#include <unistd.h>

#include <fmt/format.h>
#include <chrono>
#include <filesystem>
#include <ostream>

#include "agent/control_socket.h"
#include "agent/node_status.h"

namespace meshcache::cli {
namespace {

using nlohmann::json;

constexpr std::chrono::milliseconds kTimeout{5000};

std::string duration(int64_t seconds) {
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m{:02}s", seconds / 60, seconds % 60);
  if (seconds < 86400) return fmt::format("{}h{:02}m", seconds / 3600, seconds % 3600 / 60);
  return fmt::format("{}d{:02}h", seconds / 86400, seconds % 86400 / 3600);
}

// Fields a node leaves out (an older version) show as "-" rather than failing the command.
std::string text(const json& doc, const char* pointer) {
  const json& v = doc.value(json::json_pointer(pointer), json());
  if (v.is_string()) return v.get<std::string>();
  return v.is_null() ? "-" : v.dump();
}

uint64_t number(const json& doc, const char* pointer) {
  const json& v = doc.value(json::json_pointer(pointer), json());
  return v.is_number_unsigned() ? v.get<uint64_t>() : 0;
}

}  // namespace

std::string format_status_table(const json& doc) {
  uint64_t bytes = number(doc, "/store/bytes");
  uint64_t capacity = number(doc, "/store/capacity_bytes");
  double used = capacity ? 100.0 * static_cast<double>(bytes) / static_cast<double>(capacity) : 0;
  double ratio = doc.value("hit_ratio", 0.0) * 100.0;
  std::string listeners = "http " + text(doc, "/listeners/http");
  if (doc.value(json::json_pointer("/listeners/tls"), json()).is_string())
    listeners += ", tls " + text(doc, "/listeners/tls");

  std::string out;
  auto row = [&out](std::string_view name, const std::string& value) {
    out += fmt::format("{:<12} {}\n", name, value);
  };
  row("state", text(doc, "/state"));
  row("version", fmt::format("{} (pid {}, up {})", text(doc, "/version"), number(doc, "/pid"),
                             duration(static_cast<int64_t>(number(doc, "/uptime_seconds")))));
  row("listeners", listeners);
  row("data dir", text(doc, "/data_dir"));
  row("tenant", fmt::format("{} (region {})", text(doc, "/tenant_id"), text(doc, "/region")));
  row("node url", text(doc, "/node_url"));
  if (doc.value(json::json_pointer("/advertised_url"), json()).is_string())
    row("advertised", text(doc, "/advertised_url"));
  row("auth", fmt::format("{} ({} cached decisions)", text(doc, "/auth"),
                          number(doc, "/auth_cache/decisions")));
  const json& cp = doc.value(json::json_pointer("/control_plane"), json());
  if (cp.is_object()) {
    row("control", fmt::format("{} ({}), client {}", text(cp, "/url"),
                               cp.value("reachable", false) ? "reachable" : "unreachable",
                               text(cp, "/client_id")));
    row("enrollment",
        fmt::format("{}, tenant {}", text(cp, "/enrollment"), text(cp, "/tenant_id")));
    if (cp.value(json::json_pointer("/certificate"), json()).is_object()) {
      row("certificate",
          fmt::format("{} san {} issuer {}", text(cp, "/certificate/subject"),
                      text(cp, "/certificate/sans"), text(cp, "/certificate/issuer")));
      row("", fmt::format("not after {}, renews {}", text(cp, "/certificate/not_after"),
                          text(cp, "/renew_at")));
    }
    for (const char* call : {"enroll", "heartbeat", "registration", "usage"}) {
      std::string base = std::string("/") + call;
      row(call, fmt::format("{} (last {}, next {})", text(cp, (base + "/last_result").c_str()),
                            text(cp, (base + "/last_attempt").c_str()),
                            text(cp, (base + "/next_attempt").c_str())));
    }
    for (const auto& w : cp.value("warnings", json::array())) {
      if (w.is_string()) row("WARNING", w.get<std::string>());
    }
  }
  const json& mesh = doc.value(json::json_pointer("/mesh"), json());
  if (mesh.is_object()) {
    row("internal", fmt::format("{}{}", text(mesh, "/internal_listener"),
                                mesh.value("mtls", false) ? " (mTLS)" : " (plain)"));
    if (mesh.value(json::json_pointer("/gateway_url"), json()).is_string())
      row("gateway", text(mesh, "/gateway_url"));
    for (const auto& p : mesh.value("peers", json::array())) {
      if (!p.is_object()) continue;
      row("peer", fmt::format("{} [{}] {}, tenant {}", text(p, "/url"), text(p, "/source"),
                              text(p, "/admission"), text(p, "/tenant_id")));
      if (p.value(json::json_pointer("/reason"), json()).is_string())
        row("", "why: " + text(p, "/reason"));
      row("",
          fmt::format("outbox {}, in flight {}, delivered {}, dropped {}, last success {}",
                      number(p, "/outbox_depth"), number(p, "/in_flight"), number(p, "/delivered"),
                      number(p, "/dropped"), text(p, "/last_success")));
      if (number(p, "/consecutive_failures") > 0)
        row("", fmt::format("{} failures in a row, next retry {}, last error {}",
                            number(p, "/consecutive_failures"), text(p, "/next_retry"),
                            text(p, "/last_error")));
    }
    const json& w = mesh.value(json::json_pointer("/warmup"), json());
    if (w.is_object()) {
      std::string line = text(w, "/state");
      if (number(w, "/records_known") > 0)
        line +=
            fmt::format(": {} of {} records, {} of {}, {}/s, eta {}", number(w, "/records_done"),
                        number(w, "/records_known"), agent::human_bytes(number(w, "/bytes_done")),
                        agent::human_bytes(number(w, "/bytes_known")),
                        agent::human_bytes(static_cast<uint64_t>(w.value("bytes_per_second", 0.0))),
                        text(w, "/eta_seconds"));
      if (w.value(json::json_pointer("/last_error"), json()).is_string())
        line += " (" + text(w, "/last_error") + ")";
      row("warm-up", line);
    }
  }
  row("store", fmt::format("{} of {} ({:.1f}%), {} artifacts, outbox {} rows",
                           agent::human_bytes(bytes), agent::human_bytes(capacity), used,
                           number(doc, "/store/artifacts"), number(doc, "/store/outbox_rows")));
  row("evictions", fmt::format("{} ({})", number(doc, "/store/evictions"),
                               agent::human_bytes(number(doc, "/store/evicted_bytes"))));
  row("requests",
      fmt::format("{} (hits {}, misses {}, hit ratio {:.1f}%)", number(doc, "/requests"),
                  number(doc, "/hits"), number(doc, "/misses"), ratio));
  row("connections", fmt::format("{} open", number(doc, "/connections_open")));
  return out;
}

int status_exit_code(const json& doc) { return doc.value("state", "") == "serving" ? 0 : 1; }

int run_status(const std::string& data_dir, bool as_json, std::ostream& out, std::ostream& err) {
  std::string path = (std::filesystem::path(data_dir) / "control.sock").string();
  auto reply = agent::control_request(path, "status", kTimeout);
  if (!reply.ok()) {
    if (reply.status().code() == Code::unavailable)
      err << fmt::format("meshcache status: no node is running with data dir {} ({})\n", data_dir,
                         reply.status().message());
    else
      err << fmt::format("meshcache status: the node with data dir {} did not answer ({})\n",
                         data_dir, reply.status().message());
    return 2;
  }
  json doc = json::parse(reply.value(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("state")) {
    err << fmt::format(
        "meshcache status: {} answered with something that is not a status "
        "document: {}\n",
        path, reply.value().substr(0, 200));
    return 2;
  }
  if (as_json || !::isatty(STDOUT_FILENO))
    out << doc.dump(2) << '\n';
  else
    out << format_status_table(doc);
  return status_exit_code(doc);
}

}  // namespace meshcache::cli
