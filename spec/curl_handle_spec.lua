-- curl.curl_new(settings) / handle:perform(request): per-client settings are
-- fixed on the handle, perform takes only what belongs to one request.
-- Over real HTTP: a recording server (spec/support/raw_server.lua) and, for
-- timeouts, a socket that accepts connections but never answers.
local core = require "esconnector.core"
local curl = require "esconnector.curl"
local raw = require "spec.support.raw"
local socket = require "socket"

describe("curl handle", function()
  local server

  setup(function()
    server = raw.start{ responses = { raw.ok('{"n":1}') } }
  end)
  teardown(function() if server then server.stop() end end)

  it("refuses unknown settings and settings given to perform", function()
    local ok, msg = pcall(curl.curl_new, { ca_fiel = "x" })
    assert.is_false(ok)
    assert.matches("unknown curl_new settings field 'ca_fiel'", msg, 1, true)
    local handle = curl.curl_new{}
    for _, field in ipairs{ "ca_file", "ca_fingerprint", "verify_peer", "max_response_bytes" } do
      ok, msg = pcall(handle.perform, handle, { method = "GET", url = server.url .. "/", [field] = "x" })
      assert.is_false(ok)
      assert.matches("unknown perform request field '" .. field .. "'", msg, 1, true)
    end
    handle:close()
  end)

  it("refuses malformed settings when the handle is made", function()
    for _, settings in ipairs{ { ca_fingerprint = "abc" }, { protocols = "ftp" }, { timeout_ms = 0 / 0 },
                               { ca_file = "a\0b" }, { verify_peer = "yes" } } do
      assert.is_false(pcall(curl.curl_new, settings))
    end
    for _, name in ipairs{ "decompress", "accept_compressed" } do
      local ok, msg = pcall(curl.curl_new, { [name] = "yes" })
      assert.is_false(ok)
      assert.matches(name .. " must be a boolean", msg, 1, true)
    end
  end)

  it("performs a request and keeps the connection alive between requests", function()
    local handle = curl.curl_new{ timeout_ms = 5000 }
    local before = #server.requests()
    for _ = 1, 3 do
      local res = assert(handle:perform{ method = "GET", url = server.url .. "/keep" })
      assert.are.equal(200, res.status)
      assert.are.equal('{"n":1}', res.body)
      assert.are.equal("Elasticsearch", res.headers["x-elastic-product"])
      -- the raw head, and headers parsed from it when first read
      assert.matches("^HTTP/1%.1 200 ", res.head)
      assert.are.same(core.parse_headers(res.head), res.headers)
    end
    handle:close()
    local seen = server.requests()
    assert.are.equal(before + 3, #seen)
    assert.are.equal(seen[before + 1].connection, seen[before + 3].connection)
  end)

  -- The official clients ask for compressed answers only with compression
  -- on, and inflate gzip and deflate answers either way.
  describe("compressed answers", function()
    local BODY = '{"compressed":true}'
    local gzipped, zipping

    setup(function()
      gzipped = core.gzip(BODY)
      zipping = raw.start{ responses = { "HTTP/1.1 200 OK\r\nX-elastic-product: Elasticsearch\r\n"
        .. "Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: " .. #gzipped
        .. "\r\n\r\n" .. gzipped } }
    end)
    teardown(function() if zipping then zipping.stop() end end)

    -- The Accept-Encoding lines of the request fn(url) sends, and fn's result.
    local function accept_encoding_of(fn)
      local before = #zipping.requests()
      local res = fn(zipping.url)
      local seen = zipping.requests()
      assert.are.equal(before + 1, #seen)
      local lines = {}
      for value in seen[#seen].raw:gmatch("\r\n[Aa][Cc][Cc][Ee][Pp][Tt]%-[Ee][Nn][Cc][Oo][Dd][Ii][Nn][Gg]:([^\r]*)") do
        lines[#lines + 1] = value
      end
      return lines, res
    end

    local function get(settings, headers)
      return function(url)
        local handle = curl.curl_new(settings)
        local res = assert(handle:perform{ method = "GET", url = url .. "/", headers = headers })
        handle:close()
        return res
      end
    end

    it("asks for none by default, and inflates a gzip answer sent anyway", function()
      local lines, res = accept_encoding_of(get{})
      assert.are.same({}, lines)
      assert.are.equal(BODY, res.body)
      assert.are.equal("gzip", res.headers["content-encoding"])
    end)

    it("inflates a deflate answer too, asked for or not", function()
      local deflated = "\120\156\171\86\74\206\207\45\40\74\45\46\78\77\81\178\42\41\42\77\173\5\0\73\60\7\108"
      local s = raw.start{ responses = { "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        .. "Content-Encoding: deflate\r\nContent-Length: " .. #deflated .. "\r\n\r\n" .. deflated } }
      for _, settings in ipairs{ {}, { accept_compressed = true } } do
        local res = get(settings)(s.url)
        assert.are.equal(BODY, res.body)
      end
      s.stop()
    end)

    it("asks for gzip and deflate with accept_compressed", function()
      local lines, res = accept_encoding_of(get{ accept_compressed = true })
      assert.are.same({ " gzip, deflate" }, lines)
      assert.are.equal(BODY, res.body)
    end)

    it("with decompress = false asks for none and hands the body over as it came", function()
      local lines, res = accept_encoding_of(get{ decompress = false, accept_compressed = true })
      assert.are.same({}, lines)
      assert.are.equal(gzipped, res.body)
    end)

    it("sends a caller's own Accept-Encoding once, as given", function()
      for _, settings in ipairs{ {}, { accept_compressed = true } } do
        local lines = accept_encoding_of(get(settings, { "Accept-Encoding: identity" }))
        assert.are.same({ " identity" }, lines)
      end
    end)

    it("is asked for by a client with http_compress, whose bodies go gzipped, one call or a batch", function()
      local esconnector = require "esconnector"
      local params = { connector_id = "c", api_key_id = "k" }
      for _, compress in ipairs{ false, true } do
        local before = #zipping.requests()
        local client = esconnector.new{ hosts = { zipping.url }, max_retries = 0, http_compress = compress }
        assert.are.same({ compressed = true }, assert(client.connector:update_api_key_id(params)))
        local results = client:batch({ { "connector.update_api_key_id", params },
          { "connector.update_api_key_id", params } }, { concurrency = 2 })
        client:close()
        for i = 1, 2 do assert.are.same({ compressed = true }, results[i].result) end
        local seen = zipping.requests()
        assert.are.equal(before + 3, #seen)
        for i = before + 1, before + 3 do
          local head = seen[i].raw:match("^(.-\r\n)\r\n")
          assert.are.equal(compress and "gzip, deflate" or nil, head:match("\r\n[Aa]ccept%-[Ee]ncoding: ([^\r]*)"))
          assert.are.equal(compress and "gzip" or nil, head:match("\r\n[Cc]ontent%-[Ee]ncoding: ([^\r]*)"))
        end
      end
    end)
  end)

  it("fresh_connect opens a new connection for that request only", function()
    local handle = curl.curl_new{}
    local before = #server.requests()
    assert(handle:perform{ method = "GET", url = server.url .. "/a" })
    assert(handle:perform{ method = "PUT", url = server.url .. "/b", body = "{}", fresh_connect = true })
    assert(handle:perform{ method = "GET", url = server.url .. "/c" })
    handle:close()
    local seen = server.requests()
    assert.are.equal(before + 3, #seen)
    assert.are_not.equal(seen[before + 1].connection, seen[before + 2].connection)
    -- and the next request reuses a connection (either of the two)
    local c = seen[before + 3].connection
    assert.is_true(c == seen[before + 1].connection or c == seen[before + 2].connection)
    assert.matches("^PUT /b HTTP/1.1\r\n", seen[before + 2].raw)
  end)

  it("applies the size cap fixed at creation", function()
    local big = raw.start{ responses = { raw.ok(("x"):rep(5000)) } }
    local handle = curl.curl_new{ max_response_bytes = 1000 }
    local res, kind, message, code = handle:perform{ method = "GET", url = big.url .. "/" }
    handle:close()
    big.stop()
    assert.is_nil(res)
    assert.are.equal("decode", kind)
    assert.matches("larger than max_response_bytes (1000 bytes)", message, 1, true)
    assert.is_number(code)
  end)

  it("uses the default timeout from the settings, and a per-call one over it", function()
    local silent = assert(socket.bind("127.0.0.1", 0)) -- accepts (backlog), never answers
    local _, port = silent:getsockname()
    local url = ("http://127.0.0.1:%d/"):format(port)
    local handle = curl.curl_new{ timeout_ms = 300 }
    local started = core.now_ms()
    local res, kind = handle:perform{ method = "GET", url = url }
    local took = core.now_ms() - started
    assert.is_nil(res)
    assert.are.equal("timeout", kind)
    assert.is_true(took >= 250 and took < 3000, "took " .. took)
    started = core.now_ms()
    res, kind = handle:perform{ method = "GET", url = url, timeout_ms = 100 }
    took = core.now_ms() - started
    assert.is_nil(res)
    assert.are.equal("timeout", kind)
    assert.is_true(took < 280, "took " .. took)
    handle:close()
    silent:close()
  end)

  it("returns nil, kind, message, code on every failure", function()
    local handle = curl.curl_new{ connect_timeout_ms = 2000 }
    local n = select("#", handle:perform{ method = "GET", url = "http://127.0.0.1:1/" })
    assert.are.equal(4, n)
    local res, kind, message, code = handle:perform{ method = "GET", url = "http://127.0.0.1:1/" }
    assert.is_nil(res)
    assert.are.equal("connection", kind)
    assert.is_string(message)
    assert.is_number(code)
    n = select("#", handle:perform{ method = "GET", url = server.url .. "/", headers = { "X-A: a\r\nX-B: b" } })
    assert.are.equal(4, n)
    handle:close()
  end)

  it("knows whether this build can check ca_fingerprint", function()
    assert.is_boolean(curl.has_ca_fingerprint)
  end)
end)

-- make OPENSSL=0: the core built without libssl/libcrypto refuses the pin
-- clearly instead of silently not checking it.
describe("a core built with OPENSSL=0 #subprocess", function()
  it("links no OpenSSL and refuses ca_fingerprint, naming the build", function()
    local dir = os.tmpname()
    os.remove(dir)
    local sh = require("spec.support.shell").sh
    local out, ok = sh(("mkdir -p %s/esconnector && cc -std=c99 -Wall -Wextra -Werror -pedantic -O1 -fPIC "
      .. "-fvisibility=hidden -shared -I/usr/include/lua5.4 -DESC_NO_OPENSSL -o %s/esconnector/curl.so src/curl.c "
      .. "-lcurl && cc -std=c99 -O1 -fPIC -fvisibility=hidden -shared -I/usr/include/lua5.4 "
      .. "-o %s/esconnector/core.so src/core.c -lz"):format(dir, dir, dir))
    assert(ok, out)
    for _, include in ipairs{ "lua5.3", "lua5.2", "lua5.1", "luajit-2.1" } do -- compiles on every Lua
      out, ok = sh(("cc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -I/usr/include/%s "
        .. "-DESC_NO_OPENSSL src/curl.c"):format(include))
      assert(ok, include .. ": " .. out)
    end
    local needed = sh("readelf -d " .. dir .. "/esconnector/curl.so")
    assert.is_nil(needed:find("libssl", 1, true))
    assert.is_nil(needed:find("libcrypto", 1, true))
    out, ok = sh(("lua5.4 -e \"package.cpath='%s/?.so;'..package.cpath; "
      .. "package.path='./lua/?.lua;./lua/?/init.lua;'..package.path; "
      .. "local curl = require 'esconnector.curl'; assert(curl.has_ca_fingerprint == false); "
      .. "local ok, msg = pcall(curl.curl_new, { ca_fingerprint = ('ab'):rep(32) }); assert(not ok); print(msg); "
      .. "ok, msg = pcall(require('esconnector').new, { hosts = 'https://127.0.0.1:9200', "
      .. "ca_fingerprint = ('ab'):rep(32) }); assert(not ok); print(msg); "
      .. "assert(curl.curl_new{}:perform{ method = 'GET', url = 'http://127.0.0.1:1/' } == nil)\""):format(dir))
    sh("rm -rf " .. dir)
    assert(ok, out)
    assert.matches("ca_fingerprint needs esconnector built with OpenSSL (this core was built with ESC_NO_OPENSSL)",
      out, 1, true)
    assert.matches("ca_fingerprint needs the C core and libcurl built with OpenSSL", out, 1, true)
  end)
end)
