// fuzz_http1.cc: libFuzzer target feeding arbitrary bytes to an Http1Session (fuzzer thread).
#include "agent/http/http1_session.h"
#include "fuzz_router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace meshcache::http;
  fuzz::FuzzEnv env;
  Http1Session session(env.env, env.host, env.out.get(), "fuzz:1");
  fuzz::drive(session, env, data, size);
  return 0;
}
