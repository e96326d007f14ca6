-- Injected faults (control endpoint POST /faults): what a network, a proxy or
-- a sick node does to a request.  They are checked before anything else
-- (authentication, routing), in creation order; the first active one that
-- matches the request applies.
--
-- A fault is {id, fault, node, method, path, status, retry_after, ms, count,
-- after} plus
-- its counters: seen (matching requests so far) and applied.  It matches a
-- request when node, method and path (a Lua pattern, unanchored unless it
-- says ^, against the raw path without the query) all match or are absent.
-- A matching request is counted; the first `after` ones are let through (the
-- next faults are then checked); the next `count` ones (0: all) get the
-- fault.  A fault that has been applied `count` times is spent.
--
-- All faults live as one JSON list under "faults" in the esemu_control
-- dict; take() does its read-modify-write without yielding (one worker).

local cjson = require "cjson.safe"
local errors = require "esemu.errors"
local response = require "esemu.response"

local M = {}

M.KINDS = { close = true, reset = true, delay = true, status = true, malformed = true, no_product = true,
            oversize = true, drop_answer = true, delay_answer = true }

-- Kinds that wait `ms`: delay before the request is handled (so it is
-- applied late, maybe after the client gave up), delay_answer after it was
-- applied (the client times out on a request that did happen).
local TIMED = { delay = true, delay_answer = true }

local FIELDS = { fault = true, node = true, method = true, path = true, status = true, ms = true, count = true,
                 after = true, retry_after = true }

local function dict() return ngx.shared.esemu_control end

local function is_int(v, min, max)
  return type(v) == "number" and v == math.floor(v) and v >= min and v <= (max or math.huge)
end

-- check(spec, nnodes): the normalized fault, or nil and a message.
function M.check(spec, nnodes)
  if type(spec) ~= "table" then return nil, "the body must be a JSON object" end
  for k, v in pairs(spec) do
    if not FIELDS[k] then return nil, "unknown field [" .. tostring(k) .. "]" end
    if v == cjson.null then spec[k] = nil end
  end
  local f = { fault = spec.fault, count = 1, after = 0 }
  if not M.KINDS[f.fault] then
    return nil, "[fault] must be one of close, reset, delay, status, malformed, no_product, oversize, "
      .. "drop_answer, delay_answer"
  end
  if spec.node ~= nil then
    if not is_int(spec.node, 1, nnodes) then return nil, ("[node] must be 1 to %d"):format(nnodes) end
    f.node = spec.node
  end
  if spec.method ~= nil then
    if type(spec.method) ~= "string" or not spec.method:match("^%a+$") then
      return nil, "[method] must be an HTTP method"
    end
    f.method = spec.method:upper()
  end
  if spec.path ~= nil then
    if type(spec.path) ~= "string" then return nil, "[path] must be a Lua pattern" end
    local ok, err = pcall(string.find, "/", spec.path)
    if not ok then return nil, "[path] is not a valid Lua pattern: " .. tostring(err) end
    f.path = spec.path
  end
  if f.fault == "status" then
    if not is_int(spec.status, 200, 599) then return nil, "[status] must be an HTTP status (200 to 599)" end
    f.status = spec.status
  elseif spec.status ~= nil then
    return nil, "[status] is for the status fault only"
  end
  -- a Retry-After header on the status fault: seconds or an HTTP date, as given
  if spec.retry_after ~= nil then
    if f.fault ~= "status" then return nil, "[retry_after] is for the status fault only" end
    if type(spec.retry_after) ~= "string" or spec.retry_after:find("[%c]") then
      return nil, "[retry_after] must be a header value (delay-seconds or an HTTP date)"
    end
    f.retry_after = spec.retry_after
  end
  if TIMED[f.fault] then
    if not is_int(spec.ms, 0, 3600000) then return nil, "[ms] must be a number of milliseconds" end
    f.ms = spec.ms
  elseif spec.ms ~= nil then
    return nil, "[ms] is for the delay and delay_answer faults only"
  end
  if spec.count ~= nil then
    if not is_int(spec.count, 0) then return nil, "[count] must be 0 (until cleared) or more" end
    f.count = spec.count
  end
  if spec.after ~= nil then
    if not is_int(spec.after, 0) then return nil, "[after] must be 0 or more" end
    f.after = spec.after
  end
  return f
end

local function load()
  local raw = dict():get("faults")
  if not raw then return {} end
  return cjson.decode(raw) or {}
