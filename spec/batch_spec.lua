-- client:batch and client:concurrently over real HTTP, against an emulator
-- of their own (three nodes, faults): order, the concurrency bound, entries
-- that fail alone (validation, timeout), retries and failover per entry,
-- secrets scrubbed per entry.
local esconnector = require "esconnector"
local emulator = require "spec.support.emulator"
local core = require "esconnector.core"
local in_flight = require "spec.support.in_flight"

describe("client:batch and client:concurrently", function()
  local cluster

  setup(function() cluster = emulator.start{ nodes = 3 } end)
  teardown(function() if cluster then cluster.stop() end end)
  after_each(function() emulator.clear_faults(cluster) end)

  local function counting_client(options) return in_flight.counting_client(cluster.urls[1], options) end
  local make_connectors = in_flight.make_connectors

  it("returns results in the order of the calls", function()
    local client = esconnector.new{ hosts = cluster.urls }
    local ids = make_connectors(client, "order", 24)
    local calls = {}
    for i, id in ipairs(ids) do
      calls[i] = { "connector.update_api_key_id", { connector_id = id, api_key_id = "key-" .. i } }
    end
    local results = client:batch(calls, { concurrency = 5 })
    assert.are.equal(24, #results)
    for i = 1, 24 do assert.are.same({ result = { result = "updated" } }, results[i]) end
    -- and what each one did: read back in a batch of gets, in order too
    calls = {}
    for i, id in ipairs(ids) do calls[i] = { "connector.get", { connector_id = id } } end
    results = client:batch(calls)
    for i, id in ipairs(ids) do
      assert.are.equal(id, results[i].result.id)
      assert.are.equal("key-" .. i, results[i].result.api_key_id)
    end
    client:close()
  end)

  it("never has more than concurrency requests in flight, and does keep that many", function()
    local client, counter = counting_client()
    local ids = make_connectors(client, "bound", 12)
    emulator.fault({ fault = "delay", ms = 150, path = "/_api_key_id$", count = 0 }, cluster)
    for _, concurrency in ipairs{ 1, 3, 12 } do
      counter.max = 0
      local calls = {}
      for i, id in ipairs(ids) do
        calls[i] = { "connector.update_api_key_id", { connector_id = id, api_key_id = "c" .. concurrency .. "-" .. i } }
      end
      local results = client:batch(calls, { concurrency = concurrency })
      for i = 1, #ids do assert.is_table(results[i].result, tostring(results[i].err)) end
      assert.are.equal(concurrency, counter.max)
      assert.are.equal(0, counter.now)
    end
    client:close()
  end)

  it("overlaps the waits: 12 calls of 150 ms, 4 at a time, take 3 rounds #timing", function()
    local client = esconnector.new{ hosts = { cluster.urls[1] } }
    local ids = make_connectors(client, "rounds", 12)
    emulator.fault({ fault = "delay", ms = 150, path = "/_api_key_id$", count = 0 }, cluster)
    local calls = {}
    for i, id in ipairs(ids) do
      calls[i] = { "connector.update_api_key_id", { connector_id = id, api_key_id = "r" } }
    end
    local started = core.now_ms()
    local results = client:batch(calls, { concurrency = 4 })
    local took = core.now_ms() - started
    for i = 1, 12 do assert.is_table(results[i].result, tostring(results[i].err)) end
    assert.is_true(took >= 3 * 150 - 10, "faster than 3 rounds of 150 ms: " .. took)
    assert.is_true(took < 12 * 150 / 2, "no overlap: " .. took .. " ms")
    client:close()
  end)

  it("fails an entry that cannot be made alone, with a validation error", function()
    local client = esconnector.new{ hosts = { cluster.urls[1] } }
    local ids = make_connectors(client, "valid", 2)
    local results = client:batch{
      { "connector.update_api_key_id", { connector_id = ids[1], api_key_id = "v1" } },
      { "connector.nonsense", {} },
      { "connector.update_api_key_id", "not a table" },
      { "connector.update_api_key_id", { api_key_id = "no connector id" } },
      { "connector.update_api_key_id", { connector_id = ids[2], api_key_id = "v2" }, { bogus_option = 1 } },
      { "connector.update_api_key_id", { connector_id = ids[2], api_key_id = "v2", unknown_param = 1 } },
      42,
      { "connector.update_api_key_id", { connector_id = ids[2], api_key_id = "v2" }, { request_timeout_ms = 5000 } },
      { "connector.get", { connector_id = ids[1] }, { opaque_id = "a\r\nX-Injected: yes" } },
    }
    assert.are.equal(9, #results)
    assert.are.same({ result = "updated" }, results[1].result)
    assert.are.same({ result = "updated" }, results[8].result)
    for _, i in ipairs{ 2, 3, 4, 5, 6, 7, 9 } do
      assert.is_nil(results[i].result)
      assert.is_true(esconnector.is_error(results[i].err), "entry " .. i)
      assert.are.equal("validation", results[i].err.kind, "entry " .. i .. ": " .. tostring(results[i].err))
    end
    assert.matches("unknown API 'connector.nonsense'", results[2].err.message, 1, true)
    assert.matches("bogus_option", results[5].err.message, 1, true)
    assert.matches("X-Opaque-Id", results[9].err.message, 1, true)
    client:close()
  end)

  it("retries and fails over per entry", function()
    local client, counter = counting_client{ hosts = cluster.urls, retry_backoff_ms = 1, max_retry_backoff_ms = 2 }
    local ids = make_connectors(client, "failover", 30)
    emulator.fault({ fault = "close", node = 2, count = 0 }, cluster)
    emulator.fault({ fault = "status", status = 503, node = 3, count = 3 }, cluster)
    local calls = {}
    for i, id in ipairs(ids) do
      calls[i] = { "connector.update_api_key_id", { connector_id = id, api_key_id = "f" .. i } }
    end
    local results = client:batch(calls, { concurrency = 8 })
    for i = 1, 30 do assert.are.same({ result = "updated" }, results[i].result, tostring(results[i].err)) end
    local closed, unavailable = 0, 0
    for _, e in ipairs(counter.events) do
      if e.kind == "connection" then closed = closed + 1 end
      if e.status == 503 then unavailable = unavailable + 1 end
    end
    assert.is_true(closed >= 1, "no call met the closed node")
    assert.is_true(unavailable >= 1, "no call met a 503")
    client:close()
  end)

  it("waits out each entry's retry backoff without holding up the others #timing", function()
    -- one node: every 503 is followed by a backoff of 200-400 ms before the retry
    local client, counter = counting_client{ retry_backoff_ms = 400, max_retry_backoff_ms = 400, max_retries = 1 }
    local ids = make_connectors(client, "backoff", 6)
    emulator.fault({ fault = "status", status = 503, node = 1, path = "/_api_key_id$", count = 6 }, cluster)
    local calls = {}
    for i, id in ipairs(ids) do
      calls[i] = { "connector.update_api_key_id", { connector_id = id, api_key_id = "b" .. i } }
    end
    local started = core.now_ms()
    local results = client:batch(calls, { concurrency = 6 })
    local took = core.now_ms() - started
    for i = 1, 6 do assert.are.same({ result = "updated" }, results[i].result, tostring(results[i].err)) end
    local unavailable = 0
    for _, e in ipairs(counter.events) do if e.status == 503 then unavailable = unavailable + 1 end end
    assert.are.equal(6, unavailable)
    assert.is_true(took >= 190, "no backoff: " .. took .. " ms")
    assert.is_true(took < 6 * 200, "the backoffs ran one after another: " .. took .. " ms")
    client:close()
  end)

  it("times out one entry without holding up the others #timing", function()
    local client = esconnector.new{ hosts = { cluster.urls[1] }, max_retries = 0 }
    local ids = make_connectors(client, "slow", 9)
    emulator.fault({ fault = "delay", ms = 3000, path = "/" .. ids[5]:gsub("%-", "%%-") .. "/_api_key_id$", count = 1 },
      cluster)
    local calls = {}
    for i, id in ipairs(ids) do
      calls[i] = { "connector.update_api_key_id", { connector_id = id, api_key_id = "t" } }
    end
    calls[5][3] = { request_timeout_ms = 400 }
    local started = core.now_ms()
    local results = client:batch(calls, { concurrency = 9 })
    local took = core.now_ms() - started
    assert.are.equal("timeout", results[5].err.kind)
    for i = 1, 9 do
      if i ~= 5 then assert.are.same({ result = "updated" }, results[i].result, tostring(results[i].err)) end
    end
    assert.is_true(took < 2000, "the batch waited for the slow entry: " .. took .. " ms")
    client:close()
  end)

  it("scrubs each entry's secrets from its error", function()
    local client = esconnector.new{ hosts = { cluster.urls[1] } }
    local s1, s2 = "SECRET-one-81723", "SECRET-two-99182"
    -- validate = false: the unknown parameter reaches Elasticsearch, whose
    -- error names it, and the name is the secret value
    local results = client:batch{
      { "connector.secret_post", { value = s1, [s1] = "x" }, { validate = false } },
      { "connector.secret_post", { value = s2, [s2] = "x" }, { validate = false } },
      { "connector.secret_post", { value = "ordinary-secret-value" } },
    }
    local function text(v, parts, seen) -- every string in the error, and tostring of it
      parts, seen = parts or { tostring(v) }, seen or {}
      if type(v) == "string" then
        parts[#parts + 1] = v
      elseif type(v) == "table" and not seen[v] then
        seen[v] = true
        for k, child in pairs(v) do text(k, parts, seen); text(child, parts, seen) end
      end
      return table.concat(parts, "\n")
    end
    for i = 1, 2 do
      local err = results[i].err
      assert.is_true(esconnector.is_error(err), "entry " .. i)
      local all = text(err)
      assert.matches("[redacted]", all, 1, true)
      assert.is_nil(all:find(s1, 1, true))
      assert.is_nil(all:find(s2, 1, true))
    end
    assert.is_string(results[3].result.id)
    client:close()
  end)

  it("runs multi-step functions concurrently; one that raises fails alone", function()
    local client, counter = counting_client()
    local ids = make_connectors(client, "steps", 6)
    emulator.fault({ fault = "delay", ms = 100, path = "^/_connector/steps", count = 0 }, cluster)
    local functions = {}
    for i, id in ipairs(ids) do
      functions[i] = function()
        local _, err = client.connector:update_api_key_id{ connector_id = id, api_key_id = "step-" .. i }
        if err then return nil, err end
        if i == 4 then error("step four broke") end
        local doc
        doc, err = client.connector:get{ connector_id = id }
        if not doc then return nil, err end
        return doc.api_key_id, "second value"
      end
    end
    counter.max = 0
    local results = client:concurrently(functions, { concurrency = 3 })
    for i = 1, 6 do
      if i == 4 then
        assert.are.equal("lua", results[i].err.kind)
        assert.matches("step four broke", results[i].err.message, 1, true)
      else
        assert.are.same({ result = "step-" .. i, err = "second value" }, results[i])
      end
    end
    assert.are.equal(3, counter.max)
    client:close()
  end)

  it("nests: batches inside concurrently join in, on one client and on two, all answered in order", function()
    local client, counter = counting_client()
    local other = esconnector.new{ hosts = { cluster.urls[2] } }
    local ids = make_connectors(client, "nested", 8)
    emulator.fault({ fault = "delay", ms = 300, path = "^/_connector/nested", count = 0 }, cluster)
    local functions = {}
    for f = 1, 4 do
      functions[f] = function()
        local c = f % 2 == 0 and other or client
        local calls = {}
        for i, id in ipairs(ids) do calls[i] = { "connector.get", { connector_id = id } } end
        local results = c:batch(calls, { concurrency = 4 })
        local got = {}
        for i = 1, #ids do got[i] = results[i].result and results[i].result.id or tostring(results[i].err) end
        return got
      end
    end
    counter.max = 0
    local done = client:concurrently(functions, { concurrency = 4 })
    for f = 1, 4 do assert.are.same(ids, done[f].result, tostring(done[f].err)) end
    -- the two batches on `client` ran side by side, each within its own bound
    assert.are.equal(8, counter.max)
    assert.are.equal(0, counter.now)
    -- and an empty batch inside a function returns at once
    done = client:concurrently({ function() return #client:batch({}) end })
    assert.are.equal(0, done[1].result)
    other:close()
    client:close()
  end)

  it("refuses bad arguments as programmer errors", function()
    local client = esconnector.new{ hosts = { cluster.urls[1] } }
    assert.has_error(function() client:batch("x") end)
    assert.has_error(function() client:batch({}, { concurrency = 0 }) end)
    assert.has_error(function() client:batch({}, { concurrency = 1.5 }) end)
    assert.has_error(function() client:batch({}, { concurency = 2 }) end)
    assert.has_error(function() client:concurrently({ 1 }) end)
    assert.are.same({}, client:batch({}))
    client:close()
  end)

  it("makes calls outside a batch as before, also from a coroutine of the caller's own", function()
    local client = esconnector.new{ hosts = { cluster.urls[1] } }
    local co = coroutine.wrap(function()
      local res = client:info()
      coroutine.yield(res and res.tagline)
      return "done"
    end)
    assert.are.equal("You Know, for Search", co())
    assert.are.equal("done", co())
    client:close()
  end)
end)
