--- The test nginx's handlers (spec/openresty/nginx.conf.in), driven over
-- HTTP by scripts/openresty-tests.  Every answer of a test endpoint is one
-- line: "PASS <transport> <detail>" or "FAIL <transport> <detail>".
local esconnector = require "esconnector"
local cjson = require "cjson.safe"
local cases = require "spec.openresty.cases"

local handlers = {}

local results = ngx.shared.results
local env = {}
-- The client every request shares (made in init_by_lua, in the master).
local shared_client

local function now_ms()
  ngx.update_time()
  return ngx.now() * 1000
end

local counter = 0
local function unique(prefix)
  counter = counter + 1
  return ("%s-%d-%d-%d"):format(prefix, ngx.worker.pid(), math.floor(now_ms()), counter)
end

local function self_url(path)
  return "http://127.0.0.1:" .. env.port .. path
end

local function ctx()
  return {
    url = env.url, api_key = env.api_key,
    closed_url = "http://127.0.0.1:1",
    tls_url = "https://" .. env.url:match("^%a+://([^/]+)"),
    slow_url = self_url("/fake/slow"),
    unique = unique,
    control_url = env.control_url,
  }
end

local function reply(passed, transport, detail)
  ngx.say(passed and "PASS " or "FAIL ", transport or "-", " ", (tostring(detail or ""):gsub("\n", " ")))
end

--- init_by_lua: read the environment, make the shared client.
-- config: port, tls_port, badname_port, mtls_port, untrusted_port, prefix.
function handlers.init(config)
  for k, v in pairs(config) do env[k] = v end
  env.url = assert(os.getenv("ES_URL"), "ES_URL is not set")
  env.api_key = assert(os.getenv("ES_API_KEY"), "ES_API_KEY is not set")
  env.control_url = os.getenv("ES_CONTROL_URL")
  shared_client = esconnector.new{ hosts = { env.url }, api_key = env.api_key }
  results:set("init libcurl", handlers.libcurl_state())
end

--- Whether this process loaded the curl module and mapped libcurl: neither
-- should happen inside nginx unless the curl transport runs.
function handlers.libcurl_state()
  local f = assert(io.open("/proc/self/maps"))
  local maps = f:read("*a")
  f:close()
  return ("esconnector.curl %s, libcurl %s"):format(package.loaded["esconnector.curl"] and "loaded" or "absent",
    maps:find("libcurl", 1, true) and "mapped" or "not mapped")
end

-- Runs fn and stores what it raised or returned under key.
local function record(key, fn)
  local ok, value, err = pcall(fn)
  local text
  if not ok then
    text = "raised: " .. tostring(value)
  elseif value then
    text = "value: " .. cases.dump(value)
  else
    text = "error: " .. tostring(err)
  end
  results:set(key, text)
end

--- init_worker_by_lua: what a call does where nginx has no cosockets.
function handlers.init_worker()
  record("init_worker auto", function() return shared_client:info() end)
  record("init_worker curl", function()
    return esconnector.new{ hosts = { env.url }, api_key = env.api_key, transport = "curl" }:info()
  end)
  results:set("init_worker libcurl", handlers.libcurl_state()) -- before allow_blocking runs curl
  record("init_worker allow_blocking", function()
    local client = esconnector.new{ hosts = { env.url }, api_key = env.api_key, allow_blocking = true }
    local res, err = client:info()
    local selected = client.transport:selected()
    client:close()
    return res and { tagline = res.tagline, transport = selected }, err
  end)
end

-- A client of the fake Elasticsearch below, at /fake/<mode>.
local function fake_client(mode, extra)
  local options = { hosts = { self_url("/fake/" .. mode) }, api_key = env.api_key, max_retries = 0 }
  for k, v in pairs(extra or {}) do options[k] = v end
  return esconnector.new(options)
end

local function https_client(port, extra)
  local options = { hosts = { "https://127.0.0.1:" .. port }, api_key = env.api_key, max_retries = 0 }
  for k, v in pairs(extra or {}) do options[k] = v end
  return esconnector.new(options)
end

local function expect_error(res, err, kind, pattern)
  if res then return false, "expected a " .. kind .. " error, got " .. cases.dump(res) end
  if err.kind ~= kind then return false, "expected kind " .. kind .. ", got " .. tostring(err) end
  if pattern and not tostring(err.message or err):find(pattern) then
    return false, "the message does not match " .. pattern .. ": " .. tostring(err)
  end
  if tostring(err):find(env.api_key, 1, true) then return false, "the error shows the API key" end
  return true, tostring(err)
