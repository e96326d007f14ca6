--- Cases every transport must pass the same way: run through curl by
-- spec/openresty/cases_spec.lua (busted, every Lua) and through resty by
-- the test nginx of scripts/openresty-tests (spec/openresty/handlers.lua),
-- so that the two transports cannot drift apart.
--
-- ctx, given by the runner:
--   url          the cluster (the emulator started with --auth)
--   api_key      its encoded API key
--   closed_url   http://127.0.0.1:<a port nothing listens on>
--   tls_url      https:// to the cluster's plain-HTTP port
--   slow_url     a server that answers only after 3 s
--   unique(p)    a fresh id starting with p
--   control_url  the emulator's control endpoint (faults, request log), or nil
--
-- A case: name; options(ctx) -> extra client options; run(client, ctx, esconnector)
-- -> value | nil, err; expect = { value = subset } or { err = subset },
-- plus matches = { field = Lua pattern } ("tostring" is tostring(err)),
-- absent = function(ctx) -> strings that must appear nowhere in the error,
-- max_ms = the longest the call may take.  Expected values may be
-- functions of ctx.
local errors = require "esconnector.errors"

local cases = {}

local BOTH_NULL = "Validation Failed: 1: [api_key_id] and [api_key_secret_id] cannot both be [null]. "
  .. "Please provide a value for at least one of them.;"
local MISSING = "esconnector-cases-missing"
-- base64("esconnector-bad:not-a-real-secret"): a key the cluster does not know
local BAD_KEY = "ZXNjb25uZWN0b3ItYmFkOm5vdC1hLXJlYWwtc2VjcmV0"

local function created(client, id)
  local res, err = client.connector:put{ connector_id = id, name = "cases" }
  assert(res, err and tostring(err))
end

local function drop(client, id)
  client.connector:delete{ connector_id = id, hard = true }
end

-- Runs fn(), always deleting the connector afterwards.
local function with_connector(client, id, fn)
  created(client, id)
  local ok, value, err = pcall(fn)
  drop(client, id)
  if not ok then error(value, 0) end
  return value, err
end

