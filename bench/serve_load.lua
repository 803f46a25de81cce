-- wrk script for bench/serve_load.py: POSTs the JSON bodies of QS_BODIES (one per line) to
-- QS_PATH in turn; every QS_MALFORMED_EVERY-th request is malformed JSON instead (0: never).
-- Each thread stops after QS_MAX_REQUESTS responses (0: only the -d duration bounds the run).
-- done() prints one line "QS_RESULT {json}" with the counts and latency percentiles (us).
threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  path = os.getenv("QS_PATH")
  max_requests = tonumber(os.getenv("QS_MAX_REQUESTS") or "0")
  malformed_every = tonumber(os.getenv("QS_MALFORMED_EVERY") or "0")
  bodies = {}
  for line in io.lines(os.getenv("QS_BODIES")) do
    table.insert(bodies, line)
  end
  sent, malformed, responses, ok, bad_request, other = 0, 0, 0, 0, 0, 0
  other_status = 0
  headers = {["Content-Type"] = "application/json"}
end

function request()
  sent = sent + 1
  if malformed_every > 0 and sent % malformed_every == 0 then
    malformed = malformed + 1
    return wrk.format("POST", path, headers, '{"inputs": [{"name": ')
  end
  return wrk.format("POST", path, headers, bodies[(sent % #bodies) + 1])
end

function response(status, hdrs, body)
  responses = responses + 1
  if status == 200 then
    ok = ok + 1
  elseif status == 400 then
    bad_request = bad_request + 1
  else
    other = other + 1
    other_status = status
  end
  if max_requests > 0 and responses >= max_requests then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local c = {sent = 0, malformed = 0, responses = 0, ok = 0, bad_request = 0, other = 0}
  for _, t in ipairs(threads) do
    for k, _ in pairs(c) do
      c[k] = c[k] + t:get(k)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'QS_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"socket_errors": %d, "timeouts": %d, "sent": %d, "malformed": %d, "responses": %d, "ok": %d, ' ..
    '"bad_request": %d, "other": %d, "an_other_status": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect + e.read + e.write, e.timeout, c.sent, c.malformed, c.responses, c.ok, c.bad_request,
    c.other, threads[1]:get("other_status")))
end
