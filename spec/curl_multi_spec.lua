-- handle:start / handle:poll, the curl_multi driver under client:batch, and
-- perform reusing its easy handle without a reset: over real HTTP, a
-- recording server (exact bytes sent) and a TLS emulator.
local curl = require "esconnector.curl"
local raw = require "spec.support.raw"
local esconnector = require "esconnector"
local emulator = require "spec.support.emulator"

-- The method, target, headers (lower-case name -> value) and body of a raw
-- request.
local function parse(text)
  local head, body = text:match("^(.-)\r\n\r\n(.*)$")
  local method, target = head:match("^(%u+) (%S+) HTTP/1%.1")
  local headers = {}
  for name, value in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
  return { method = method, target = target, headers = headers, body = body }
end

-- Waits for every started transfer; returns token -> { response, err }.
local function drain(handle, count)
  local done, seen = {}, 0
  for _ = 1, 200 do
    for _, f in ipairs(handle:poll(100)) do
      assert.is_nil(done[f[1]], "token reported twice")
      done[f[1]] = { f[2], f[3] }
      seen = seen + 1
    end
    if seen == count then return done end
  end
  error("transfers never finished: " .. seen .. " of " .. count)
end

describe("curl multi driver", function()
  local server

  setup(function()
    local responses = {}
    for i = 1, 200 do responses[i] = raw.ok(('{"n":%d}'):format(i)) end
    server = raw.start{ responses = responses }
  end)
  teardown(function() if server then server.stop() end end)

  it("reuses one easy handle for GET, HEAD, PUT, DELETE and GET again, each sent as asked", function()
    for _, mode in ipairs{ "perform", "start" } do
      local handle = curl.curl_new{ timeout_ms = 5000 }
      local before = #server.requests()
      local requests = {
        { method = "PUT", url = server.url .. "/a", body = '{"x":1}',
          headers = { "Content-Type: application/json", "X-A: 1" } },
        { method = "GET", url = server.url .. "/b", headers = { "X-A: 1" } },
        { method = "HEAD", url = server.url .. "/c" },
        { method = "DELETE", url = server.url .. "/d", headers = { "X-B: 2" } },
        { method = "POST", url = server.url .. "/e" },
        { method = "GET", url = server.url .. "/f", body = '{"q":2}', headers = { "Content-Type: application/json" } },
        { method = "GET", url = server.url .. "/g" },
      }
      for _, request in ipairs(requests) do
        if mode == "perform" then
          assert(handle:perform(request))
        else
          assert.is_number(handle:start(request))
          local done = drain(handle, 1)
          local _, outcome = next(done)
          assert.is_table(outcome[1], outcome[2] and outcome[2].message)
        end
      end
      local got = server.requests()
      for i, request in ipairs(requests) do
        local sent = parse(got[before + i].raw)
        assert.are.equal(request.method, sent.method, mode .. " " .. i)
        assert.are.equal(request.url:match("/%w+$"), sent.target, mode .. " " .. i)
        assert.are.equal(request.body or "", sent.body, mode .. " " .. i)
        local has_length = sent.headers["content-length"] ~= nil
        assert.are.equal(request.body ~= nil or request.method == "PUT" or request.method == "POST", has_length,
          mode .. " " .. i .. " content-length")
        -- the header lines of this request only, never the last one's
        local lines = table.concat(request.headers or {}, "\n")
        assert.are.equal(lines:find("X-A: 1", 1, true) and "1" or nil, sent.headers["x-a"], mode .. " " .. i)
        assert.are.equal(lines:find("X-B: 2", 1, true) and "2" or nil, sent.headers["x-b"], mode .. " " .. i)
        assert.is_nil(sent.headers["expect"])
        if request.method == "POST" then assert.are.equal("", sent.headers["content-type"] or "") end
      end
      handle:close()
    end
  end)

  it("runs transfers at once, reports each token once, and refuses a bad one alone", function()
    local handle = curl.curl_new{ timeout_ms = 5000 }
    local tokens = {}
    for i = 1, 20 do
      tokens[i] = assert(handle:start{ method = "GET", url = server.url .. "/t" .. i })
      if i > 1 then assert.is_true(tokens[i] > tokens[i - 1]) end
    end
    local token, kind, message = handle:start{ method = "GET", url = server.url .. "/",
      headers = { "X-Evil: a\r\nX-Injected: yes" } }
    assert.is_nil(token)
    assert.are.equal("validation", kind)
    assert.matches("X-Evil", message, 1, true)
    local done = drain(handle, 20)
    for i = 1, 20 do
      local response = done[tokens[i]][1]
      assert.are.equal(200, response.status)
      assert.are.equal("Elasticsearch", response.headers["x-elastic-product"])
    end
    assert.are.same({}, handle:poll(0))
    handle:close()
  end)

  it("reports a connection error per transfer as { kind, message }", function()
    local handle = curl.curl_new{ connect_timeout_ms = 2000 }
    local token = assert(handle:start{ method = "GET", url = "http://127.0.0.1:1/" })
    local done = drain(handle, 1)
    assert.is_nil(done[token][1])
    assert.are.equal("connection", done[token][2].kind)
    assert.is_string(done[token][2].message)
    handle:close()
  end)

  it("frees transfers still in flight when closed or collected", function()
    for _ = 1, 2 do
      local handle = curl.curl_new{ timeout_ms = 5000 }
      for i = 1, 12 do assert(handle:start{ method = "GET", url = server.url .. "/abandoned" .. i }) end
      handle:poll(0)
      handle:close()
      assert.has_error(function() handle:poll(0) end, "esconnector: the curl transport is closed")
      handle = curl.curl_new{}
      for i = 1, 12 do assert(handle:start{ method = "GET", url = server.url .. "/gc" .. i }) end
      handle = nil -- luacheck: ignore 311
      collectgarbage()
      collectgarbage()
    end
  end)
end)

describe("client:batch over TLS", function()
  local cluster

  setup(function() cluster = emulator.start{ tls = true } end)
  teardown(function() if cluster then cluster.stop() end end)

  local function batch(options)
    local client = esconnector.new(options)
    local calls = {}
    for i = 1, 12 do calls[i] = { "info" } end
    local results = client:batch(calls, { concurrency = 6 })
    client:close()
    return results
  end

  it("verifies every transfer: refused untrusted, accepted with ca_file or the right pin, refused a wrong pin",
    function()
      for _, r in ipairs(batch{ hosts = { cluster.url } }) do assert.are.equal("tls", r.err.kind) end
      for _, r in ipairs(batch{ hosts = { cluster.url }, ca_file = cluster.ca_file }) do
        assert.are.equal("You Know, for Search", r.result.tagline)
      end
      for _, r in ipairs(batch{ hosts = { cluster.url }, ca_fingerprint = cluster.ca_fingerprint }) do
        assert.are.equal("You Know, for Search", r.result.tagline)
      end
      -- another first hex digit (the pin is read case-insensitively: "A" and "a" are one digit)
      local wrong = cluster.ca_fingerprint:gsub("%x", function(h) return h:lower() == "a" and "b" or "a" end, 1)
      assert.are_not.equal(cluster.ca_fingerprint:lower(), wrong:lower())
      for _, r in ipairs(batch{ hosts = { cluster.url }, ca_fingerprint = wrong }) do
        assert.are.equal("tls", r.err.kind)
      end
    end)
end)
