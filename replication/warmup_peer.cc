// warmup_peer.cc: one peer's backfill pass, driven by the warm-up thread's curl multi.
#include "replication/warmup_peer.h"

#include <algorithm>
#include <iterator>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "replication/push_requests.h"
#include "storage/wall_clock.h"

namespace meshcache::replication {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kListingPath = "/_internal/backfill/entries?limit=2048";
static_assert(wire::kListMaxLimit == 2048);
// Kura's client caps: a listing page, and per tuple of a response what frames add to bodies.
constexpr uint64_t kMaxListingBytes = 32ull << 20;
constexpr uint64_t kFrameSlack = 4096;
// Listing pauses while this many records wait for their bodies, which bounds memory however far
// ahead the listing could run.
constexpr size_t kMaxBacklog = wire::kMaxBodiesEntries;
// Large artifacts (and FetchIndividually answers) are fetched by GET, a few at a time.
constexpr size_t kMaxSingleFetches = 2;
// What one tuple adds to the bodies request's JSON besides its id and kind.
constexpr uint64_t kTupleJsonBytes = 96;

// The `error` code and message of a peer's JSON error body ({"error"?, "message"}); a body that
// is not JSON is its own message.
struct PeerError {
  std::string code;
  std::string message;
};
PeerError peer_error(const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object()) return {"", body.substr(0, 200)};
  auto field = [&](const char* name) {
    auto it = json.find(name);
    return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  return {field("error"), field("message")};
}

}  // namespace

PeerPass::PeerPass(std::string_view peer, const WarmupOptions& options, const ApplyTarget& target,
                   CURLM* multi, const std::atomic<bool>& stop, WarmupProgress& progress)
    : url_(base_url(peer)),
      options_(options),
      target_(target),
      multi_(multi),
      stop_(stop),
      progress_(progress) {}

WarmupClock::time_point PeerPass::pump(WarmupClock::time_point now) {
  constexpr auto kNever = WarmupClock::time_point::max();
  auto listing_wanted = [&] {
    return !listing_done_ && !listing_ && batchable_.size() + singles_.size() < kMaxBacklog;
  };
  if (outcome_ == Outcome::running && listing_wanted() && now >= listing_at_) start_listing();
  if (outcome_ == Outcome::running && !bodies_ && !batchable_.empty() && now >= bodies_at_) {
    start_bodies();
  }
  while (outcome_ == Outcome::running && single_fetches_.size() < kMaxSingleFetches &&
         !singles_.empty() && now >= singles_at_) {
    start_single();
  }
  if (outcome_ != Outcome::running) return kNever;
  if (listing_done_ && !listing_ && !bodies_ && single_fetches_.empty() && batchable_.empty() &&
      singles_.empty()) {
    end(Outcome::completed, "");
    return kNever;
  }
  auto next = kNever;
  if (listing_wanted()) next = std::min(next, listing_at_);
  if (!bodies_ && !batchable_.empty()) next = std::min(next, bodies_at_);
  if (single_fetches_.size() < kMaxSingleFetches && !singles_.empty()) {
    next = std::min(next, singles_at_);
  }
  return next;
}

void PeerPass::start_listing() {
  std::string url = url_;
  url += kListingPath;
  // The cursor is opaque: echoed as sent (it is hex, which the encoding leaves alone).
  if (cursor_) url += "&after=" + wire::url_encode(*cursor_);
  auto t = BackfillTransfer::start(multi_, {std::move(url), "", nullptr, kMaxListingBytes, this},
                                   options_.identity, stop_);
  if (!t.ok()) return end(Outcome::failed, t.status().message());
  listing_ = std::move(t).value();
}

void PeerPass::start_bodies() {
  auto fetch = std::make_unique<Fetch>();
  uint64_t bytes = 0, json = 0;
  while (!batchable_.empty() && fetch->records.size() < wire::kMaxBodiesEntries) {
    const wire::ListedEntry& e = batchable_.front();
    uint64_t size = e.size.value_or(0);
    uint64_t tuple_json = e.record_id.size() + e.record_kind.size() + kTupleJsonBytes;
    if (!fetch->records.empty() && (bytes + size > wire::kBodiesBatchBytes ||
                                    json + tuple_json > wire::kMaxBodiesRequestBytes)) {
      break;
    }
    bytes += size;
    json += tuple_json;
    fetch->records.push_back(std::move(batchable_.front()));
    batchable_.pop_front();
  }
  std::string body = wire::encode_bodies_request(fetch->records);
  uint64_t max_bytes = wire::kBodiesBatchBytes + kFrameSlack * fetch->records.size();
  Status s =
      start_fetch(*fetch, false, url_ + "/_internal/backfill/bodies", std::move(body), max_bytes);
  if (!s.ok()) return end(Outcome::failed, s.message());
  bodies_ = std::move(fetch);
}

