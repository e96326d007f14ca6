-- Round trips of connector.update_api_key_id against ES_URL: one reused
-- client (keep-alive) and a new client per call; and core.prepare alone.
--   lua5.4 bench/update_api_key_id.lua N   -> one JSON line of figures
local esconnector = require "esconnector"
local core = require "esconnector.core"
local json = require "esconnector.json"

local n = tonumber(arg[1]) or 2000
local url = assert(os.getenv("ES_URL"), "ES_URL")

local client = esconnector.new{ hosts = { url } }
assert(client.connector:put{ connector_id = "bench" })

local function timed(f)
  local t0 = core.now_ms()
  f()
  return core.now_ms() - t0
end

local reused = timed(function()
  for i = 1, n do
    assert(client.connector:update_api_key_id{ connector_id = "bench", api_key_id = "k" .. i })
  end
end)

local fresh_n = math.max(1, math.floor(n / 4))
local fresh = timed(function()
  for i = 1, fresh_n do
    local c = esconnector.new{ hosts = { url } }
    assert(c.connector:update_api_key_id{ connector_id = "bench", api_key_id = "f" .. i })
    c:close()
  end
end)

local prepare_n = n * 50
local params = { connector_id = "bench", api_key_id = "k", api_key_secret_id = "s" }
local prepared = timed(function()
  for _ = 1, prepare_n do assert(core.prepare("connector.update_api_key_id", params)) end
end)

print(json.encode{
  calls = n,
  reused_client_calls_per_s = math.floor(n / reused * 1000),
  new_client_per_call_calls_per_s = math.floor(fresh_n / fresh * 1000),
  prepare_us = prepared * 1000 / prepare_n,
  memory_kb = math.floor(collectgarbage("count")),
})
