-- Connector sync jobs: /_connector/_sync_job (ConnectorSyncJobIndexService).
-- Documents in .elastic-connectors-sync-jobs-v1, as ConnectorSyncJob
-- .toXContent writes them; GET answers {"id": ..., <source>}.

local connector = require "esemu.handlers.connector"
local updates = require "esemu.handlers.connector_update"
local errors = require "esemu.errors"
local json = require "esemu.json"
local store = require "esemu.store"
local util = require "esemu.util"
local xcontent = require "esemu.xcontent"

local obj, arr = json.obj, json.arr
local JOBS = store.SYNC_JOBS

local M = {}

local PREFIX = "cluster:admin/xpack/connector/sync_job/"
local EMPTY_ID = "[connector_sync_job_id] of the connector sync job cannot be null or empty."
local MAX_FROM_SIZE = 10000

local function empty(s) return s == nil or s == "" end

local function id_messages(r)
  if empty(r.id) then return { EMPTY_ID } end
  return {}
end

-- GET and DELETE of a missing job say just the id; before the first job the
-- index is missing, which DelegatingIndexNotFound... turns into this.
local function not_found(id)
  if not store.exists(JOBS) then
    return errors.resource_not_found("connector sync job [" .. id .. "] not found")
  end
  return errors.resource_not_found(id)
end

-- Updates without a prior GET: a missing document is "not found" too.  All
-- of them write a timestamp of now (see connector.update_doc).
local function update(id, doc)
  return connector.update_doc(JOBS, id, doc, function()
    error(errors.resource_not_found("connector sync job [" .. id .. "] not found"), 0)
  end, true)
end

local function get(id)
  local source = store.get(JOBS, id)
  if not source then error(not_found(id), 0) end
  return source
end

local function with_id(id, source)
  local o = obj("id", id)
  for k, v in json.opairs(source) do o[k] = v end
  return o
end

-- ConnectorSyncJobStateMachine
local TRANSITIONS = {
  pending = { in_progress = true, canceled = true },
  in_progress = { canceling = true, completed = true, suspended = true, error = true },
  suspended = { in_progress = true, canceled = true },
  canceling = { canceled = true, error = true },
}

local function assert_transition(prev, next_status)
  if not (TRANSITIONS[prev] or {})[next_status] then
    error(errors.status_with_cause(("Invalid transition attempt from [%s] to [%s]. Such a ConnectorSyncStatus "
      .. "transition is not supported by the Connector Protocol."):format(prev, next_status),
      "connector_sync_job_invalid_status_transition_exception"), 0)
  end
end