void PeerPass::start_single() {
  auto fetch = std::make_unique<Fetch>();
  fetch->records.push_back(std::move(singles_.front()));
  singles_.pop_front();
  std::string url =
      url_ + "/_internal/backfill/artifacts/" + wire::url_encode(fetch->records[0].record_id);
  Status s =
      start_fetch(*fetch, true, std::move(url), "", options_.max_artifact_bytes + kFrameSlack);
  if (!s.ok()) return end(Outcome::failed, s.message());
  single_fetches_.push_back(std::move(fetch));
}

Status PeerPass::start_fetch(Fetch& fetch, bool single, std::string url, std::string post_json,
                             uint64_t max_bytes) {
  fetch.applier = std::make_unique<FrameApplier>(
      target_, fetch.records, single,
      [this, &fetch](size_t index, Resolution resolution) { on_frame(fetch, index, resolution); });
  auto t = BackfillTransfer::start(
      multi_, {std::move(url), std::move(post_json), fetch.applier.get(), max_bytes, this},
      options_.identity, stop_);
  if (!t.ok()) return t.status();
  fetch.transfer = std::move(t).value();
  return Status::Ok();
}

void PeerPass::on_frame(Fetch& fetch, size_t index, Resolution resolution) {
  fetch.resolved = index + 1;
  const wire::ListedEntry& e = fetch.records[index];
  if (resolution == Resolution::fetch_individually) {
    singles_.push_back(e);
  } else {
    progress_.done(1, e.size.value_or(0));
  }
}

void PeerPass::finished(CURL* easy, CURLcode code, WarmupClock::time_point now) {
  if (listing_ && listing_->easy() == easy) {
    TransferReply reply = listing_->finish(code);
    listing_.reset();
    return on_listing(reply, now);
  }
  if (bodies_ && bodies_->transfer->easy() == easy) {
    std::unique_ptr<Fetch> fetch = std::move(bodies_);
    TransferReply reply = fetch->transfer->finish(code);
    fetch->transfer.reset();
    return on_fetch(std::move(fetch), reply, false, now);
  }
  auto it = std::find_if(single_fetches_.begin(), single_fetches_.end(),
                         [&](const auto& f) { return f->transfer->easy() == easy; });
  if (it == single_fetches_.end()) return;
  std::unique_ptr<Fetch> fetch = std::move(*it);
  single_fetches_.erase(it);
  TransferReply reply = fetch->transfer->finish(code);
  fetch->transfer.reset();
  on_fetch(std::move(fetch), reply, true, now);
}

void PeerPass::on_listing(const TransferReply& reply, WarmupClock::time_point now) {
  std::string why;
  switch (classify(reply, "listing", why)) {
    case Answer::ok:
      break;
    case Answer::not_found:
      return end(Outcome::not_capable, why);
    case Answer::retry:
      return retry(listing_at_, now, reply.retry_after, why);
    case Answer::fail:
      return end(Outcome::failed, why);
  }
  succeeded();
  if (Status s = take_listing(reply.body); !s.ok()) {
    end(Outcome::failed, fmt::format("listing of {}: {}", url_, s.message()));
  }
}

Status PeerPass::take_listing(const std::string& json) {
  auto page = wire::parse_listing(json);
  if (!page.ok()) return page.status();
  int64_t oldest = options_.horizon.count() > 0 ? wall_clock_ms() - options_.horizon.count()
                                                : std::numeric_limits<int64_t>::min();
  for (const wire::ListedEntry& e : page->entries) {
    if (Status s = take_entry(e, oldest); !s.ok()) return s;
    if (listing_done_) return Status::Ok();  // the horizon or the budget is reached
  }
  if (!page->next_after || page->next_after->empty()) {
    listing_done_ = true;
  } else if (cursor_ == page->next_after) {
    return {Code::invalid_argument, fmt::format("next_after {:.80} did not advance", *cursor_)};
  } else {
    cursor_ = std::move(page->next_after);
  }
  return Status::Ok();
}

