--- The steps of a YAML REST test: `do` (one API call through the client)
-- and the assertions.  Every handler raises values.fail(message) when the
-- step fails; ctx holds the clients, the stash and the last response.
local loader = require "spec.yaml.loader"
local values = require "spec.yaml.values"
local regex = require "spec.yaml.regex"

local steps = {}

local null = values.null
local fail = values.fail
local render = values.render

-- `catch` names, with the status each stands for (Elasticsearch's DoSection).
steps.CATCHES = {
  bad_request = 400, unauthorized = 401, forbidden = 403, missing = 404,
  request_timeout = 408, conflict = 409, unavailable = 503,
}
-- `request`: any error status but these (503 included, as in Elasticsearch).
local NOT_REQUEST = { [400] = true, [401] = true, [403] = true, [404] = true, [408] = true, [409] = true }

-- Keys of a `do` that are not the API call.
steps.DO_OPTIONS = {
  catch = true, headers = true, ignore = true, warnings = true, warnings_regex = true,
  allowed_warnings = true, allowed_warnings_regex = true, node_selector = true,
}

-- Headers the client sets itself; sending them twice would be wrong.
local CLIENT_HEADERS = { ["content-type"] = true, accept = true }

--- The regex inside a `/.../` string (trimmed, as Elasticsearch does), or nil.
function steps.regex_text(v)
  if type(v) ~= "string" then return nil end
  local s = v:match("^%s*(.-)%s*$")
  if #s > 2 and s:sub(1, 1) == "/" and s:sub(-1) == "/" then return s:sub(2, -2) end
  return nil
end

--- The API name and parameters of a `do` section, or nil and why not.
function steps.api_of(args)
  if type(args) ~= "table" then return nil, "do needs a mapping" end
  local api
  for _, k in ipairs(loader.keys(args)) do
    if not steps.DO_OPTIONS[k] then
      if api then return nil, ("do names two APIs: %s and %s"):format(api, k) end
      api = k
    end
  end
  if not api then return nil, "do names no API" end
  return api, args[api]
end

local function list_of(v)
  if v == nil or v == null then return {} end
  if type(v) == "table" then return v end
  return { v }
end

-- Status codes from `ignore: 404` or `ignore: [404, 409]`.
local function ignored_statuses(...)
  local set = {}
  for i = 1, select("#", ...) do
    for _, s in ipairs(list_of((select(i, ...)))) do
      local n = tonumber(s)
      if n then set[n] = true end
    end
  end
  return set
end

-- The text a `catch: /regex/` is matched against: the error's type and
-- reason, alone and together, and the whole error object.
local function error_texts(err, body)
  local texts = {}
  local e = type(body) == "table" and body.error
  if type(e) == "string" then texts[#texts + 1] = e end
  if err.type then texts[#texts + 1] = err.type end
  if err.reason then texts[#texts + 1] = tostring(err.reason) end
  if err.type and err.reason then texts[#texts + 1] = err.type .. ": " .. tostring(err.reason) end
  if err.message then texts[#texts + 1] = err.message end
  if type(e) == "table" then texts[#texts + 1] = render(e, math.huge) end
  return texts
end

-- Checks a caught error against catch; raises a failure if it does not fit.
local function check_catch(catch, err, body, api)
  local status = err.status
  local validation = err.kind == "validation"
  local got = validation and ("a client-side validation error (" .. tostring(err) .. ")")
    or tostring(err)
  local pattern = steps.regex_text(catch)
  if catch == "param" then
    if validation then return end
    fail(("expected a client-side parameter error (catch: param) from %s, got %s"):format(api, got))
  end
  if not validation and not (status and status >= 400) then
    fail(("expected an error status (catch: %s) from %s, got %s"):format(catch, api, got))
  end
  if pattern then
    local compiled, why = regex.compile(pattern, false)
    if not compiled then fail(("catch regex /%s/ is not supported: %s"):format(pattern, why)) end
    for _, text in ipairs(error_texts(err, body)) do
      if regex.find(compiled, text) then return end
    end
    fail(("the error of %s does not match %s: %s"):format(api, catch, got))
  end
  if catch == "request" then
    if validation or not NOT_REQUEST[status] then return end
    fail(("expected an error status other than 400, 401, 403, 404, 408 and 409 (catch: request) from %s, got %s")
      :format(api, got))
  end
  local expected = steps.CATCHES[catch]
  if not expected then fail(("catch value [%s] is not supported"):format(tostring(catch))) end
  if status == expected or (validation and expected == 400) then return end
  fail(("expected status %d (catch: %s) from %s, got %s"):format(expected, catch, api, got))
end

-- Parses `body: >` JSON strings, keeping arrays as arrays.
local function parse_body(body)
  if type(body) ~= "string" then return body end
  local v, err = loader.load_value(body)
  if v == nil then fail("body is not valid JSON: " .. tostring(err)) end
  return v
end

local function call_headers(ctx, raw)
  if raw == nil or raw == null then return nil, false end
  if type(raw) ~= "table" then fail("headers must be a mapping") end
  local headers, has_auth = {}, false
  for _, name in ipairs(loader.keys(raw)) do
    local lname = name:lower()
    if not CLIENT_HEADERS[lname] then
      local v = ctx.stash:resolve(raw[name])
      headers[name] = type(v) == "string" and v or render(v)
      if lname == "authorization" then has_auth = true end
    end
  end
  return headers, has_auth
end

local handlers = {}

handlers["do"] = function(ctx, args)
  local api, raw = steps.api_of(args)
  if not api then fail(raw) end
  if raw == nil or raw == null then raw = {} end
  if type(raw) ~= "table" then fail(("the parameters of %s must be a mapping"):format(api)) end
  -- Parse the body before substituting, so "$var" inside its JSON works.
  local params = {}
  for _, k in ipairs(loader.keys(raw)) do
    -- `ignore` may sit among the parameters, as in the clients' tests.
    if k ~= "ignore" then loader.set(params, k, k == "body" and parse_body(raw[k]) or raw[k]) end
  end
  params = ctx.stash:resolve(params)
  local ignore = ignored_statuses(ctx.stash:resolve(args.ignore), ctx.stash:resolve(raw.ignore))
  local catch = args.catch
  if catch == null then catch = nil end
  local headers, has_auth = call_headers(ctx, args.headers)
  -- Our client always adds its own credentials: a test that sends its own
  -- Authorization goes through a client that has none.
  local client = has_auth and ctx.anonymous or ctx.client
  local ok, res, err = pcall(client.request, client, api, params, headers and { headers = headers } or nil)
  if not ok then fail(("%s raised: %s"):format(api, tostring(res))) end
  if res ~= nil then
    ctx:set_response(res)
    if ctx.record then ctx:record(api, params, res) end
    if catch then
      fail(("expected an error (catch: %s) but %s succeeded: %s"):format(catch, api, render(res)))
    end
    return
  end
  local body = err.body
  if err.kind == "validation" then
    body = { error = { type = err.type, reason = err.reason or err.message }, status = 400 }
  elseif type(body) ~= "table" then
    body = { error = { type = err.type, reason = err.reason or err.message or body }, status = err.status }
  end
  ctx:set_response(body)
  if catch then return check_catch(catch, err, body, api) end
  if err.status and ignore[err.status] then return end
  fail(("%s failed: %s"):format(api, tostring(err)))
end

handlers.set = function(ctx, args)
  if type(args) ~= "table" then fail("set needs a mapping") end
  for _, path in ipairs(loader.keys(args)) do
    ctx.stash:set(tostring(args[path]), ctx.stash:evaluate(ctx.response, path))
  end
end

-- Runs check(path, actual, expected) for each `path: expected` of args.
local function each_pair(ctx, args, what, check)
  if type(args) ~= "table" then fail(what .. " needs a mapping") end
  for _, path in ipairs(loader.keys(args)) do
    local actual = ctx.stash:evaluate(ctx.response, path)
    check(path, actual, ctx.stash:resolve(args[path]))
  end
end

handlers.match = function(ctx, args)
  each_pair(ctx, args, "match", function(path, actual, expected)
    local pattern = steps.regex_text(expected)
    if pattern then
      if type(actual) ~= "string" then
        fail(("%s: expected a string matching %s, got %s"):format(path, expected, render(actual)))
      end
      local compiled, why = regex.compile(pattern, true)
      if not compiled then fail(("regex %s is not supported: %s"):format(expected, why)) end
      if not regex.find(compiled, actual) then
        fail(("%s: %s does not match %s"):format(path, render(actual), expected))
      end
      return
    end
    local ok, why = values.equal(expected, actual)
    if not ok then fail(path .. ": " .. why) end
  end)
end

-- Elasticsearch's IsTrueAssertion: present and not false, "", "false", 0.
local function truthy(v)
  return v ~= nil and v ~= null and v ~= false and v ~= "" and v ~= "false" and v ~= 0 and v ~= "0"
end

handlers.is_true = function(ctx, path)
  if type(path) ~= "string" then fail("is_true needs a path") end
  local v = ctx.stash:evaluate(ctx.response, path)
  if not truthy(v) then fail(("%s: expected a true value, got %s"):format(path, render(v))) end
end

handlers.is_false = function(ctx, path)
  if type(path) ~= "string" then fail("is_false needs a path") end
  local v = ctx.stash:evaluate(ctx.response, path)
  if truthy(v) then fail(("%s: expected a false or missing value, got %s"):format(path, render(v))) end
end

local function utf8_length(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

handlers.length = function(ctx, args)
  each_pair(ctx, args, "length", function(path, actual, expected)
    local n
    if type(actual) == "table" then
      n = values.count(actual)
    elseif type(actual) == "string" then
      n = utf8_length(actual)
    else
      fail(("%s: expected an array, object or string of length %s, got %s"):format(path, render(expected),
        render(actual)))
    end
    if tonumber(expected) ~= n then
      fail(("%s: expected length %s, got %d: %s"):format(path, render(expected), n, render(actual)))
    end
  end)
end

local COMPARE = {
  gt = { ">", function(a, b) return a > b end },
  gte = { ">=", function(a, b) return a >= b end },
  lt = { "<", function(a, b) return a < b end },
  lte = { "<=", function(a, b) return a <= b end },
}

for name, op in pairs(COMPARE) do
  handlers[name] = function(ctx, args)
    each_pair(ctx, args, name, function(path, actual, expected)
      if type(expected) == "string" and type(actual) == "number" then expected = tonumber(expected) or expected end
      if type(actual) ~= type(expected) or (type(actual) ~= "number" and type(actual) ~= "string") then
        fail(("%s: cannot compare %s %s %s"):format(path, render(actual), op[1], render(expected)))
      end
      if not op[2](actual, expected) then
        fail(("%s: expected a value %s %s, got %s"):format(path, op[1], render(expected), render(actual)))
      end
    end)
  end
end

handlers.contains = function(ctx, args)
  each_pair(ctx, args, "contains", function(path, actual, expected)
    if type(actual) == "string" and type(expected) == "string" then
      if actual:find(expected, 1, true) then return end
      fail(("%s: %s does not contain %s"):format(path, render(actual), render(expected)))
    end
    if type(actual) ~= "table" or not values.is_list(actual) then
      fail(("%s: expected an array containing %s, got %s"):format(path, render(expected), render(actual)))
    end
    local subset = type(expected) == "table" and not values.is_array(expected)
    for _, item in ipairs(actual) do
      if subset then
        -- An object matches when it has every expected key with an equal value.
        if type(item) == "table" then
          local all = true
          for _, k in ipairs(loader.keys(expected)) do
            if item[k] == nil or not values.equal(expected[k], item[k]) then all = false; break end
          end
          if all then return end
        end
      elseif values.equal(expected, item) then
        return
      end
    end
    fail(("%s: %s does not contain %s"):format(path, render(actual), render(expected)))
  end)
end

handlers.close_to = function(ctx, args)
  each_pair(ctx, args, "close_to", function(path, actual, expected)
    if type(expected) ~= "table" or type(expected.value) ~= "number" or type(expected.error) ~= "number" then
      fail(path .. ": close_to needs { value: number, error: number }")
    end
    if type(actual) ~= "number" then
      fail(("%s: expected a number close to %s, got %s"):format(path, render(expected.value), render(actual)))
    end
    if math.abs(actual - expected.value) > expected.error then
      fail(("%s: expected %s +/- %s, got %s"):format(path, render(expected.value), render(expected.error),
        render(actual)))
    end
  end)
end

handlers.exists = function(ctx, path)
  if type(path) ~= "string" then fail("exists needs a path") end
  local v = ctx.stash:evaluate(ctx.response, path)
  if v == nil or v == null then fail(("field [%s] does not exist"):format(path)) end
end

--- An ISO-8601 instant ("2024-05-01T10:00:00.123456Z", an offset instead
-- of Z, seconds and fraction optional) as { epoch seconds, nanoseconds },
-- or nil.
function steps.parse_instant(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d)(.*)$")
  if not y then return nil end
  local sec, frac = 0, ""
  local sec_text, after = rest:match("^:(%d%d)(.*)$")
  if sec_text then
    sec, rest = tonumber(sec_text), after
    local f, after_frac = rest:match("^[.,](%d+)(.*)$")
    if f then frac, rest = f, after_frac end
  end
  local offset = 0
  if rest ~= "Z" and rest ~= "z" then
    local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(oh) * 60 + tonumber(om)) * 60 * (sign == "-" and -1 or 1)
  end
  y, mo, d, h, mi = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 60 or #frac > 9 then return nil end
  -- days from 1970-01-01 (Howard Hinnant's days_from_civil)
  local floor = math.floor
  local yy = mo <= 2 and y - 1 or y
  local era = floor(yy / 400)
  local yoe = yy - era * 400
  local doy = floor((153 * (mo > 2 and mo - 3 or mo + 9) + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  local nanos = tonumber((frac .. "000000000"):sub(1, 9))
  return { days * 86400 + h * 3600 + mi * 60 + sec - offset, nanos }
end

handlers.is_after = function(ctx, args)
  each_pair(ctx, args, "is_after", function(path, actual, expected)
    local a, e = steps.parse_instant(actual), steps.parse_instant(expected)
    if not a then fail(("%s: %s is not an ISO-8601 instant"):format(path, render(actual))) end
    if not e then fail(("%s: expected value %s is not an ISO-8601 instant"):format(path, render(expected))) end
    if not (a[1] > e[1] or (a[1] == e[1] and a[2] > e[2])) then
      fail(("%s: expected an instant after %s, got %s"):format(path, render(expected), render(actual)))
    end
  end)
end

-- transform_and_set functions: name -> function(ctx, arguments) -> value.
steps.TRANSFORMS = {
  -- base64 of the response values at the argument paths, joined with ":"
  -- (an API key's id and api_key make its ApiKey credentials).
  base64EncodeCredentials = function(ctx, arguments)
    local parts = {}
    for i, path in ipairs(arguments) do
      local v = ctx.stash:evaluate(ctx.response, path)
      if v == nil or v == null or type(v) == "table" then
        fail(("#base64EncodeCredentials: no value at [%s]"):format(path))
      end
      parts[i] = tostring(v)
    end
    return require("esconnector.core").base64(table.concat(parts, ":"))
  end,
}

handlers.transform_and_set = function(ctx, args)
  if type(args) ~= "table" then fail("transform_and_set needs a mapping") end
  for _, name in ipairs(loader.keys(args)) do
    local spec = args[name]
    local fn, list
    if type(spec) == "string" then fn, list = spec:match("^%s*#([%w_]+)%((.*)%)%s*$") end
    if not fn then fail(("transform_and_set: [%s] is not #function(arguments)"):format(tostring(spec))) end
    local transform = steps.TRANSFORMS[fn]
    if not transform then fail(("transform_and_set: unsupported transformation [%s]"):format(fn)) end
    local arguments = {}
    for a in (list .. ","):gmatch("([^,]*),") do
      a = a:match("^%s*(.-)%s*$")
      if a ~= "" then arguments[#arguments + 1] = a end
    end
    ctx.stash:set(name, transform(ctx, arguments))
  end
end

-- Evaluated before the test runs (see runner.lua); nothing to do here.
handlers.skip = function() end
handlers.requires = function() end

steps.handlers = handlers

--- The kind and arguments of a step (`- match: {...}`), or nil and why not.
function steps.parse(step)
  if type(step) ~= "table" or values.is_array(step) then return nil, "a step must be a mapping" end
  local keys = loader.keys(step)
  if #keys ~= 1 then return nil, ("a step must have one key, found %d"):format(#keys) end
  return keys[1], step[keys[1]]
end

--- A short description of a step for messages ("do connector.put", "match result").
function steps.describe(step)
  local kind, args = steps.parse(step)
  if not kind then return "?" end
  local what = kind
  if kind == "do" then
    local api = steps.api_of(args)
    if api then what = what .. " " .. api end
  elseif type(args) == "table" and not values.is_array(args) then
    local keys = loader.keys(args)
    if #keys == 1 then what = what .. " " .. keys[1] end
  elseif type(args) == "string" then
    what = what .. " " .. args
  end
  local line = loader.line(step)
  if line then what = what .. ", line " .. line end
  return what
end

--- Runs one step; raises values.fail on failure.
function steps.run(ctx, step)
  local kind, args = steps.parse(step)
  if not kind then fail(args) end
  local handler = handlers[kind]
  if not handler then fail(("the step %s is not supported"):format(kind)) end
  handler(ctx, args)
end

return steps