-- ConnectorSyncJobType.fromString / ConnectorSyncJobTriggerMethod.fromString:
-- case-insensitive, an unknown name is an illegal_argument_exception (raised
-- from the request parser's builder).
local function from_string(kind, values, text)
  if text == nil then return nil end
  local lower = text:lower()
  for _, v in ipairs(values) do
    if v == lower then return v end
  end
  error(errors.illegal_argument(("Unknown %s [%s]."):format(kind, text)), 0)
end

-- POST /_connector/_sync_job -----------------------------------------------------------

local POST_PARSER = xcontent.object_parser("connector_sync_job_post_request", {
  { "id", "string", required = true },
  { "job_type", "string" },
  { "trigger_method", "string" },
}, { build = function(r)
  r.job_type = from_string("ConnectorSyncJobType", { "full", "incremental", "access_control" }, r.job_type)
  r.trigger_method = from_string("ConnectorSyncJobTriggerMethod", { "on_demand", "scheduled" }, r.trigger_method)
end })

M.post = {
  action = PREFIX .. "post",
  prepare = function(req) return (xcontent.parse_body(req:required_content(), POST_PARSER)) end,
  validate = function(r)
    if empty(r.id) then return { "[id] of the connector cannot be null or empty" } end
  end,
  execute = function(r, req)
    local c = store.get(store.CONNECTORS, r.id)
    if not c then
      error(errors.resource_not_found("Connector with id '" .. r.id .. "' does not exist."), 0)
    end
    if empty(c.index_name) or c.index_name == json.null then
      error(errors.status_exception(("Cannot start a sync for connector [%s] with no index attached. Set the "
        .. "[index_name] property for the connector to enable syncing data."):format(r.id)), 0)
    end
    if empty(c.service_type) or c.service_type == json.null then
      error(errors.status_exception(("Cannot start a sync for connector [%s] with [service_type] not defined. "
        .. "Set the service type of your connector before starting the sync."):format(r.id)), 0)
    end
    local job_type = r.job_type or "full"
    -- access control syncs write to their own index
    local index = job_type == "access_control" and ".search-acl-filter-" .. c.index_name or c.index_name
    local filtering = json.is_arr(c.filtering) and json.is_obj(c.filtering[1]) and c.filtering[1].active or nil
    local language = c.language ~= json.null and c.language or nil
    local now = util.iso_now(req.now)
    local id = util.base64_uuid()
    store.put(JOBS, id, obj(
      "connector", obj("id", r.id, "filtering", filtering, "index_name", index, "language", language,
        "pipeline", c.pipeline, "service_type", c.service_type, "configuration", c.configuration or obj(),
        "sync_cursor", c.sync_cursor),
      "created_at", now,
      "deleted_document_count", 0,
      "indexed_document_count", 0,
      "indexed_document_volume", 0,
      "job_type", job_type,
      "last_seen", now,
      "metadata", obj(),
      "status", "pending",
      "total_document_count", 0,
      "trigger_method", r.trigger_method or "on_demand"))
    return 201, obj("id", id)
  end,
}

-- GET /_connector/_sync_job/{id} ---------------------------------------------------------

local function id_handler(action, execute)
  return {
    action = PREFIX .. action,
    prepare = function(req) return { id = req:param("connector_sync_job_id") } end,
    validate = id_messages,
    execute = execute,
  }
end

M.get = id_handler("get", function(r) return 200, with_id(r.id, get(r.id)) end)

-- DELETE /_connector/_sync_job/{id} -----------------------------------------------------

M.delete = id_handler("delete", function(r)
  if not store.delete(JOBS, r.id) then error(not_found(r.id), 0) end
  return 200, obj("acknowledged", true)
end)

-- PUT /_connector/_sync_job/{id}/_check_in ----------------------------------------------

M.check_in = id_handler("check_in", function(r, req)
  return 200, obj("result", update(r.id, obj("last_seen", util.iso_now(req.now))))
end)

-- PUT /_connector/_sync_job/{id}/_cancel --------------------------------------------------

M.cancel = id_handler("cancel", function(r, req)
  local source = get(r.id)
  local now = util.iso_now(req.now)
  local prev = source.status
  local doc
  if prev == "pending" or prev == "suspended" then
    -- a job that is not running is canceled at once
    assert_transition(prev, "canceled")
    doc = obj("status", "canceled", "cancelation_requested_at", now, "canceled_at", now, "completed_at", now)
  else
    assert_transition(prev, "canceling")
    doc = obj("status", "canceling", "cancelation_requested_at", now)
  end
  return 200, obj("result", update(r.id, doc))
end)

-- PUT /_connector/_sync_job/{id}/_claim -----------------------------------------------------

local CLAIM_PARSER = xcontent.object_parser("connector_sync_job_claim_request", {
  { "worker_hostname", "string", required = true },
  { "sync_cursor", "object" },
})

M.claim = {
  action = PREFIX .. "claim",
  prepare = function(req)
    local r = xcontent.parse_body(req:required_content(), CLAIM_PARSER)
    r.id = req:param("connector_sync_job_id")
    return r
  end,
  validate = id_messages,
  execute = function(r, req)
    get(r.id)
    local now = util.iso_now(req.now)
    local doc = obj("worker_hostname", r.worker_hostname, "status", "in_progress", "last_seen", now,
      "started_at", now)
    if r.sync_cursor ~= nil then doc.connector = obj("sync_cursor", r.sync_cursor) end
    return 200, obj("result", update(r.id, doc))
  end,
}

-- PUT /_connector/_sync_job/{id}/_error -------------------------------------------------------

local ERROR_PARSER = xcontent.object_parser("connector_sync_job_error_request", {
  { "error", "string", required = true },
})

M.error = {
  action = PREFIX .. "update_error",
  prepare = function(req)
    local r = xcontent.parse_body(req:required_content(), ERROR_PARSER)
    r.id = req:param("connector_sync_job_id")
    return r
  end,
  validate = function(r)
    local msgs = id_messages(r)
    if empty(r.error) then msgs[#msgs + 1] = "[error] of the connector sync job cannot be null or empty" end
    return msgs
  end,
  execute = function(r)
    local source = get(r.id)
    assert_transition(source.status, "error")
    return 200, obj("result", update(r.id, obj("error", r.error, "status", "error")))
  end,
}

-- PUT /_connector/_sync_job/{id}/_stats ---------------------------------------------------------

local STATS_PARSER = xcontent.object_parser("connector_sync_job_update_ingestion_stats", {
  { "deleted_document_count", "long", required = true },
  { "indexed_document_count", "long", required = true },
  { "indexed_document_volume", "long", required = true },
  { "total_document_count", "long" },
  { "last_seen", "object_or_string" },
  { "metadata", "object" },
})

M.update_stats = {
  action = PREFIX .. "update_stats",
  prepare = function(req)
    local r = xcontent.parse_body(req:required_content(), STATS_PARSER)
    r.id = req:param("connector_sync_job_id")
    return r
  end,
  validate = function(r)
    local msgs = id_messages(r)
    for _, f in ipairs({ "deleted_document_count", "indexed_document_count", "indexed_document_volume",
                         "total_document_count" }) do
      if type(r[f]) == "number" and r[f] < 0 then msgs[#msgs + 1] = "[" .. f .. "] cannot be negative." end
    end
    return msgs
  end,
  execute = function(r, req)
    local doc = obj("deleted_document_count", r.deleted_document_count,
      "indexed_document_count", r.indexed_document_count,
      "indexed_document_volume", r.indexed_document_volume,
      "total_document_count", r.total_document_count,
      "last_seen", type(r.last_seen) == "string" and r.last_seen or util.iso_now(req.now),
      "metadata", r.metadata)
    return 200, obj("result", update(r.id, doc))
  end,
}

-- GET /_connector/_sync_job ----------------------------------------------------------------------

M.list = {
  action = PREFIX .. "list",
  prepare = function(req)
    local r = {
      from = req:param_int("from", 0),
      size = req:param_int("size", 100),
      connector_id = req:param("connector_id"),
      status = req:param("status"),
      job_types = req:param_list("job_type"),
    }
    if r.from < 0 then error(errors.illegal_argument("Parameter [from] cannot be < 0"), 0) end
    if r.size < 0 then error(errors.illegal_argument("Parameter [size] cannot be < 0"), 0) end
    if r.from + r.size > MAX_FROM_SIZE then
      error(errors.illegal_argument(("The sum of parameters [from] and [size] cannot be higher than %d.")
        :format(MAX_FROM_SIZE)), 0)
    end
    if r.status ~= nil then
      local known = false
      for _, s in ipairs(updates.SYNC_STATUSES) do
        if s == r.status:lower() then known, r.status = true, s end
      end
      if not known then
        error(errors.illegal_argument("Unknown ConnectorSyncStatus [" .. r.status .. "]."), 0)
      end
    end
    return r
  end,
  execute = function(r)
    local types = {}
    for _, t in ipairs(r.job_types) do types[t:lower()] = true end
    local hits = {}
    for _, d in ipairs(store.all(JOBS)) do
      local s = d.source
      local c = json.is_obj(s.connector) and s.connector or {}
      if (r.connector_id == nil or c.id == r.connector_id) and (r.status == nil or s.status == r.status)
          and (#r.job_types == 0 or types[s.job_type]) then
        hits[#hits + 1] = d
      end
    end
    -- created_at descending, then document order
    table.sort(hits, function(a, b)
      local x, y = tostring(a.source.created_at), tostring(b.source.created_at)
      if x ~= y then return x > y end
      return a.seq < b.seq
    end)
    local results = arr()
    for i = r.from + 1, math.min(#hits, r.from + r.size) do
      results[#results + 1] = with_id(hits[i].id, hits[i].source)
    end
    return 200, obj("count", #hits, "results", results)
  end,
}

return M