cases.list = {
  {
    name = "update_api_key_id sets both ids and get returns them",
    run = function(client, ctx)
      local id = ctx.unique("cases-akid")
      return with_connector(client, id, function()
        local res, err = client.connector:update_api_key_id{ connector_id = id,
          api_key_id = "my-api-key-id", api_key_secret_id = "my-connector-secret-id" }
        if not res then return nil, err end
        local doc = assert(client.connector:get{ connector_id = id })
        return { result = res.result, api_key_id = doc.api_key_id, api_key_secret_id = doc.api_key_secret_id }
      end)
    end,
    expect = { value = { result = "updated", api_key_id = "my-api-key-id",
      api_key_secret_id = "my-connector-secret-id" } },
  },
  {
    name = "update_api_key_id answers noop for the ids already stored",
    run = function(client, ctx)
      local id = ctx.unique("cases-noop")
      return with_connector(client, id, function()
        assert(client.connector:update_api_key_id{ connector_id = id, api_key_id = "k1" })
        return client.connector:update_api_key_id{ connector_id = id, api_key_id = "k1" }
      end)
    end,
    expect = { value = { result = "noop" } },
  },
  {
    name = "a connector id that needs escaping stays one path segment",
    run = function(client, ctx)
      local id = ctx.unique("a b/c?d#\195\169%")
      return with_connector(client, id, function()
        local res, err = client.connector:update_api_key_id{ connector_id = id, api_key_id = "odd-key" }
        if not res then return nil, err end
        local doc = assert(client.connector:get{ connector_id = id })
        return { result = res.result, same_id = doc.id == id, api_key_id = doc.api_key_id }
      end)
    end,
    expect = { value = { result = "updated", same_id = true, api_key_id = "odd-key" } },
  },
  {
    name = "validation: a missing connector_id is caught before sending",
    run = function(client)
      return client.connector:update_api_key_id{ api_key_id = "k" }
    end,
    expect = { err = { kind = "validation", type = "action_request_validation_exception",
      reason = 'Validation Failed: 1: [connector_id] cannot be [null] or [""].;' } },
  },
  {
    name = "validation: both ids null",
    run = function(client, _, esconnector)
      return client.connector:update_api_key_id{ connector_id = MISSING, api_key_id = esconnector.null }
    end,
    expect = { err = { kind = "validation", type = "action_request_validation_exception", reason = BOTH_NULL } },
  },
  {
    name = "validation: an unknown field names the right one",
    run = function(client)
      return client.connector:update_api_key_id{ connector_id = MISSING, api_key = "x" }
    end,
    expect = { err = { kind = "validation", type = "x_content_parse_exception",
      reason = "[connector_update_api_key_id_request] unknown field [api_key] did you mean [api_key_id]?" } },
  },
  {
    name = "unchecked, the server answers 400 in the same words",
    run = function(client, _, esconnector)
      return client.connector:update_api_key_id({ connector_id = MISSING, api_key_id = esconnector.null },
        { validate = false })
    end,
    expect = { err = { kind = "http", status = 400, type = "action_request_validation_exception",
      reason = BOTH_NULL, attempts = 1 } },
  },
  {
    name = "404 document_missing_exception for update_api_key_id of a missing connector",
    run = function(client)
      return client.connector:update_api_key_id{ connector_id = MISSING, api_key_id = "k" }
    end,
    expect = {
      err = { kind = "http", status = 404, type = "document_missing_exception",
        reason = "[" .. MISSING .. "]: document missing", attempts = 1,
        node = function(ctx) return ctx.url end },
      matches = { tostring = "^esconnector: 404 document_missing_exception: %[" .. MISSING:gsub("%-", "%%-") },
    },
  },
  {
    name = "404 resource_not_found_exception for get of a missing connector",
    run = function(client)
      return client.connector:get{ connector_id = MISSING }
    end,
    expect = { err = { kind = "http", status = 404, type = "resource_not_found_exception",
      reason = "connector [" .. MISSING .. "] not found" } },
  },
  {
    name = "401 security_exception for an unknown API key, which the error never shows",
    options = function() return { api_key = BAD_KEY } end,
    run = function(client)
      return client:info()
    end,
    expect = {
      err = { kind = "http", status = 401, type = "security_exception", attempts = 1 },
      absent = function() return { BAD_KEY, "not-a-real-secret" } end,
    },
  },
  {
    name = "a refused connection is a connection error",
    options = function(ctx) return { hosts = { ctx.closed_url }, max_retries = 0, connect_timeout_ms = 2000 } end,
    run = function(client) return client:info() end,
    expect = {
      err = { kind = "connection", attempts = 1, node = function(ctx) return ctx.closed_url end },
      matches = { message = "127%.0%.0%.1", tostring = "^esconnector: connection: .+%(http://127%.0%.0%.1:%d+%)$" },
    },
  },
  {
    name = "https to a plain HTTP port is a tls error",
    options = function(ctx) return { hosts = { ctx.tls_url }, max_retries = 0 } end,
    run = function(client) return client:info() end,
    expect = { err = { kind = "tls", attempts = 1 }, matches = { message = "." },
      absent = function(ctx) return { ctx.api_key } end },
  },
  {
    name = "an answer slower than request_timeout_ms is a timeout",
    options = function(ctx) return { hosts = { ctx.slow_url }, request_timeout_ms = 300, max_retries = 0 } end,
    run = function(client) return client:info() end,
    expect = { err = { kind = "timeout", attempts = 1 }, max_ms = 2000 },
  },
  {
    name = "retry_on_timeout retries a timeout",
    options = function(ctx)
      return { hosts = { ctx.slow_url }, request_timeout_ms = 200, max_retries = 1, retry_on_timeout = true,
        retry_backoff_ms = 10, max_retry_backoff_ms = 20 }
    end,
    run = function(client) return client:info() end,
    expect = { err = { kind = "timeout", attempts = 2 }, max_ms = 2500 },
  },
  {
    name = "deadline_ms bounds the whole call",
    options = function(ctx)
      return { hosts = { ctx.slow_url }, request_timeout_ms = 20000, deadline_ms = 400, retry_on_timeout = true }
    end,
    run = function(client) return client:info() end,
    expect = { err = { kind = "timeout" }, max_ms = 2000 },
  },
  {
    name = "failover: a refused node, then the cluster answers",
    options = function(ctx)
      local seen = {}
      ctx.seen = seen
      return { hosts = { ctx.closed_url, ctx.url }, connect_timeout_ms = 2000,
        on_response = function(e) seen[#seen + 1] = e end }
    end,
    run = function(client, ctx)
      local res, err = client:info()
      if not res then return nil, err end
      local seen = ctx.seen
      return { tagline = res.tagline, attempts = #seen, first_kind = seen[1] and seen[1].kind,
        first_node = seen[1] and seen[1].node, second_status = seen[2] and seen[2].status }
    end,
    expect = { value = { tagline = "You Know, for Search", attempts = 2, first_kind = "connection",
      first_node = function(ctx) return ctx.closed_url end, second_status = 200 } },
  },
  {
    name = "max_retries refused connections, with backoff, then the error",
    options = function(ctx)
      return { hosts = { ctx.closed_url }, max_retries = 2, retry_backoff_ms = 10, max_retry_backoff_ms = 20 }
    end,
    run = function(client) return client:info() end,
    expect = { err = { kind = "connection", attempts = 3 } },
  },
  {
    name = "a body over max_response_bytes is a decode error",
    options = function() return { max_response_bytes = 100 } end,
    run = function(client) return client:info() end,
    expect = { err = { kind = "decode", attempts = 1 },
      matches = { message = "larger than max_response_bytes %(100 bytes%)" } },
  },
  {
    -- at most once: a create goes out on a new connection (never a kept-alive
    -- one that may be stale) and is not resent after its answer was lost;
    -- counted in the emulator's request log (ctx.control_url)
    name = "a create is sent once, on a new connection, even when its answer is lost",
    options = function() return { max_retries = 3, retry_backoff_ms = 1 } end,
    run = function(client, ctx)
      if not ctx.control_url then return { skipped = true } end
      local json = require "esconnector.json"
      local function control(method, path, body)
        local res = assert(client.transport:send{ method = method, url = ctx.control_url .. path, timeout_ms = 5000,
          headers = body and { "Content-Type: application/json" } or {}, body = body and json.encode(body) })
        return json.decode(res.body)
      end
      local before = #control("GET", "/requests")
      assert(client:info())
      assert(client:info())
      local name = ctx.unique("once")
      control("POST", "/faults", { fault = "drop_answer", method = "PUT", path = "^/_security/api_key$", count = 1 })
      local key, err = client.security:create_api_key{ name = name }
      local log = control("GET", "/requests")
      -- the create is the last request: applied, then its connection closed
      local creates, fresh, reused_gets = 0, nil, 0
      for i = before + 1, #log do
        local r = log[i]
        if r.method == "PUT" and r.path == "/_security/api_key" then
          creates = creates + 1
          fresh = r.connection_requests == 1
        elseif r.method == "GET" and r.path == "/" and r.connection_requests > 1 then
          reused_gets = reused_gets + 1
        end
      end
      return { key = key and "returned" or "none", kind = err and err.kind, attempts = err and err.attempts,
        creates = creates, fresh = fresh, reused_gets = reused_gets, applied = log[#log].status == 444 }
    end,
    expect = { value = {
      skipped = function(ctx) return not ctx.control_url or nil end,
      key = function(ctx) return ctx.control_url and "none" or nil end,
      kind = function(ctx) return ctx.control_url and "connection" or nil end,
      attempts = function(ctx) return ctx.control_url and 1 or nil end,
      creates = function(ctx) return ctx.control_url and 1 or nil end,
      fresh = function(ctx) return ctx.control_url and true or nil end,
      reused_gets = function(ctx) return ctx.control_url and 1 or nil end,
      applied = function(ctx) return ctx.control_url and true or nil end,
    } },
  },
}

-- A readable, deterministic dump of a value (for failure messages).
local function dump(v, depth)
  depth = depth or 0
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) ~= "table" then return tostring(v) end
  if depth > 3 then return "{...}" end
  if errors.is_error(v) then v = errors.fields(v) end -- its fields are behind the metatable
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = tostring(k) .. "=" .. dump(v[k], depth + 1) end
  return "{" .. table.concat(out, ", ") .. "}"
end
cases.dump = dump

local function resolve(want, ctx)
  if type(want) == "function" then return want(ctx) end
  return want
end

-- nil when every field of want is in got, else what differs.
local function subset(want, got, ctx, path)
  for k, w in pairs(want) do
    w = resolve(w, ctx)
    local g = type(got) == "table" and got[k] or nil
    local where = path .. "." .. tostring(k)
    if type(w) == "table" then
      local diff = subset(w, g, ctx, where)
      if diff then return diff end
    elseif g ~= w then
      return ("%s: expected %s, got %s"):format(where, dump(w), dump(g))
    end
  end
  return nil
end

local function merged(ctx, extra)
  local options = { hosts = { ctx.url }, api_key = ctx.api_key }
  for k, v in pairs(extra or {}) do options[k] = v end
  return options
end

--- Checks what a case's run returned; returns true, or false and why.
function cases.check(case, ctx, value, err, elapsed_ms)
  local expect = case.expect
  if expect.value then
    if not value then return false, "expected a value, got the error " .. tostring(err) end
    local diff = subset(expect.value, value, ctx, "value")
    if diff then return false, diff end
  else
    if value then return false, "expected an error, got " .. dump(value) end
    if type(err) ~= "table" then return false, "expected an error table, got " .. dump(err) end
    local diff = subset(expect.err, err, ctx, "err")
    if diff then return false, diff .. " in " .. tostring(err) end
  end
  for field, pattern in pairs(expect.matches or {}) do
    local text = field == "tostring" and tostring(err) or (err or value)[field]
    if type(text) ~= "string" or not text:find(pattern) then
      return false, ("%s %s does not match %s"):format(field, dump(text), pattern)
    end
  end
  if expect.absent then
    local text = tostring(err) .. " " .. dump(err)
    for _, secret in ipairs(expect.absent(ctx)) do
      if text:find(secret, 1, true) then return false, "the error shows a secret: " .. secret end
    end
  end
  if expect.max_ms and elapsed_ms > expect.max_ms then
    return false, ("took %d ms, more than %d"):format(elapsed_ms, expect.max_ms)
  end
  return true
end

--- Runs one case with a new client; returns passed, detail and the name of
-- the transport that served it ("curl", "resty", or nil for a custom one).
-- now_ms() gives milliseconds on the runner's clock.
function cases.run(case, ctx, esconnector, now_ms, extra_options)
  local options = merged(ctx, case.options and case.options(ctx))
  for k, v in pairs(extra_options or {}) do options[k] = v end
  local client = esconnector.new(options)
  local transport = client.transport.selected and client.transport:selected() or nil
  local started = now_ms()
  local ok, value, err = pcall(case.run, client, ctx, esconnector)
  local elapsed = math.floor(now_ms() - started)
  client:close()
  if not ok then return false, "raised: " .. tostring(value), transport end
  local passed, why = cases.check(case, ctx, value, err, elapsed)
  return passed, why or ("%d ms"):format(elapsed), transport
end

return cases