end

local function save(list)
  if #list == 0 then
    dict():delete("faults")
  else
    assert(dict():set("faults", cjson.encode(list)))
  end
end

-- add(f): its id.
function M.add(f)
  f.id = assert(dict():incr("fault_seq", 1, 0))
  f.seen, f.applied = 0, 0
  local list = load()
  list[#list + 1] = f
  save(list)
  return f.id
end

-- list(): every fault with its counters, spent ones included.
function M.list() return load() end

-- clear(id): removes one fault (or all without id); how many went.
function M.clear(id)
  if id == nil then
    local n = #load()
    dict():delete("faults")
    return n
  end
  local list, kept = load(), {}
  for _, f in ipairs(list) do
    if f.id ~= id then kept[#kept + 1] = f end
  end
  save(kept)
  return #list - #kept
end

local function spent(f) return f.count ~= 0 and f.applied >= f.count end

-- take(node, method, path): the fault this request gets, or nil.  Counts it.
function M.take(node, method, path)
  if not dict():get("faults") then return nil end
  local list, chosen, changed = load(), nil, false
  for _, f in ipairs(list) do
    if not spent(f) and (f.node == nil or f.node == node) and (f.method == nil or f.method == method)
        and (f.path == nil or path:find(f.path) ~= nil) then
      f.seen = f.seen + 1
      changed = true
      if f.seen > f.after then
        f.applied = f.applied + 1
        chosen = f
        break
      end
    end
  end
  if changed then save(list) end
  return chosen
end

-- Applying ------------------------------------------------------------------------

local function big_json(bytes)
  return '{"esemu_padding":"' .. ("x"):rep(bytes) .. '"}'
end

local oversize_body -- built once: valid JSON, a little over 1 MiB
local reset_body -- what the reset fault claims to send (and sends half of)

local function send_raw(status, body, content_length)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.header["Content-Length"] = content_length or #body
  ngx.print(body)
end

-- The request body is read first so that closing the connection does not
-- leave unread bytes behind (the kernel would then send a RST instead of a
-- FIN, and a client might lose what was sent before it).
local function drain()
  pcall(ngx.req.read_body)
end

-- apply(f): does what the fault says.  Returns true when the response is
-- done (or the connection closed); false when the request goes on normally
-- (delay, no_product, and the answer faults, which act in before_answer).
function M.apply(f)
  ngx.ctx.esemu_fault = f.id
  local kind = f.fault
  if kind == "drop_answer" or kind == "delay_answer" then
    ngx.ctx.esemu_answer_fault = { kind = kind, ms = f.ms }
    return false
  elseif kind == "delay" then
    ngx.sleep(f.ms / 1000)
    return false
  elseif kind == "no_product" then
    ngx.var.esemu_no_product = "1" -- nginx.conf.in: the map drops X-elastic-product
    return false
  elseif kind == "close" then
    drain()
    ngx.exit(444) -- nginx closes the connection without a response
    return true
  elseif kind == "reset" then
    drain()
    reset_body = reset_body or big_json(64 * 1024)
    send_raw(200, reset_body:sub(1, math.floor(#reset_body / 2)), #reset_body)
    ngx.flush(true)
    ngx.exit(ngx.ERROR) -- the connection is closed, the body cut short
    return true
  elseif kind == "status" then
    if f.retry_after then ngx.header["Retry-After"] = f.retry_after end
    response.bind(nil)
    response.error(errors.new("esemu_injected_fault_exception",
      ("fault injected by the esemu control endpoint: status %d"):format(f.status),
      { es = true, status = f.status }))
    return true
  elseif kind == "malformed" then
    send_raw(200, '{"name":"esemu","cluster_name":<this is not JSON>')
    return true
  elseif kind == "oversize" then
    oversize_body = oversize_body or big_json(1024 * 1024)
    send_raw(200, oversize_body)
    return true
  end
  return false
end

-- before_answer(): called by response.lua once the request was handled
-- (so whatever it changed is applied) and before its answer is written:
-- drop_answer closes the connection without a response, delay_answer waits.
function M.before_answer()
  local f = ngx.ctx.esemu_answer_fault
  if not f then return end
  ngx.ctx.esemu_answer_fault = nil
  if f.kind == "drop_answer" then
    ngx.exit(444)
  elseif f.ms > 0 then
    ngx.sleep(f.ms / 1000)
  end
end

return M
