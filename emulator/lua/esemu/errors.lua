-- Elasticsearch error bodies (es-behaviour.md §1.2).
--
-- An exception is a table {type, reason, status, es, metadata, headers, cause}.
-- `es` says whether it stands for an ElasticsearchException subclass: that
-- decides how root_cause is guessed, exactly as ElasticsearchException
-- .guessRootCauses does.  Handlers raise exceptions with error(e, 0); the
-- router renders them.

local json = require "esemu.json"

local obj, arr = json.obj, json.arr

local M = {}

local exc_mt = { __tostring = function(e) return e.type .. ": " .. tostring(e.reason) end }

-- opts: status (default 400), es (bool), metadata {{key, value}, ...} (value a
-- string or a list of strings), headers {{name, {values}}, ...}, cause.
function M.new(etype, reason, opts)
  opts = opts or {}
  return setmetatable({
    type = etype,
    reason = reason,
    status = opts.status or 400,
    es = opts.es or false,
    metadata = opts.metadata,
    headers = opts.headers,
    cause = opts.cause,
  }, exc_mt)
end

function M.is(e) return getmetatable(e) == exc_mt end

function M.raise(etype, reason, opts)
  error(M.new(etype, reason, opts), 0)
end

-- Common exceptions -------------------------------------------------------

function M.illegal_argument(reason, cause)
  return M.new("illegal_argument_exception", reason, { cause = cause })
end

function M.parse_exception(reason)
  return M.new("parse_exception", reason, { es = true })
end

function M.status_exception(reason, status)
  return M.new("status_exception", reason, { es = true, status = status or 400 })
end

function M.resource_not_found(reason)
  return M.new("resource_not_found_exception", reason, { es = true, status = 404 })
end

-- messages: list of strings -> "Validation Failed: 1: a;2: b;"
function M.validation(messages)
  local parts = { "Validation Failed: " }
  for i, m in ipairs(messages) do
    parts[#parts + 1] = i .. ": " .. m .. ";"
  end
  return M.new("action_request_validation_exception", table.concat(parts))
end

function M.document_missing(id, index, index_uuid)
  return M.new("document_missing_exception", "[" .. id .. "]: document missing", {
    es = true, status = 404,
    metadata = { { "index_uuid", index_uuid }, { "shard", "0" }, { "index", index } },
  })
end

-- IndexNotFoundException, with the metadata ES renders for it.
function M.index_not_found(index)
  return M.new("index_not_found_exception", "no such index [" .. index .. "]", {
    es = true, status = 404,
    metadata = { { "resource.type", "index_or_alias" }, { "resource.id", index }, { "index_uuid", "_na_" },
                 { "index", index } },
  })
end

-- A status_exception caused by a plain Java exception (state transitions).
function M.status_with_cause(reason, cause_type)
  return M.new("status_exception", reason, { es = true, status = 400, cause = M.new(cause_type, reason) })
end

-- Rendering ---------------------------------------------------------------

local function header_value(values)
  if #values == 1 then return values[1] end
  local a = arr()
  for i, v in ipairs(values) do a[i] = v end
  return a
end

local function fields(e, o, skip_cause)
  o.type = e.type
  o.reason = e.reason == nil and json.null or e.reason
  for _, kv in ipairs(e.metadata or {}) do
    local v = kv[2]
    if type(v) == "table" then v = header_value(v) end
    o[kv[1]] = v
  end
  if not skip_cause and e.cause then
    o.caused_by = fields(e.cause, obj())
  end
  if e.headers and #e.headers > 0 then
    local h = obj()
    for _, kv in ipairs(e.headers) do h[kv[1]] = header_value(kv[2]) end
    o.header = h
  end
  return o
end

local function root_causes(e)
  if e.es and e.cause and e.cause.es then return root_causes(e.cause) end
  return { e }
end

-- body(e): the standard {"error":{...},"status":N} object.
function M.body(e)
  local roots = arr()
  for _, r in ipairs(root_causes(e)) do
    roots[#roots + 1] = fields(r, obj(), true)
  end
  local err = obj("root_cause", roots)
  fields(e, err)
  return obj("error", err, "status", e.status)
end

-- simple(status, message): the router-level {"error":"...","status":N} body.
function M.simple(status, message)
  return obj("error", message, "status", status)
end

return M
