// mock_state.h: everything the mock remembers. Owned by the router, touched only on the one I/O
// loop thread (and on main before the server starts), so it needs no locks.
#pragma once

#include <cstdint>

#include "tests/mock_cp/credentials.h"
#include "tests/mock_cp/faults.h"
#include "tests/mock_cp/journal.h"
#include "tests/mock_cp/tenants.h"
#include "tests/mock_cp/tokens.h"

namespace meshcache::mockcp {

struct MockState {
  explicit MockState(int64_t default_cert_lifetime_seconds)
      : tenants(default_cert_lifetime_seconds) {}

  Tenants tenants;
  Credentials credentials;
  Tokens tokens;
  Faults faults;
  Journal journal;
};

}  // namespace meshcache::mockcp
