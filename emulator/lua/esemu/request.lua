-- The request as RestRequest sees it: raw path and uri, decoded query
-- parameters with consumption tracking (BaseRestHandler rejects the ones no
-- handler read), the parsed Accept / Content-Type media types and the body.

local errors = require "esemu.errors"
local util = require "esemu.util"

local M = {}

-- tick(): the request's clock in seconds, whole milliseconds, strictly
-- increasing across requests (ES's Instant.now() has microseconds, so two
-- requests practically never share a timestamp; the emulator's are ms),
-- plus the control API's clock offset (0 unless a test set one).
function M.tick()
  local meta = ngx.shared.esemu_meta
  local ms = math.floor(ngx.now() * 1000)
  local last = meta:get("last_tick_ms") or 0
  if ms <= last then ms = last + 1 end
  meta:set("last_tick_ms", ms)
  return (ms + (meta:get("clock_offset_ms") or 0)) / 1000
end
local R = {}
R.__index = R

local CURRENT_MAJOR, MINIMUM_MAJOR = 9, 8

-- Parameters that the REST layer itself reads for every request (the
-- channel: pretty, human, filter_path, format; the controller: error_trace).
M.RESPONSE_PARAMS = { "error_trace", "filter_path", "format", "human", "pretty" }

-- ES's RestUtils.decodeQueryString: '&'-separated, '+' is a space, a key
-- without '=' has the value "", the last duplicate wins.
local function decode_query(q)
  local params = {}
  if not q or q == "" then return params end
  for part in (q .. "&"):gmatch("([^&]*)&") do
    if part ~= "" then
      local k, v = part:match("^([^=]*)=(.*)$")
      if not k then k, v = part, "" end
      local dk, err = util.url_decode(k, true)
      if not dk then return nil, err end
      local dv
      dv, err = util.url_decode(v, true)
      if not dv then return nil, err end
      if dk ~= "" then params[dk] = dv end
    end
  end
  return params
end

local TCHAR = "^[%w!#%$%%&'%*%+%-%.%^_`|~]+$"

-- ParsedMediaType.parseMediaType: nil for no preference (a media range or
-- */*), a table {type, subtype, params}, or raises IllegalArgumentException.
local function parse_media_type(value)
  if value:find(",", 1, true) or value == "*/*" then return nil end
  local lower = value:lower()
  local elements = {}
  for e in (lower .. ";"):gmatch("([^;]*);") do elements[#elements + 1] = e end
  local t, st = elements[1]:match("^%s*([^/]*)/([^/]*)%s*$")
  if not t or not t:match(TCHAR) or not st:match(TCHAR) then
    error(errors.illegal_argument("invalid media-type [" .. value .. "]"), 0)
  end
  local params = {}
  for i = 2, #elements do
    local k, v = elements[i]:match("^%s*([^=]-)%s*=%s*(.-)%s*$")
    if not k or k == "" then
      if elements[i]:match("^%s*$") and i == #elements then break end
      error(errors.illegal_argument("invalid parameters for header [" .. value .. "]"), 0)
    end
    params[k] = v
  end
  return { type = t, subtype = st, params = params }
end
M.parse_media_type = parse_media_type

-- MediaTypeRegistry lookup for request bodies: "json", "other" (a content
-- type ES parses but this emulator does not) or nil (unsupported: 406).
local JSON_TYPES = { ["application/json"] = true, ["application/x-ndjson"] = true, ["application/*"] = true,
                     ["application/vnd.elasticsearch+json"] = true,
                     ["application/vnd.elasticsearch+x-ndjson"] = true }
local OTHER_TYPES = { ["application/yaml"] = true, ["application/cbor"] = true, ["application/smile"] = true,
                      ["application/vnd.elasticsearch+yaml"] = true, ["application/vnd.elasticsearch+cbor"] = true,
                      ["application/vnd.elasticsearch+smile"] = true }

local function xcontent_type(mt)
  if not mt then return nil end
  local cw = mt.params["compatible-with"]
  if cw and not cw:match("^%d+$") then return nil end
  local full = mt.type .. "/" .. mt.subtype
  if JSON_TYPES[full] then return "json" end
  if OTHER_TYPES[full] then return "other" end
  return nil
end

local function compat_version(mt)
  if not mt then return nil end
  local v = mt.params["compatible-with"]
  if v and mt.subtype:find("^vnd%.elasticsearch%+") then return tonumber(v) end
  return nil
end

local function header_value(headers, name)
  local v = headers[name]
  if type(v) == "table" then
    return nil, "Incorrect header [" .. name .. "]. Only one value should be provided"
  end
  return v
end

local function media_header(headers, name)
  local raw, err = header_value(headers, name)
  if err then error(errors.illegal_argument(err), 0) end
  if raw == nil then return nil, nil end
  if not raw:find("%S") then
    error(errors.illegal_argument("Header [" .. name .. "] cannot be empty."), 0)
  end
  return parse_media_type(raw), raw
end

local function media_type_header_exception(cause, names)
  return errors.new("media_type_header_exception",
    "Invalid media-type value on headers [" .. table.concat(names, ", ") .. "]", { cause = cause })
end

-- Builds the request.  Failures that ES reports before routing (bad query
-- string escapes, unparsable media types, bad compatible-with versions,
-- unparsable pretty/human) are kept in req.bad_request and raised by the
-- router first, like AbstractHttpServerTransport.dispatchBadRequest.
function M.new()
  local req = setmetatable({}, R)
  req.method = ngx.req.get_method()
  req.uri = ngx.var.request_uri
  local qpos = req.uri:find("?", 1, true)
  req.path = qpos and req.uri:sub(1, qpos - 1) or req.uri
  req.query = qpos and req.uri:sub(qpos + 1) or nil
  req.headers = ngx.req.get_headers(200)
  req.consumed = {}
  req.now = M.tick()

  local params, perr = decode_query(req.query)
  if not params then
    req.bad_request = errors.new("bad_parameter_exception", "java.lang.IllegalArgumentException: " .. perr,
      { cause = errors.illegal_argument(perr) })
    params = {}
  end
  req.params = params

  -- media types (a failure is reported before routing, the first one wins)
  local ok, accept, araw = pcall(media_header, req.headers, "Accept")
  if ok then
    req.accept, req.accept_raw = accept, araw
  else
    req.bad_request = req.bad_request or media_type_header_exception(accept, { "Accept" })
  end
  local ok2, ct, craw = pcall(media_header, req.headers, "Content-Type")
  if ok2 then
    req.content_type_mt, req.content_type_raw = ct, craw
    req.xcontent = xcontent_type(ct)
  else
    req.bad_request = req.bad_request or media_type_header_exception(ct, { "Content-Type" })
  end
  return req
end

-- RestCompatibleVersionHelper.getCompatibleVersion; needs the body length.
function R:check_compatible_version()
  local a, c = compat_version(self.accept), compat_version(self.content_type_mt)
  local av, cv = a or CURRENT_MAJOR, c or CURRENT_MAJOR
  local msg
  if av > CURRENT_MAJOR or av < MINIMUM_MAJOR then
    msg = ("Accept version must be either version %d or %d, but found %d. Accept=%s")
      :format(CURRENT_MAJOR, MINIMUM_MAJOR, av, tostring(self.accept_raw))
  elseif self:has_content() then
    if cv > CURRENT_MAJOR or cv < MINIMUM_MAJOR then
      msg = ("Content-Type version must be either version %d or %d, but found %d. Content-Type=%s")
        :format(CURRENT_MAJOR, MINIMUM_MAJOR, cv, tostring(self.content_type_raw))
    elseif cv ~= av then
      msg = ("A compatible version is required on both Content-Type and Accept headers if either one has "
        .. "requested a compatible version and the compatible versions must match. Accept=%s, Content-Type=%s")
        :format(tostring(self.accept_raw), tostring(self.content_type_raw))
    elseif (c == nil) ~= (a == nil) then
      msg = ("A compatible version is required on both Content-Type and Accept headers if either one has "
        .. "requested a compatible version. Accept=%s, Content-Type=%s")
        :format(tostring(self.accept_raw), tostring(self.content_type_raw))
    end
  end
  if msg then
    error(media_type_header_exception(errors.status_exception(msg), { "Accept", "Content-Type" }), 0)
  end
  self.compat = a -- the response is vendor-typed only when Accept asked for it
end

-- Body --------------------------------------------------------------------

function R:read_body()
  if self.body ~= nil then return self.body end
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if not data then
    local file = ngx.req.get_body_file()
    if file then
      local f = io.open(file, "rb")
      if f then
        data = f:read("*a")
        f:close()
      end
    end
  end
  self.body = data or ""
  return self.body
end

-- RestRequest.hasContent(): a non-empty body.
function R:has_content()
  return #self:read_body() > 0
end

-- content(): the body, marking it as used (else "does not support having a body").
function R:content()
  self.content_consumed = true
  return self:read_body()
end

-- requiredContent()
function R:required_content()
  if not self:has_content() then
    error(errors.parse_exception("request body is required"), 0)
  end
  return self:content()
end

-- Parameters ------------------------------------------------------------------

function R:param(name)
  self.consumed[name] = true
  return self.params[name]
end

function R:has_param(name)
  return self.params[name] ~= nil
end

-- paramAsBoolean: "" means true; only "true"/"false" otherwise.
function R:param_bool(name, default)
  local v = self:param(name)
  if v == nil then return default end
  if v == "" or v == "true" then return true end
  if v == "false" then return false end
  error(errors.illegal_argument("Failed to parse value [" .. v .. "] as only [true] or [false] are allowed."), 0)
end

-- paramAsInt: Integer.parseInt rules.
function R:param_int(name, default)
  local v = self:param(name)
  if v == nil then return default end
  local n = v:match("^[+-]?%d+$") and tonumber(v)
  if not n or n > 2147483647 or n < -2147483648 then
    error(errors.illegal_argument("Failed to parse int parameter [" .. name .. "] with value [" .. v .. "]",
      errors.new("number_format_exception", 'For input string: "' .. v .. '"')), 0)
  end
  return n
end

-- paramAsStringArray: comma-split, no trimming; "" gives an empty list.
function R:param_list(name)
  local v = self:param(name)
  local out = {}
  if v == nil or v == "" then return out end
  for part in (v .. ","):gmatch("([^,]*),") do
    if part ~= "" then out[#out + 1] = part end
  end
  return out
end

-- The parameters that no one read, sorted (BaseRestHandler uses a TreeSet).
function R:unconsumed_params()
  local out = {}
  for k in pairs(self.params) do
    if not self.consumed[k] then out[#out + 1] = k end
  end
  table.sort(out)
  return out
end

function R:consumed_params()
  local out = {}
  for k in pairs(self.consumed) do out[#out + 1] = k end
  table.sort(out)
  return out
end

function R:header(name)
  local v = self.headers[name]
  if type(v) == "table" then v = v[1] end
  return v
end

return M
