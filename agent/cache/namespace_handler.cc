// namespace_handler.cc: DELETE /api/cache/namespace?namespace_id=NS: drops a project's
// artifacts on this node and, through a tombstone, on every peer (I/O loop thread; the delete
// itself walks the store on the mesh's task thread).
#include <chrono>
#include <memory>

#include "agent/cache/artifact_handler.h"
#include "agent/cache/surfaces.h"
#include "storage/wall_clock.h"

namespace meshcache::agent::cache {
namespace {

class NamespaceHandler final : public CacheHandler {
 public:
  using CacheHandler::CacheHandler;

 private:
  void start(http::Exchange& ex) override {
    if (ex.request().method != "DELETE") {
      respond_method_not_allowed(ex, "DELETE");
      return;
    }
    // Required, and may be empty (tenant scope): an absent one must not mean "everything".
    if (!ex.request().query_param("namespace_id") && !ex.request().query_param("project_handle")) {
      respond_error(ex, 400, "bad_request", "namespace_id is required (empty for tenant scope)");
      return;
    }
    std::optional<std::string> ns = query_namespace(ex.request());
    if (!ns) {
      respond_error(ex, 400, "bad_namespace", "invalid namespace_id");
      return;
    }
    if (!authorize(ex, *ns, true)) return;

    storage::WriteOptions owed;
    owe_copies(owed);
    auto work = [store = ctx_.store, tenant = ctx_.config->tenant_id, ns = *ns,
                 targets = std::move(owed.outbox_targets)] {
      return store->delete_namespace(tenant, ns, wall_clock_ms(), targets);
    };
    if (ctx_.mesh == nullptr) {
      finish(ex, work());
      return;
    }
    // The walk may take a while on a big store: off the loop, then back to this exchange if
    // it is still there.
    std::weak_ptr<bool> alive = alive_;
    http::LoopExecutor* loop = &ex.executor();
    http::Exchange* exchange = &ex;
    // Only the loop may touch the handler, and only while it lives: the task thread uses the
    // mesh and the loop executor, which outlive every exchange.
    ctx_.mesh->background([this, mesh = ctx_.mesh, work, alive, loop, exchange] {
      Result<bool> result = work();
      if (result.ok()) mesh->wrote();  // the rows are committed whether or not the client waits
      loop->post([this, alive, exchange, result = std::move(result)] {
        if (alive.expired() || answered()) return;  // aborted meanwhile
        finish(*exchange, result, false);
      });
    });
  }

  void finish(http::Exchange& ex, const Result<bool>& result, bool wake = true) {
    if (!result.ok()) {
      respond_status(ex, result.status());
      return;
    }
    // A tombstone at or below the stored one changes nothing: the namespace is already gone
    // up to a later time. Either way the caller's intent holds.
    if (wake) copies_owed();
    respond_empty(ex, 204);
  }

  // Expires with the handler (an aborted request): the posted answer then finds nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

HandlerPtr route_namespace(const CacheContext& ctx, const http::Request& request) {
  return std::make_unique<NamespaceHandler>(ctx, route::namespace_delete);
}

}  // namespace meshcache::agent::cache
