-- Hostile and extreme input through the public API: what reaches the wire
-- (seen byte for byte by a recording server, spec/support/raw_server.lua),
-- what is refused before anything is sent, and what a hostile server's
-- head does to the answer.  One `it` per defect of issue 9.
local esconnector = require "esconnector"
local core = require "esconnector.core"
local curl = require "esconnector.curl"
local raw = require "spec.support.raw"
local socket = require "socket"

local HAS_INTEGERS = math.type ~= nil -- Lua 5.3+

local function strings(n, prefix)
  local t = {}
  for i = 1, n do t[i] = (prefix or "f") .. i end
  return t
end

describe("hostile input", function()
  local server

  setup(function() server = raw.start{ responses = { raw.ok('{"acknowledged":true}') } } end)
  teardown(function() if server then server.stop() end end)

  local function client(extra)
    local options = { hosts = { server.url }, max_retries = 0 }
    for k, v in pairs(extra or {}) do options[k] = v end
    return esconnector.new(options)
  end

  -- Runs fn(client) and returns its results and the requests it sent.
  local function sent_by(fn, extra)
    local c = client(extra)
    local before = #server.requests()
    local res, err = fn(c)
    c:close()
    local all, new = server.requests(), {}
    for i = before + 1, #all do new[#new + 1] = all[i].raw end
    return res, err, new
  end

  describe("large lists and parameter tables (the Lua stack is budgeted)", function()
    it("sends a filter_path of 5000 names, in order", function()
      local res, err, wire = sent_by(function(c) return c.connector:list{ filter_path = strings(5000) } end)
      assert(res, tostring(err))
      assert.are.equal(1, #wire)
      local query = wire[1]:match("^GET /_connector%?([^ ]*) HTTP/1.1\r\n")
      assert.are.equal("filter_path=" .. table.concat(strings(5000), ","), query)
    end)

    it("sends 3000 ids in one path segment", function()
      local res, err, wire = sent_by(function(c) return c.security:clear_api_key_cache{ ids = strings(3000, "k") } end)
      assert(res, tostring(err))
      assert.are.equal("POST /_security/api_key/" .. table.concat(strings(3000, "k"), ",") .. "/_clear_cache",
        wire[1]:match("^(%S+ %S+)"))
    end)

    it("reports 2000 unknown parameters, sorted, and sends nothing", function()
      local params = { connector_id = "x" }
      for i = 1, 2000 do params[("p%04d"):format(i)] = i end
      local res, err, wire = sent_by(function(c) return c.connector:get(params) end)
      assert.is_nil(res)
      assert.are.equal("validation", err.kind)
      assert.matches("^request %[/_connector/x%] contains unrecognized parameters: %[p0001%], %[p0002%]", err.reason)
      assert.matches("%[p2000%]$", err.reason)
      assert.are.equal(0, #wire)
    end)

    it("sends 2000 unchecked parameters with validate = false", function()
      local params = { connector_id = "x" }
      for i = 1, 2000 do params["p" .. i] = "v" .. i end
      local res, err, wire = sent_by(function(c) return c.connector:get(params, { validate = false }) end)
      assert(res, tostring(err))
      local query = wire[1]:match("^GET /_connector/x%?(%S*) ")
      local count = 0
      for k, v in query:gmatch("([^&=]+)=([^&]*)") do
        assert.are.equal("v" .. k:sub(2), v)
        count = count + 1
      end
      assert.are.equal(2000, count)
    end)

    it("survives tables nested deep in a body", function()
      local deep = {}
      local node = deep
      for _ = 1, 500 do node.child = {}; node = node.child end
      local res, err = core.prepare("connector.update_configuration",
        { connector_id = "x", configuration = deep }, true)
      assert(res or err)
    end)
  end)

  describe("integers", function()
    it("sends an integer beyond 2^53 exactly on Lua 5.3+, and refuses it where it was rounded", function()
      if HAS_INTEGERS then
        local id = math.tointeger(9007199254740993)
        local res, err, wire = sent_by(function(c) return c.connector:get{ connector_id = id } end)
        assert(res, tostring(err))
        assert.matches("^GET /_connector/9007199254740993 HTTP", wire[1])
        local _
        _, _, wire = sent_by(function(c) return c.connector:get{ connector_id = math.maxinteger } end)
        assert.matches("^GET /_connector/9223372036854775807 HTTP", wire[1])
        _, _, wire = sent_by(function(c) return c.connector:get{ connector_id = math.mininteger } end)
        assert.matches("^GET /_connector/%-9223372036854775808 HTTP", wire[1])
      end
      -- a float beyond 2^53 (every 5.1/LuaJIT number there) may be a rounded
      -- neighbour of what was meant: refused, nothing sent
      for _, v in ipairs{ 2 ^ 53 + 2, 2 ^ 63, -2 ^ 60, 1e300, 0 / 0, math.huge, 1.5 } do
        local res, err, wire = sent_by(function(c) return c.connector:get{ connector_id = v } end)
        assert.is_nil(res)
        assert.are.equal("validation", err.kind)
        assert.are.equal(0, #wire)
        res, err, wire = sent_by(function(c) return c.connector:get({ connector_id = v }, { validate = false }) end)
        if v ~= 1.5 then -- unchecked, 1.5 is sent as the text it is
          assert.is_nil(res)
          assert.are.equal("validation", err.kind)
          assert.are.equal(0, #wire)
        end
      end
      local _, _, wire = sent_by(function(c) return c.connector:get{ connector_id = 2 ^ 53 - 1 } end)
      assert.matches("^GET /_connector/9007199254740991 HTTP", wire[1])
    end)

    it("writes body numbers exactly (cjson alone keeps 14 digits)", function()
      local big = HAS_INTEGERS and math.tointeger(9007199254740993) or 2 ^ 53 - 1
      local res, err, wire = sent_by(function(c)
        return c.connector:sync_job_update_stats{ connector_sync_job_id = "j",
          deleted_document_count = 123456789012345, indexed_document_count = big, indexed_document_volume = 7,
          last_seen = 0.1 }
      end)
      assert(res, tostring(err))
      local body = wire[1]:match("\r\n\r\n(.*)$")
      assert.matches('"deleted_document_count":123456789012345[,}]', body)
      local want = HAS_INTEGERS and "9007199254740993" or "9007199254740991"
      assert.matches('"indexed_document_count":' .. want .. "[,}]", body)
      assert.matches('"indexed_document_volume":7[,}]', body)
      assert.matches('"last_seen":0.1[,}]', body)
    end)

    it("reads answer integers beyond 2^53 exactly on Lua 5.3+", function()
      local answer = '{"indexed_document_count":9007199254740993,"id":"12345678901234567890",'
        .. '"min":-9223372036854775808,"ratio":0.5}'
      local s = raw.start{ responses = { raw.ok(answer) } }
      local c = esconnector.new{ hosts = s.url, max_retries = 0 }
      local res, err = c.connector:sync_job_get{ connector_sync_job_id = "j" }
      c:close()
      s.stop()
      assert(res, tostring(err))
      assert.are.equal("12345678901234567890", res.id)
      assert.are.equal(0.5, res.ratio)
      if HAS_INTEGERS then
        assert.are.equal("9007199254740993", tostring(res.indexed_document_count))
        assert.are.equal(math.mininteger, res.min)
      else
        assert.are.equal(2 ^ 53, res.indexed_document_count) -- the nearest double
      end
    end)

    it("refuses NaN and inf in query values, checked or not", function()
      for _, v in ipairs{ 0 / 0, math.huge, -math.huge } do
        for _, validate in ipairs{ true, false } do
          local res, err, wire = sent_by(function(c) return c.connector:list({ size = v }, { validate = validate }) end)
          assert.is_nil(res)
          assert.are.equal("validation", err.kind)
          assert.are.equal(0, #wire)
        end
      end
    end)
  end)

  describe("path and query escaping", function()
    it("escapes dot segments in list-typed path parameters", function()
      local _, _, wire = sent_by(function(c) return c.indices:delete{ index = ".." } end)
      assert.matches("^DELETE /%%2E%%2E HTTP/1.1\r\n", wire[1])
      _, _, wire = sent_by(function(c) return c.indices:delete{ index = { "." } } end)
      assert.matches("^DELETE /%%2E HTTP/1.1\r\n", wire[1])
    end)

    it("refuses a path parameter that would leave the path without its segment", function()
      for _, validate in ipairs{ true, false } do
        local res, err, wire = sent_by(function(c) return c.indices:delete({ index = {} }, { validate = validate }) end)
        assert.is_nil(res)
        assert.are.equal("validation", err.kind)
        assert.matches("[index] cannot be empty", err.reason, 1, true)
        assert.are.equal(0, #wire)
        res, err, wire = sent_by(function(c)
          return c.security:clear_api_key_cache({ ids = {} }, { validate = validate })
        end)
        assert.is_nil(res)
        assert.are.equal("validation", err.kind)
        assert.are.equal(0, #wire)
      end
      local res, err, wire = sent_by(function(c) return c.indices:delete({}, { validate = false }) end)
      assert.is_nil(res)
      assert.are.equal("validation", err.kind)
      assert.are.equal(0, #wire)
    end)

    it("escapes unchecked parameter names", function()
      local res, err, wire = sent_by(function(c)
        return c.connector:get({ connector_id = "x", ["a&b=c#x"] = "v" }, { validate = false })
      end)
      assert(res, tostring(err))
      assert.matches("^GET /_connector/x%?a%%26b%%3Dc%%23x=v HTTP/1.1\r\n", wire[1])
    end)

    it("checks the catalog's query enumerations", function()
      local res, err, wire = sent_by(function(c) return c.security:delete_role{ name = "r", refresh = "bogus" } end)
      assert.is_nil(res)
      assert.are.equal("validation", err.kind)
      assert.matches("Unknown value for [refresh]: [bogus]", err.reason, 1, true)
      assert.are.equal(0, #wire)
      local _
      _, err, wire = sent_by(function(c) return c.connector:sync_job_list{ job_type = { "full", "nope" } } end)
      assert.are.equal("validation", err.kind)
      assert.are.equal(0, #wire)
      res, err, wire = sent_by(function(c) return c.security:delete_role{ name = "r", refresh = "wait_for" } end)
      assert(res, tostring(err))
      assert.matches("^DELETE /_security/role/r%?refresh=wait_for HTTP", wire[1])
    end)
  end)

  describe("headers on the wire", function()
    it("refuses CR and LF in credentials with a validation error, sending nothing", function()
      for _, options in ipairs{ { api_key = "abc\r\nX-Injected: yes" }, { bearer_auth = "t\nX-Injected: yes" },
                                { api_key = "abc\0def" } } do
        local res, err, wire = sent_by(function(c) return c:info() end, options)
        assert.is_nil(res)
        assert.are.equal("validation", err.kind)
        assert.matches("'Authorization'", err.message, 1, true)
        assert.is_nil(err.message:find("abc", 1, true))
        assert.is_nil(tostring(err):find("Injected", 1, true))
        assert.are.equal(0, #wire)
      end
    end)

    it("refuses CR, LF and NUL in other headers and the opaque id", function()
      local c = client()
      assert.has_error(function() c:info(nil, { opaque_id = "a\0b" }) end)
      assert.has_error(function() c:info(nil, { opaque_id = "a\r\nX-Injected: yes" }) end)
      assert.has_error(function() c:info(nil, { headers = { ["X-A"] = "a\nb" } }) end)
      c:close()
      assert.is_false(pcall(esconnector.new, { hosts = server.url, headers = { ["X-A"] = "a\0b" } }))
      -- the core's own check, for any caller of perform
      local handle = curl.curl_new{}
      for _, line in ipairs{ "X-A: a\r\nX-B: b", "X-A: a\0b", "X-A\r\n: b", "no colon", ": empty name" } do
        local res, kind = handle:perform{ method = "GET", url = server.url .. "/", headers = { line } }
        assert.is_nil(res)
        assert.are.equal("validation", kind)
      end
      handle:close()
    end)

    it("sends a credential as it is when it is clean", function()
      local _, _, wire = sent_by(function(c) return c:info() end, { api_key = "abc", headers = { ["X-A"] = "1" } })
      assert.matches("\r\nAuthorization: ApiKey abc\r\n", wire[1], 1, true)
      assert.matches("\r\nX-A: 1\r\n", wire[1], 1, true)
    end)

    it("labels no body-less PUT or POST as a form", function()
      local res, err, wire = sent_by(function(c) return c.connector:check_in{ connector_id = "x" } end)
      assert(res, tostring(err))
      assert.matches("^PUT /_connector/x/_check_in HTTP/1.1\r\n", wire[1])
      assert.is_nil(wire[1]:lower():find("content-type", 1, true))
      assert.matches("\r\nContent-Length: 0\r\n", wire[1], 1, true)
      -- with a body, the vendored JSON type
      local _
      _, _, wire = sent_by(function(c) return c.connector:update_name{ connector_id = "x", name = "n" } end)
      assert.matches("\r\nContent%-Type: application/vnd%.elasticsearch%+json", wire[1])
    end)
  end)

  describe("limits", function()
    it("refuses timeouts and sizes below 1, NaN, inf and beyond libcurl's range", function()
      for _, name in ipairs{ "request_timeout_ms", "connect_timeout_ms", "max_response_bytes", "deadline_ms" } do
        for _, v in ipairs{ 0.5, 0, -1, 0 / 0, math.huge, 2 ^ 60 } do
          local ok, msg = pcall(esconnector.new, { hosts = server.url, [name] = v })
          assert.is_false(ok, name .. " = " .. tostring(v))
          assert.matches(name, msg, 1, true)
        end
      end
      local c = client()
      for _, name in ipairs{ "request_timeout_ms", "connect_timeout_ms", "deadline_ms" } do
        assert.is_false(pcall(c.info, c, nil, { [name] = 0.5 }))
        assert.is_false(pcall(c.info, c, nil, { [name] = 0 / 0 }))
      end
      assert.is_false(pcall(esconnector.new, { hosts = server.url, max_retries = math.huge }))
      c:close()
    end)

    it("a 1 ms timeout is one (a silent server does not hold the call)", function()
      local silent = assert(socket.bind("127.0.0.1", 0))
      local _, port = silent:getsockname()
      local c = esconnector.new{ hosts = ("http://127.0.0.1:%d"):format(port), max_retries = 0,
        request_timeout_ms = 1.5 }
      local started = core.now_ms()
      local _, err = c:info()
      c:close()
      silent:close()
      assert.are.equal("timeout", err.kind)
      assert.is_true(core.now_ms() - started < 2000)
      -- the core clamps again: 0.5 ms is 1 ms there, never "no timeout"
      silent = assert(socket.bind("127.0.0.1", 0))
      _, port = silent:getsockname()
      local handle = curl.curl_new{ timeout_ms = 0.5 }
      started = core.now_ms()
      local res, kind = handle:perform{ method = "GET", url = ("http://127.0.0.1:%d/"):format(port), timeout_ms = 0.25 }
      handle:close()
      silent:close()
      assert.is_nil(res)
      assert.are.equal("timeout", kind)
      assert.is_true(core.now_ms() - started < 2000)
    end)

    it("stops a gzip bomb at max_response_bytes", function()
      local bomb = core.gzip(("0"):rep(16 * 1024 * 1024))
      local bomber = raw.start{ responses = { "HTTP/1.1 200 OK\r\nX-elastic-product: Elasticsearch\r\n"
        .. "Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: " .. #bomb .. "\r\n\r\n"
        .. bomb } }
      local c = esconnector.new{ hosts = bomber.url, max_retries = 0, max_response_bytes = 1024 * 1024 }
      local _, err = c:info()
      c:close()
      assert.are.equal("decode", err.kind)
      assert.matches("larger than max_response_bytes (1048576 bytes)", err.message, 1, true)
      -- the core clamps again: 0.5 is 1 byte there, never "no limit"
      local handle = curl.curl_new{ max_response_bytes = 0.5 }
      local res, kind, message = handle:perform{ method = "GET", url = bomber.url .. "/" }
      handle:close()
      bomber.stop()
      assert.is_nil(res)
      assert.are.equal("decode", kind)
      assert.matches("(1 bytes)", message, 1, true)
    end)
  end)

  describe("a hostile server's head", function()
    local function answer(response, fn)
      local s = raw.start{ responses = { response } }
      local c = esconnector.new{ hosts = s.url, max_retries = 0 }
      local res, err = (fn or function(x) return x:info() end)(c)
      c:close()
      s.stop()
      return res, err
    end

    -- The response the curl handle makes of raw bytes from a server.
    local function performed(response)
      local handle = curl.curl_new{}
      local s = raw.start{ responses = { response } }
      local res = assert(handle:perform{ method = "GET", url = s.url .. "/" })
      handle:close()
      s.stop()
      return res
    end

    it("never reads a status line as a header", function()
      local res = performed("HTTP/1.1 200 x-elastic-product: Elasticsearch\r\n"
        .. "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
      assert.are.same({ ["content-type"] = "application/json", ["content-length"] = "2" }, res.headers)
      local _, err = answer("HTTP/1.1 200 x-elastic-product: Elasticsearch\r\n"
        .. "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
      assert.are.equal("product", err.kind)
    end)

    it("joins folded lines to the header above instead of making headers of them", function()
      local res = performed("HTTP/1.1 200 OK\r\nX-A: one\r\n X-elastic-product: Elasticsearch\r\n"
        .. "\tthree\r\nContent-Length: 0\r\n\r\n")
      assert.are.same({ ["x-a"] = "one X-elastic-product: Elasticsearch three", ["content-length"] = "0" },
        res.headers)
    end)

    it("keeps chunked trailers out of the headers", function()
      local res, err = answer("HTTP/1.1 200 OK\r\nX-elastic-product: Elasticsearch\r\n"
        .. "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        .. "f\r\n{\"tagline\":\"t\"}\r\n0\r\nX-elastic-product: Other\r\nX-Trailer: 1\r\n\r\n")
      assert(res, tostring(err))
      assert.are.equal("t", res.tagline)
    end)

    it("keeps the final head after an interim 100 Continue", function()
      local res, err = answer("HTTP/1.1 100 Continue\r\nX-elastic-product: Other\r\n\r\n" .. raw.ok('{"v":2}'))
      assert(res, tostring(err))
      assert.are.equal(2, res.v)
    end)
  end)
end)
