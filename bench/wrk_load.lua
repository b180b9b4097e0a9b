-- wrk's script for the benchmarks (harness.wrk_load): `wrk ... -s wrk_load.lua URL -- PATH EXPECT`.
-- Each request is GET PATH, where "{n}" becomes a number of 8 digits of its own (the wrk thread,
-- then a counter): each simplified send goes to a new recipient. An answer counts as bad unless
-- its status is 200 and its body contains EXPECT. `done` prints one line: JSON {...}.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  head, tail = args[1]:match("^(.-){n}(.*)$")
  plain = args[1]
  expect = args[2] or ""
  counter = 0
  bad = 0
end

function request()
  if head == nil then
    return wrk.format("GET", plain)
  end
  counter = counter + 1
  return wrk.format("GET", head .. string.format("%d%07d", id, counter) .. tail)
end

function response(status, headers, body)
  if status ~= 200 or (expect ~= "" and not body:find(expect, 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_answers = 0
  for _, thread in ipairs(threads) do
    bad_answers = bad_answers + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests": %d, "seconds": %.6f, "p50_ms": %.3f, "p99_ms": %.3f, "bad": %d, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, bad_answers,
    e.connect + e.read + e.write + e.status + e.timeout))
end
