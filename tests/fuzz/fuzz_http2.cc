// fuzz_http2.cc: libFuzzer target feeding arbitrary bytes to an Http2Session (fuzzer thread).
// Seeds start with the client preface; mutations of it exercise the refusal path.
#include "agent/http/http2_session.h"
#include "fuzz_router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace meshcache::http;
  fuzz::FuzzEnv env;
  Http2Session session(env.env, env.host, env.out.get(), "fuzz:2", Protocol::h2c);
  fuzz::drive(session, env, data, size);
  return 0;
}