Status PeerPass::take_entry(const wire::ListedEntry& e, int64_t oldest_ms) {
  if (e.version_ms < oldest_ms) {
    listing_done_ = true;  // newest first: everything after is older still
    return Status::Ok();
  }
  auto kind = wire::parse_kind(e.record_kind);
  if (!kind) return Status::Ok();  // a kind from a newer build
  if (*kind == storage::BackfillKind::tombstone) {
    // Version 0 would purge the namespace without a tombstone; a listing never means that.
    if (e.version_ms <= 0) return Status::Ok();
    auto applied = target_.store->delete_namespace(target_.tenant, e.record_id, e.version_ms, {});
    if (!applied.ok()) return applied.status();
    target_.metrics->apply_outcome(*applied ? "applied" : "ignored_older");
    progress_.known(1, 0);
    progress_.done(1, 0);
    return Status::Ok();
  }
  uint64_t size = e.size.value_or(0);
  if (options_.budget_bytes > 0 && listed_bytes_ + size > options_.budget_bytes) {
    listing_done_ = true;
    return Status::Ok();
  }
  listed_bytes_ += size;
  auto local = target_.store->head_id(e.record_id);
  if (local.ok()) {
    int64_t effective = local->version_ms != 0 ? local->version_ms : local->created_ms;
    if (effective >= e.version_ms) return Status::Ok();
  } else if (local.status().code() != Code::not_found) {
    return local.status();
  }
  progress_.known(1, size);
  (size > wire::kBodiesBatchBytes ? singles_ : batchable_).push_back(e);
  return Status::Ok();
}

void PeerPass::on_fetch(std::unique_ptr<Fetch> fetch, const TransferReply& reply, bool single,
                        WarmupClock::time_point now) {
  const char* what = single ? "artifact" : "bodies";
  std::string why;
  Answer answer = classify(reply, what, why);
  if (answer == Answer::ok) {
    if (Status s = fetch->applier->finish(Status::Ok()); !s.ok()) {
      return end(Outcome::failed, fmt::format("{} from {}: {}", what, url_, s.message()));
    }
    return succeeded();
  }
  // Discards a body left half-way; what was applied before stays.
  (void)fetch->applier->finish(Status(Code::unavailable, why));
  switch (answer) {
    case Answer::ok:
      break;
    case Answer::not_found:
      if (!single) return end(Outcome::not_capable, why);
      progress_.done(1, fetch->records[0].size.value_or(0));  // gone since it was listed
      return succeeded();
    case Answer::retry: {
      auto rest = std::make_move_iterator(fetch->records.begin() + fetch->resolved);
      auto last = std::make_move_iterator(fetch->records.end());
      if (single) {
        singles_.insert(singles_.begin(), rest, last);
      } else {
        batchable_.insert(batchable_.begin(), rest, last);
      }
      return retry(single ? singles_at_ : bodies_at_, now, reply.retry_after, why);
    }
    case Answer::fail:
      return end(Outcome::failed, why);
  }
}

PeerPass::Answer PeerPass::classify(const TransferReply& reply, const char* what,
                                    std::string& why) const {
  if (!reply.error.ok()) {
    why = fmt::format("{} from {}: {}", what, url_, reply.error.message());
    return reply.transport ? Answer::retry : Answer::fail;
  }
  if (reply.status == 200) return Answer::ok;
  PeerError e = peer_error(reply.body);
  why = fmt::format("{} from {}: HTTP {}{}{}: {}", what, url_, reply.status,
                    e.code.empty() ? "" : " ", e.code, e.message);
  switch (reply.status) {
    case 404:
      return Answer::not_found;
    case 429:
      return Answer::retry;
    case 503:
      if (e.code == "index_building" || e.code == "peer_busy" || e.code == "tmp_budget_exhausted" ||
          reply.retry_after.count() > 0) {
        return Answer::retry;
      }
      return Answer::fail;
    default:
      return Answer::fail;
  }
}

void PeerPass::retry(WarmupClock::time_point& lane, WarmupClock::time_point now,
                     std::chrono::seconds retry_after, const std::string& why) {
  if (failures_ == 0) streak_start_ = now;
  std::chrono::milliseconds backoff =
      std::min<std::chrono::milliseconds>(250ms * (1u << std::min(failures_, 4u)), 5s);
  ++failures_;
  progress_.error(why);
  if (now - streak_start_ >= options_.give_up_after) return end(Outcome::gave_up, why);
  lane = now + std::max<std::chrono::milliseconds>(
                   backoff, std::min<std::chrono::milliseconds>(retry_after, 5s));
  spdlog::debug("warm-up: {}; retry {} in {} ms", why, failures_,
                std::chrono::duration_cast<std::chrono::milliseconds>(lane - now).count());
}

void PeerPass::end(Outcome outcome, const std::string& why) {
  outcome_ = outcome;
  listing_.reset();
  bodies_.reset();
  single_fetches_.clear();
  batchable_.clear();
  singles_.clear();
  switch (outcome) {
    case Outcome::running:
    case Outcome::completed:
      spdlog::info("warm-up from {}: done", url_);
      break;
    case Outcome::not_capable:
      spdlog::info("warm-up: {} does not serve the backfill API, skipped ({})", url_, why);
      break;
    case Outcome::failed:
      progress_.error(why);
      spdlog::warn("warm-up from {} failed: {}", url_, why);
      break;
    case Outcome::gave_up:
      spdlog::warn("warm-up from {}: gave up after {} failures: {}", url_, failures_, why);
      break;
  }
}

}  // namespace meshcache::replication
