-- esconnector's side of `make bench` (scripts/bench runs it on Lua 5.4 and
-- LuaJIT); prints one JSON line.  Bounded loops only.
--   esconnector.lua sequential URL N          N calls one after another
--   esconnector.lua batch URL N CONCURRENCY   N calls through client:batch
--   esconnector.lua memory URL N BATCHES      resident memory: after 1k and
--       after N sequential calls; after 1, 10 and BATCHES batches of 1000
--   esconnector.lua user_agent URL            the User-Agent one call sends
--       (for the C loop to send the same request)
--   esconnector.lua transport_only URL N      N times transport:send with the
--       request one update_api_key_id call hands its transport, captured
--       once: the libcurl binding alone, without prepare, JSON, interpret
--       or the retry loop; the ceiling of any whole call over it
local esconnector = require "esconnector"
local core = require "esconnector.core"
local json = require "esconnector.json"

local mode, url = arg[1], arg[2]
local PARAMS = { connector_id = "bench", api_key_id = "k" }

-- Resident memory after a full collection: what the process keeps, not
-- the garbage it has yet to collect.
local function rss_kb()
  collectgarbage()
  collectgarbage()
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("*a")
  f:close()
  return tonumber(text:match("VmRSS:%s*(%d+)"))
end

local function sequential(client, n)
  local update = client.connector.update_api_key_id
  local connector = client.connector
  for _ = 1, n do
    local res, err = update(connector, PARAMS)
    if not res then error(tostring(err)) end
  end
end

local function batch_calls(n)
  local calls = {}
  for i = 1, n do calls[i] = { "connector.update_api_key_id", PARAMS } end
  return calls
end

local function batch(client, calls, concurrency)
  local results = client:batch(calls, { concurrency = concurrency })
  for i = 1, #calls do
    if not results[i].result then error(tostring(results[i].err)) end
  end
end

local client = esconnector.new{ hosts = { url } }
local out = { mode = mode }
if mode == "user_agent" then
  local seen = esconnector.new{ hosts = { url }, on_request = function(r)
    for _, line in ipairs(r.headers) do out.user_agent = out.user_agent or line:match("^User%-Agent: (.*)$") end
  end }
  seen.connector:update_api_key_id(PARAMS)
  seen:close()
elseif mode == "transport_only" then
  local n = tonumber(arg[3])
  local transport = client.transport
  local request
  client.transport = setmetatable({ send = function(_, r) request = r; return transport:send(r) end },
    { __index = transport })
  client.connector:update_api_key_id(PARAMS)
  client.transport = transport
  for _ = 1, math.min(n, 200) do assert(transport:send(request)) end -- warm up
  local t0 = core.now_ms()
  for _ = 1, n do
    local res, err = transport:send(request)
    if not res or res.status ~= 200 then error(tostring(err and err.message or res.status)) end
  end
  out.calls, out.calls_per_s = n, math.floor(n / (core.now_ms() - t0) * 1000)
elseif mode == "sequential" then
  local n = tonumber(arg[3])
  sequential(client, math.min(n, 200)) -- connect and warm up
  local t0 = core.now_ms()
  sequential(client, n)
  out.calls, out.calls_per_s = n, math.floor(n / (core.now_ms() - t0) * 1000)
elseif mode == "batch" then
  local n, concurrency = tonumber(arg[3]), tonumber(arg[4])
  if client.batch then
    local calls = batch_calls(n)
    batch(client, batch_calls(concurrency * 4), concurrency) -- connect and warm up
    local t0 = core.now_ms()
    batch(client, calls, concurrency)
    out.calls, out.calls_per_s = n, math.floor(n / (core.now_ms() - t0) * 1000)
  else
    out.missing = "client:batch"
  end
elseif mode == "memory" then
  local n, batches = tonumber(arg[3]), tonumber(arg[4])
  sequential(client, 1000)
  out.rss_kb_after_1k = rss_kb()
  sequential(client, n - 1000)
  out.rss_kb_after_n, out.calls = rss_kb(), n
  if client.batch then
    local calls = batch_calls(1000)
    batch(client, calls, 32)
    out.rss_kb_after_1_batch = rss_kb()
    for _ = 2, 10 do batch(client, calls, 32) end
    out.rss_kb_after_10_batches = rss_kb()
    for _ = 11, batches do batch(client, calls, 32) end
    out.rss_kb_after_batches, out.batches = rss_kb(), batches
  end
else
  error("mode: sequential, transport_only, batch, memory or user_agent")
end
client:close()
print(json.encode(out))
