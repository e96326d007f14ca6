-- The emulator's whole surface (connector updates, secrets, sync jobs,
-- security, indices.delete), checked over real HTTP with the curl command
-- line against es-behaviour.md and Elasticsearch's own code: statuses, error
-- types and reasons, documents, 401s and 403s.  Uses the secured emulator
-- at ES_URL that scripts/run-tests started (ES_USERNAME / ES_PASSWORD and
-- ES_API_KEY), or starts one of its own with --auth.

local cjson = require("cjson").new()
local curl = require "spec.support.curl"
local ESEMU, q, read_file, sh = curl.ESEMU, curl.q, curl.read_file, curl.sh
local b64, unique, http = curl.b64, curl.unique, curl.http
local RUN, TMP = curl.RUN, curl.tmpdir()

-- Assertions on ES error bodies; returns the error object.
local function assert_error(res, status, etype, reason)
  assert.are.equal(status, res.status, res.body)
  assert.is_table(res.json, res.body)
  local e = res.json.error
  assert.is_table(e, res.body)
  assert.are.equal(status, res.json.status)
  assert.are.equal(etype, e.type, res.body)
  if reason then assert.are.equal(reason, e.reason, res.body) end
  assert.is_table(e.root_cause, res.body)
  return e
end

local function validation(...)
  local parts = { "Validation Failed: " }
  for i, m in ipairs({ ... }) do parts[#parts + 1] = i .. ": " .. m .. ";" end
  return table.concat(parts)
end

local ISO = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"
local NO_ANON = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
local cnull = cjson.null

describe("emulator surface #subprocess", function()
  local base, started_dir, basic, apikey, creds

  local function req(method, path, opts) return http(base, method, path, opts) end
  local function as(auth) return function(method, path, opts)
    opts = opts or {}
    opts.auth = auth
    return http(base, method, path, opts)
  end end
  local function ok(res, status)
    assert.are.equal(status or 200, res.status, res.body)
    return res.json
  end
  local function connector(doc, id)
    id = id or unique("surf")
    ok(req("PUT", "/_connector/" .. id, { body = doc or {} }), 201)
    return id
  end
  local function get(id) return ok(req("GET", "/_connector/" .. id)) end
  local function user(name, password, roles)
    ok(req("PUT", "/_security/user/" .. name, { body = { password = password, roles = roles } }))
    return "Basic " .. b64(name .. ":" .. password)
  end
  local function role(name, body) ok(req("PUT", "/_security/role/" .. name, { body = body })) end

  lazy_setup(function()
    base = os.getenv("ES_URL")
    local username, password = os.getenv("ES_USERNAME"), os.getenv("ES_PASSWORD")
    local key = os.getenv("ES_API_KEY")
    if not base or not username or username == "" then
      started_dir = TMP .. "/auth"
      local out, rc = sh(q(ESEMU) .. " start --auth --dir " .. q(started_dir))
      assert.are.equal(0, rc, out)
      base = out:match("^(http://127%.0%.0%.1:%d+)\n")
      creds = cjson.decode(read_file(started_dir .. "/credentials.json"))
      username, password, key = creds.username, creds.password, creds.encoded
    end
    base = base:gsub("/+$", "")
    basic = "Basic " .. b64(username .. ":" .. password)
    apikey = key and key ~= "" and ("ApiKey " .. key) or nil
    curl.set_default_auth(basic)
  end)

  lazy_teardown(function()
    if started_dir then sh(q(ESEMU) .. " stop --dir " .. q(started_dir) .. " 2>&1") end
    sh("rm -rf " .. q(TMP))
  end)

  describe("connector updates", function()
    it("checks in: last_seen is now; a missing connector is a missing document", function()
      local id = connector({ index_name = unique("i") })
      assert.are.same({ result = "updated" }, ok(req("PUT", "/_connector/" .. id .. "/_check_in")))
      assert.matches(ISO, get(id).last_seen)
      local missing = unique("missing")
      local e = assert_error(req("PUT", "/_connector/" .. missing .. "/_check_in"), 404, "document_missing_exception",
        "[" .. missing .. "]: document missing")
      assert.are.equal(".elastic-connectors-v1", e.index)
      assert_error(req("PUT", "/_connector//_check_in"), 400, "action_request_validation_exception",
        validation('[connector_id] cannot be [null] or [""].'))
    end)

    it("records the last sync, leaving nulls out, with the parser's errors", function()
      local id = connector()
      local res = req("PUT", "/_connector/" .. id .. "/_last_sync", { body = { last_sync_status = "COMPLETED",
        last_synced = "2024-01-02T03:04:05.000Z", last_indexed_document_count = 7, last_sync_error = cnull,
        sync_cursor = { page = 2 } } })
      assert.are.same({ result = "updated" }, ok(res))
      local doc = get(id)
      assert.are.equal("completed", doc.last_sync_status)
      assert.are.equal(7, doc.last_indexed_document_count)
      assert.are.equal("2024-01-02T03:04:05.000Z", doc.last_synced)
      assert.are.same({ page = 2 }, doc.sync_cursor)
      assert.is_nil(doc.last_sync_error)
      assert_error(req("PUT", "/_connector/" .. id .. "/_last_sync", { body = '{"last_seen":"x"}' }), 400,
        "x_content_parse_exception",
        "[1:2] [connector_update_last_sync_stats_request] unknown field [last_seen] did you mean [last_synced]?")
      local e = assert_error(req("PUT", "/_connector/" .. id .. "/_last_sync",
        { body = '{"last_sync_status":"done"}' }), 400, "x_content_parse_exception",
        "[1:21] [connector_update_last_sync_stats_request] failed to parse field [last_sync_status]")
      assert.are.same({ type = "illegal_argument_exception", reason = "Unknown ConnectorSyncStatus [done]." },
        e.caused_by)
      assert_error(req("PUT", "/_connector/" .. id .. "/_last_sync"), 400, "parse_exception",
        "request body is required")
    end)

    it("replaces the configuration or sets values of known fields", function()
      local id = connector()
      local field = { label = "Host", type = "str", value = "a", required = true }
      ok(req("PUT", "/_connector/" .. id .. "/_configuration", { body = { configuration = { host = field } } }))
      local doc = get(id)
      assert.are.equal("configured", doc.status)
      assert.are.equal("a", doc.configuration.host.value)
      ok(req("PUT", "/_connector/" .. id .. "/_configuration", { body = { values = { host = "b" } } }))
      doc = get(id)
      assert.are.equal("b", doc.configuration.host.value)
      assert.are.equal("Host", doc.configuration.host.label)
      assert_error(req("PUT", "/_connector/" .. id .. "/_configuration", { body = { values = { port = 1, db = 2 } } }),
        400, "status_exception", "Unknown [configuration] fields in the request payload: [db, port]. Remove them "
          .. "from request or register their schema first.")
      assert_error(req("PUT", "/_connector/" .. id .. "/_configuration", { body = {} }), 400,
        "action_request_validation_exception", validation("[configuration] and [values] cannot both be null."))
      assert_error(req("PUT", "/_connector/" .. id .. "/_configuration",
        { body = { values = { host = "c" }, configuration = { host = field } } }), 400,
        "action_request_validation_exception",
        validation("[configuration] and [values] cannot both be provided in the same request."))
      assert_error(req("PUT", "/_connector/" .. unique("gone") .. "/_configuration", { body = { values = {} } }), 404,
        "resource_not_found_exception")
    end)

    it("sets and clears the error, and the status with it", function()
      local id = connector()
      ok(req("PUT", "/_connector/" .. id .. "/_error", { body = { error = "boom" } }))
      local doc = get(id)
      assert.are.equal("boom", doc.error)
      assert.are.equal("error", doc.status)
      ok(req("PUT", "/_connector/" .. id .. "/_error", { body = '{"error":null}' }))
      doc = get(id)
      assert.are.equal(cnull, doc.error)
      assert.are.equal("connected", doc.status)
      assert_error(req("PUT", "/_connector/" .. id .. "/_error", { body = {} }), 400, "illegal_argument_exception",
        "Required [error]")
      assert_error(req("PUT", "/_connector/" .. id .. "/_error", { body = '{"error":5}' }), 400,
        "x_content_parse_exception", "[1:10] [connector_update_error_request] error doesn't support values of type: "
          .. "VALUE_NUMBER")
    end)

    it("merges features, parsing them strictly", function()
      local id = connector()
      ok(req("PUT", "/_connector/" .. id .. "/_features",
        { body = { features = { document_level_security = { enabled = true } } } }))
      ok(req("PUT", "/_connector/" .. id .. "/_features",
        { body = { features = { incremental_sync = { enabled = false } } } }))
      local doc = get(id)
      assert.are.same({ document_level_security = { enabled = true }, incremental_sync = { enabled = false } },
        doc.features)
      local e = assert_error(req("PUT", "/_connector/" .. id .. "/_features",
        { body = '{"features":{"dls":{"enabled":true}}}' }), 400, "x_content_parse_exception",
        "[1:20] [connector_update_features_request] failed to parse field [features]")
      assert.are.equal("[1:14] [connector_features] unknown field [dls]", e.caused_by.reason)
    end)

    it("edits the draft filtering, validates it and activates it", function()
      local id = connector()
      local rules = {
        { id = "r2", order = 2, field = "a", policy = "exclude", rule = "equals", value = "x" },
        { id = "r1", order = 1, field = "b", policy = "include", rule = "equals", value = "y" },
      }
      ok(req("PUT", "/_connector/" .. id .. "/_filtering", { body = { rules = rules } }))
      local f = get(id).filtering[1]
      assert.are.same({ "r1", "r2" }, { f.draft.rules[1].id, f.draft.rules[2].id })
      assert.are.same({ errors = {}, state = "edited" }, f.draft.validation)
      assert.are.equal("DEFAULT", f.active.rules[1].id)
      assert_error(req("PUT", "/_connector/" .. id .. "/_filtering/_activate"), 400, "status_exception",
        "Filtering draft needs to be validated by the connector service before activation. Current filtering draft "
          .. "validation state [edited] is not equal to [valid].")
      ok(req("PUT", "/_connector/" .. id .. "/_filtering/_validation",
        { body = '{"validation":{"state":"valid","errors":[]}}' }))
      assert.are.same({ result = "updated" }, ok(req("PUT", "/_connector/" .. id .. "/_filtering/_activate")))
      f = get(id).filtering[1]
      assert.are.same(f.draft, f.active)
      assert_error(req("PUT", "/_connector/" .. id .. "/_filtering", { body = {} }), 400,
        "action_request_validation_exception", validation("[advanced_snippet] and [rules] cannot be both [null]."))
      assert_error(req("PUT", "/_connector/" .. id .. "/_filtering", { body = { filtering = {}, rules = rules } }), 400,
        "action_request_validation_exception", validation("If [filtering] is specified, [rules] and "
          .. "[advanced_snippet] should not be present in the request body."))
      local e = assert_error(req("PUT", "/_connector/" .. id .. "/_filtering/_validation",
        { body = '{"validation":{"state":"fine","errors":[]}}' }), 400, "x_content_parse_exception",
        "[1:24] [connector_update_filtering_validation_request] failed to parse field [validation]")
      assert.are.equal("Unknown FilteringValidationState [fine].", e.caused_by.caused_by.reason)
    end)

    it("moves the index, keeping index names unique and Elastic-managed ones prefixed", function()
      local taken = unique("taken")
      connector({ index_name = taken })
      local id = connector({ index_name = unique("i") })
      local moved = unique("moved")
      ok(req("PUT", "/_connector/" .. id .. "/_index_name", { body = { index_name = moved } }))
      assert.are.equal(moved, get(id).index_name)
      assert_error(req("PUT", "/_connector/" .. id .. "/_index_name", { body = { index_name = taken } }), 400,
        "status_exception", "Index name [" .. taken .. "] is used by another connector.")
      assert_error(req("PUT", "/_connector/" .. id .. "/_index_name", { body = { index_name = "_bad" } }), 400,
        "action_request_validation_exception",
        validation("[_bad] InvalidIndexNameException[Invalid index name [_bad], must not start with '_', '-', or '+']"))
      ok(req("PUT", "/_connector/" .. id .. "/_index_name", { body = '{"index_name":null}' }))
      assert.are.equal(cnull, get(id).index_name)
      local native = connector({ index_name = "content-" .. unique("n"), is_native = true })
      assert_error(req("PUT", "/_connector/" .. native .. "/_index_name", { body = { index_name = "plain" } }), 400,
        "status_exception", "Index attached to an Elastic-managed connector must start with the prefix: [content-]. "
          .. "The index name in the payload [plain] doesn't comply with this requirement.")
      assert_error(req("PUT", "/_connector/" .. id .. "/_index_name", { body = {} }), 400,
        "illegal_argument_exception", "Required [index_name]")
    end)

    it("renames, answering noop for the same values", function()
      local id = connector()
      assert.are.same({ result = "updated" },
        ok(req("PUT", "/_connector/" .. id .. "/_name", { body = { name = "n", description = "d" } })))
      assert.are.same({ result = "noop" }, ok(req("PUT", "/_connector/" .. id .. "/_name", { body = { name = "n" } })))
      local doc = get(id)
      assert.are.same({ "n", "d" }, { doc.name, doc.description })
      assert_error(req("PUT", "/_connector/" .. id .. "/_name", { body = {} }), 400,
        "action_request_validation_exception",
        validation("[name] and [description] cannot both be [null]. Please provide a value for at least one of them."))
    end)

    it("makes a connector Elastic-managed only with a content- index", function()
      local plain = unique("plain")
      local id = connector({ index_name = plain })
      assert_error(req("PUT", "/_connector/" .. id .. "/_native", { body = { is_native = true } }), 400,
        "status_exception", ("The index name [%s] attached to the connector [%s] must start with the required "
          .. "prefix: [content-] to be Elastic-managed. Please update the attached index first to comply with this "
          .. "requirement."):format(plain, id))
      local native = connector({ index_name = "content-" .. unique("n") })
      ok(req("PUT", "/_connector/" .. native .. "/_native", { body = { is_native = true } }))
      assert.is_true(get(native).is_native)
      assert_error(req("PUT", "/_connector/" .. native .. "/_native", { body = '{"is_native":1}' }), 400,
        "x_content_parse_exception", "[1:14] [connector_update_native_request] is_native doesn't support values of "
          .. "type: VALUE_NUMBER")
    end)

    it("sets the pipeline, every field of it required", function()
      local id = connector()
      local pipeline = { extract_binary_content = true, name = "p", reduce_whitespace = false, run_ml_inference = true }
      ok(req("PUT", "/_connector/" .. id .. "/_pipeline", { body = { pipeline = pipeline } }))
      assert.are.same(pipeline, get(id).pipeline)
      local e = assert_error(req("PUT", "/_connector/" .. id .. "/_pipeline", { body = '{"pipeline":{"name":"p"}}' }),
        400, "x_content_parse_exception", "[1:24] [connector_update_pipeline_request] failed to parse field [pipeline]")
      assert.are.same({ type = "illegal_argument_exception",
        reason = "Required [extract_binary_content, reduce_whitespace, run_ml_inference]" }, e.caused_by)
    end)

    it("sets the scheduling", function()
      local id = connector()
      local s = { enabled = true, interval = "0 0 * * * ?" }
      ok(req("PUT", "/_connector/" .. id .. "/_scheduling", { body = { scheduling = { full = s } } }))
      local doc = get(id)
      assert.are.same(s, doc.scheduling.full)
      assert.are.same({ enabled = false, interval = "0 0 0 * * ?" }, doc.scheduling.incremental)
    end)

    it("needs a full or incremental schedule, with valid cron intervals", function()
      local id = connector()
      local need = validation("[scheduling] object needs to define at least one schedule type: "
        .. "[full | incremental | access_control]")
      assert_error(req("PUT", "/_connector/" .. id .. "/_scheduling", { body = '{"scheduling":{}}' }), 400,
        "action_request_validation_exception", need)
      -- as in ES, access_control alone is not enough (ES checks incremental twice)
      assert_error(req("PUT", "/_connector/" .. id .. "/_scheduling", { body =
        '{"scheduling":{"access_control":{"enabled":true,"interval":"0 0 * * * ?"}}}' }), 400,
        "action_request_validation_exception", need)
      for _, interval in ipairs({ "1 0 0 * * ?", "0 0/15 8-17 ? * MON-FRI", "0 0 12 L * ?", "0 0 12 ? * 6#3",
                                  "0 0 12 15W * ?", "0 0 0 1 JAN,JUL ? 2030", "*/5 * * * * ?" }) do
        ok(req("PUT", "/_connector/" .. id .. "/_scheduling", { body = { scheduling = {
          full = { enabled = true, interval = interval } } } }))
        assert.are.equal(interval, get(id).scheduling.full.interval)
      end
      for _, interval in ipairs({ "61 0 0 * * ?", "0 0 0 * * *", "0 0 0 ? * ?", "0 0 24 * * ?", "0 0 0 * 13 ?",
                                  "0 0 0 * *", "0 0 0 0 * ?", "x 0 0 * * ?", "0 0 0 * * ? 1969 1", "" }) do
        local body = '{"scheduling":{"full":{"enabled":true,"interval":"' .. interval .. '"}}}'
        local e = assert_error(req("PUT", "/_connector/" .. id .. "/_scheduling", { body = body }), 400,
          "x_content_parse_exception")
        local function reason(x) return (x.reason:gsub("^%[%d+:%d+%] ", "")) end
        assert.are.equal("[connector_update_scheduling_request] failed to parse field [scheduling]", reason(e))
        assert.are.equal("[connector_scheduling] failed to parse field [full]", reason(e.caused_by))
        assert.are.equal("[schedule_config] failed to parse field [interval]", reason(e.caused_by.caused_by))
        assert.are.same({ type = "parse_exception", reason = "invalid cron expression [" .. interval .. "]" },
          e.caused_by.caused_by.caused_by)
      end
    end)

    it("writes strictly increasing timestamps, even within one millisecond", function()
      local id = connector()
      local seen = {}
      for i = 1, 5 do
        ok(req("PUT", "/_connector/" .. id .. "/_check_in"))
        seen[i] = get(id).last_seen
        assert.matches(ISO, seen[i])
        if i > 1 then assert.is_true(seen[i] > seen[i - 1], seen[i - 1] .. " then " .. seen[i]) end
      end
    end)

    it("changes the service type, and with it the status unless just created", function()
      local id = connector()
      ok(req("PUT", "/_connector/" .. id .. "/_service_type", { body = { service_type = "s3" } }))
      assert.are.same({ "s3", "created" }, { get(id).service_type, get(id).status })
      ok(req("PUT", "/_connector/" .. id .. "/_status", { body = { status = "needs_configuration" } }))
      ok(req("PUT", "/_connector/" .. id .. "/_service_type", { body = { service_type = "gdrive" } }))
      assert.are.equal("needs_configuration", get(id).status)
      assert_error(req("PUT", "/_connector/" .. id .. "/_service_type", { body = { service_type = "" } }), 400,
        "action_request_validation_exception", validation('[service_type] cannot be [null] or [""].'))
    end)

    it("changes the status along the connector protocol only", function()
      local id = connector()
      local e = assert_error(req("PUT", "/_connector/" .. id .. "/_status", { body = { status = "connected" } }), 400,
        "status_exception", "Invalid transition attempt from [created] to [connected]. Such a status transition is "
          .. "not supported by the Connector Protocol.")
      assert.are.equal("connector_invalid_status_transition_exception", e.caused_by.type)
      assert.are.equal("status_exception", e.root_cause[1].type)
      ok(req("PUT", "/_connector/" .. id .. "/_status", { body = { status = "ERROR" } }))
      assert.are.equal("error", get(id).status)
      e = assert_error(req("PUT", "/_connector/" .. id .. "/_status", { body = '{"status":"gone"}' }), 400,
        "x_content_parse_exception", "[1:11] [connector_update_status_request] failed to parse field [status]")
      assert.are.equal("Unknown ConnectorStatus [gone].", e.caused_by.reason)
      assert_error(req("PUT", "/_connector/" .. unique("gone") .. "/_status", { body = { status = "error" } }), 404,
        "resource_not_found_exception")
    end)
  end)

  describe("secrets", function()
    it("creates, replaces, reads and deletes with ES's statuses", function()
      local created = ok(req("POST", "/_connector/_secret", { body = { value = "s1" } }))
      assert.is_string(created.id)
      assert.are.same({ id = created.id, value = "s1" }, ok(req("GET", "/_connector/_secret/" .. created.id)))
      local id = unique("secret")
      assert.are.same({ result = "created" },
        ok(req("PUT", "/_connector/_secret/" .. id, { body = { value = "a" } }), 201))
      assert.are.same({ result = "updated" }, ok(req("PUT", "/_connector/_secret/" .. id, { body = { value = "b" } })))
      assert.are.equal("b", ok(req("GET", "/_connector/_secret/" .. id)).value)
      assert.are.same({ deleted = true }, ok(req("DELETE", "/_connector/_secret/" .. id)))
      assert_error(req("GET", "/_connector/_secret/" .. id), 404, "resource_not_found_exception",
        "No secret with id [" .. id .. "]")
      assert_error(req("DELETE", "/_connector/_secret/" .. id), 404, "resource_not_found_exception",
        "No secret with id [" .. id .. "]")
    end)

    it("answers the secrets API's parse and validation errors", function()
      assert_error(req("POST", "/_connector/_secret", { body = '{"value":null}' }), 400, "x_content_parse_exception",
        "[1:10] [post_secret_request] value doesn't support values of type: VALUE_NULL")
      assert_error(req("POST", "/_connector/_secret", { body = {} }), 400, "action_request_validation_exception",
        validation('[value] of the connector secret cannot be [null] or [""]'))
      assert_error(req("POST", "/_connector/_secret"), 400, "parse_exception", "request body is required")
      assert_error(req("PUT", "/_connector/_secret/x", { body = {} }), 400, "illegal_argument_exception",
        "Required [value]")
      assert_error(req("PUT", "/_connector/_secret/x", { body = { value = "" } }), 400,
        "action_request_validation_exception", validation('[value] cannot be [null] or [""]'))
      assert_error(req("PUT", "/_connector/_secret/x", { body = '{"value":null}' }), 400, "x_content_parse_exception",
        "[1:10] [connector_secret_put_request] value doesn't support values of type: VALUE_NULL")
    end)
  end)

  describe("sync jobs", function()
    local function job(connector_id, extra)
      local body = { id = connector_id }
      for k, v in pairs(extra or {}) do body[k] = v end
      return ok(req("POST", "/_connector/_sync_job", { body = body }), 201).id
    end

    it("stores a job as Elasticsearch does, with the connector's details", function()
      local index = unique("i")
      local cid = connector({ index_name = index, service_type = "s3", language = "en" })
      local id = job(cid)
      local doc = ok(req("GET", "/_connector/_sync_job/" .. id))
      assert.are.equal(id, doc.id)
      assert.are.same({ "full", "on_demand", "pending" }, { doc.job_type, doc.trigger_method, doc.status })
      assert.are.same({ 0, 0, 0, 0 }, { doc.deleted_document_count, doc.indexed_document_count,
        doc.indexed_document_volume, doc.total_document_count })
      assert.matches(ISO, doc.created_at)
      assert.are.equal(doc.created_at, doc.last_seen)
      assert.are.same({}, doc.metadata)
      assert.are.same({ cid, index, "en", "s3" }, { doc.connector.id, doc.connector.index_name,
        doc.connector.language, doc.connector.service_type })
      assert.are.equal("DEFAULT", doc.connector.filtering.rules[1].id)
      local acl = ok(req("GET", "/_connector/_sync_job/" .. job(cid, { job_type = "access_control",
        trigger_method = "scheduled" })))
      assert.are.equal(".search-acl-filter-" .. index, acl.connector.index_name)
      assert.are.equal("scheduled", acl.trigger_method)
      -- the connector's sync cursor travels with new jobs
      ok(req("PUT", "/_connector/" .. cid .. "/_last_sync", { body = { sync_cursor = { page = 9 } } }))
      assert.are.same({ page = 9 }, ok(req("GET", "/_connector/_sync_job/" .. job(cid))).connector.sync_cursor)
    end)

    it("refuses an unknown job type or trigger method as the request parser's builder does", function()
      local cid = connector({ index_name = unique("i"), service_type = "s3" })
      local e = assert_error(req("POST", "/_connector/_sync_job", { body = '{"id":"' .. cid
        .. '","job_type":"nope","trigger_method":"on_demand"}' }), 400, "x_content_parse_exception",
        -- located at the value token "on_demand"
        ("[1:%d] [connector_sync_job_post_request] failed to parse field [trigger_method]"):format(#cid + 45))
      assert.are.same({ type = "x_content_parse_exception",
        reason = "Failed to build [connector_sync_job_post_request] after last required field arrived",
        caused_by = { type = "illegal_argument_exception", reason = "Unknown ConnectorSyncJobType [nope]." } },
        e.caused_by)
      e = assert_error(req("POST", "/_connector/_sync_job", { body = '{"id":"' .. cid
        .. '","trigger_method":"Sometimes"}' }), 400, "x_content_parse_exception",
        "Failed to build [connector_sync_job_post_request] after last required field arrived")
      assert.are.same({ type = "illegal_argument_exception",
        reason = "Unknown ConnectorSyncJobTriggerMethod [Sometimes]." }, e.caused_by)
      -- names are case-insensitive
      local id = job(cid, { job_type = "INCREMENTAL", trigger_method = "Scheduled" })
      local doc = ok(req("GET", "/_connector/_sync_job/" .. id))
      assert.are.same({ "incremental", "scheduled" }, { doc.job_type, doc.trigger_method })
    end)

    it("refuses jobs for missing or incomplete connectors", function()
      local missing = unique("missing")
      assert_error(req("POST", "/_connector/_sync_job", { body = { id = missing } }), 404,
        "resource_not_found_exception",
        "Connector with id '" .. missing .. "' does not exist.")
      local bare = connector()
      assert_error(req("POST", "/_connector/_sync_job", { body = { id = bare } }), 400, "status_exception",
        "Cannot start a sync for connector [" .. bare .. "] with no index attached. Set the [index_name] property for "
          .. "the connector to enable syncing data.")
      assert_error(req("POST", "/_connector/_sync_job", { body = { id = "" } }), 400,
        "action_request_validation_exception", validation("[id] of the connector cannot be null or empty"))
      assert_error(req("POST", "/_connector/_sync_job", { body = {} }), 400, "illegal_argument_exception",
        "Required [id]")
    end)

    it("checks in, claims, counts, fails and cancels along the sync job protocol", function()
      local cid = connector({ index_name = unique("i"), service_type = "s3" })
      local id = job(cid)
      local path = "/_connector/_sync_job/" .. id
      assert.are.same({ result = "updated" }, ok(req("PUT", path .. "/_check_in")))
      local e = assert_error(req("PUT", path .. "/_error", { body = { error = "x" } }), 400, "status_exception",
        "Invalid transition attempt from [pending] to [error]. Such a ConnectorSyncStatus transition is not supported "
          .. "by the Connector Protocol.")
      assert.are.equal("connector_sync_job_invalid_status_transition_exception", e.caused_by.type)
      assert.are.same({ result = "updated" }, ok(req("PUT", path .. "/_claim",
        { body = { worker_hostname = "w1", sync_cursor = { at = 1 } } })))
      local doc = ok(req("GET", path))
      assert.are.same({ "in_progress", "w1", 1 }, { doc.status, doc.worker_hostname, doc.connector.sync_cursor.at })
      assert.matches(ISO, doc.started_at)
      assert.are.same({ result = "updated" }, ok(req("PUT", path .. "/_stats", { body = { deleted_document_count = 1,
        indexed_document_count = 2, indexed_document_volume = 3, total_document_count = 4, metadata = { k = "v" } } })))
      doc = ok(req("GET", path))
      assert.are.same({ 1, 2, 3, 4, "v" }, { doc.deleted_document_count, doc.indexed_document_count,
        doc.indexed_document_volume, doc.total_document_count, doc.metadata.k })
      assert_error(req("PUT", path .. "/_stats", { body = { deleted_document_count = -1, indexed_document_count = 0,
        indexed_document_volume = 0 } }), 400, "action_request_validation_exception",
        validation("[deleted_document_count] cannot be negative."))
      assert_error(req("PUT", path .. "/_stats", { body = {} }), 400, "illegal_argument_exception",
        "Required [deleted_document_count, indexed_document_count, indexed_document_volume]")
      assert.are.same({ result = "updated" }, ok(req("PUT", path .. "/_error", { body = { error = "boom" } })))
      doc = ok(req("GET", path))
      assert.are.same({ "error", "boom" }, { doc.status, doc.error })
      e = assert_error(req("PUT", path .. "/_cancel"), 400, "status_exception")
      assert.are.equal("Invalid transition attempt from [error] to [canceling]. Such a ConnectorSyncStatus transition "
        .. "is not supported by the Connector Protocol.", e.reason)
      local pending = job(cid)
      assert.are.same({ result = "updated" }, ok(req("PUT", "/_connector/_sync_job/" .. pending .. "/_cancel")))
      doc = ok(req("GET", "/_connector/_sync_job/" .. pending))
      assert.are.equal("canceled", doc.status)
      assert.matches(ISO, doc.canceled_at)
      assert_error(req("PUT", "/_connector/_sync_job//_check_in"), 400, "action_request_validation_exception",
        validation("[connector_sync_job_id] of the connector sync job cannot be null or empty."))
      local missing = unique("nojob")
      assert_error(req("PUT", "/_connector/_sync_job/" .. missing .. "/_check_in"), 404,
        "resource_not_found_exception", "connector sync job [" .. missing .. "] not found")
    end)

    it("lists newest first with filters, and deletes", function()
      local cid = connector({ index_name = unique("i"), service_type = "s3" })
      local first = job(cid)
      sh("sleep 0.01")
      local second = job(cid, { job_type = "incremental" })
      local list = ok(req("GET", "/_connector/_sync_job?connector_id=" .. cid))
      assert.are.equal(2, list.count)
      assert.are.same({ second, first }, { list.results[1].id, list.results[2].id })
      list = ok(req("GET", "/_connector/_sync_job?connector_id=" .. cid .. "&job_type=incremental&status=pending"))
      assert.are.same({ 1, second }, { list.count, list.results[1].id })
      assert_error(req("GET", "/_connector/_sync_job?status=nope"), 400, "illegal_argument_exception",
        "Unknown ConnectorSyncStatus [nope].")
      assert.are.same({ acknowledged = true }, ok(req("DELETE", "/_connector/_sync_job/" .. first)))
      assert_error(req("GET", "/_connector/_sync_job/" .. first), 404, "resource_not_found_exception", first)
      assert_error(req("DELETE", "/_connector/_sync_job/" .. first), 404, "resource_not_found_exception", first)
    end)

    it("deletes a connector's jobs with delete_sync_jobs", function()
      local cid = connector({ index_name = unique("i"), service_type = "s3" })
      local id = job(cid)
      ok(req("DELETE", "/_connector/" .. cid .. "?delete_sync_jobs=true"))
      assert_error(req("GET", "/_connector/_sync_job/" .. id), 404, "resource_not_found_exception")
      assert.are.equal(0, ok(req("GET", "/_connector/_sync_job?connector_id=" .. cid)).count)
    end)
  end)

  describe("API keys", function()
    it("creates a key: id, name, expiration, api_key, encoded in that order", function()
      local res = req("POST", "/_security/api_key", { body = { name = "k", expiration = "1d" } })
      local key = ok(res)
      assert.are.equal(key.id .. ":" .. key.api_key, (function()
        local e = key.encoded
        return sh("printf %s " .. q(e) .. " | base64 -d")
      end)())
      assert.matches('^{"id":"[^"]+","name":"k","expiration":%d+,"api_key":"[^"]+","encoded":"[^"]+"}$', res.body)
      assert.is_true(math.abs(key.expiration - os.time() * 1000 - 86400000) < 120000)
      local who = ok(req("GET", "/_security/_authenticate", { auth = "ApiKey " .. key.encoded }))
      assert.are.same({ id = key.id, name = "k" }, who.api_key)
      assert.are.same({ name = "_es_api_key", type = "_es_api_key" }, who.authentication_realm)
      assert.is_true(who.enabled)
      local plain = ok(req("PUT", "/_security/api_key", { body = { name = "no-expiry" } }))
      assert.is_nil(plain.expiration)
    end)

    it("answers create's validation and parse errors", function()
      assert_error(req("POST", "/_security/api_key", { body = {} }), 400, "action_request_validation_exception",
        validation("api key name is required"))
      assert_error(req("POST", "/_security/api_key", { body = { name = " _x", metadata = { _r = 1 } } }), 400,
        "action_request_validation_exception", validation("api key name may not begin or end with whitespace",
          "API key metadata keys may not start with [_]"))
      assert_error(req("POST", "/_security/api_key", { body = { name = "_x" } }), 400,
        "action_request_validation_exception", validation("api key name may not begin with an underscore"))
      local e = assert_error(req("POST", "/_security/api_key", { body = '{"name":"k","expiration":"7"}' }), 400,
        "x_content_parse_exception", "[1:26] [api_key_request] failed to parse field [expiration]")
      assert.are.same({ type = "parse_exception", reason = "failed to parse setting [expiration] with value [7] as a "
        .. "time value: unit is missing or unrecognized" }, e.caused_by)
      e = assert_error(req("POST", "/_security/api_key",
        { body = { name = "k", role_descriptors = { r = { cluster = { "fly" } } } } }), 400,
        "action_request_validation_exception")
      assert.matches("^Validation Failed: 1: unknown cluster privilege %[fly%]%. a privilege must be either one of "
        .. "the predefined cluster privilege names %[.*manage_connector.*%] or a pattern over one of the available "
        .. "cluster actions;$", e.reason)
    end)

    it("gets keys by id, name, owner; 404 with an empty list for an unknown id", function()
      local name = unique("named")
      local key = ok(req("POST", "/_security/api_key", { body = { name = name, metadata = { app = "x" } } }))
      local got = ok(req("GET", "/_security/api_key?id=" .. key.id)).api_keys[1]
      assert.are.same({ key.id, name, "rest", false, "x" }, { got.id, got.name, got.type, got.invalidated,
        got.metadata.app })
      assert.is_number(got.creation)
      assert.are.equal(1, #ok(req("GET", "/_security/api_key?name=" .. name)).api_keys)
      assert.are.equal(1, #ok(req("GET", "/_security/api_key?owner=true&name=" .. name)).api_keys)
      local res = req("GET", "/_security/api_key?id=nope-" .. RUN)
      assert.are.equal(404, res.status)
      assert.are.equal('{"api_keys":[]}', res.body)
      assert_error(req("GET", "/_security/api_key?id=a&name=b"), 400, "action_request_validation_exception",
        validation("only one of [api key id, api key name] can be specified"))
    end)

    it("invalidates: 401 afterwards, listed as invalidated unless active_only", function()
      local key = ok(req("POST", "/_security/api_key", { body = { name = unique("inv") } }))
      local auth = "ApiKey " .. key.encoded
      ok(req("GET", "/_security/_authenticate", { auth = auth }))
      assert.are.same({ invalidated_api_keys = { key.id }, previously_invalidated_api_keys = {}, error_count = 0 },
        ok(req("DELETE", "/_security/api_key", { body = { ids = { key.id } } })))
      assert.are.same({ invalidated_api_keys = {}, previously_invalidated_api_keys = { key.id }, error_count = 0 },
        ok(req("DELETE", "/_security/api_key", { body = { id = key.id } })))
      local gone = "API key: api key [" .. key.id .. "] has been invalidated"
      local e = assert_error(req("GET", "/_security/_authenticate", { auth = auth }), 401, "security_exception",
        NO_ANON)
      assert.are.equal(gone, e.additional_unsuccessful_credentials)
      local got = ok(req("GET", "/_security/api_key?id=" .. key.id)).api_keys[1]
      assert.is_true(got.invalidated)
      assert.is_number(got.invalidation)
      assert.are.equal(404, req("GET", "/_security/api_key?active_only=true&id=" .. key.id).status)
      e = assert_error(req("GET", "/", { auth = "ApiKey " .. b64(key.id .. ":wrong") }), 401, "security_exception")
      assert.are.equal(gone, e.additional_unsuccessful_credentials)
    end)

    it("answers 401 for an expired key and a wrong secret", function()
      local key = ok(req("POST", "/_security/api_key", { body = { name = unique("exp"), expiration = "1ms" } }))
      sh("sleep 0.05")
      local e = assert_error(req("GET", "/", { auth = "ApiKey " .. key.encoded }), 401, "security_exception", NO_ANON)
      assert.are.equal("API key: api key is expired", e.additional_unsuccessful_credentials)
      local live = ok(req("POST", "/_security/api_key", { body = { name = unique("live") } }))
      e = assert_error(req("GET", "/", { auth = "ApiKey " .. b64(live.id .. ":nope") }), 401, "security_exception",
        NO_ANON)
      assert.are.equal("API key: invalid credentials for API key [" .. live.id .. "]",
        e.additional_unsuccessful_credentials)
    end)

    it("answers invalidate's validation errors", function()
      assert_error(req("DELETE", "/_security/api_key", { body = {} }), 400, "action_request_validation_exception",
        validation("One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag "
          .. "is false"))
      assert_error(req("DELETE", "/_security/api_key", { body = { ids = { "a" }, name = "n", username = "u" } }), 400,
        "action_request_validation_exception", validation("only one of [api key id(s), api key name] can be specified",
          "username or realm name must not be specified when the api key id(s) or api key name are specified"))
      assert_error(req("DELETE", "/_security/api_key"), 400, "parse_exception", "request body is required")
      assert.are.same({ invalidated_api_keys = {}, previously_invalidated_api_keys = {}, error_count = 0 },
        ok(req("DELETE", "/_security/api_key", { body = { ids = { "unknown-" .. RUN } } })))
    end)

    it("queries keys by ids, term, terms, match_all with from and size", function()
      local prefix = unique("q")
      local ids = {}
      for i = 1, 3 do
        ids[i] = ok(req("POST", "/_security/api_key", { body = { name = prefix .. "-" .. i } })).id
      end
      local res = ok(req("POST", "/_security/_query/api_key", { body = { query = { ids = { values = { ids[2] } } } } }))
      assert.are.same({ 1, 1, prefix .. "-2" }, { res.total, res.count, res.api_keys[1].name })
      res = ok(req("POST", "/_security/_query/api_key", { body = { query = { term = { name = prefix .. "-3" } } } }))
      assert.are.equal(ids[3], res.api_keys[1].id)
      res = ok(req("GET", "/_security/_query/api_key", { body = { query = { terms = { name = { prefix .. "-1",
        prefix .. "-3" } } }, sort = { "name" } } }))
      assert.are.same({ ids[1], ids[3] }, { res.api_keys[1].id, res.api_keys[2].id })
      assert.are.same({ prefix .. "-1" }, res.api_keys[1]._sort)
      res = ok(req("POST", "/_security/_query/api_key", { body = { query = { prefix = { name = prefix } },
        from = 1, size = 1, sort = { { name = "desc" } } } }))
      assert.are.same({ 3, 1, ids[2] }, { res.total, res.count, res.api_keys[1].id })
      assert.is_true(ok(req("POST", "/_security/_query/api_key", { body = { query = { match_all = {} } } })).total >= 3)
      assert_error(req("POST", "/_security/_query/api_key", { body = { query = { term = { secret = "x" } } } }), 400,
        "illegal_argument_exception", "Field [secret] is not allowed for querying or aggregation")
    end)

    it("updates and bulk-updates the owner's keys, noops included; never through an API key", function()
      local key = ok(req("POST", "/_security/api_key", { body = { name = unique("upd") } }))
      local path = "/_security/api_key/" .. key.id
      assert.are.same({ updated = true }, ok(req("PUT", path, { body = { metadata = { v = 1 } } })))
      assert.are.same({ updated = false }, ok(req("PUT", path, { body = { metadata = { v = 1 } } })))
      assert.are.equal(1, ok(req("GET", "/_security/api_key?id=" .. key.id)).api_keys[1].metadata.v)
      assert.are.same({ updated = { key.id }, noops = {} }, ok(req("POST", "/_security/api_key/_bulk_update",
        { body = { ids = { key.id }, metadata = { v = 2 } } })))
      local res = ok(req("POST", "/_security/api_key/_bulk_update",
        { body = { ids = { key.id, "nope-" .. RUN }, metadata = { v = 2 } } }))
      assert.are.same({ key.id }, res.noops)
      assert.are.same({ type = "resource_not_found_exception",
        reason = "no API key owned by requesting user found for ID [nope-" .. RUN .. "]" },
        res.errors.details["nope-" .. RUN])
      assert_error(req("PUT", "/_security/api_key/nope-" .. RUN, { body = {} }), 404, "resource_not_found_exception",
        "no API key owned by requesting user found for ID [nope-" .. RUN .. "]")
      assert_error(req("PUT", path, { body = {}, auth = "ApiKey " .. key.encoded }), 400, "illegal_argument_exception",
        "authentication via API key not supported: only the owner user can update an API key")
      assert_error(req("POST", "/_security/api_key/_bulk_update", { body = {} }), 400, "illegal_argument_exception",
        "Required [ids]")
    end)

    it("refuses derived keys that grant privileges", function()
      local key = ok(req("POST", "/_security/api_key", { body = { name = unique("parent") } }))
      local auth = "ApiKey " .. key.encoded
      local derived = "creating derived api keys requires an explicit role descriptor that is empty (has no privileges)"
      assert_error(req("POST", "/_security/api_key", { body = { name = "d" }, auth = auth }), 400,
        "illegal_argument_exception", derived)
      assert_error(req("POST", "/_security/api_key", { auth = auth,
        body = { name = "d", role_descriptors = { r = { cluster = { "monitor" } } } } }), 400,
        "illegal_argument_exception", derived)
      ok(req("POST", "/_security/api_key", { auth = auth, body = { name = "d", role_descriptors = { r = {} } } }))
    end)

    it("grants a key to a user, who owns it", function()
      local name = unique("grantee")
      user(name, "grant-pass-1", { "superuser" })
      local key = ok(req("POST", "/_security/api_key/grant", { body = { grant_type = "password", username = name,
        password = "grant-pass-1", api_key = { name = "g", expiration = "2h" } } }))
      assert.is_number(key.expiration)
      local who = ok(req("GET", "/_security/_authenticate", { auth = "ApiKey " .. key.encoded }))
      assert.are.equal(name, who.username)
      assert_error(req("POST", "/_security/api_key/grant", { body = { grant_type = "password", username = name,
        password = "wrong-pass", api_key = { name = "g" } } }), 401, "security_exception",
        "unable to authenticate user [" .. name .. "] for action [cluster:admin/xpack/security/api_key/grant]")
      assert_error(req("POST", "/_security/api_key/grant",
        { body = { grant_type = "password", api_key = { name = "g" } } }), 400,
        "action_request_validation_exception", validation("[username] is required for grant_type [password]",
          "[password] is required for grant_type [password]"))
      assert_error(req("POST", "/_security/api_key/grant", { body = {} }), 400, "illegal_argument_exception",
        "Required [api_key, grant_type]")
    end)

    it("clears the API key cache on every node", function()
      local res = ok(req("POST", "/_security/api_key/a,b/_clear_cache"))
      assert.are.equal(0, res._nodes.failed)
      assert.are.equal(res._nodes.total, res._nodes.successful)
      assert.is_string(res.cluster_name)
      assert.is_table(res.nodes)
    end)
  end)

  describe("users, roles and authentication", function()
    it("creates then updates users and roles, and deletes them with found", function()
      local name = unique("u")
      assert.are.same({ created = true }, ok(req("PUT", "/_security/user/" .. name,
        { body = { password = "password-1", roles = { "r" }, full_name = "F", email = "e@x" } })))
      assert.are.same({ created = false }, ok(req("POST", "/_security/user/" .. name, { body = { roles = { "r" } } })))
      assert.are.same({ found = true }, ok(req("DELETE", "/_security/user/" .. name)))
      local res = req("DELETE", "/_security/user/" .. name)
      assert.are.equal(404, res.status)
      assert.are.equal('{"found":false}', res.body)
      local r = unique("role")
      assert.are.same({ role = { created = true } }, ok(req("PUT", "/_security/role/" .. r,
        { body = { cluster = { "monitor" } } })))
      assert.are.same({ role = { created = false } }, ok(req("POST", "/_security/role/" .. r, { body = {} })))
      assert.are.same({ found = true }, ok(req("DELETE", "/_security/role/" .. r)))
      assert.are.same({ found = false }, ok(req("DELETE", "/_security/role/" .. r), 404))
      assert_error(req("PUT", "/_security/user/" .. unique("nopass"), { body = '{"roles":[]}' }), 400,
        "validation_exception", validation("password must be specified unless you are updating an existing user"))
      assert_error(req("PUT", "/_security/user/" .. name, { body = { password = "abc" } }), 400,
        "validation_exception", validation("passwords must be at least [6] characters long"))
      assert_error(req("PUT", "/_security/user/" .. name, { body = { password = "abcdef" } }), 400,
        "action_request_validation_exception", validation("roles are missing"))
      assert_error(req("PUT", "/_security/role/" .. r, { body = '{"cluster":["monitor"],"indexes":[]}' }), 400,
        "x_content_parse_exception",
        "[1:24] [role_descriptor] unknown field [indexes] did you mean any of [index, indices]?")
    end)

    it("authenticates users created through the API, with their realm", function()
      local name = unique("auth")
      local auth = user(name, "password-2", { "none-such" })
      local who = ok(req("GET", "/_security/_authenticate", { auth = auth }))
      assert.are.same({ name, { "none-such" }, true, "default_native", "realm" }, { who.username, who.roles,
        who.enabled, who.authentication_realm.name, who.authentication_type })
      local admin = ok(req("GET", "/_security/_authenticate"))
      assert.are.same({ name = "reserved", type = "reserved" }, admin.lookup_realm)
      assert_error(req("GET", "/", { auth = "Basic " .. b64(name .. ":wrong-password") }), 401, "security_exception",
        "unable to authenticate user [" .. name .. "] for REST request [/]")
    end)
  end)

  describe("403", function()
    it("decides from the user's roles, in ES's words", function()
      local r = unique("monitor-connectors")
      role(r, { cluster = { "monitor_connector" } })
      local name = unique("reader")
      local u = as(user(name, "password-3", { r }))
      local id = connector()
      ok(u("GET", "/_connector/" .. id))
      assert_error(u("PUT", "/_connector/" .. id .. "/_name", { body = { name = "x" } }), 403, "security_exception",
        ("action [cluster:admin/xpack/connector/update_name] is unauthorized for user [%s] with declared roles [%s] "
          .. "(all resolved), this action is granted by the cluster privileges [manage_connector,manage,all]")
          :format(name, r))
      assert_error(u("GET", "/"), 403, "security_exception", ("action [cluster:monitor/main] is unauthorized for user "
        .. "[%s] with declared roles [%s] (all resolved), this action is granted by the cluster privileges "
        .. "[monitor,manage,all]"):format(name, r))
      local other = unique("ghost-role")
      local v = as(user(unique("ghost"), "password-4", { r, other }))
      local e = assert_error(v("POST", "/_connector/_secret", { body = { value = "x" } }), 403, "security_exception")
      assert.matches("with declared roles %[" .. r:gsub("%p", "%%%0") .. "," .. other:gsub("%p", "%%%0")
        .. "%] %(unresolved %[" .. other:gsub("%p", "%%%0") .. "%]%), this action is granted by the cluster "
        .. "privileges %[write_connector_secrets,manage,all%]$", e.reason)
      -- validation comes before authorization
      assert_error(u("PUT", "/_connector/" .. id .. "/_name", { body = {} }), 400,
        "action_request_validation_exception")
    end)

    it("keeps manage_connector away from secrets", function()
      local r = unique("connectors")
      role(r, { cluster = { "manage_connector" } })
      local name = unique("manager")
      local u = as(user(name, "password-5", { r }))
      connector(nil, nil)
      ok(u("PUT", "/_connector/" .. unique("own"), { body = {} }), 201)
      assert_error(u("GET", "/_connector/_secret/x"), 403, "security_exception",
        ("action [cluster:admin/xpack/connector/secret/get] is unauthorized for user [%s] with declared roles [%s] "
          .. "(all resolved), this action is granted by the cluster privileges [read_connector_secrets,manage,all]")
          :format(name, r))
    end)

    it("lets manage_own_api_key touch only its own keys", function()
      local r = unique("own-keys")
      role(r, { cluster = { "manage_own_api_key" } })
      local name = unique("keyowner")
      local u = as(user(name, "password-6", { r }))
      local key = ok(u("POST", "/_security/api_key", { body = { name = "mine" } }))
      assert.are.equal(1, #ok(u("GET", "/_security/api_key?owner=true")).api_keys)
      assert.are.same({ key.id },
        ok(u("DELETE", "/_security/api_key", { body = { owner = true } })).invalidated_api_keys)
      assert_error(u("DELETE", "/_security/api_key", { body = { username = "elastic" } }), 403, "security_exception",
        ("action [cluster:admin/xpack/security/api_key/invalidate] is unauthorized for user [%s] with declared roles "
          .. "[%s] (all resolved), this action is granted by the cluster privileges "
          .. "[manage_api_key,manage_security,all]")
          :format(name, r))
      assert_error(u("GET", "/_security/api_key"), 403, "security_exception",
        ("action [cluster:admin/xpack/security/api_key/get] is unauthorized for user [%s] with declared roles [%s] "
          .. "(all resolved), this action is granted by the cluster privileges [read_security,manage_api_key,"
          .. "manage_security,all]"):format(name, r))
    end)

    it("limits an API key to its role descriptors and its owner's privileges", function()
      local limited = ok(req("POST", "/_security/api_key", { body = { name = unique("limited"),
        role_descriptors = { only = { cluster = { "monitor_connector" } } } } }))
      local k = as("ApiKey " .. limited.encoded)
      ok(k("GET", "/_connector"))
      assert_error(k("PUT", "/_connector/" .. unique("no"), { body = {} }), 403, "security_exception",
        ("action [cluster:admin/xpack/connector/put] is unauthorized for API key id [%s] of user [elastic], this "
          .. "action is granted by the cluster privileges [manage_connector,manage,all]"):format(limited.id))
      -- its owner's privileges as they were when the key was made, and no more
      local r = unique("mon")
      role(r, { cluster = { "monitor", "manage_own_api_key" } })
      local name = unique("keyuser")
      local u = as(user(name, "password-7", { r }))
      local key = ok(u("POST", "/_security/api_key", { body = { name = "mine",
        role_descriptors = { c = { cluster = { "monitor_connector" } } } } }))
      local ku = as("ApiKey " .. key.encoded)
      assert_error(ku("GET", "/_connector"), 403, "security_exception",
        ("action [cluster:admin/xpack/connector/list] is unauthorized for API key id [%s] of user [%s], this action "
          .. "is granted by the cluster privileges [monitor_connector,manage_connector,manage,all]")
          :format(key.id, name))
      assert_error(ku("GET", "/"), 403, "security_exception")
      local wide = ok(u("POST", "/_security/api_key", { body = { name = "wide" } }))
      ok(req("PUT", "/_security/user/" .. name, { body = { roles = { r, "superuser" } } }))
      local kw = as("ApiKey " .. wide.encoded)
      ok(kw("GET", "/"))
      assert_error(kw("GET", "/_connector"), 403, "security_exception")
    end)

    -- ES 8.13-8.x authorized these reads as index reads of the connector
    -- indices; ES's own REST tests and fixtures still expect that (README).
    it("lets reading a connector index read its connectors or sync jobs, and nothing more", function()
      local cid = connector({ index_name = unique("i"), service_type = "s3" })
      local jid = ok(req("POST", "/_connector/_sync_job", { body = { id = cid } }), 201).id
      local function reader(indices)
        local r = unique("idx-reader")
        role(r, { indices = indices })
        local name = unique("idxreader")
        return as(user(name, "password-9", { r })), name, r
      end
      local function reads(u, connectors, jobs)
        for _, path in ipairs({ "/_connector/" .. cid, "/_connector" }) do
          assert.are.equal(connectors and 200 or 403, u("GET", path).status, path)
        end
        for _, path in ipairs({ "/_connector/_sync_job/" .. jid, "/_connector/_sync_job" }) do
          assert.are.equal(jobs and 200 or 403, u("GET", path).status, path)
        end
      end

      local u, name, r = reader({ { names = { ".elastic-connectors-v1" }, privileges = { "read" } } })
      reads(u, true, false)
      assert.are.equal(cid, ok(u("GET", "/_connector/" .. cid)).id)
      -- writes stay with the cluster privileges, and so does a denial's wording
      assert_error(u("PUT", "/_connector/" .. cid .. "/_name", { body = { name = "x" } }), 403, "security_exception")
      assert_error(u("GET", "/_connector/_sync_job"), 403, "security_exception",
        ("action [cluster:admin/xpack/connector/sync_job/list] is unauthorized for user [%s] with declared roles [%s] "
          .. "(all resolved), this action is granted by the cluster privileges "
          .. "[monitor_connector,manage_connector,manage,all]"):format(name, r))

      reads(reader({ { names = { ".elastic-connectors-sync-jobs-v1" }, privileges = { "READ" } } }), false, true)
      reads(reader({ { names = { ".elastic-connectors*" }, privileges = { "all" } } }), true, true)
      reads(reader({ { names = { ".elastic-connectors-v1" },
                       privileges = { "indices:data/read/xpack/connector/*" } } }), true, false)
      -- manage, write and delete_index do not read documents; names must match
      reads(reader({ { names = { ".elastic-connectors*" }, privileges = { "manage", "write", "delete_index" } } }),
        false, false)
      reads(reader({ { names = { "test-*", ".elastic-connectors-v2" }, privileges = { "read" } } }), false, false)

      -- an API key: its own descriptors and its owner's must each allow it,
      -- either through a cluster privilege or through index read
      local mr = unique("mon-conn")
      role(mr, { cluster = { "monitor_connector", "manage_own_api_key" } })
      local owner = as(user(unique("keyowner"), "password-10", { mr }))
      local key = ok(owner("POST", "/_security/api_key", { body = { name = "idx", role_descriptors = {
        c = { indices = { { names = { ".elastic-connectors-v1" }, privileges = { "read" } } } } } } }))
      reads(as("ApiKey " .. key.encoded), true, false)
      local wr = unique("writer")
      role(wr, { cluster = { "manage_own_api_key" },
                 indices = { { names = { ".elastic-connectors-v1" }, privileges = { "write" } } } })
      local writer = as(user(unique("keywriter"), "password-11", { wr }))
      key = ok(writer("POST", "/_security/api_key", { body = { name = "idx", role_descriptors = {
        c = { indices = { { names = { ".elastic-connectors-v1" }, privileges = { "read" } } } } } } }))
      reads(as("ApiKey " .. key.encoded), false, false)
    end)

    it("lets the superuser's bootstrap API key do everything", function()
      if not apikey then return end
      local k = as(apikey)
      ok(k("GET", "/_connector"))
      ok(k("PUT", "/_security/role/" .. unique("r"), { body = { cluster = { "all" } } }))
      ok(k("POST", "/_connector/_secret", { body = { value = "v" } }))
    end)
  end)

  describe("GET /_cluster/health", function()
    it("is green without shards; named indices never appear: red and timed out", function()
      local h = ok(req("GET", "/_cluster/health?wait_for_status=yellow&timeout=1s&level=cluster"))
      assert.are.same({ "green", false, 0, 0 }, { h.status, h.timed_out, h.active_shards, h.unassigned_shards })
      assert.is_true(h.number_of_nodes >= 1)
      assert.are.equal(h.number_of_nodes, h.number_of_data_nodes)
      local res = req("GET", "/_cluster/health/" .. unique("idx"))
      assert.are.equal(408, res.status, res.body)
      assert.are.same({ "red", true }, { res.json.status, res.json.timed_out })
      assert_error(req("GET", "/_cluster/health?level=nodes"), 400, "action_request_validation_exception",
        validation("level must be one of [cluster, indices, shards] but was [nodes]"))
      assert_error(req("GET", "/_cluster/health?zzz=1"), 400, "illegal_argument_exception")
    end)
  end)

  describe("DELETE /{index}", function()
    it("answers index_not_found_exception as ES renders it", function()
      local name = unique("idx")
      local res = req("DELETE", "/" .. name)
      assert_error(res, 404, "index_not_found_exception", "no such index [" .. name .. "]")
      assert.are.equal(('{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [%s]",'
        .. '"resource.type":"index_or_alias","resource.id":"%s","index_uuid":"_na_","index":"%s"}],'
        .. '"type":"index_not_found_exception","reason":"no such index [%s]","resource.type":"index_or_alias",'
        .. '"resource.id":"%s","index_uuid":"_na_","index":"%s"},"status":404}'):format(name, name, name, name, name,
        name), res.body)
      assert.are.same({ acknowledged = true }, ok(req("DELETE", "/" .. name .. "?ignore_unavailable=true")))
      assert_error(req("DELETE", "/" .. name .. "*"), 400, "illegal_argument_exception",
        "Wildcard expressions or all indices are not allowed")
      assert_error(req("DELETE", "/"), 400, "action_request_validation_exception",
        validation("index / indices is missing"))
      -- other methods on /{name} stay unknown to the emulator
      assert.are.equal(400, req("GET", "/" .. name).status)
    end)

    it("needs an index privilege", function()
      local r = unique("deleter")
      role(r, { indices = { { names = { "logs-*" }, privileges = { "delete_index" } } } })
      local name = unique("idxuser")
      local u = as(user(name, "password-8", { r }))
      assert_error(u("DELETE", "/logs-" .. RUN), 404, "index_not_found_exception")
      assert_error(u("DELETE", "/other-" .. RUN), 403, "security_exception",
        ("action [indices:admin/delete] is unauthorized for user [%s] with declared roles [%s] (all resolved) on "
          .. "indices [other-%s], this action is granted by the index privileges [delete_index,manage,all]")
          :format(name, r, RUN))
    end)
  end)
end)
