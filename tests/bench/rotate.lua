-- rotate.lua: wrk script for bench_serving.py; each request takes the next path of a list, so a
-- run touches every key instead of hammering one.
-- Arguments after `--`: METHOD PATHS_FILE [BODY_FILE|-] [CLOSE_EVERY]
--   BODY_FILE    request body sent with every request (PUT), "-" for none
--   CLOSE_EVERY  N > 0 adds `Connection: close` to every Nth request of a thread: the server answers
--                with `Connection: close` and wrk reconnects, so N = 2 gives about one new connection
--                per 2 requests, as ccache does (one process, hence one connection, per compile).
-- All requests are built in init() because building one per call costs wrk more than a fast
-- server spends answering it. done() prints one `BENCH_JSON {...}` line for the driver.

local next_id = 0
function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

local plain, closing, n, i, k, close_every = {}, {}, 0, 0, 0, 0

function init(args)
  local method, paths_file, body_file = args[1], args[2], args[3]
  close_every = tonumber(args[4] or "0")
  local body = nil
  if body_file and body_file ~= "-" then
    local f = assert(io.open(body_file, "rb"))
    body = f:read("*a")
    f:close()
  end
  -- wrk.format fills Host and Content-Length into the table it gets: give each call its own,
  -- with the -H headers of the command line (wrk.format ignores them once given a table).
  local function headers(extra)
    local h = {}
    for name, value in pairs(wrk.headers) do h[name] = value end
    for name, value in pairs(extra) do h[name] = value end
    return h
  end
  for path in io.lines(paths_file) do
    n = n + 1
    plain[n] = wrk.format(method, path, headers({}), body)
    if close_every > 0 then
      closing[n] = wrk.format(method, path, headers({ ["Connection"] = "close" }), body)
    end
  end
  assert(n > 0, "no paths in " .. paths_file)
  -- Threads start far apart in the list so they do not walk the same keys in step.
  i = math.floor(thread_id * n / 2) % n
end

function request()
  i = i % n + 1
  k = k + 1
  if close_every > 0 and k % close_every == 0 then
    return closing[i]
  end
  return plain[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99)))
end
