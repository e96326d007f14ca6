-- Connector CRUD and PUT /_connector/{id}/_api_key_id (es-behaviour.md §3, §4).
-- Each endpoint is a handler table for router.lua.

local errors = require "esemu.errors"
local json = require "esemu.json"
local store = require "esemu.store"
local util = require "esemu.util"
local xcontent = require "esemu.xcontent"

local obj, arr = json.obj, json.arr
local CONNECTORS = store.CONNECTORS

local M = {}

local MANAGED_PREFIX = "content-"
local MAX_ID_BYTES = 512

-- Document defaults (ConnectorIndexService.createConnectorWithDefaultValues) ---

local function default_rules(now)
  return obj(
    "advanced_snippet", obj("created_at", now, "updated_at", now, "value", obj()),
    "rules", arr({ obj("created_at", now, "field", "_", "id", "DEFAULT", "order", 0, "policy", "include",
      "rule", "regex", "updated_at", now, "value", ".*") }),
    "validation", obj("errors", arr(), "state", "valid"))
end

local function default_scheduling()
  local function one() return obj("enabled", false, "interval", "0 0 0 * * ?") end
  return obj("access_control", one(), "full", one(), "incremental", one())
end

-- The stored source, in Connector.toXContent field order; absent values are
-- omitted as ES omits nulls.
function M.new_document(r, now)
  local native = r.is_native == true
  return obj(
    "configuration", obj(),
    "custom_scheduling", obj(),
    "description", r.description,
    "filtering", arr({ obj("active", default_rules(now), "domain", "DEFAULT", "draft", default_rules(now)) }),
    "index_name", r.index_name,
    "is_native", native,
    "language", r.language,
    "name", r.name or "",
    "scheduling", default_scheduling(),
    "service_type", r.service_type,
    "status", native and "needs_configuration" or "created",
    "sync_now", false,
    "deleted", false)
end

-- GET and list responses: {"id": ..., <source>}.
local function with_id(id, source)
  local o = obj("id", id)
  for k, v in json.opairs(source) do o[k] = v end
  return o
end

local function not_found(id)
  return errors.resource_not_found("connector [" .. id .. "] not found")
end

-- Validation helpers ---------------------------------------------------------

-- MetadataCreateIndexService.validateIndexOrAliasName, rendered as
-- InvalidIndexNameException.toString() (how ConnectorActionRequest reports it).
function M.index_name_error(name)
  local function e(desc)
    return ("[%s] InvalidIndexNameException[Invalid index name [%s], %s]"):format(name, name, desc)
  end
  if name == "" then return e("must not be empty") end
  if name:find('[ "*\\<|,>/?]') then
    return e('must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]')
  end
  if name:find("#", 1, true) then return e("must not contain '#'") end
  if name:find(":", 1, true) then return e("must not contain ':'") end
  local c = name:sub(1, 1)
  if c == "_" or c == "-" or c == "+" then return e("must not start with '_', '-', or '+'") end
  if #name > 255 then return e(("index name is too long, (%d > 255)"):format(#name)) end
  if name == "." or name == ".." then return e("must not be '.' or '..'") end
  return nil
end

