-- The connector updates: PUT /_connector/{id}/_<field> (es-behaviour.md §4,
-- ConnectorIndexService).  Some are plain partial-document updates (a
-- missing connector is a 404 document_missing_exception), others read the
-- connector first (404 "connector [id] not found", soft-deleted included).

local connector = require "esemu.handlers.connector"
local cron = require "esemu.cron"
local errors = require "esemu.errors"
local json = require "esemu.json"
local store = require "esemu.store"
local util = require "esemu.util"
local xcontent = require "esemu.xcontent"

local obj, arr = json.obj, json.arr
local empty = connector.empty

local M = {}

local CONNECTOR_ID = '[connector_id] cannot be [null] or [""].'
local PREFIX = "cluster:admin/xpack/connector/"

local function id_messages(r)
  local msgs = {}
  if empty(r.id) then msgs[1] = CONNECTOR_ID end
  return msgs
end

-- body_update(api, fields, execute[, validate]): a handler whose body is
-- parsed by connector_update_<api>_request.
local function body_update(api, fields, execute, validate, action)
  local parser = xcontent.object_parser("connector_update_" .. api .. "_request", fields)
  return {
    action = PREFIX .. (action or ("update_" .. api)),
    prepare = function(req)
      local v, present = xcontent.parse_body(req:required_content(), parser)
      v.id, v.present = req:param("connector_id"), present
      return v
    end,
    validate = function(r)
      local msgs = id_messages(r)
      if validate then validate(r, msgs) end
      return msgs
    end,
    execute = function(r, req) return 200, obj("result", execute(r, req)) end,
  }
end

-- Enumerations parse like ConnectorStatus.connectorStatus(text): any case.
local function enum_reader(class, values)
  return function(p)
    local text = p:text()
    for _, v in ipairs(values) do
      if v == text:lower() then return v end
    end
    error(errors.illegal_argument(("Unknown %s [%s]."):format(class, text)), 0)
  end
end

M.CONNECTOR_STATUSES = { "created", "needs_configuration", "configured", "connected", "error" }
M.SYNC_STATUSES = { "canceling", "canceled", "completed", "error", "in_progress", "pending", "suspended" }
M.enum_reader = enum_reader

-- ConnectorStateMachine
local TRANSITIONS = {
  created = { needs_configuration = true, error = true },
  needs_configuration = { configured = true, error = true },
  configured = { needs_configuration = true, configured = true, connected = true, error = true },
  connected = { connected = true, configured = true, error = true },
  error = { connected = true, configured = true, error = true },
}

-- PUT /_connector/{id}/_check_in -----------------------------------------------------

M.check_in = {
  action = PREFIX .. "update_last_seen",
  prepare = function(req) return { id = req:param("connector_id") } end,
  validate = id_messages,
  execute = function(r, req)
    return 200, obj("result", connector.update_connector(r.id, obj("last_seen", util.iso_now(req.now)), true))
  end,
}

-- PUT /_connector/{id}/_last_sync ------------------------------------------------------

-- ConnectorUtils.parseNullableInstant: ISO-8601 instants (Instant.parse).
local function instant_or_null(p)
  if p.token == "VALUE_NULL" then return nil end
  local text = p:text()
  if not text:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[%.%d]*Z$") then
    error(errors.new("date_time_parse_exception", ("Text '%s' could not be parsed at index 0"):format(text)), 0)
  end
  return text
end

local function sync_status_or_null(p)
  if p.token == "VALUE_NULL" then return nil end
  return enum_reader("ConnectorSyncStatus", M.SYNC_STATUSES)(p)
end

