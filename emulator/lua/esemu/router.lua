-- Route lookup as RestController/PathTrie do it, and the request pipeline in
-- Elasticsearch's order (es-behaviour.md §1.3):
--
--   0. bad request (query string, media types, compatible-with, pretty)
--   1. route: 400 no handler / 405 wrong method (+ Allow) / OPTIONS
--   2. a body needs a supported Content-Type: 406
--   3. authentication: 401
--   4. handler.prepare: body parsing, parameters
--   5. unconsumed parameters, unused body: 400 illegal_argument_exception
--   6. handler.validate: 400 action_request_validation_exception
--   7. authorization of handler.action: 403
--   8. handler.execute
--
-- A handler is a table {action = "cluster:...", prepare(req) -> r,
-- validate(r, req) -> {messages} (optional), execute(r, req) -> status, body,
-- headers}.  Adding an endpoint is adding a row to routes.lua.

local errors = require "esemu.errors"
local request = require "esemu.request"
local response = require "esemu.response"
local auth = require "esemu.auth"
local util = require "esemu.util"

local M = {}

-- RestRequest.Method order, used to list allowed methods.
local METHOD_ORDER = { GET = 1, POST = 2, PUT = 3, DELETE = 4, OPTIONS = 5, HEAD = 6, PATCH = 7, TRACE = 8,
                       CONNECT = 9 }

local compiled -- { {segs = {{lit=...}|{param=...}}, nwild, first_wild, methods = {M = handler}} }

-- compile(routes): group rows by path pattern.
function M.compile(routes)
  local by_pattern, list = {}, {}
  for _, row in ipairs(routes) do
    local method, pattern, handler = row[1], row[2], row[3]
    -- a fallback row (DELETE /{index}) answers only its own method and
    -- adds nothing to the 405 lists of the paths it would shadow: the
    -- emulator has no other /{index} API
    if row.fallback then pattern = pattern .. " fallback" end
    local entry = by_pattern[pattern]
    if not entry then
      local segs, nwild, first_wild = {}, 0, math.huge
      for i, seg in ipairs(util.split_path(row[2])) do
        local name = seg:match("^{(.+)}$")
        if name then
          segs[i] = { param = name }
          nwild = nwild + 1
          if i < first_wild then first_wild = i end
        else
          segs[i] = { lit = seg }
        end
      end
      entry = { pattern = pattern, segs = segs, nwild = nwild, first_wild = first_wild, methods = {},
                fallback = row.fallback == true }
      by_pattern[pattern] = entry
      list[#list + 1] = entry
    end
    assert(not entry.methods[method], "duplicate route " .. method .. " " .. pattern)
    entry.methods[method] = handler
  end
  -- explicit segments win over wildcards, earlier literals over later ones
  table.sort(list, function(a, b)
    if a.fallback ~= b.fallback then return b.fallback end
    if a.nwild ~= b.nwild then return a.nwild < b.nwild end
    if a.first_wild ~= b.first_wild then return a.first_wild > b.first_wild end
    return a.pattern < b.pattern
  end)
  compiled = list
  return list
end

-- match(method, raw_path): handler, path params  |  nil, allowed methods list.
-- Path parameters are percent-decoded ('+' stays '+'); literals compare raw.
function M.match(method, raw_path)
  local segs = util.split_path(raw_path)
  local allowed, seen = {}, {}
  local found, found_params
  for _, entry in ipairs(compiled) do
    if #entry.segs == #segs then
      local params, ok = {}, true
      for i, s in ipairs(entry.segs) do
        if s.lit then
          if s.lit ~= segs[i] then ok = false break end
        else
          local v, err = util.url_decode(segs[i], false)
          if not v then error(errors.illegal_argument(err), 0) end
          params[s.param] = v
        end
      end
      if ok then
        if not found and entry.methods[method] then
          found, found_params = entry.methods[method], params
        end
        for m in pairs(entry.fallback and {} or entry.methods) do
          if not seen[m] then
            seen[m] = true
            allowed[#allowed + 1] = m
          end
        end
      end
    end
  end
  if found then return found, found_params end
  table.sort(allowed, function(a, b) return (METHOD_ORDER[a] or 99) < (METHOD_ORDER[b] or 99) end)
  return nil, allowed
end

-- Content types ES accepts for a request body; 406 otherwise.
local function check_content_type(req)
  if req.xcontent == "json" then return nil end
  local raw = req.content_type_raw
  if raw == nil then return "Content-Type header is missing" end
  return "Content-Type header [" .. raw .. "] is not supported"
end

local function check_params(req)
  local unconsumed = req:unconsumed_params()
  if #unconsumed == 0 then return end
  local candidates = req:consumed_params()
  local parts = {}
  for i, p in ipairs(unconsumed) do
    parts[i] = "[" .. p .. "]" .. util.suggest(p, candidates, " -> did you mean ")
  end
  error(errors.illegal_argument(("request [%s] contains unrecognized parameter%s: %s")
    :format(req.path, #unconsumed > 1 and "s" or "", table.concat(parts, ", "))), 0)
end

-- The REST channel reads these for every request.
local function read_response_params(req)
  req.pretty_given = req:has_param("pretty")
  req.pretty = req:param_bool("pretty", false)
  req:param_bool("human", false)
  req:param_bool("error_trace", false)
  req.filter_path = req:param("filter_path")
  req:param("format")
end

-- dispatch(): handle the current nginx request.
function M.dispatch()
  local req = request.new()
  response.bind(req)
  if req.bad_request then error(req.bad_request, 0) end
  local ok, e = pcall(read_response_params, req)
  if not ok then
    req.params, req.pretty = {}, false
    error(e, 0)
  end
  req:read_body()
  req:check_compatible_version()

  -- 1. route
  local handler, path_params = M.match(req.method, req.path)
  if not handler then
    local allowed = path_params
    if #allowed == 0 then
      return response.simple(400, ("no handler found for uri [%s] and method [%s]"):format(req.uri, req.method))
    end
    if req.method == "OPTIONS" then
      return response.options(allowed)
    end
    return response.simple(405, ("Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]")
      :format(req.uri, req.method, table.concat(allowed, ", ")), { Allow = table.concat(allowed, ",") })
  end
  for k, v in pairs(path_params) do req.params[k] = v end

  -- 2. content type of a body
  if req:has_content() then
    local msg = check_content_type(req)
    if msg then return response.simple(406, msg) end
  end

  -- 3. authentication
  req.principal = auth.authenticate(req)

  -- 4. prepare, 5. leftovers
  local r = handler.prepare(req)
  check_params(req)
  if req:has_content() and not req.content_consumed then
    error(errors.illegal_argument(("request [%s %s] does not support having a body")
      :format(req.method, req.path)), 0)
  end

  -- 6. validate
  if handler.validate then
    local msgs = handler.validate(r, req)
    if msgs and #msgs > 0 then error(errors.validation(msgs), 0) end
  end

  -- 7. authorize (authz(r, req) adds what some checks need: own API keys,
  -- the indices of an index action)
  auth.authorize(req.principal, handler.action, handler.authz and handler.authz(r, req) or {})

  -- 8. execute
  local status, body, headers = handler.execute(r, req)
  return response.send(status, body, headers)
end

return M
