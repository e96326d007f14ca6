-- Writing responses: JSON bodies with ?pretty and ?filter_path (success
-- only: ES builds error bodies without filtering), the content type ES picks
-- from the Accept header, exception headers (WWW-Authenticate) copied to the
-- HTTP response.  X-elastic-product is added by nginx.conf (add_header
-- ... always) so that even nginx's own error pages carry it.

local json = require "esemu.json"
local errors = require "esemu.errors"
local filter_path = require "esemu.filter_path"

local M = {}

local current -- the request being answered (set by bind)

function M.bind(req) current = req end

local function accept_charset(req)
  local a = req and req.accept
  return a and a.type == "application" and a.subtype == "json" and a.params.charset ~= nil
end

-- Successful responses: the vendor type when Accept asked for a compatible
-- version, application/json otherwise (with ;charset=utf-8 echoed when the
-- Accept header had a charset, as ES 8+ does).
local function success_type(req)
  if req and req.compat then
    return "application/vnd.elasticsearch+json;compatible-with=" .. req.compat
  end
  if accept_charset(req) then return "application/json;charset=utf-8" end
  return "application/json"
end

-- Errors: ES (seen up to 8.5, elastic/elasticsearch#92658) answers
-- application/json;charset=utf-8 for errors even when Accept was vendored.
local function error_type(req)
  if (req and req.compat) or accept_charset(req) then return "application/json;charset=utf-8" end
  return "application/json"
end

local function write(status, ctype, body, headers)
  -- an answer fault (drop_answer, delay_answer) acts now: the request is applied
  require("esemu.faults").before_answer()
  ngx.status = status
  ngx.header["Content-Type"] = ctype
  for k, v in pairs(headers or {}) do
    if k:lower() == "www-authenticate" then
      -- see nginx.conf.in: one add_header per value
      v = type(v) == "table" and v or { v }
      for i = 1, 3 do ngx.var["esemu_www_authenticate_" .. i] = v[i] or "" end
    else
      ngx.header[k] = v
    end
  end
  ngx.header["Content-Length"] = #body
  if body ~= "" then ngx.print(body) end
end

local function pretty(req)
  return req and req.pretty or false
end

-- send(status, body, headers): a successful response.
function M.send(status, body, headers)
  local req = current
  if req and req.filter_path then body = filter_path.apply(body, req.filter_path) end
  return write(status, success_type(req), json.encode(body, pretty(req)), headers)
end

-- simple(status, message, headers): {"error":"...","status":N}.
function M.simple(status, message, headers)
  local req = current
  return write(status, error_type(req), json.encode(errors.simple(status, message), pretty(req)), headers)
end

-- options(allowed): RestController.handleOptionsRequest.
function M.options(allowed)
  return write(200, "text/plain; charset=UTF-8", "", { Allow = table.concat(allowed, ",") })
end

-- error(e): an exception as the standard error body.
function M.error(e)
  local req = current
  local headers = {}
  for _, kv in ipairs(e.headers or {}) do headers[kv[1]] = kv[2] end
  return write(e.status, error_type(req), json.encode(errors.body(e), pretty(req)), headers)
end

return M