local function check_id_length(id)
  if id and #id > MAX_ID_BYTES then
    error(errors.validation({ ("id [%s] is too long, must be no longer than %d bytes but was: %d")
      :format(id, MAX_ID_BYTES, #id) }), 0)
  end
end

local function empty(s) return s == nil or s == "" end

-- PUT /_connector/{id}, PUT /_connector, POST /_connector ----------------------

local PUT_PARSER = xcontent.object_parser("connector_put_request", {
  { "description", "string" },
  { "index_name", "string_or_null" },
  { "is_native", "boolean" },
  { "language", "string" },
  { "name", "string" },
  { "service_type", "string" },
})

local function prepare_create(req, with_id_param)
  local r = { id = with_id_param and req:param("connector_id") or nil }
  if req:has_content() then
    local v = xcontent.parse_body(req:content(), PUT_PARSER)
    for k, x in pairs(v) do r[k] = x end
  end
  return r
end

local function validate_create(r)
  local msgs = {}
  if r.index_name ~= nil then
    msgs[#msgs + 1] = M.index_name_error(r.index_name)
    if r.is_native == true and r.index_name:sub(1, #MANAGED_PREFIX) ~= MANAGED_PREFIX then
      msgs[#msgs + 1] = ("Index [%s] is invalid. Index attached to an Elastic-managed connector must start "
        .. "with the prefix: [%s]"):format(r.index_name, MANAGED_PREFIX)
    end
  end
  return msgs
end

local function execute_create(r, req)
  local id = not empty(r.id) and r.id or nil
  if r.index_name ~= nil then
    for _, d in ipairs(store.all(CONNECTORS)) do
      if d.source.index_name == r.index_name and d.source.deleted ~= true and d.id ~= id then
        error(errors.status_exception("Index name [" .. r.index_name .. "] is used by another connector."), 0)
      end
    end
  end
  check_id_length(id)
  id = id or util.base64_uuid()
  local result = store.put(CONNECTORS, id, M.new_document(r, util.iso_now(req.now)))
  return result == "created" and 201 or 200, obj("id", id, "result", result)
end

M.put = {
  action = "cluster:admin/xpack/connector/put",
  prepare = function(req) return prepare_create(req, true) end,
  validate = validate_create,
  execute = execute_create,
}

M.post = {
  action = "cluster:admin/xpack/connector/post",
  prepare = function(req) return prepare_create(req, false) end,
  validate = validate_create,
  execute = execute_create,
}

-- GET /_connector/{id} ------------------------------------------------------------

M.get = {
  action = "cluster:admin/xpack/connector/get",
  prepare = function(req)
    return { id = req:param("connector_id"), include_deleted = req:param_bool("include_deleted", false) }
  end,
  validate = function(r)
    if empty(r.id) then return { "connector_id missing" } end
  end,
  execute = function(r)
    local source = store.get(CONNECTORS, r.id)
    if not source or (source.deleted == true and not r.include_deleted) then error(not_found(r.id), 0) end
    return 200, with_id(r.id, source)
  end,
}

-- GET /_connector --------------------------------------------------------------------

local MAX_FROM_SIZE = 10000

-- Lucene wildcard ('*' any run, '?' one character, '\' escapes) as an
-- anchored Lua pattern.
local function wildcard_pattern(w)
  local out, i = { "^" }, 1
  while i <= #w do
    local c = w:sub(i, i)
    if c == "*" then
      out[#out + 1] = ".*"
    elseif c == "?" then
      out[#out + 1] = "."
    else
      if c == "\\" and i < #w then
        i = i + 1
        c = w:sub(i, i)
      end
      out[#out + 1] = (c:gsub("%W", "%%%0"))
    end
    i = i + 1
  end
  out[#out + 1] = "$"
  return table.concat(out)
end

local function in_list(list, v)
  if type(v) ~= "string" then return false end
  for _, x in ipairs(list) do
    if x == v then return true end
  end
  return false
end

M.list = {
  action = "cluster:admin/xpack/connector/list",
  prepare = function(req)
    local r = {
      from = req:param_int("from", 0),
      size = req:param_int("size", 100),
      index_names = req:param_list("index_name"),
      connector_names = req:param_list("connector_name"),
      service_types = req:param_list("service_type"),
      query = req:param("query"),
      include_deleted = req:param_bool("include_deleted", false),
    }
    -- PageParams
    if r.from < 0 then error(errors.illegal_argument("Parameter [from] cannot be < 0"), 0) end
    if r.size < 0 then error(errors.illegal_argument("Parameter [size] cannot be < 0"), 0) end
    if r.from + r.size > MAX_FROM_SIZE then
      error(errors.illegal_argument(("The sum of parameters [from] and [size] cannot be higher than %d.")
        :format(MAX_FROM_SIZE)), 0)
    end
    return r
  end,
  validate = function(r)
    local msgs = {}
    for _, name in ipairs(r.index_names) do
      msgs[#msgs + 1] = M.index_name_error(name)
    end
    return msgs
  end,
  execute = function(r)
    local hits = {}
    local pattern = not empty(r.query) and wildcard_pattern("*" .. r.query .. "*") or nil
    for _, d in ipairs(store.all(CONNECTORS)) do
      local s = d.source
      local ok = (r.include_deleted or s.deleted ~= true)
        and (#r.index_names == 0 or in_list(r.index_names, s.index_name))
        and (#r.connector_names == 0 or in_list(r.connector_names, s.name))
        and (#r.service_types == 0 or in_list(r.service_types, s.service_type))
      if ok and pattern then
        ok = (type(s.index_name) == "string" and s.index_name:find(pattern) ~= nil)
          or (type(s.name) == "string" and s.name:find(pattern) ~= nil)
          or (type(s.description) == "string" and s.description:find(pattern) ~= nil)
      end
      if ok then hits[#hits + 1] = d end
    end
    -- index_name ascending, missing last, then document order
    table.sort(hits, function(a, b)
      local x, y = a.source.index_name, b.source.index_name
      x = type(x) == "string" and x or nil
      y = type(y) == "string" and y or nil
      if x ~= y then
        if x == nil then return false end
        if y == nil then return true end
        return x < y
      end
      return a.seq < b.seq
    end)
    local results = arr()
    for i = r.from + 1, math.min(#hits, r.from + r.size) do
      results[#results + 1] = with_id(hits[i].id, hits[i].source)
    end
    return 200, obj("count", #hits, "results", results)
  end,
}

-- DELETE /_connector/{id} --------------------------------------------------------------

-- Sync jobs of a connector (.elastic-connectors-sync-jobs-v1, connector.id).
local function delete_sync_jobs(connector_id)
  for _, d in ipairs(store.all(store.SYNC_JOBS)) do
    local c = d.source.connector
    if json.is_obj(c) and c.id == connector_id then store.delete(store.SYNC_JOBS, d.id) end
  end
end

M.delete = {
  action = "cluster:admin/xpack/connector/delete",
  prepare = function(req)
    return {
      id = req:param("connector_id"),
      delete_sync_jobs = req:param_bool("delete_sync_jobs", false),
      hard = req:param_bool("hard", false),
    }
  end,
  validate = function(r)
    if empty(r.id) then return { "connector_id missing" } end
  end,
  execute = function(r)
    if r.hard then
      if not store.delete(CONNECTORS, r.id) then error(not_found(r.id), 0) end
    else
      local source = store.get(CONNECTORS, r.id)
      if not source or source.deleted == true then error(not_found(r.id), 0) end
      source.deleted = true
      store.put(CONNECTORS, r.id, source)
    end
    if r.delete_sync_jobs then delete_sync_jobs(r.id) end
    return 200, obj("acknowledged", true)
  end,
}

-- Partial document updates (UpdateRequest with a doc, no upsert) -----------------------

-- merge(source, doc): XContentHelper.update, as a partial-document update
-- applies it: objects merge recursively, anything else is replaced.
-- Returns whether something changed (detect_noop).
function M.merge(source, doc)
  local changed = false
  for k, v in json.opairs(doc) do
    local old = source[k]
    if json.is_obj(old) and json.is_obj(v) then
      if M.merge(old, v) then changed = true end
    elseif old == nil or not json.equal(old, v) then
      source[k] = json.copy(v)
      changed = true
    end
  end
  return changed
end

-- update_doc(index, id, doc, missing[, now]): a partial-document update of
-- one document; "updated" or "noop"; missing() raises when it is absent.
-- now: the doc carries Instant.now(), which has microseconds in ES, so it
-- never equals what is stored (this clock has milliseconds): never a noop.
function M.update_doc(index, id, doc, missing, now)
  local source = store.get(index, id)
  if not source then missing() end
  if not M.merge(source, doc) and not now then return "noop" end
  store.put(index, id, source)
  return "updated"
end

-- update_fields(id, fields, names): merge the non-nil fields; "updated" or
-- "noop" (detect_noop); 404 document_missing_exception when absent.  A
-- soft-deleted connector is updated all the same (no prior GET).
function M.update_fields(id, fields, names)
  local doc = json.obj()
  for _, name in ipairs(names) do
    if fields[name] ~= nil then doc[name] = fields[name] end
  end
  return M.update_connector(id, doc)
end

-- update_connector(id, doc[, now]): a partial update of a connector document.
function M.update_connector(id, doc, now)
  check_id_length(id)
  return M.update_doc(CONNECTORS, id, doc, function()
    error(errors.document_missing(id, CONNECTORS, store.index_uuid(CONNECTORS)), 0)
  end, now)
end

-- live(id): the connector as ConnectorIndexService.getConnector(id, false)
-- sees it: 404 "connector [id] not found" when absent or soft-deleted.
function M.live(id)
  check_id_length(id)
  local source = store.get(CONNECTORS, id)
  if not source or source.deleted == true then error(not_found(id), 0) end
  return source
end

M.not_found = not_found
M.empty = empty
M.MANAGED_PREFIX = MANAGED_PREFIX

-- PUT /_connector/{id}/_api_key_id -------------------------------------------------------

local API_KEY_ID_PARSER = xcontent.object_parser("connector_update_api_key_id_request", {
  { "api_key_id", "string_or_null" },
  { "api_key_secret_id", "string_or_null" },
})

M.update_api_key_id = {
  action = "cluster:admin/xpack/connector/update_api_key_id",
  prepare = function(req)
    local v = xcontent.parse_body(req:required_content(), API_KEY_ID_PARSER)
    return { id = req:param("connector_id"), api_key_id = v.api_key_id, api_key_secret_id = v.api_key_secret_id }
  end,
  validate = function(r)
    local msgs = {}
    if empty(r.id) then msgs[#msgs + 1] = '[connector_id] cannot be [null] or [""].' end
    if r.api_key_id == nil and r.api_key_secret_id == nil then
      msgs[#msgs + 1] = "[api_key_id] and [api_key_secret_id] cannot both be [null]. "
        .. "Please provide a value for at least one of them."
    end
    return msgs
  end,
  execute = function(r)
    local result = M.update_fields(r.id, r, { "api_key_id", "api_key_secret_id" })
    return 200, obj("result", result)
  end,
}

return M
