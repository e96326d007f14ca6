-- The control endpoint (its own loopback port, DIR/control_url): faults, the
-- request log, reset.  For tests only; not an Elasticsearch API.  See
-- emulator/README.md, "Control API".
--
--   GET    /               {"nodes":[urls], "control": url}
--   POST   /faults         {"fault": ..., "node", "method", "path", "status", "ms", "count", "after"} -> {"id": n}
--   GET    /faults         the faults with their counters (seen, applied)
--   DELETE /faults         clears all; DELETE /faults/{id} one
--   GET    /requests       [{"node","method","path","status","connection","connection_requests"[,"fault"]}, ...]
--                          since start or the last DELETE
--   DELETE /requests       clears the log
--   POST   /reset          wipes all Elasticsearch data except the bootstrap credentials
--   GET    /clock          {"offset_ms": n}
--   PUT    /clock          {"offset_ms": n}: the nodes' clock runs n ms off (n < 0: in the
--                          past), for what Elasticsearch stamps from then on (key creation, ...)

local cjson = require "cjson.safe"
local json = require "esemu.json"
local faults = require "esemu.faults"
local nodes = require "esemu.handlers.nodes"

local M = {}

local MAX_REQUESTS = 50000 -- the oldest entries of the log go first

local function dict() return ngx.shared.esemu_control end

local function send(status, body)
  local text = type(body) == "string" and body or json.encode(body)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.header["Content-Length"] = #text + 1
  ngx.print(text, "\n")
end

local function fail(status, message)
  return send(status, { error = message, status = status })
end

local function array(t) return json.arr(t) end

-- Request log ---------------------------------------------------------------------
-- Entries are JSON strings under "req:<n>", n from "req_first" to
-- "req_last" (the shared dict has no way to read a list without popping).

-- record(node, method, path, status, fault_id, connection, connection_requests):
-- from the node ports' log phase.  connection is nginx's serial number of
-- the TCP connection, connection_requests how many requests it has carried
-- (1: a new connection).
function M.record(node, method, path, status, fault_id, connection, connection_requests)
  local d = dict()
  local entry = ('{"node":%d,"method":%s,"path":%s,"status":%d,"connection":%d,"connection_requests":%d%s}'):format(
    node, json.quote(method), json.quote(path), status, connection or 0, connection_requests or 0,
    fault_id and (',"fault":%d'):format(fault_id) or "")
  local n = assert(d:incr("req_last", 1, 0))
  local first = d:get("req_first") or 1
  if n - first >= MAX_REQUESTS then
    d:delete("req:" .. first)
    d:set("req_first", first + 1)
  end
  local ok, err = d:safe_set("req:" .. n, entry)
  if not ok then ngx.log(ngx.WARN, "esemu: request log full: ", err) end
end

local function requests()
  local d = dict()
  local out = {}
  for i = d:get("req_first") or 1, d:get("req_last") or 0 do
    local e = d:get("req:" .. i)
    if e then out[#out + 1] = e end
  end
  return "[" .. table.concat(out, ",") .. "]"
end

local function clear_requests()
  local d = dict()
  local last = d:get("req_last") or 0
  for i = d:get("req_first") or 1, last do d:delete("req:" .. i) end
  d:set("req_first", last + 1)
end

-- Reset ---------------------------------------------------------------------------

-- reset(): every shared dict but esemu_meta (configuration: nodes, cluster,
-- flags) and esemu_control is flushed, indices get new uuids (they were
-- deleted and are made again), then the bootstrap credentials of --auth are
-- put back (main.restore_credentials).
local function reset()
  for name, d in pairs(ngx.shared) do
    if name ~= "esemu_meta" and name ~= "esemu_control" then
      d:flush_all()
      d:flush_expired()
    end
  end
  local meta = ngx.shared.esemu_meta
  local util = require "esemu.util"
  for _, k in ipairs(meta:get_keys(0)) do
    if k:find("^index_uuid:") then meta:set(k, util.random_base64_uuid()) end
  end
  require("esemu.main").restore_credentials()
end

-- Dispatch ------------------------------------------------------------------------

local function read_json()
  ngx.req.read_body()
  local raw = ngx.req.get_body_data()
  if not raw or raw == "" then return nil, "a JSON body is required" end
  local v, err = cjson.decode(raw)
  if v == nil then return nil, "invalid JSON: " .. tostring(err) end
  return v
end

local function node_urls()
  local scheme = ngx.shared.esemu_meta:get("tls") and "https" or "http"
  local urls = {}
  for i, n in ipairs(nodes.all()) do urls[i] = scheme .. "://127.0.0.1:" .. n.port end
  return array(urls)
end

local function wrong_method(allowed)
  ngx.header["Allow"] = allowed
  return fail(405, "method " .. ngx.req.get_method() .. " not allowed, use " .. allowed)
end

function M.handle()
  local method = ngx.req.get_method()
  local path = (ngx.var.uri or "/"):gsub("/+$", "")
  if path == "" then
    if method ~= "GET" then return wrong_method("GET") end
    return send(200, json.obj("nodes", node_urls(), "control", "http://127.0.0.1:" .. ngx.var.server_port))
  elseif path == "/faults" then
    if method == "POST" then
      local spec, err = read_json()
      if spec == nil then return fail(400, err) end
      local f
      f, err = faults.check(spec, #nodes.all())
      if not f then return fail(400, err) end
      return send(200, { id = faults.add(f) })
    elseif method == "GET" then
      local list = array()
      for i, f in ipairs(faults.list()) do
        list[i] = json.obj("id", f.id, "fault", f.fault, "node", f.node, "method", f.method, "path", f.path,
          "status", f.status, "ms", f.ms, "count", f.count, "after", f.after, "seen", f.seen, "applied", f.applied)
      end
      return send(200, list)
    elseif method == "DELETE" then
      return send(200, { cleared = faults.clear() })
    end
    return wrong_method("GET, POST, DELETE")
  elseif path:match("^/faults/%d+$") then
    if method ~= "DELETE" then return wrong_method("DELETE") end
    local n = faults.clear(tonumber(path:match("%d+$")))
    if n == 0 then return fail(404, "no fault " .. path:match("%d+$")) end
    return send(200, { cleared = n })
  elseif path == "/requests" then
    if method == "GET" then return send(200, requests()) end
    if method == "DELETE" then
      clear_requests()
      return send(200, { cleared = true })
    end
    return wrong_method("GET, DELETE")
  elseif path == "/clock" then
    local meta = ngx.shared.esemu_meta
    if method == "PUT" then
      local spec, err = read_json()
      if spec == nil then return fail(400, err) end
      local offset = type(spec) == "table" and spec.offset_ms
      if type(offset) ~= "number" or offset ~= math.floor(offset) or math.abs(offset) > 10 * 365 * 86400000 then
        return fail(400, "offset_ms must be a whole number of milliseconds, at most ten years either way")
      end
      meta:set("clock_offset_ms", offset)
    elseif method ~= "GET" then
      return wrong_method("GET, PUT")
    end
    return send(200, { offset_ms = meta:get("clock_offset_ms") or 0 })
  elseif path == "/reset" then
    if method ~= "POST" then return wrong_method("POST") end
    reset()
    return send(200, { reset = true })
  end
  return fail(404, "no such control endpoint: " .. method .. " " .. (ngx.var.uri or ""))
end

return M
