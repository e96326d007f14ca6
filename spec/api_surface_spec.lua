-- Every API of the client's catalog over real HTTP: one successful call,
-- and one bad input.  Where the catalog row has a rule, the bad input is
-- refused locally in Elasticsearch's words, and the same call sent
-- unchecked ({ validate = false }) gets the same type and reason from the
-- server (less its "[line:col] ").  The spec fails for an API without a case.
local env = require "spec.support.env"
local esconnector = require "esconnector"
local core = require "esconnector.core"

local array = esconnector.array

-- One context per run: the clients and a few shared objects, made lazily.
local ctx = {}

local function call(api, params, options)
  return ctx.client:request(api, params, options)
end

local function ok(api, params)
  local res, err = call(api, params)
  assert.is_nil(err, err and tostring(err))
  assert.is_table(res)
  return res
end

local function connector(extra)
  local id = env.unique("surface")
  local params = { connector_id = id, index_name = "search-" .. id, service_type = "s3", name = "surface" }
  for k, v in pairs(extra or {}) do params[k] = v end
  ok("connector.put", params)
  ctx.connectors[#ctx.connectors + 1] = id
  return id
end

local function sync_job(connector_id)
  return ok("connector.sync_job_post", { id = connector_id or connector() }).id
end

local function api_key(name)
  -- an API key may only create keys that grant nothing of their own
  return ok("security.create_api_key", { name = name or env.unique("surface-key"),
    role_descriptors = { surface = {} } })
end

-- The owner's client for the APIs Elasticsearch refuses to API keys.
local function owner_client()
  if env.username and env.username ~= "" then
    return esconnector.new{ hosts = { env.url }, ca_file = env.ca_file, basic_auth = { env.username, env.password } }
  end
  return nil
end

local function unrecognized(path)
  return "illegal_argument_exception", ("request [%s] contains unrecognized parameter: [zzz]"):format(path)
end

local function type_error(parser, field, token)
  return "x_content_parse_exception", ("[%s] %s doesn't support values of type: %s"):format(parser, field, token)
end

local function update(api)
  return "connector_update_" .. api .. "_request"
end

-- name -> { ok = function(), bad = function() -> params, type, reason }
local CASES = {
  ["info"] = {
    ok = function() assert.are.equal("You Know, for Search", ok("info", {}).tagline) end,
    bad = function() return { zzz = "1" }, unrecognized("/") end,
  },
  ["cluster.health"] = {
    ok = function()
      local res = ok("cluster.health", { wait_for_status = "green", timeout = "1s" })
      assert.are.equal("green", res.status)
      assert.is_false(res.timed_out)
    end,
    bad = function() return { zzz = "1" }, unrecognized("/_cluster/health") end,
  },
  ["connector.check_in"] = {
    ok = function() assert.are.equal("updated", ok("connector.check_in", { connector_id = connector() }).result) end,
    bad = function() return { connector_id = "" }, "action_request_validation_exception",
      'Validation Failed: 1: [connector_id] cannot be [null] or [""].;' end,
  },
  ["connector.delete"] = {
    ok = function()
      assert.is_true(ok("connector.delete", { connector_id = connector(), delete_sync_jobs = true }).acknowledged)
    end,
    bad = function() return { connector_id = "x", zzz = "1" }, unrecognized("/_connector/x") end,
  },
  ["connector.get"] = {
    ok = function()
      local id = connector()
      assert.are.equal(id, ok("connector.get", { connector_id = id }).id)
    end,
    bad = function() return { connector_id = "x", zzz = "1" }, unrecognized("/_connector/x") end,
  },
  ["connector.last_sync"] = {
    ok = function()
      local res = ok("connector.last_sync", { connector_id = connector(), last_sync_status = "completed",
        last_indexed_document_count = 3 })
      assert.are.equal("updated", res.result)
    end,
    bad = function()
      return { connector_id = "x", last_sync_error = 5 },
        type_error("connector_update_last_sync_stats_request", "last_sync_error", "VALUE_NUMBER")
    end,
  },
  ["connector.list"] = {
    ok = function() assert.is_number(ok("connector.list", { size = 1 }).count) end,
    bad = function() return { zzz = "1" }, unrecognized("/_connector") end,
  },
  ["connector.post"] = {
    ok = function()
      local res = ok("connector.post", { name = "posted" })
      ctx.connectors[#ctx.connectors + 1] = res.id
      assert.are.equal("created", res.result)
    end,
    bad = function() return { name = 5 }, type_error("connector_put_request", "name", "VALUE_NUMBER") end,
  },
  ["connector.put"] = {
    ok = function() connector() end,
    bad = function() return { connector_id = "x", is_native = 1 }, type_error("connector_put_request", "is_native",
      "VALUE_NUMBER") end,
  },
  ["connector.secret_delete"] = {
    ok = function()
      local id = ok("connector.secret_post", { value = "v" }).id
      assert.is_true(ok("connector.secret_delete", { id = id }).deleted)
    end,
    bad = function() return { id = "x", zzz = "1" }, unrecognized("/_connector/_secret/x") end,
  },
  ["connector.secret_get"] = {
    ok = function()
      local id = ok("connector.secret_post", { value = "v" }).id
      assert.are.equal("v", ok("connector.secret_get", { id = id }).value)
    end,
    -- (an empty id is not testable over REST: /_connector/_secret/ is GET /_connector/_secret, a connector)
    bad = function() return { id = "x", zzz = "1" }, unrecognized("/_connector/_secret/x") end,
  },
  ["connector.secret_post"] = {
    ok = function() assert.is_string(ok("connector.secret_post", { value = "v" }).id) end,
    bad = function() return { body = {} }, "action_request_validation_exception",
      'Validation Failed: 1: [value] of the connector secret cannot be [null] or [""];' end,
  },
  ["connector.secret_put"] = {
    ok = function()
      assert.are.equal("created", ok("connector.secret_put", { id = env.unique("secret"), value = "v" }).result)
    end,
    bad = function() return { id = "x", value = "" }, "action_request_validation_exception",
      'Validation Failed: 1: [value] cannot be [null] or [""];' end,
  },
  ["connector.sync_job_cancel"] = {
    ok = function()
      assert.are.equal("updated", ok("connector.sync_job_cancel", { connector_sync_job_id = sync_job() }).result)
    end,
    bad = function()
      return { connector_sync_job_id = "x", zzz = "1" }, unrecognized("/_connector/_sync_job/x/_cancel")
    end,
  },
  ["connector.sync_job_check_in"] = {
    ok = function()
      assert.are.equal("updated", ok("connector.sync_job_check_in", { connector_sync_job_id = sync_job() }).result)
    end,
    bad = function() return { connector_sync_job_id = "x", zzz = "1" },
      unrecognized("/_connector/_sync_job/x/_check_in") end,
  },
  ["connector.sync_job_claim"] = {
    ok = function()
      local res = ok("connector.sync_job_claim", { connector_sync_job_id = sync_job(), worker_hostname = "w" })
      assert.are.equal("updated", res.result)
    end,
    bad = function() return { connector_sync_job_id = "x", body = {} }, "illegal_argument_exception",
      "Required [worker_hostname]" end,
  },
  ["connector.sync_job_delete"] = {
    ok = function()
      assert.is_true(ok("connector.sync_job_delete", { connector_sync_job_id = sync_job() }).acknowledged)
    end,
    bad = function() return { connector_sync_job_id = "x", zzz = "1" }, unrecognized("/_connector/_sync_job/x") end,
  },
  ["connector.sync_job_error"] = {
    ok = function()
      local id = sync_job()
      ok("connector.sync_job_claim", { connector_sync_job_id = id, worker_hostname = "w" })
      assert.are.equal("updated", ok("connector.sync_job_error", { connector_sync_job_id = id, error = "e" }).result)
    end,
    bad = function() return { connector_sync_job_id = "x", error = 5 },
      type_error("connector_sync_job_error_request", "error", "VALUE_NUMBER") end,
  },
  ["connector.sync_job_get"] = {
    ok = function()
      local cid = connector()
      local doc = ok("connector.sync_job_get", { connector_sync_job_id = sync_job(cid) })
      assert.are.same({ cid, "pending", "full", "on_demand" }, { doc.connector.id, doc.status, doc.job_type,
        doc.trigger_method })
    end,
    bad = function() return { connector_sync_job_id = "x", zzz = "1" }, unrecognized("/_connector/_sync_job/x") end,
  },
  ["connector.sync_job_list"] = {
    ok = function()
      local cid = connector()
      sync_job(cid)
      assert.are.equal(1, ok("connector.sync_job_list", { connector_id = cid }).count)
    end,
    bad = function() return { zzz = "1" }, unrecognized("/_connector/_sync_job") end,
  },
  ["connector.sync_job_post"] = {
    ok = function() assert.is_string(sync_job()) end,
    bad = function() return { id = 5 }, type_error("connector_sync_job_post_request", "id", "VALUE_NUMBER") end,
  },
  ["connector.sync_job_update_stats"] = {
    ok = function()
      local res = ok("connector.sync_job_update_stats", { connector_sync_job_id = sync_job(),
        deleted_document_count = 1, indexed_document_count = 2, indexed_document_volume = 3 })
      assert.are.equal("updated", res.result)
    end,
    bad = function() return { connector_sync_job_id = "x", body = {} }, "illegal_argument_exception",
      "Required [deleted_document_count, indexed_document_count, indexed_document_volume]" end,
  },
  ["connector.update_active_filtering"] = {
    ok = function()
      -- the default draft is valid
      local res = ok("connector.update_active_filtering", { connector_id = connector() })
      assert.is_string(res.result)
    end,
    bad = function() return { connector_id = "x", zzz = "1" }, unrecognized("/_connector/x/_filtering/_activate") end,
  },
  ["connector.update_api_key_id"] = {
    ok = function()
      local res = ok("connector.update_api_key_id", { connector_id = connector(), api_key_id = "k" })
      assert.are.equal("updated", res.result)
    end,
    bad = function() return { connector_id = "x", body = {} }, "action_request_validation_exception",
      "Validation Failed: 1: [api_key_id] and [api_key_secret_id] cannot both be [null]. Please provide a value for "
        .. "at least one of them.;" end,
  },
  ["connector.update_configuration"] = {
    ok = function()
      local res = ok("connector.update_configuration", { connector_id = connector(),
        configuration = { host = { label = "Host", type = "str", value = "h" } } })
      assert.are.equal("updated", res.result)
    end,
    bad = function() return { connector_id = "x", configuration = "c" },
      type_error(update("configuration"), "configuration", "VALUE_STRING") end,
  },
  ["connector.update_error"] = {
    ok = function()
      assert.are.equal("updated", ok("connector.update_error", { connector_id = connector(), error = "e" }).result)
    end,
    bad = function() return { connector_id = "x", body = {} }, "illegal_argument_exception", "Required [error]" end,
  },
  ["connector.update_features"] = {
    ok = function()
      local res = ok("connector.update_features", { connector_id = connector(),
        features = { document_level_security = { enabled = true } } })
      assert.are.equal("updated", res.result)
    end,
    bad = function() return { connector_id = "x", features = "f" },
      type_error(update("features"), "features", "VALUE_STRING") end,
  },
  ["connector.update_filtering"] = {
    ok = function()
      local res = ok("connector.update_filtering", { connector_id = connector(), rules = array{ { id = "r",
        order = 0, field = "f", policy = "include", rule = "equals", value = "v" } } })
      assert.are.equal("updated", res.result)
    end,
    bad = function() return { connector_id = "x", rules = "r" }, type_error(update("filtering"), "rules",
      "VALUE_STRING") end,
  },
  ["connector.update_filtering_validation"] = {
    ok = function()
      local res = ok("connector.update_filtering_validation", { connector_id = connector(),
        validation = { state = "invalid", errors = array{ { ids = array{ "r" }, messages = array{ "m" } } } } })
      assert.are.equal("updated", res.result)
    end,
    bad = function() return { connector_id = "x", validation = "v" },
      type_error(update("filtering_validation"), "validation", "VALUE_STRING") end,
  },
  ["connector.update_index_name"] = {
    ok = function()
      local res = ok("connector.update_index_name", { connector_id = connector(), index_name = env.unique("moved") })
      assert.are.equal("updated", res.result)
    end,
    bad = function() return { connector_id = "x", index_name = 5 },
      type_error(update("index_name"), "index_name", "VALUE_NUMBER") end,
  },
  ["connector.update_name"] = {
    ok = function()
      assert.are.equal("updated", ok("connector.update_name", { connector_id = connector(), name = "n2" }).result)
    end,
    bad = function() return { connector_id = "x", name = 5 }, type_error(update("name"), "name", "VALUE_NUMBER") end,
  },
  ["connector.update_native"] = {
    ok = function()
      local id = env.unique("native")
      ok("connector.put", { connector_id = id, index_name = "content-" .. id })
      ctx.connectors[#ctx.connectors + 1] = id
      assert.are.equal("updated", ok("connector.update_native", { connector_id = id, is_native = true }).result)
    end,
    bad = function() return { connector_id = "x", is_native = 1 },
      type_error(update("native"), "is_native", "VALUE_NUMBER") end,
  },
  ["connector.update_pipeline"] = {
    ok = function()
      local res = ok("connector.update_pipeline", { connector_id = connector(), pipeline = {
        extract_binary_content = true, name = "p", reduce_whitespace = true, run_ml_inference = false } })
      assert.are.equal("updated", res.result)
    end,
    bad = function() return { connector_id = "x", pipeline = "p" },
      type_error(update("pipeline"), "pipeline", "VALUE_STRING") end,
  },
  ["connector.update_scheduling"] = {
    ok = function()
      local res = ok("connector.update_scheduling", { connector_id = connector(),
        scheduling = { full = { enabled = true, interval = "0 0 * * * ?" } } })
      assert.are.equal("updated", res.result)
    end,
    bad = function() return { connector_id = "x", scheduling = "s" },
      type_error(update("scheduling"), "scheduling", "VALUE_STRING") end,
  },
  ["connector.update_service_type"] = {
    ok = function()
      local res = ok("connector.update_service_type", { connector_id = connector(), service_type = "gdrive" })
      assert.are.equal("updated", res.result)
    end,
    bad = function()
      return { connector_id = "x", body = {} }, "illegal_argument_exception", "Required [service_type]"
    end,
  },
  ["connector.update_status"] = {
    ok = function()
      local res = ok("connector.update_status", { connector_id = connector(), status = "needs_configuration" })
      assert.are.equal("updated", res.result)
    end,
    bad = function() return { connector_id = "x", status = 5 }, type_error(update("status"), "status",
      "VALUE_NUMBER") end,
  },
  ["security.authenticate"] = {
    ok = function() assert.is_true(ok("security.authenticate", {}).enabled) end,
    bad = function() return { zzz = "1" }, unrecognized("/_security/_authenticate") end,
  },
  ["security.clear_api_key_cache"] = {
    ok = function()
      assert.are.equal(0, ok("security.clear_api_key_cache", { ids = api_key().id })._nodes.failed)
    end,
    bad = function() return { ids = "x", zzz = "1" }, unrecognized("/_security/api_key/x/_clear_cache") end,
  },
  ["security.bulk_update_api_keys"] = {
    ok = function()
      local owner = owner_client()
      if not owner then return end
      local key = assert(owner:request("security.create_api_key", { name = env.unique("bulk") }))
      local res = assert(owner:request("security.bulk_update_api_keys", { ids = { key.id }, metadata = { v = 1 } }))
      assert.are.same({ key.id }, res.updated)
      owner:close()
    end,
    bad = function() return { body = {} }, "illegal_argument_exception", "Required [ids]" end,
  },
  ["security.create_api_key"] = {
    ok = function()
      local key = api_key()
      assert.is_string(key.encoded)
    end,
    bad = function() return { name = "_x" }, "action_request_validation_exception",
      "Validation Failed: 1: api key name may not begin with an underscore;" end,
  },
  ["security.delete_role"] = {
    ok = function()
      local name = env.unique("role")
      ok("security.put_role", { name = name, cluster = array{ "monitor" } })
      assert.is_true(ok("security.delete_role", { name = name }).found)
    end,
    bad = function() return { name = "r", zzz = "1" }, unrecognized("/_security/role/r") end,
  },
  ["security.delete_user"] = {
    ok = function()
      local name = env.unique("user")
      ok("security.put_user", { username = name, password = "password-1", roles = array{} })
      assert.is_true(ok("security.delete_user", { username = name }).found)
    end,
    bad = function() return { username = "u", zzz = "1" }, unrecognized("/_security/user/u") end,
  },
  ["security.get_api_key"] = {
    ok = function()
      local key = api_key()
      assert.are.equal(key.id, ok("security.get_api_key", { id = key.id }).api_keys[1].id)
    end,
    bad = function() return { zzz = "1" }, unrecognized("/_security/api_key") end,
  },
  ["security.grant_api_key"] = {
    ok = function()
      local name = env.unique("grantee")
      ok("security.put_user", { username = name, password = "password-2", roles = array{ "superuser" } })
      local key = ok("security.grant_api_key", { grant_type = "password", username = name, password = "password-2",
        api_key = { name = "granted" } })
      assert.are.equal("granted", key.name)
      ok("security.delete_user", { username = name })
    end,
    bad = function() return { body = {} }, "illegal_argument_exception", "Required [api_key, grant_type]" end,
  },
  ["security.invalidate_api_key"] = {
    ok = function()
      local key = api_key()
      assert.are.same({ key.id }, ok("security.invalidate_api_key", { ids = { key.id } }).invalidated_api_keys)
    end,
    bad = function() return { body = {} }, "action_request_validation_exception",
      "Validation Failed: 1: One of [api key id(s), api key name, username, realm name] must be specified if [owner] "
        .. "flag is false;" end,
  },
  ["security.put_role"] = {
    ok = function()
      local name = env.unique("role")
      assert.is_true(ok("security.put_role", { name = name, cluster = array{ "monitor" } }).role.created)
      ok("security.delete_role", { name = name })
    end,
    bad = function()
      return { name = "r", metadata = "m" }, type_error("role_descriptor", "metadata", "VALUE_STRING")
    end,
  },
  ["security.put_user"] = {
    ok = function()
      local name = env.unique("user")
      assert.is_true(ok("security.put_user", { username = name, password = "password-3", roles = array{} }).created)
      ok("security.delete_user", { username = name })
    end,
    bad = function() return { username = "u", email = 5 }, type_error("put_user_request", "email", "VALUE_NUMBER") end,
  },
  ["security.query_api_keys"] = {
    ok = function()
      local key = api_key()
      local res = ok("security.query_api_keys", { query = { ids = { values = array{ key.id } } } })
      assert.are.equal(key.id, res.api_keys[1].id)
    end,
    bad = function() return { query = "q" }, type_error("query_api_key_request", "query", "VALUE_STRING") end,
  },
  ["security.update_api_key"] = {
    ok = function()
      local owner = owner_client()
      if not owner then
        -- Elasticsearch refuses updates authenticated by an API key
        local _, err = call("security.update_api_key", { id = api_key().id, metadata = { v = 1 } })
        assert.are.equal(400, err.status)
        return
      end
      local key = assert(owner:request("security.create_api_key", { name = env.unique("upd") }))
      assert.is_true(assert(owner:request("security.update_api_key", { id = key.id, metadata = { v = 1 } })).updated)
      owner:close()
    end,
    bad = function() return { id = "x", metadata = "m" },
      type_error("update_api_key_request_payload", "metadata", "VALUE_STRING") end,
  },
  ["nodes.info"] = {
    ok = function()
      assert.is_table(ok("nodes.info", { node_id = "_all", metric = "http" }).nodes)
    end,
    bad = function() return { node_id = "_all", metric = "http", zzz = "1" }, unrecognized("/_nodes/_all/http") end,
  },
  ["indices.delete"] = {
    ok = function()
      -- nothing is an index: only ignore_unavailable succeeds
      assert.is_true(ok("indices.delete", { index = env.unique("idx"), ignore_unavailable = true }).acknowledged)
    end,
    bad = function() return { index = "idx", zzz = "1" }, unrecognized("/idx") end,
  },
}

-- Server errors where no local rule applies: a missing object is a 404.
local NOT_FOUND = {
  ["connector.get"] = function() return { connector_id = env.unique("missing") }, "resource_not_found_exception" end,
  ["connector.update_name"] = function()
    return { connector_id = env.unique("missing"), name = "n" }, "document_missing_exception"
  end,
  ["connector.secret_get"] = function() return { id = env.unique("missing") } end,
  ["connector.sync_job_get"] = function()
    return { connector_sync_job_id = env.unique("missing") }, "resource_not_found_exception"
  end,
  ["indices.delete"] = function() return { index = env.unique("missing") }, "index_not_found_exception" end,
  ["security.get_api_key"] = function() return { id = env.unique("missing") } end,
}

describe("every catalog API", function()
  lazy_setup(function()
    ctx.client = env.client{ max_retries = 0 }
    ctx.connectors = {}
  end)

  lazy_teardown(function()
    for _, id in ipairs(ctx.connectors) do
      call("connector.delete", { connector_id = id, hard = true, delete_sync_jobs = true })
    end
    ctx.client:close()
  end)

  local catalog = core.catalog()

  it("has a case for each API", function()
    local missing = {}
    for _, row in ipairs(catalog) do
      if not CASES[row.name] then missing[#missing + 1] = row.name end
    end
    assert.are.same({}, missing)
  end)

  for _, row in ipairs(catalog) do
    local api, case = row.name, CASES[row.name]
    describe(api, function()
      it("succeeds", function()
        assert.is_table(case, "no case for " .. api)
        case.ok()
      end)

      it("refuses a bad input locally and on the server in the same words", function()
        assert.is_table(case, "no case for " .. api)
        local params, want_type, want_reason = case.bad()
        local _, err = call(api, params)
        assert.is_table(err, "no local error for " .. api)
        assert.are.equal("validation", err.kind, tostring(err))
        assert.are.equal(want_type, err.type)
        assert.are.equal(want_reason, err.reason)
        params = case.bad()
        local _, server = call(api, params, { validate = false })
        assert.is_table(server, "the server accepted it: " .. api)
        assert.are.equal("http", server.kind, tostring(server))
        assert.are.equal(400, server.status, tostring(server))
        assert.are.equal(want_type, server.type)
        assert.are.equal(want_reason, (tostring(server.reason):gsub("^%[%d+:%d+%] ", "")))
      end)

      if NOT_FOUND[api] then
        it("answers 404 for what does not exist", function()
          local params, want_type = NOT_FOUND[api]()
          local _, err = call(api, params)
          assert.are.equal(404, err.status, tostring(err))
          if want_type then assert.are.equal(want_type, err.type) end
        end)
      end
    end)
  end
end)
