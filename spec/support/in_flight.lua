-- Helpers for the specs of concurrent calls (batch, concurrently, the
-- scheduler) against an emulator.
local esconnector = require "esconnector"

local in_flight = {}

--- A client on hosts (default: url alone) that counts the requests it has
-- in flight: observers run just before a request is sent and just after its
-- answer.  counter = { now, max, events = the on_response events }.
function in_flight.counting_client(url, options)
  local counter = { now = 0, max = 0, events = {} }
  options = options or {}
  options.hosts = options.hosts or { url }
  options.on_request = function()
    counter.now = counter.now + 1
    if counter.now > counter.max then counter.max = counter.now end
  end
  options.on_response = function(e)
    counter.now = counter.now - 1
    counter.events[#counter.events + 1] = e
  end
  return esconnector.new(options), counter
end

--- Makes n connectors named prefix-1 .. prefix-n; returns their ids.
function in_flight.make_connectors(client, prefix, n)
  local ids = {}
  for i = 1, n do
    ids[i] = ("%s-%d"):format(prefix, i)
    assert(client.connector:put{ connector_id = ids[i], name = "n" .. i })
  end
  return ids
end

--- make_connectors, then every request to one of them answered delay_ms
-- late (an emulator fault until cleared), so that calls overlap.
function in_flight.slow_connectors(client, prefix, n, delay_ms, instance)
  local ids = in_flight.make_connectors(client, prefix, n)
  require("spec.support.emulator").fault({ fault = "delay", ms = delay_ms, path = "^/_connector/" .. prefix .. "%-",
    count = 0 }, instance)
  return ids
end

return in_flight
