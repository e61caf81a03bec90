-- POST the same signed payload with a unique X-GitHub-Delivery per request,
-- shaped like GitHub's (a version-1 UUID).
-- The signature covers only the body, so one signature serves every request.
-- Args: <payload file> <X-Hub-Signature-256> <path> <delivery id prefix>
-- `thread_id` is a global set in each thread's Lua state by setup(); a
-- local of the same name here would shadow it.
local counter = 0
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("thread_id", nthreads)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  body = f:read("*a")
  f:close()
  signature = args[2]
  path = args[3]
  prefix = args[4]
  -- Every thread's Lua state starts from the same seed: mix in the thread,
  -- the run's prefix and the clock, or the threads would send the same ids.
  local seed = thread_id * 7919 + os.time()
  for i = 1, #prefix do seed = (seed * 31 + prefix:byte(i)) % 2147483647 end
  math.randomseed(seed)
  -- The UUID's node: random per thread, as GitHub's hosts differ.
  node = string.format("%06x%06x", math.random(0, 0xffffff), math.random(0, 0xffffff))
  clock = math.random(0x8000, 0xbfff)
  -- A version-1 UUID's timestamp counts 100 ns ticks since 1582-10-15. Lua
  -- numbers are doubles, exact only below 2^53: the high bits come from the
  -- clock (approximately is fine), the low 32 count up from a random start.
  local ticks = (os.time() + 12219292800) * 10000000
  mid = math.floor(ticks / 4294967296) % 65536
  hi = math.floor(ticks / 281474976710656) % 4096
  low0 = math.random(0, 0x7fffffff)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-GitHub-Event"] = "pull_request_review"
  wrk.headers["X-Hub-Signature-256"] = signature
  wrk.headers["User-Agent"] = "GitHub-Hookshot/bench"
end

function request()
  counter = counter + 1
  -- A version-1 (time-based) UUID, as GitHub sends: time_low first, so the
  -- ids of consecutive deliveries differ in their first hex digits.
  local low = (low0 + counter) % 4294967296
  wrk.headers["X-GitHub-Delivery"] = string.format("%08x-%04x-1%03x-%04x-%s", low, mid, hi, clock, node)
  return wrk.format("POST", path, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
