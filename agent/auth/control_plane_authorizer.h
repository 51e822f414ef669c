// control_plane_authorizer.h: client auth mode `control-plane`: tokens are checked by the
// control plane's introspection (tenant-scoped cache grants) and the answers cached by token
// hash. Built on the main thread; check()/needs_lookup()/lookup() run on the I/O loop threads,
// introspection answers arrive on the control-plane client's thread.
#pragma once

#include <memory>

#include "agent/auth/authorizer.h"
#include "agent/auth/decision_cache.h"
#include "agent/controlplane/introspection.h"

namespace meshcache::agent {

// `introspector` must outlive the authorizer; answers that arrive after the authorizer has
// gone are dropped safely.
std::unique_ptr<Authorizer> make_control_plane_authorizer(const AuthCacheOptions& options,
                                                          cp::Introspector& introspector);

}  // namespace meshcache::agent