local LAST_SYNC_FIELDS = {
  { "last_access_control_sync_error", "string_or_null" },
  { "last_access_control_sync_scheduled_at", "string_or_null", instant_or_null },
  { "last_access_control_sync_status", "string_or_null", sync_status_or_null },
  { "last_deleted_document_count", "long" },
  { "last_incremental_sync_scheduled_at", "string_or_null", instant_or_null },
  { "last_indexed_document_count", "long" },
  { "last_sync_error", "string_or_null" },
  { "last_sync_scheduled_at", "string_or_null", instant_or_null },
  { "last_sync_status", "string_or_null", sync_status_or_null },
  { "last_synced", "string_or_null", instant_or_null },
  { "sync_cursor", "object_or_null" },
}

M.last_sync = body_update("last_sync_stats", LAST_SYNC_FIELDS, function(r)
  -- ConnectorSyncInfo.toXContent leaves out what is null
  local doc = obj()
  for _, f in ipairs(LAST_SYNC_FIELDS) do
    if r[f[1]] ~= nil then doc[f[1]] = r[f[1]] end
  end
  return connector.update_connector(r.id, doc)
end, nil, "update_last_sync_stats")

-- PUT /_connector/{id}/_filtering/_activate ----------------------------------------

-- The connector's single filtering entry (a copy to modify).
local function filtering_of(source)
  local f = source.filtering
  if json.is_arr(f) and json.is_obj(f[1]) then return json.copy(f[1]) end
  return obj()
end

M.update_active_filtering = {
  action = PREFIX .. "update_filtering/activate",
  prepare = function(req) return { id = req:param("connector_id") } end,
  validate = id_messages,
  execute = function(r)
    local source = connector.live(r.id)
    local f = filtering_of(source)
    local draft = json.is_obj(f.draft) and f.draft or obj()
    local validation = json.is_obj(draft.validation) and draft.validation or obj()
    local state = type(validation.state) == "string" and validation.state or "edited"
    if state ~= "valid" then
      error(errors.status_exception(("Filtering draft needs to be validated by the connector service before "
        .. "activation. Current filtering draft validation state [%s] is not equal to [valid]."):format(state)), 0)
    end
    f.active = json.copy(draft)
    return 200, obj("result", connector.update_connector(r.id, obj("filtering", arr({ f }))))
  end,
}

-- PUT /_connector/{id}/_configuration --------------------------------------------------

-- Each configuration entry is an object (ConnectorConfiguration).
local function configuration_reader(p)
  local v = p:read_value()
  for _, entry in json.opairs(v) do
    if not json.is_obj(entry) then
      error(xcontent.parse_error(p.tline, p.tcol, "[connector_configuration] Expected START_OBJECT"), 0)
    end
  end
  return v
end

