// enrollment.cc: enrollment and renewal: key + CSR, POST .../mesh/enroll, strict checks of the
// answer, identity on disk, context swap, and the retry policy (CpTransport thread).
#include "agent/controlplane/enrollment.h"

#include <openssl/crypto.h>

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "tls/certificate.h"
#include "tls/csr.h"
#include "tls/key_pair.h"

namespace meshcache::agent::cp {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kEnrollPath = "/_internal/kura/mesh/enroll";
// The internal plane speaks HTTP/2 to peers and HTTP/1.1 to anything else.
const std::vector<std::string> kInternalAlpn = {"h2", "http/1.1"};

// The fields of a 201 answer, checked for presence and type before anything is used.
struct Answer {
  std::string tenant_id;
  std::string certificate;
  std::string ca_certificate;
  std::vector<std::string> peers;
  std::vector<std::string> managed_peers;
  std::optional<int64_t> renew_after_seconds;
};

Status malformed(const std::string& what) {
  return {Code::invalid_argument, "malformed enrollment answer: " + what};
}

Status read_string(const Json& doc, const char* name, std::string& out) {
  auto it = doc.find(name);
  if (it == doc.end()) return malformed(fmt::format("no \"{}\"", name));
  if (!it->is_string()) return malformed(fmt::format("\"{}\" is not a string", name));
  out = it->get<std::string>();
  return {};
}

// `required` = false: an older control plane may not send the list at all.
Status read_urls(const Json& doc, const char* name, bool required, std::vector<std::string>& out) {
  auto it = doc.find(name);
  if (it == doc.end()) return required ? malformed(fmt::format("no \"{}\"", name)) : Status{};
  if (!it->is_array()) return malformed(fmt::format("\"{}\" is not a list", name));
  for (const auto& v : *it) {
    if (!v.is_string()) return malformed(fmt::format("\"{}\" holds a non-string", name));
    out.push_back(v.get<std::string>());
  }
  return {};
}

Result<Answer> parse_answer(const std::string& body) {
  Json doc = Json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return malformed("not a JSON object");
  Answer a;
  std::string not_after;  // the certificate's own notAfter is what counts
  for (Status s :
       {read_string(doc, "tenant_id", a.tenant_id), read_string(doc, "certificate", a.certificate),
        read_string(doc, "ca_certificate", a.ca_certificate),
        read_string(doc, "not_after", not_after), read_urls(doc, "peers", true, a.peers),
        read_urls(doc, "managed_peers", false, a.managed_peers)}) {
    if (!s.ok()) return s;
  }
  if (a.tenant_id.empty()) return malformed("\"tenant_id\" is empty");
  if (auto it = doc.find("renew_after_seconds"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return malformed("\"renew_after_seconds\" is not a non-negative integer");
    }
    a.renew_after_seconds = it->get<int64_t>();
  }
  return a;
}

// Renewal time: what the control plane asked for, else two thirds of the remaining lifetime;
// never sooner than a second, so a confused answer cannot make the node spin.
milliseconds renewal_delay(const Answer& a, const tls::CertificateInfo& cert, int64_t now) {
  int64_t s = a.renew_after_seconds ? *a.renew_after_seconds : (cert.not_after - now) * 2 / 3;
  return std::max<milliseconds>(seconds(s), seconds(1));
}

}  // namespace

Enroller::Enroller(CpContext ctx, tls::MeshContexts& contexts,
                   std::function<void(const Enrollment&)> enrolled)
    : ctx_(ctx),
      contexts_(contexts),
      enrolled_cb_(std::move(enrolled)),
      backoff_(ctx.options.retry_base, ctx.options.retry_cap) {}

void Enroller::start() { attempt(); }

void Enroller::rejoin(milliseconds delay) {
  if (stopped_ || in_flight_) return;
  spdlog::warn("control plane: this node is no longer a mesh member; enrolling again in {} s",
               std::chrono::duration_cast<seconds>(delay).count());
  ctx_.board.update([&](ControlPlaneStatus& s) { s.enroll.next_attempt_unix = unix_after(delay); });
  schedule_attempt(delay);
}

void Enroller::schedule_attempt(milliseconds delay) {
  uint64_t generation = ++generation_;
  ctx_.transport.schedule(delay, [this, generation] {
    if (generation == generation_ && !in_flight_ && !stopped_) attempt();
  });
}

void Enroller::attempt() {
  auto key = tls::generate_p256_key();
  if (!key.ok()) return fail("cannot generate a key: " + key.status().message());
  auto csr = tls::make_csr_pem(key->get());
  if (!csr.ok()) return fail("cannot build the CSR: " + csr.status().message());
  pending_key_ = std::move(key.value());
  in_flight_ = true;
  Json body = {{"csr", *csr}, {"node_url", ctx_.options.node_url}};
  ctx_.transport.post_json(kEnrollPath, body.dump(), [this](CpReply r) { on_reply(r); });
}

