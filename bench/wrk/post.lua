-- wrk script for bench/run.sh: POSTs the payload file to the target with the bearer
-- header, and prints one JSON line (prefixed "BENCHJSON ") with the counts and the
-- latency percentiles (microseconds) when the run ends.
--   BENCH_PAYLOAD  path of the request body (JSON)
--   BENCH_AUTH     value of the Authorization header (empty: none, for the baseline)
local payload_path = os.getenv("BENCH_PAYLOAD")
local auth = os.getenv("BENCH_AUTH") or ""

local f = assert(io.open(payload_path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
if auth ~= "" then wrk.headers["Authorization"] = auth end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