end

-- Checks that only make sense for resty (framing, pooling, TLS through
-- nginx, phases): name -> function() -> passed, detail.
local checks = {}
local check_names = {}
local function check(name, fn)
  checks[name] = fn
  check_names[#check_names + 1] = name
end

local function framing(mode, size)
  return function()
    local res, err = fake_client(mode .. "/" .. size):info()
    if not res then return false, tostring(err) end
    if res.framing ~= mode or #res.pad ~= size then
      return false, ("got framing %s, %d padding bytes"):format(tostring(res.framing), #(res.pad or ""))
    end
    return true, ("%d bytes of padding"):format(#res.pad)
  end
end

check("a Content-Length body", framing("length", 1000))
check("a body in several chunks", framing("chunked", 1000))
check("a body read to the close of the connection", framing("close", 1000))
check("a 300 KB chunked body", framing("chunked", 300000))
check("a 300 KB read-to-close body", framing("close", 300000))

-- client:batch and client:concurrently in light threads: 12 calls of
-- 200 ms each, 4 at a time, take about 600 ms, never more than 4 in flight
-- at the server (it counts them), and come back in order.
check("client:batch runs calls in light threads, at most concurrency at once", function()
  results:set("delay_inflight", 0)
  results:set("delay_max", 0)
  local client = fake_client("delay/200")
  local calls = {}
  for i = 1, 12 do calls[i] = { "info", {}, { opaque_id = "call-" .. i } } end
  calls[6] = { "connector.update_api_key_id", { api_key_id = "no connector_id" } }
  local started = now_ms()
  local out = client:batch(calls, { concurrency = 4 })
  local took = now_ms() - started
  local max = results:get("delay_max")
  for i = 1, 12 do
    if i == 6 then
      if not (out[i].err and out[i].err.kind == "validation") then
        return false, "entry 6 should fail validation alone: " .. cases.dump(out[i])
      end
    elseif not (out[i].result and out[i].result.headers["x-opaque-id"] == "call-" .. i) then
      return false, ("entry %d out of order or failed: %s"):format(i, cases.dump(out[i]))
    end
  end
  if max ~= 4 then return false, ("%s in flight at most at the server, not 4"):format(tostring(max)) end
  -- 11 calls of 200 ms, 4 at a time: 3 rounds
  if took < 550 or took > 1500 then return false, ("took %d ms, not about 600"):format(took) end
  return true, ("11 calls in %d ms, 4 in flight at most, in order"):format(took)
end)

check("client:concurrently: multi-step functions, one raising, the others unaffected", function()
  local client = fake_client("delay/100")
  local functions = {}
  for i = 1, 6 do
    functions[i] = function()
      local a, err = client:info()
      if not a then return nil, err end
      if i == 3 then error("boom " .. i) end
      local b
      b, err = client:info()
      if not b then return nil, err end
      return i
    end
  end
  local started = now_ms()
  local out = client:concurrently(functions, { concurrency = 6 })
  local took = now_ms() - started
  for i = 1, 6 do
    if i == 3 then
      if not (out[i].err and out[i].err.kind == "lua" and tostring(out[i].err):find("boom 3", 1, true)) then
        return false, "entry 3: " .. cases.dump(out[i])
      end
    elseif out[i].result ~= i then
      return false, ("entry %d: %s"):format(i, cases.dump(out[i]))
    end
  end
  if took > 600 then return false, ("took %d ms: two steps of 100 ms ran one after another"):format(took) end
  return true, ("6 two-step functions in %d ms"):format(took)
end)

local function connection_of(client)
  local res, err = client:info()
  if not res then error(tostring(err), 0) end
  return tonumber(res.connection), tonumber(res.requests)
end

check("keepalive: the next call reuses the connection (Content-Length and chunked)", function()
  for _, mode in ipairs{ "length", "chunked" } do
    local client = fake_client(mode .. "/10")
    local c1, r1 = connection_of(client)
    local c2, r2 = connection_of(client)
    if c1 ~= c2 or r2 ~= r1 + 1 then
      return false, ("%s: connections %d/%d, requests %d/%d"):format(mode, c1, c2, r1, r2)
    end
  end
  return true
end)

check("keepalive: no reuse after a read-to-close response", function()
  local client = fake_client("close/10")
  local c1 = connection_of(client)
  local c2 = connection_of(client)
  return c1 ~= c2, ("connections %d then %d"):format(c1, c2)
end)

check("keepalive: a connection the server closed while idle in the pool is not used", function()
  local seen = {}
  local client = fake_client("stale/10", { on_response = function(e) seen[#seen + 1] = e.kind or e.status end })
  local c1 = connection_of(client)
  ngx.sleep(1.5) -- the location's keepalive_timeout is 1 s
  local c2 = connection_of(client)
  if c1 == c2 then return false, "the same connection was used" end
  return #seen == 2 and seen[2] == 200, "responses seen: " .. cases.dump(seen)
end)

check("keepalive: a pooled connection that fails before any answer is retried on a new one", function()
  -- /fake/raw answers once, then hangs up on the next request it reads;
  -- with max_retries = 0 only the transport's own retry can save the call
  local seen = {}
  local client = fake_client("raw/10", { on_response = function(e) seen[#seen + 1] = e.kind or e.status end })
  local c1 = connection_of(client)
  local c2 = connection_of(client)
  if c1 == c2 then return false, "the same connection answered twice" end
  return #seen == 2 and seen[2] == 200, ("connections %d, %d; responses seen: %s"):format(c1, c2, cases.dump(seen))
end)

check("the request: Host, Content-Length, no Accept-Encoding", function()
  local res, err = fake_client("echo/0").connector:update_api_key_id{ connector_id = "c", api_key_id = "k" }
  if not res then return false, tostring(err) end
  local h = res.headers
  local body = '{"api_key_id":"k"}'
  local want = {
    host = "127.0.0.1:" .. env.port, ["content-length"] = tostring(#body), ["accept-encoding"] = cjson.null,
    authorization = "ApiKey " .. env.api_key, expect = cjson.null,
    ["content-type"] = "application/vnd.elasticsearch+json; compatible-with=8",
  }
  for name, value in pairs(want) do
    if (h[name] or cjson.null) ~= value then
      return false, name .. " is " .. tostring(h[name])
    end
  end
  if res.method ~= "PUT" or res.body ~= body or res.uri ~= "/fake/echo/0/_connector/c/_api_key_id" then
    return false, "got " .. tostring(res.method) .. " " .. tostring(res.uri) .. " " .. tostring(res.body)
  end
  return true
end)

check("a Content-Encoding it cannot decode is a decode error", function()
  local res, err = fake_client("gzip/10"):info()
  return expect_error(res, err, "decode", "gzip%-encoded")
end)

check("max_response_bytes caps a chunked body", function()
  local res, err = fake_client("chunked/5000", { max_response_bytes = 1000 }):info()
  return expect_error(res, err, "decode", "larger than max_response_bytes %(1000 bytes%)")
end)

check("max_response_bytes caps a read-to-close body", function()
  local res, err = fake_client("close/5000", { max_response_bytes = 1000 }):info()
  return expect_error(res, err, "decode", "larger than max_response_bytes")
end)

check("a 2xx without X-elastic-product is a product error", function()
  local res, err = fake_client("notes/10"):info()
  return expect_error(res, err, "product")
end)

check("plain HTTP to a TLS port: the server's 400", function()
  local _, err = fake_client("x", { hosts = { "http://127.0.0.1:" .. env.tls_port } }):info()
  return err and err.kind == "http" and err.status == 400, tostring(err)
end)

check("https: verified against lua_ssl_trusted_certificate, twice (pooled)", function()
  local client = https_client(env.tls_port)
  for _ = 1, 2 do
    local res, err = client:info()
    if not res then return false, tostring(err) end
    if res.tagline ~= "You Know, for Search" then return false, cases.dump(res) end
  end
  return true
end)

check("https: a certificate for another name is a tls error", function()
  local res, err = https_client(env.badname_port):info()
  return expect_error(res, err, "tls", "host mismatch")
end)

check("https: a certificate from a CA nginx does not trust is a tls error", function()
  local res, err = https_client(env.untrusted_port):info()
  return expect_error(res, err, "tls", "self%-signed.*lua_ssl_trusted_certificate")
end)

check("https: verify_tls = false accepts it", function()
  local res, err = https_client(env.badname_port, { verify_tls = false }):info()
  return res ~= nil, res and res.tagline or tostring(err)
end)

check("https: a server that demands a client certificate answers 400 without one", function()
  local _, err = https_client(env.mtls_port):info()
  return err and err.kind == "http" and err.status == 400, tostring(err)
end)

check("https: client_cert and client_key are presented", function()
  local res, err = https_client(env.mtls_port, { client_cert = env.prefix .. "/tls/client.pem",
    client_key = env.prefix .. "/tls/client.key" }):info()
  return res ~= nil, res and res.tagline or tostring(err)
end)

check("https: ca_file is refused with a tls error naming lua_ssl_trusted_certificate", function()
  local res, err = https_client(env.tls_port, { ca_file = env.prefix .. "/tls/ca.pem" }):info()
  return expect_error(res, err, "tls", "lua_ssl_trusted_certificate")
end)

check("https: ca_fingerprint is refused with a tls error", function()
  local res, err = https_client(env.tls_port, { ca_fingerprint = string.rep("ab", 32) }):info()
  return expect_error(res, err, "tls", "ca_fingerprint")
end)

check("phase: transport = \"curl\" in a request handler raises, naming allow_blocking", function()
  local client = esconnector.new{ hosts = { env.url }, api_key = env.api_key, transport = "curl" }
  local ok, err = pcall(client.info, client)
  if ok then return false, "it did not raise" end
  return tostring(err):find("allow_blocking = true", 1, true) ~= nil
    and tostring(err):find("content phase", 1, true) ~= nil, err
end)

check("phase: allow_blocking = true lets curl run in a request handler", function()
  local client = esconnector.new{ hosts = { env.url }, api_key = env.api_key, transport = "curl",
    allow_blocking = true }
  local res, err = client:info()
  local selected = client.transport:selected()
  client:close()
  return res ~= nil and selected == "curl", selected .. " " .. tostring(res and res.tagline or err)
end)

check("phase: transport = \"resty\" explicitly", function()
  local client = esconnector.new{ hosts = { env.url }, api_key = env.api_key, transport = "resty" }
  local res, err = client:info()
  return res ~= nil and client.transport:selected() == "resty", tostring(res and res.tagline or err)
end)

check("phase: resty from a timer (ngx.timer.at)", function()
  local key = unique("timer")
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    record(key, function()
      local res, call_err = shared_client:info()
      return res and { tagline = res.tagline, transport = shared_client.transport:selected(),
        phase = ngx.get_phase() }, call_err
    end)
  end)
  if not ok then return false, err end
  for _ = 1, 100 do
    local text = results:get(key)
    if text then
      return text:find('transport="resty"', 1, true) and text:find('phase="timer"', 1, true) ~= nil, text
    end
    ngx.sleep(0.05)
  end
  return false, "the timer did not finish"
end)

check("phase: init_worker with the default transport raises, naming ngx.timer.at", function()
  local text = results:get("init_worker auto") or ""
  return text:find("^raised: esconnector: nginx has no cosockets in the init_worker phase") ~= nil
    and text:find("ngx.timer.at", 1, true) ~= nil, text
end)

check("phase: init_worker with transport = \"curl\" raises, naming allow_blocking", function()
  local text = results:get("init_worker curl") or ""
  return text:find("^raised: .*init_worker phase.*allow_blocking = true") ~= nil, text
end)

check("no libcurl in nginx until the curl transport runs (new() in init_by_lua, calls refused in init_worker)",
  function()
    local init, worker = results:get("init libcurl") or "", results:get("init_worker libcurl") or ""
    local want = "esconnector.curl absent, libcurl not mapped"
    return init == want and worker == want, "master: " .. init .. "; worker: " .. worker
  end)

check("phase: init_worker with allow_blocking = true runs curl", function()
  local text = results:get("init_worker allow_blocking") or ""
  return text:find('transport="curl"', 1, true) ~= nil, text
end)

check("phase: log_by_lua with the default transport raises, naming ngx.timer.at", function()
  local text = results:get("log auto") or ""
  return text:find("^raised: esconnector: nginx has no cosockets in the log phase") ~= nil
    and text:find("ngx.timer.at(0", 1, true) ~= nil, text
end)

check("the client made in init_by_lua serves request handlers through resty", function()
  local res, err = shared_client:info()
  local selected = shared_client.transport:selected()
  return res ~= nil and selected == "resty", selected .. " " .. tostring(res and res.tagline or err)
end)

check("perform_request and connector:list_all through cosockets", function()
  local client = esconnector.new{ hosts = { env.url }, api_key = env.api_key }
  local name = unique("resty-paging")
  local ids = {}
  for i = 1, 3 do
    ids[i] = name .. "-" .. i
    local res, err = client:perform_request("PUT", "/_connector/" .. ids[i], { body = { name = name } })
    if not res then return false, "perform_request: " .. tostring(err) end
  end
  local seen, requests = 0, 0
  local counting = esconnector.new{ hosts = { env.url }, api_key = env.api_key,
    on_request = function() requests = requests + 1 end }
  for connector, err in counting.connector:list_all{ connector_name = name, size = 2 } do
    if not connector then return false, "list_all: " .. tostring(err) end
    seen = seen + 1
  end
  local selected = client.transport:selected()
  for _, id in ipairs(ids) do client.connector:delete{ connector_id = id, hard = true } end
  if seen ~= 3 or requests ~= 2 then
    return false, ("list_all saw %d connectors in %d requests"):format(seen, requests)
  end
  if selected ~= "resty" then return false, "transport " .. tostring(selected) end
  return true, "3 connectors in 2 pages"
end)

local CONCURRENT_IDS = 10

local routes = {}

routes["/t/ping"] = function() ngx.say("pong") end

-- What the default client picks here ("none" from a client.lua that does
-- not select transports: everything else would then block the worker).
routes["/t/transport"] = function()
  local t = shared_client.transport
  ngx.say(t.selected and t:selected() or "none")
end

routes["/t/cases"] = function()
  for i, case in ipairs(cases.list) do ngx.say(i, " ", case.name) end
end

routes["/t/case"] = function(args)
  local case = cases.list[tonumber(args.i)]
  if not case then return ngx.exit(404) end
  local passed, detail, transport = cases.run(case, ctx(), esconnector, now_ms)
  reply(passed, transport, detail)
end

routes["/t/checks"] = function()
  for _, name in ipairs(check_names) do ngx.say(name) end
end

routes["/t/check"] = function(args)
  local fn = checks[args.name]
  if not fn then return ngx.exit(404) end
  local ok, passed, detail = pcall(fn)
  if not ok then passed, detail = false, "raised: " .. tostring(passed) end
  reply(passed, "resty", detail)
end

routes["/t/concurrency-setup"] = function()
  for i = 0, CONCURRENT_IDS - 1 do
    local id = "esconnector-conc-" .. i
    shared_client.connector:delete{ connector_id = id, hard = true }
    local res, err = shared_client.connector:put{ connector_id = id, name = "name-" .. i }
    if not res then return reply(false, "resty", err) end
  end
  reply(true, "resty", "created")
end

routes["/t/concurrency-teardown"] = function()
  for i = 0, CONCURRENT_IDS - 1 do
    shared_client.connector:delete{ connector_id = "esconnector-conc-" .. i, hard = true }
  end
  reply(true, "resty", "deleted")
end

-- One of the 200: update a connector, read it back, through the shared
-- client; counts how many run at once.
local inflight, max_inflight = 0, 0
local concurrent

routes["/t/concurrent"] = function(args)
  inflight = inflight + 1
  if inflight > max_inflight then max_inflight = inflight end
  local ok, err = pcall(concurrent, args)
  inflight = inflight - 1
  if not ok then reply(false, "resty", err) end
end

routes["/t/max-inflight"] = function()
  ngx.say(max_inflight)
end

concurrent = function(args)
  local i = tonumber(args.i) or 0
  local n = i % CONCURRENT_IDS
  local id = "esconnector-conc-" .. n
  local res, err = shared_client.connector:update_api_key_id{ connector_id = id, api_key_id = "key-" .. i }
  if not res or (res.result ~= "updated" and res.result ~= "noop") then
    return reply(false, "resty", ("%d: %s"):format(i, tostring(err or cases.dump(res))))
  end
  local doc
  doc, err = shared_client.connector:get{ connector_id = id }
  if not doc or doc.id ~= id or doc.name ~= "name-" .. n then
    return reply(false, "resty", ("%d: %s"):format(i, tostring(err or cases.dump(doc))))
  end
  reply(shared_client.transport:selected() == "resty", shared_client.transport:selected(), "concurrent " .. i)
end

-- The slow call the 200 must not wait for.
routes["/t/slow-call"] = function()
  results:set("slow", "pending")
  local started = now_ms()
  local res, err = fake_client("slow/10", { request_timeout_ms = 10000 }):info()
  results:set("slow", "done")
  reply(res ~= nil, "resty", ("slow %d ms %s"):format(now_ms() - started, res and res.framing or tostring(err)))
end

-- An error from a real call (a missing connector, 404) in every string
-- context nginx offers: ngx.say / ngx.print take it as an array of
-- strings, ngx.log calls __tostring, ".." calls __concat.
routes["/t/error-strings"] = function()
  local id = unique("error-strings")
  local res, err = shared_client.connector:get{ connector_id = id }
  if res then return ngx.say("unexpected: a connector ", id) end
  ngx.log(ngx.ERR, "esconnector-error-log: ", err)
  ngx.say("say: ", err)
  ngx.print("print: ", err, "\n")
  ngx.say("concat: " .. err .. " :end")
  ngx.say("fields: ", err.kind, " ", err.status, " ", err.type, " ", err.attempts)
  err.step = "probe" -- a write keeps the object printable
  ngx.say({ "table: ", err })
end

routes["/t/slow-status"] = function()
  ngx.say(results:get("slow") or "none")
end

--- content_by_lua for /t/...
function handlers.handle()
  local route = routes[ngx.var.uri]
  if not route then return ngx.exit(404) end
  route(ngx.req.get_uri_args())
end

--- access_by_lua: a call from the access phase.
function handlers.access()
  local res, err = shared_client:info()
  ngx.ctx.access = { passed = res ~= nil and shared_client.transport:selected() == "resty",
    detail = ngx.get_phase() .. " " .. tostring(res and res.tagline or err) }
end

function handlers.access_content()
  local r = ngx.ctx.access or {}
  reply(r.passed, "resty", r.detail)
end

--- /fake/raw/: answers one request on the raw connection (keep-alive),
-- then reads the next request and closes without answering it.
function handlers.raw()
  local sock = assert(ngx.req.socket(true))
  local body = cjson.encode{ name = "fake", tagline = "You Know, for Search", framing = "raw",
    connection = ngx.var.connection, requests = ngx.var.connection_requests }
  sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-elastic-product: Elasticsearch\r\n"
    .. "Content-Length: " .. #body .. "\r\n\r\n" .. body)
  sock:settimeout(5000)
  sock:receive("*l")
end

--- log_by_lua: what a call does in a phase without cosockets, for the
-- next request to read.
function handlers.log_phase()
  record("log auto", function() return shared_client:info() end)
end

--- A fake Elasticsearch at /fake/<mode>/<size>/...: answers info-like
-- JSON with `size` bytes of padding, framed as mode says.
function handlers.fake()
  local mode, size = ngx.var.uri:match("^/fake/(%w+)/?(%d*)")
  size = tonumber(size) or 10
  if mode == "slow" then ngx.sleep(3) end
  if mode == "delay" then -- waits size ms, counting the requests in flight
    local now = results:incr("delay_inflight", 1, 0)
    if now > (results:get("delay_max") or 0) then results:set("delay_max", now) end
    ngx.sleep(size / 1000)
    results:incr("delay_inflight", -1, 0)
    mode = "echo"
  end
  if mode ~= "notes" then ngx.header["X-elastic-product"] = "Elasticsearch" end
  ngx.header["Content-Type"] = "application/json"
  local doc = { name = "fake", tagline = "You Know, for Search", framing = mode,
    connection = ngx.var.connection, requests = ngx.var.connection_requests, pad = string.rep("x", size) }
  if mode == "echo" then
    ngx.req.read_body()
    doc = { result = "updated", headers = ngx.req.get_headers(), method = ngx.req.get_method(),
      uri = ngx.var.request_uri, body = ngx.req.get_body_data() }
  end
  local body = cjson.encode(doc)
  if mode == "gzip" then ngx.header["Content-Encoding"] = "gzip" end
  if mode == "chunked" then
    -- several chunks: flush between pieces
    local piece = math.max(1, math.floor(#body / 3))
    for i = 1, #body, piece do
      ngx.print(body:sub(i, i + piece - 1))
      ngx.flush(true)
    end
    return
  end
  if mode ~= "close" then ngx.header["Content-Length"] = #body end
  ngx.print(body)
end

return handlers