M.update_configuration = body_update("configuration", {
  { "configuration", "object", configuration_reader },
  { "values", "value_object_array" },
}, function(r)
  local source = connector.live(r.id)
  if r.configuration ~= nil then
    -- a script replaces the whole map: always "updated"
    source.configuration = r.configuration
    source.status = "configured"
    store.put(store.CONNECTORS, r.id, source)
    return "updated"
  end
  local existing = json.is_obj(source.configuration) and source.configuration or obj()
  local unknown = {}
  local doc = obj()
  if json.is_obj(r.values) then
    for k, v in json.opairs(r.values) do
      if existing[k] == nil then unknown[#unknown + 1] = k end
      doc[k] = obj("value", v)
    end
  end
  if #unknown > 0 then
    table.sort(unknown)
    error(errors.status_exception(("Unknown [configuration] fields in the request payload: [%s]. Remove them from "
      .. "request or register their schema first."):format(table.concat(unknown, ", "))), 0)
  end
  return connector.update_connector(r.id, obj("configuration", doc, "status", "configured"))
end, function(r, msgs)
  if r.configuration == nil and r.values == nil then
    msgs[#msgs + 1] = "[configuration] and [values] cannot both be null."
  elseif r.configuration ~= nil and r.values ~= nil then
    msgs[#msgs + 1] = "[configuration] and [values] cannot both be provided in the same request."
  end
end)

-- PUT /_connector/{id}/_error -----------------------------------------------------------

M.update_error = body_update("error", {
  { "error", "string_or_null", required = true },
}, function(r)
  -- a null error is written as null; no error means connected again
  local status = empty(r.error) and "connected" or "error"
  return connector.update_connector(r.id, obj("error", r.error == nil and json.null or r.error, "status", status))
end)

-- PUT /_connector/{id}/_features ------------------------------------------------------

local FEATURE_ENABLED = xcontent.object_parser("connector_feature", { { "enabled", "boolean", required = true } })
local SYNC_RULES = xcontent.object_parser("sync_rules_features", {
  { "advanced", "object", xcontent.nested(FEATURE_ENABLED) },
  { "basic", "object", xcontent.nested(FEATURE_ENABLED) },
})
local FEATURES = xcontent.object_parser("connector_features", {
  { "document_level_security", "object", xcontent.nested(FEATURE_ENABLED) },
  { "incremental_sync", "object", xcontent.nested(FEATURE_ENABLED) },
  { "native_connector_api_keys", "object", xcontent.nested(FEATURE_ENABLED) },
  { "sync_rules", "object", xcontent.nested(SYNC_RULES) },
})

-- ConnectorFeatures.toXContent: the features given, in declaration order.
local function features_doc(f)
  local function enabled(x) return x and obj("enabled", x.enabled) or nil end
  local sync_rules = f.sync_rules and obj("advanced", enabled(f.sync_rules.advanced),
    "basic", enabled(f.sync_rules.basic)) or nil
  return obj("document_level_security", enabled(f.document_level_security),
    "incremental_sync", enabled(f.incremental_sync),
    "native_connector_api_keys", enabled(f.native_connector_api_keys),
    "sync_rules", sync_rules)
end

M.update_features = body_update("features", {
  { "features", "object", xcontent.nested(FEATURES) },
}, function(r)
  if r.features == nil then
    -- Map.of("features", null) throws before anything is sent
    error(errors.new("null_pointer_exception", nil, { status = 500 }), 0)
  end
  return connector.update_connector(r.id, obj("features", features_doc(r.features)))
end)

-- PUT /_connector/{id}/_filtering --------------------------------------------------------

local function sort_rules(rules)
  local list = {}
  for i, rule in ipairs(rules) do list[i] = { i, rule } end
  table.sort(list, function(a, b)
    local x = type(a[2].order) == "number" and a[2].order or 0
    local y = type(b[2].order) == "number" and b[2].order or 0
    if x ~= y then return x < y end
    return a[1] < b[1]
  end)
  local out = arr()
  for i, e in ipairs(list) do out[i] = e[2] end
  return out
end

M.update_filtering = body_update("filtering", {
  { "filtering", "object_array" },
  { "advanced_snippet", "object" },
  { "rules", "object_array" },
}, function(r)
  if r.filtering ~= nil then
    return connector.update_connector(r.id, obj("filtering", r.filtering))
  end
  local source = connector.live(r.id)
  local f = filtering_of(source)
  local draft = json.is_obj(f.draft) and json.copy(f.draft) or obj()
  if r.advanced_snippet ~= nil then draft.advanced_snippet = r.advanced_snippet end
  if r.rules ~= nil then draft.rules = sort_rules(r.rules) end
  draft.validation = obj("errors", arr(), "state", "edited")
  f.draft = obj("advanced_snippet", draft.advanced_snippet, "rules", draft.rules, "validation", draft.validation)
  return connector.update_connector(r.id, obj("filtering", arr({ f })))
end, function(r, msgs)
  if r.filtering == nil then
    if r.rules == nil and r.advanced_snippet == nil then
      msgs[#msgs + 1] = "[advanced_snippet] and [rules] cannot be both [null]."
    end
  elseif r.rules ~= nil or r.advanced_snippet ~= nil then
    msgs[#msgs + 1] = "If [filtering] is specified, [rules] and [advanced_snippet] should not be present in the "
      .. "request body."
  end
end)

-- PUT /_connector/{id}/_filtering/_validation ------------------------------------------

local VALIDATION_ERROR = xcontent.object_parser("filtering_validation", {
  { "ids", "string_array", required = true },
  { "messages", "string_array", required = true },
})
local VALIDATION = xcontent.object_parser("filtering_validation_info", {
  { "errors", "object_array", function(p)
    local out = arr()
    if p.token == "START_OBJECT" then
      out[1] = VALIDATION_ERROR:parse(p)
      return out
    end
    while p:next_token() ~= "END_ARRAY" do out[#out + 1] = VALIDATION_ERROR:parse(p) end
    return out
  end, required = true },
  { "state", "string", enum_reader("FilteringValidationState", { "edited", "invalid", "valid" }), required = true },
})

M.update_filtering_validation = body_update("filtering_validation", {
  { "validation", "object", xcontent.nested(VALIDATION) },
}, function(r)
  local source = connector.live(r.id)
  local f = filtering_of(source)
  local draft = json.is_obj(f.draft) and f.draft or obj()
  local errs = arr()
  for i, e in ipairs(r.validation.errors) do errs[i] = obj("ids", e.ids, "messages", e.messages) end
  draft.validation = obj("errors", errs, "state", r.validation.state)
  f.draft = draft
  return connector.update_connector(r.id, obj("filtering", arr({ f })))
end, function(r, msgs)
  if r.validation == nil then msgs[#msgs + 1] = "[validation] cannot be [null]." end
end, "update_filtering/draft_validation")

-- PUT /_connector/{id}/_index_name ----------------------------------------------------------

M.update_index_name = body_update("index_name", {
  { "index_name", "string_or_null", required = true },
}, function(r)
  local name = r.index_name
  if name ~= nil then
    for _, d in ipairs(store.all(store.CONNECTORS)) do
      if d.source.index_name == name and d.source.deleted ~= true and d.id ~= r.id then
        error(errors.status_exception("Index name [" .. name .. "] is used by another connector."), 0)
      end
    end
  end
  local source = connector.live(r.id)
  local prefix = connector.MANAGED_PREFIX
  if source.is_native == true and name ~= nil and name:sub(1, #prefix) ~= prefix then
    error(errors.status_exception(("Index attached to an Elastic-managed connector must start with the prefix: "
      .. "[%s]. The index name in the payload [%s] doesn't comply with this requirement.")
      :format(connector.MANAGED_PREFIX, name)), 0)
  end
  return connector.update_connector(r.id, obj("index_name", name == nil and json.null or name))
end, function(r, msgs)
  if r.index_name ~= nil then msgs[#msgs + 1] = connector.index_name_error(r.index_name) end
end)

-- PUT /_connector/{id}/_name ---------------------------------------------------------------

M.update_name = body_update("name", {
  { "name", "string_or_null" },
  { "description", "string_or_null" },
}, function(r)
  return connector.update_fields(r.id, r, { "name", "description" })
end, function(r, msgs)
  if r.name == nil and r.description == nil then
    msgs[#msgs + 1] = "[name] and [description] cannot both be [null]. Please provide a value for at least one of them."
  end
end)

-- PUT /_connector/{id}/_native -------------------------------------------------------------

M.update_native = body_update("native", {
  { "is_native", "boolean", required = true },
}, function(r)
  local source = connector.live(r.id)
  local index = type(source.index_name) == "string" and source.index_name or nil
  if r.is_native and index and index:sub(1, #connector.MANAGED_PREFIX) ~= connector.MANAGED_PREFIX then
    error(errors.status_exception(("The index name [%s] attached to the connector [%s] must start with the required "
      .. "prefix: [%s] to be Elastic-managed. Please update the attached index first to comply with this "
      .. "requirement."):format(index, r.id, connector.MANAGED_PREFIX)), 0)
  end
  -- a connected connector has to connect again
  local status = source.status == "connected" and "configured" or source.status
  return connector.update_connector(r.id, obj("is_native", r.is_native, "status", status))
end)

-- PUT /_connector/{id}/_pipeline -----------------------------------------------------------

local PIPELINE = xcontent.object_parser("connector_ingest_pipeline", {
  { "extract_binary_content", "boolean", required = true },
  { "name", "string", required = true },
  { "reduce_whitespace", "boolean", required = true },
  { "run_ml_inference", "boolean", required = true },
})

M.update_pipeline = body_update("pipeline", {
  { "pipeline", "object", xcontent.nested(PIPELINE) },
}, function(r)
  local p = r.pipeline
  return connector.update_connector(r.id, obj("pipeline", obj("extract_binary_content", p.extract_binary_content,
    "name", p.name, "reduce_whitespace", p.reduce_whitespace, "run_ml_inference", p.run_ml_inference)))
end, function(r, msgs)
  if r.pipeline == nil then msgs[#msgs + 1] = "[pipeline] cannot be [null]." end
end)

-- PUT /_connector/{id}/_scheduling ---------------------------------------------------------

-- ScheduleConfig parses the interval into a Cron, which refuses an invalid
-- expression with an ElasticsearchParseException (400 parse_exception).
local function cron_interval(p)
  local text = p:text()
  if not cron.valid(text) then error(errors.parse_exception("invalid cron expression [" .. text .. "]"), 0) end
  return text
end

local SCHEDULE = xcontent.object_parser("schedule_config", {
  { "enabled", "boolean", required = true },
  { "interval", "string", cron_interval, required = true },
})
local SCHEDULING = xcontent.object_parser("connector_scheduling", {
  { "access_control", "object", xcontent.nested(SCHEDULE) },
  { "full", "object", xcontent.nested(SCHEDULE) },
  { "incremental", "object", xcontent.nested(SCHEDULE) },
})

M.update_scheduling = body_update("scheduling", {
  { "scheduling", "object", xcontent.nested(SCHEDULING) },
}, function(r)
  local s = r.scheduling
  local function one(x) return x and obj("enabled", x.enabled, "interval", x.interval) or nil end
  return connector.update_connector(r.id, obj("scheduling", obj("access_control", one(s.access_control),
    "full", one(s.full), "incremental", one(s.incremental))))
end, function(r, msgs)
  if r.scheduling == nil then
    msgs[#msgs + 1] = "[scheduling] cannot be [null]."
  elseif r.scheduling.full == nil and r.scheduling.incremental == nil then
    -- ES checks full and incremental (incremental twice, not access_control)
    msgs[#msgs + 1] = "[scheduling] object needs to define at least one schedule type: "
      .. "[full | incremental | access_control]"
  end
end)

-- PUT /_connector/{id}/_service_type -------------------------------------------------------

M.update_service_type = body_update("service_type", {
  { "service_type", "string", required = true },
}, function(r)
  local source = connector.live(r.id)
  local status = source.status == "created" and "created" or "needs_configuration"
  return connector.update_connector(r.id, obj("service_type", r.service_type, "status", status))
end, function(r, msgs)
  if empty(r.service_type) then msgs[#msgs + 1] = '[service_type] cannot be [null] or [""].' end
end)

-- PUT /_connector/{id}/_status ---------------------------------------------------------------

M.update_status = body_update("status", {
  { "status", "string", enum_reader("ConnectorStatus", M.CONNECTOR_STATUSES), required = true },
}, function(r)
  local source = connector.live(r.id)
  local prev = type(source.status) == "string" and source.status or "created"
  if not (TRANSITIONS[prev] or {})[r.status] then
    error(errors.status_with_cause(("Invalid transition attempt from [%s] to [%s]. Such a status transition is not "
      .. "supported by the Connector Protocol."):format(prev, r.status),
      "connector_invalid_status_transition_exception"), 0)
  end
  return connector.update_connector(r.id, obj("status", r.status))
end, function(r, msgs)
  if r.status == nil then msgs[#msgs + 1] = "[status] cannot be [null]." end
end)

return M
