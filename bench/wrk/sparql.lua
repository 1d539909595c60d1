-- wrk script: send one SPARQL query per request, the same text to every peer.
--
-- Environment:
--   BENCH_QUERY_FILE  the .rq file whose text is sent
--   BENCH_METHOD      POST (default: the body is the query, application/sparql-query)
--                     or GET (?query=<url-encoded text>)
--   BENCH_UNIQUE      a run id: every request's text then ends with a comment of its own
--                     ("# <run id>-<thread>-<n>"), so no request repeats an earlier text
--                     and no answer cache can answer it; the rows are the same
-- At the end it prints one line "BENCH_RESULT {json}" that bench/loadgen.py reads.
-- Latencies are in microseconds; errors_status counts HTTP statuses >= 400.

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

local file = assert(io.open(os.getenv("BENCH_QUERY_FILE"), "rb"))
local query = file:read("*a")
file:close()

wrk.headers["Accept"] = "application/sparql-results+json"
local get = (os.getenv("BENCH_METHOD") or "POST") == "GET"
local path = wrk.path
if get then
  wrk.method = "GET"
  wrk.path = wrk.path .. "?query=" .. urlencode(query)
else
  wrk.method = "POST"
  wrk.body = query
  wrk.headers["Content-Type"] = "application/sparql-query"
end

local unique = os.getenv("BENCH_UNIQUE")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

if unique and unique ~= "" then
  local sent = 0
  request = function()
    sent = sent + 1
    local text = string.format("%s\n# %s-%s-%d\n", query, unique, tostring(thread_number), sent)
    if get then
      return wrk.format("GET", path .. "?query=" .. urlencode(text))
    end
    return wrk.format("POST", nil, nil, text)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors_connect": %d, "errors_read": %d, "errors_write": %d, '
      .. '"errors_status": %d, "errors_timeout": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
