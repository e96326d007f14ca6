-- The fault matrix, over real HTTP against a three-node emulator of the
-- spec's own: each fault gives the right error kind (or success on another
-- node) with the right attempt count, and the next call works.
local esconnector = require "esconnector"
local emulator = require "spec.support.emulator"

describe("faults", function()
  local cluster

  setup(function() cluster = emulator.start{ nodes = 3 } end)
  teardown(function() if cluster then cluster.stop() end end)
  after_each(function() emulator.clear_faults(cluster) end)

  local function new_client(extra)
    local options = { hosts = cluster.urls, retry_backoff_ms = 1, max_retry_backoff_ms = 2,
      request_timeout_ms = 2000 }
    for k, v in pairs(extra or {}) do options[k] = v end
    return esconnector.new(options)
  end

  -- One node only, so that a fault cannot be routed around.
  local function single(extra)
    local options = { hosts = { cluster.urls[1] }, max_retries = 0, request_timeout_ms = 2000 }
    for k, v in pairs(extra or {}) do options[k] = v end
    return esconnector.new(options)
  end

  it("serves one cluster on three nodes that share state", function()
    assert.are.equal(3, #cluster.urls)
    local a = esconnector.new{ hosts = { cluster.urls[1] } }
    local c = esconnector.new{ hosts = { cluster.urls[3] } }
    assert(a.connector:put{ connector_id = "shared", name = "n" })
    assert.are.equal("n", assert(c.connector:get{ connector_id = "shared" }).name)
  end)

  local retried = {
    { "a closed connection", { fault = "close" } },
    { "a connection reset mid-response", { fault = "reset" } },
    { "a 503", { fault = "status", status = 503 } },
    { "a 502", { fault = "status", status = 502 } },
  }
  for _, case in ipairs(retried) do
    it("goes to another node after " .. case[1], function()
      local fault = case[2]
      fault.node, fault.count = 1, 0
      emulator.fault(fault, cluster)
      local client = new_client()
      for _ = 1, 3 do
        local res, err = client:info()
        assert.is_nil(err)
        assert.is_string(res.cluster_name)
      end
      client:close()
    end)

    it("reports " .. case[1] .. " with one node, then works again", function()
      local fault = case[2]
      fault.node, fault.count = 1, 1
      emulator.fault(fault, cluster)
      local client = single()
      local _, err = client:info()
      local want = fault.fault == "status" and "http" or "connection"
      assert.are.equal(want, err.kind)
      assert.are.equal(1, err.attempts)
      if fault.status then assert.are.equal(fault.status, err.status) end
      assert(client:info())
      client:close()
    end)
  end

  it("retries a 503 on the same single node until it answers, with max_retries", function()
    emulator.fault({ fault = "status", status = 503, node = 1, count = 2 }, cluster)
    local client = single{ max_retries = 3, retry_backoff_ms = 1, max_retry_backoff_ms = 2 }
    local res, err = client:info()
    assert.is_nil(err)
    assert.is_table(res)
    client:close()
  end)

  it("marks a failing node dead and stops sending to it", function()
    emulator.fault({ fault = "status", status = 503, node = 2, count = 0 }, cluster)
    local used = {}
    local client = new_client{ on_response = function(e) used[#used + 1] = e end }
    for _ = 1, 9 do assert(client:info()) end
    local to_dead = 0
    for _, e in ipairs(used) do if e.node == cluster.urls[2] then to_dead = to_dead + 1 end end
    assert.are.equal(1, to_dead) -- once, then it is skipped
    client:close()
  end)

  it("times out a slow answer, and retries it only when asked #timing", function()
    emulator.fault({ fault = "delay", ms = 1500, node = 1, count = 1 }, cluster)
    local client = single{ request_timeout_ms = 300 }
    local _, err = client:info()
    assert.are.equal("timeout", err.kind)
    assert.are.equal(1, err.attempts)
    client:close()

    emulator.fault({ fault = "delay", ms = 1500, node = 1, count = 1 }, cluster)
    client = new_client{ request_timeout_ms = 300, retry_on_timeout = true }
    client.pool.next = 1
    local res
    res, err = client:info()
    assert.is_nil(err)
    assert.is_table(res)
    client:close()
  end)

  it("never lets retries pass the call's deadline #timing", function()
    emulator.fault({ fault = "delay", ms = 1000, count = 0 }, cluster)
    local client = new_client{ request_timeout_ms = 800, retry_on_timeout = true, max_retries = 10 }
    local core = require "esconnector.core"
    local started = core.now_ms()
    local _, err = client:info(nil, { deadline_ms = 500 })
    local elapsed = core.now_ms() - started
    assert.are.equal("timeout", err.kind)
    assert.is_true(elapsed < 900, "took " .. elapsed .. " ms")
    client:close()
  end)

  local not_retried = {
    { "a malformed body", { fault = "malformed" }, "decode" },
    { "a missing X-elastic-product", { fault = "no_product" }, "product" },
    { "a body over max_response_bytes", { fault = "oversize" }, "decode" },
  }
  for _, case in ipairs(not_retried) do
    it("reports " .. case[1] .. " as a " .. case[3] .. " error without retrying", function()
      local fault = case[2]
      fault.count = 1
      emulator.fault(fault, cluster)
      local client = new_client{ max_response_bytes = 64 * 1024 }
      local _, err = client:info()
      assert.are.equal(case[3], err.kind)
      assert.are.equal(1, err.attempts)
      if case[3] == "decode" and fault.fault == "oversize" then
        assert.matches("max_response_bytes", err.message)
      end
      assert(client:info())
      client:close()
    end)
  end

  it("makes 1000 update_api_key_id calls with one of three nodes down, all successful", function()
    local client = new_client()
    assert(client.connector:put{ connector_id = "thousand" })
    emulator.fault({ fault = "close", node = 2, count = 0 }, cluster)
    local failures = 0
    for i = 1, 1000 do
      local res = client.connector:update_api_key_id{ connector_id = "thousand", api_key_id = "k" .. i }
      if not res or res.result ~= "updated" then failures = failures + 1 end
    end
    assert.are.equal(0, failures)
    assert.are.equal("k1000", assert(client.connector:get{ connector_id = "thousand" }).api_key_id)
    client:close()
  end)

  it("sniffs the cluster's nodes", function()
    local client = esconnector.new{ hosts = { cluster.urls[1] }, sniff_on_start = true }
    assert(client:info())
    local urls = {}
    for i, node in ipairs(client.pool.nodes) do urls[i] = node.url end
    table.sort(urls)
    local want = {}
    for i, u in ipairs(cluster.urls) do want[i] = u end
    table.sort(want)
    assert.are.same(want, urls)
    client:close()
  end)

  it("sends gzip bodies when asked, and the server understands them", function()
    -- the emulator closes the connection on a gzip-labelled body that does
    -- not inflate, so success with the label means the body was gzip
    local sent = {}
    local client = new_client{ http_compress = true, on_request = function(e)
      sent[#sent + 1] = table.concat(e.headers, "\n")
    end }
    assert(client.connector:put{ connector_id = "gz", name = "compressed" })
    assert.matches("Content%-Encoding: gzip", sent[1])
    assert.are.equal("compressed", assert(client.connector:get{ connector_id = "gz" }).name)
    client:close()
  end)

  it("leaves a body the caller encoded alone: one Content-Encoding, gzipped once", function()
    local core = require "esconnector.core"
    local sent = {}
    local client = new_client{ http_compress = true, on_request = function(e)
      sent[#sent + 1] = table.concat(e.headers, "\n")
    end }
    local body = core.gzip('{"name":"encoded by the caller"}')
    assert(client:perform_request("PUT", "/_connector/gz-own",
      { body = body, headers = { ["Content-Encoding"] = "gzip" } }))
    local _, count = sent[1]:lower():gsub("content%-encoding:", "")
    assert.are.equal(1, count)
    assert.are.equal("encoded by the caller", assert(client.connector:get{ connector_id = "gz-own" }).name)
    client:close()
  end)
end)

describe("secrets in every error path #timing", function()
  local cluster
  local SENTINEL = "SENTINEL-9f8e7d"

  setup(function() cluster = emulator.start{ nodes = 2, auth = true } end)
  teardown(function() if cluster then cluster.stop() end end)
  after_each(function() emulator.clear_faults(cluster) end)

  it("never shows a credential in errors, tostring or observer events", function()
    local events = {}
    local function observe(e) events[#events + 1] = e end
    local host = cluster.urls[1]:gsub("^http://", "http://elastic:" .. SENTINEL .. "@")
    local variants = {
      { hosts = cluster.urls, api_key = SENTINEL },
      { hosts = cluster.urls, api_key = { id = "x", api_key = SENTINEL } },
      { hosts = cluster.urls, basic_auth = { "elastic", SENTINEL } },
      { hosts = { host } },
    }
    local faults = { "close", "reset", "malformed", "no_product", "oversize", "delay" }
    local seen = {}
    local function scan(v, where)
      if type(v) == "string" then
        assert.is_nil(v:find(SENTINEL, 1, true), "sentinel in " .. where)
      elseif type(v) == "table" and not seen[v] then
        seen[v] = true
        for k, child in pairs(v) do scan(k, where); scan(child, where) end
      end
    end
    for _, options in ipairs(variants) do
      options.on_request, options.on_response = observe, observe
      options.max_retries, options.request_timeout_ms, options.max_response_bytes = 1, 300, 1024
      options.retry_backoff_ms, options.max_retry_backoff_ms = 1, 2
      local client = esconnector.new(options)
      scan(tostring(client), "tostring(client)")
      local _, err = client:info() -- 401: wrong credentials
      scan(err, "401 error")
      scan(tostring(err), "tostring(401 error)")
      for _, fault in ipairs(faults) do
        emulator.fault({ fault = fault, ms = 1000, count = 2 }, cluster)
        _, err = client:info()
        assert.is_table(err)
        scan(err, fault .. " error")
        scan(tostring(err), "tostring(" .. fault .. " error)")
        emulator.clear_faults(cluster)
      end
      client:close()
    end
    assert.is_true(#events > 0)
    scan(events, "observer events")
    for _, e in ipairs(events) do
      for _, h in ipairs(e.headers or {}) do
        if h:match("^Authorization") then assert.are.equal("Authorization: [redacted]", h) end
      end
    end
  end)
end)
