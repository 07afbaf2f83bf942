-- wrk script for bench/run: cycles through deliveries written by gen.py.
--
--   wrk -s bench/wrk.lua URL -- FILE PREFIX
--
-- FILE holds the records; PREFIX is put before each record's endpoint
-- ("/payhook/" + "nicepay"). Thread t of T sends records t, t+T, t+2T, ...
-- in order and starts again from its first when it runs out (the run's
-- report counts duplicates from the database, so a wrap shows). done()
-- prints one line for bench/run:
--
--   RESULT requests=N seconds=S rps=R p50_ms=A p99_ms=B max_ms=C
--          non2xx=N connect=N read=N write=N timeout=N

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local reqs, n, pos

function init(args)
   local file, prefix = args[1], args[2] or "/"
   local nthreads = tonumber(args[3]) or 1
   local f = assert(io.open(file, "rb"))
   reqs, n, pos = {}, 0, 0
   local rec = 0
   while true do
      local line = f:read("*l")
      if line == nil then break end
      local ep, nh, len = line:match("^(%S+) (%d+) (%d+)$")
      assert(ep, "bad record header: " .. line)
      local headers = {}
      for _ = 1, tonumber(nh) do
         local h = f:read("*l")
         local k, v = h:match("^([^:]+): (.*)$")
         headers[k] = v
      end
      local body = f:read(tonumber(len))
      f:read(1) -- the newline after the body
      if rec % nthreads == tid then
         n = n + 1
         reqs[n] = wrk.format("POST", prefix .. ep, headers, body)
      end
      rec = rec + 1
   end
   f:close()
   assert(n > 0, "no records for this thread")
end

function request()
   pos = pos + 1
   if pos > n then pos = 1 end
   return reqs[pos]
end

function done(summary, latency, requests)
   local e = summary.errors
   local s = summary.duration / 1e6
   io.write(string.format(
      "RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
      "non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, s, summary.requests / s,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
      e.status, e.connect, e.read, e.write, e.timeout))
end
