// mock_router.h: the router of the mock's listener: /_mock/ goes to the admin API, the
// contract's paths to the node API behind the fault plan, and every node-facing request is
// recorded. Runs on the server's single I/O loop thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "agent/http/exchange.h"
#include "tests/mock_cp/admin_api.h"
#include "tests/mock_cp/mock_state.h"
#include "tests/mock_cp/node_api.h"

namespace meshcache::mockcp {

class MockRouter final : public http::Router {
 public:
  MockRouter(std::shared_ptr<MockState> state, NodeApiOptions options)
      : state_(std::move(state)),
        node_(state_->tenants, state_->credentials, state_->tokens, state_->journal, options),
        admin_(*state_) {}

  std::unique_ptr<http::Handler> route(const http::Request& request) override;

  // A request whose body has fully arrived. `alive` expires when the exchange goes away, which
  // a delayed (slow fault) answer checks before it responds.
  void serve(http::Exchange& ex, std::string_view body, std::weak_ptr<void> alive);
  // Records `reply` when the request is node-facing, then sends it.
  void finish(http::Exchange& ex, std::string_view body, const Reply& reply);

 private:
  void record(const http::Request& request, std::string_view body, int status);

  std::shared_ptr<MockState> state_;
  NodeApi node_;
  AdminApi admin_;
};

}  // namespace meshcache::mockcp
