// tokens.cc: token grants, the tokens file and tenant-scoped introspection answers (loop
// thread; main while loading the tokens file).
#include "tests/mock_cp/tokens.h"

#include <algorithm>

namespace meshcache::mockcp {
namespace {

// A list of strings under `doc[group][access]`, all optional.
Status read_list(const json& doc, const char* group, const char* access,
                 std::vector<std::string>& out) {
  auto g = doc.find(group);
  if (g == doc.end() || g->is_null()) return Status::Ok();
  if (!g->is_object())
    return Status(Code::invalid_argument, std::string("grants.") + group + " must be an object");
  auto list = g->find(access);
  if (list == g->end() || list->is_null()) return Status::Ok();
  if (!list->is_array()) return Status(Code::invalid_argument, "grants lists are arrays");
  for (const auto& item : *list) {
    if (!item.is_string()) return Status(Code::invalid_argument, "grants hold strings");
    out.push_back(item.get<std::string>());
  }
  return Status::Ok();
}

std::vector<std::string> keep(const std::vector<std::string>& in, auto predicate) {
  std::vector<std::string> out;
  std::copy_if(in.begin(), in.end(), std::back_inserter(out), predicate);
  return out;
}

}  // namespace

Result<Grants> Grants::from_json(const json& doc) {
  if (!doc.is_object()) return Status(Code::invalid_argument, "grants must be an object");
  Grants g;
  for (Status s : {read_list(doc, "account", "read", g.account_read),
                   read_list(doc, "account", "write", g.account_write),
                   read_list(doc, "project", "read", g.project_read),
                   read_list(doc, "project", "write", g.project_write)}) {
    if (!s.ok()) return s;
  }
  return g;
}

json Grants::to_json() const {
  return json{{"account", {{"read", account_read}, {"write", account_write}}},
              {"project", {{"read", project_read}, {"write", project_write}}}};
}

bool Grants::empty() const {
  return account_read.empty() && account_write.empty() && project_read.empty() &&
         project_write.empty();
}

Result<std::string> Tokens::add(std::optional<std::string> token, Grants grants,
                                std::string subject) {
  std::string value = token ? std::move(*token) : random_base64url(32);
  if (value.empty()) return Status(Code::invalid_argument, "a token cannot be empty");
  if (tokens_.count(value) != 0) return Status(Code::conflict, "the token exists already");
  tokens_.emplace(value, Token{std::move(grants), std::move(subject)});
  return value;
}

bool Tokens::revoke(std::string_view token) {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return false;
  tokens_.erase(it);
  return true;
}

Status Tokens::load(const json& doc) {
  auto list = doc.is_object() ? doc.find("tokens") : doc.end();
  if (list == doc.end() || !list->is_array()) {
    return Status(Code::invalid_argument, "the tokens file holds {\"tokens\": [...]}");
  }
  for (const auto& entry : *list) {
    std::optional<std::string> token = string_field(entry, "token");
    if (!token) return Status(Code::invalid_argument, "every token entry has a string \"token\"");
    Result<Grants> grants = Grants::from_json(entry.value("grants", json::object()));
    if (!grants.ok()) return grants.status();
    Result<std::string> added = add(std::move(token), std::move(grants).value(),
                                    string_field(entry, "sub").value_or("mock-token"));
    if (!added.ok()) return added.status();
  }
  return Status::Ok();
}

json Tokens::introspect(std::string_view token, std::string_view tenant,
                        std::string_view issuer) const {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return json{{"active", false}};
  const Grants& all = it->second.grants;
  const std::string prefix = lowercase(tenant) + "/";
  auto is_tenant = [&](const std::string& handle) { return iequals(handle, tenant); };
  auto under_tenant = [&](const std::string& project) {
    return lowercase(project).starts_with(prefix);
  };
  Grants scoped{keep(all.account_read, is_tenant), keep(all.account_write, is_tenant),
                keep(all.project_read, under_tenant), keep(all.project_write, under_tenant)};
  if (scoped.empty()) return json{{"active", false}};
  return json{{"active", true},
              {"iss", issuer},
              {"sub", it->second.subject},
              {"cache_grants", scoped.to_json()},
              {"cache_payment_required", json::array()}};
}

}  // namespace meshcache::mockcp