void Enroller::on_reply(const CpReply& reply) {
  in_flight_ = false;
  if (reply.status == 201) {
    Status s = adopt(reply.body);
    pending_key_.reset();
    if (!s.ok()) fail(s.message());
    return;
  }
  pending_key_.reset();
  std::string result = describe_reply(reply);
  if (std::string message = fatal_message(reply); !message.empty()) {
    return fatal(result, message);
  }
  if (reply.status == 503 && error_code(reply.body) == "ca_unavailable") {
    return fail(result,
                "the control plane has no mesh certificate authority for this account: the "
                "account has no managed mesh. To run a standalone mesh instead, unset "
                "MESHCACHE_ENROLL_ON_BOOT, create a CA with `meshcache tls init-ca`, a "
                "certificate per node with `meshcache tls issue --node-url ...`, and list the "
                "nodes in MESHCACHE_PEERS (see docs/standalone-mesh.md).");
  }
  fail(result);
}

std::string Enroller::fatal_message(const CpReply& reply) const {
  // Once the node serves with an identity, a refusal must not take it down: it keeps the old
  // identity, retries, and status warns as the expiry nears.
  if (enrolled_) return {};
  if (reply.status == 401) {
    return fmt::format(
        "the control plane rejected client {} (401 unauthorized): check "
        "MESHCACHE_CONTROL_PLANE_CLIENT_ID/SECRET (the credential may be wrong or revoked, or "
        "the account lacks self-hosted cache)",
        ctx_.options.transport.client_id);
  }
  if (reply.status != 422) return {};
  std::string code = error_code(reply.body);
  if (code == "invalid_node_url") {
    return fmt::format(
        "the control plane rejected MESHCACHE_NODE_URL ({}) (422 invalid_node_url): it must "
        "be an http:// or https:// URL with a host",
        ctx_.options.node_url);
  }
  if (code == "invalid_csr") {
    return "the control plane rejected the CSR (422 invalid_csr): it did not accept this "
           "node's ECDSA P-256 certificate request";
  }
  return fmt::format("the control plane rejected the enrollment request (422 {})",
                     code.empty() ? "without an error code" : code);
}

Status Enroller::adopt(const std::string& body) {
  auto answer = parse_answer(body);
  if (!answer.ok()) return answer.status();
  const Answer& a = *answer;
  int64_t now = unix_now();
  auto cert = tls::validate_enrolled(a.certificate, a.ca_certificate, pending_key_.get(), now);
  if (!cert.ok())
    return {Code::invalid_argument, "certificate rejected: " + cert.status().message()};
  auto key_pem = tls::private_key_pem(pending_key_.get());
  if (!key_pem.ok()) return key_pem.status();
  tls::IdentityPem pem{std::move(key_pem.value()), a.certificate, a.ca_certificate};
  Status written = tls::write_identity(ctx_.options.identity_paths, pem);
  Status swapped = written.ok() ? contexts_.replace(pem, kInternalAlpn) : Status{};
  OPENSSL_cleanse(pem.key_pem.data(), pem.key_pem.size());
  if (!written.ok()) return {written.code(), "cannot write the identity: " + written.message()};
  if (!swapped.ok()) return {swapped.code(), "cannot use the identity: " + swapped.message()};

  const std::string& self = ctx_.options.node_url;
  Enrollment e;
  e.tenant_id = a.tenant_id;
  e.static_peers = without_self(a.managed_peers.empty() ? a.peers : a.managed_peers, self);
  e.dynamic_peers = without_self(a.peers, self);
  e.certificate = *cert;
  milliseconds renew_in = renewal_delay(a, e.certificate, now);
  e.renew_at_unix = unix_after(renew_in);

  enrolled_ = true;
  backoff_.reset();
  ctx_.board.update([&](ControlPlaneStatus& s) {
    s.enrollment_state = "enrolled";
    s.tenant_id = e.tenant_id;
    s.certificate = e.certificate;
    s.renew_at_unix = e.renew_at_unix;
    s.static_peers = e.static_peers;
    s.dynamic_peers = e.dynamic_peers;
    record_call(s.enroll, true, "ok", e.renew_at_unix);
  });
  spdlog::info(
      "control plane: enrolled in tenant {} as {} (serial {}, valid until {}, renewal at {}); "
      "{} static and {} dynamic peers",
      e.tenant_id, e.certificate.subject, e.certificate.serial_hex,
      utc_text(e.certificate.not_after), utc_text(e.renew_at_unix), e.static_peers.size(),
      e.dynamic_peers.size());
  schedule_attempt(renew_in);
  enrolled_cb_(e);
  return {};
}

void Enroller::fail(const std::string& result, const std::string& advice) {
  // Without an identity the node waits for this, so it retries soon (with backoff); with one,
  // it keeps serving and retries the renewal at a steady pace.
  milliseconds delay = enrolled_ ? ctx_.options.renewal_retry : backoff_.next();
  ctx_.board.update([&](ControlPlaneStatus& s) {
    s.enrollment_state = enrolled_ ? "renewal_failing" : "enrolling";
    record_call(s.enroll, false, result, unix_after(delay));
  });
  spdlog::error("control plane: {} failed: {}{}{}; retrying in {} ms",
                enrolled_ ? "certificate renewal" : "enrollment", result,
                advice.empty() ? "" : ": ", advice, delay.count());
  schedule_attempt(delay);
}

void Enroller::fatal(const std::string& result, const std::string& message) {
  stopped_ = true;
  ++generation_;
  ctx_.board.update(
      [&](ControlPlaneStatus& s) { record_call(s.enroll, false, result, std::nullopt); });
  if (ctx_.hooks.fatal) {
    ctx_.hooks.fatal(message);
  } else {
    spdlog::critical("control plane: {}", message);
  }
}

}  // namespace meshcache::agent::cp
