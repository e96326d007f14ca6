-- connector.update_api_key_id over real HTTP, against the emulator or the
-- cluster at ES_URL.
local env = require "spec.support.env"
local esconnector = require "esconnector"

local BOTH_NULL = "Validation Failed: 1: [api_key_id] and [api_key_secret_id] cannot both be [null]. "
  .. "Please provide a value for at least one of them.;"

describe("connector.update_api_key_id", function()
  local client, id

  local function stored(connector_id)
    local doc = assert(client.connector:get{ connector_id = connector_id })
    return doc.api_key_id, doc.api_key_secret_id
  end

  before_each(function()
    client = env.client()
    id = env.unique("spec-akid")
    assert(client.connector:put{ connector_id = id, name = "spec" })
  end)

  after_each(function()
    client.connector:delete{ connector_id = id, hard = true }
    client:close()
  end)

  it("runs the reference example", function()
    local res, err = client.connector:update_api_key_id{
      connector_id = id,
      api_key_id = "my-api-key-id",
      api_key_secret_id = "my-connector-secret-id",
    }
    assert.is_nil(err)
    assert.are.same({ result = "updated" }, res)
    assert.are.same({ "my-api-key-id", "my-connector-secret-id" }, { stored(id) })
  end)

  it("answers noop for the values already stored", function()
    assert(client.connector:update_api_key_id{ connector_id = id, api_key_id = "k1", api_key_secret_id = "s1" })
    local res = assert(client.connector:update_api_key_id{
      connector_id = id, api_key_id = "k1", api_key_secret_id = "s1" })
    assert.are.equal("noop", res.result)
  end)

  it("updates one field and leaves the other untouched", function()
    assert(client.connector:update_api_key_id{ connector_id = id, api_key_id = "k1", api_key_secret_id = "s1" })
    assert.are.equal("updated", client.connector:update_api_key_id{ connector_id = id, api_key_id = "k2" }.result)
    assert.are.same({ "k2", "s1" }, { stored(id) })
    assert.are.equal("updated",
      client.connector:update_api_key_id{ connector_id = id, api_key_secret_id = "s2" }.result)
    assert.are.same({ "k2", "s2" }, { stored(id) })
  end)

  it("does not clear a field sent as null", function()
    assert(client.connector:update_api_key_id{ connector_id = id, api_key_id = "k1", api_key_secret_id = "s1" })
    local res = assert(client.connector:update_api_key_id{
      connector_id = id, api_key_id = "k3", api_key_secret_id = esconnector.null })
    assert.are.equal("updated", res.result)
    assert.are.same({ "k3", "s1" }, { stored(id) })
  end)

  it("stores an empty string as given", function()
    assert(client.connector:update_api_key_id{ connector_id = id, api_key_id = "" })
    assert.are.equal("", (stored(id)))
  end)

  it("keeps a connector id that needs escaping as one id", function()
    local odd = env.unique("a b/c?d#é")
    assert.are.equal("created", assert(client.connector:put{ connector_id = odd }).result)
    local res = assert(client.connector:update_api_key_id{ connector_id = odd, api_key_id = "odd-key" })
    assert.are.equal("updated", res.result)
    local doc = assert(client.connector:get{ connector_id = odd })
    assert.are.equal(odd, doc.id)
    assert.are.equal("odd-key", doc.api_key_id)
    assert(client.connector:delete{ connector_id = odd, hard = true })
  end)

  it("answers 404 document_missing_exception for a connector that does not exist", function()
    local missing = env.unique("missing")
    local res, err = client.connector:update_api_key_id{ connector_id = missing, api_key_id = "k" }
    assert.is_nil(res)
    assert.are.equal("http", err.kind)
    assert.are.equal(404, err.status)
    assert.are.equal("document_missing_exception", err.type)
    assert.are.equal("[" .. missing .. "]: document missing", err.reason)
    assert.are.equal("document_missing_exception", err.root_cause[1].type)
    assert.are.equal(".elastic-connectors-v1", err.body.error.index)
    assert.are.equal(1, err.attempts)
    assert.are.equal(env.url:gsub("/$", ""), err.node)
    assert.are.equal("esconnector: 404 document_missing_exception: [" .. missing .. "]: document missing",
      tostring(err))
  end)

  describe("validation", function()
    it("is done locally with the words the server uses", function()
      -- each case: params, expected type, expected reason without ES's [line:col]
      local cases = {
        { { connector_id = id, body = {} }, "action_request_validation_exception", BOTH_NULL },
        { { connector_id = id, api_key_id = esconnector.null }, "action_request_validation_exception", BOTH_NULL },
        { { connector_id = id, api_key_id = 5 }, "x_content_parse_exception",
          "[connector_update_api_key_id_request] api_key_id doesn't support values of type: VALUE_NUMBER" },
        { { connector_id = id, api_key_id = { a = "b" } }, "x_content_parse_exception",
          "[connector_update_api_key_id_request] api_key_id doesn't support values of type: START_OBJECT" },
        { { connector_id = id, foo = "x" }, "x_content_parse_exception",
          "[connector_update_api_key_id_request] unknown field [foo]" },
        { { connector_id = id, api_key = "x" }, "x_content_parse_exception",
          "[connector_update_api_key_id_request] unknown field [api_key] did you mean [api_key_id]?" },
        { { connector_id = "", api_key_id = "k" }, "action_request_validation_exception",
          'Validation Failed: 1: [connector_id] cannot be [null] or [""].;' },
      }
      for _, case in ipairs(cases) do
        local params, want_type, want_reason = case[1], case[2], case[3]
        local _, local_err = client.connector:update_api_key_id(params)
        assert.are.equal("validation", local_err.kind)
        assert.are.equal(want_type, local_err.type)
        assert.are.equal(want_reason, local_err.reason)
        -- the same call, unchecked: the server answers in the same words
        local _, server_err = client.connector:update_api_key_id(params, { validate = false })
        assert.are.equal("http", server_err.kind)
        assert.are.equal(400, server_err.status)
        assert.are.equal(want_type, server_err.type)
        assert.are.equal(want_reason, (server_err.reason:gsub("^%[%d+:%d+%] ", "")))
      end
    end)

    it("can be turned off for a whole client", function()
      local unchecked = env.client{ validate = false }
      local _, err = unchecked.connector:update_api_key_id{ connector_id = id, api_key_id = esconnector.null }
      assert.are.equal("http", err.kind)
      assert.are.equal(BOTH_NULL, err.reason)
      -- a call option wins over the client's
      _, err = unchecked.connector:update_api_key_id({ connector_id = id, api_key_id = esconnector.null },
        { validate = true })
      assert.are.equal("validation", err.kind)
      unchecked:close()
    end)

    it("lets the server answer a missing body when unchecked", function()
      local _, err = client.connector:update_api_key_id({ connector_id = id }, { validate = false })
      assert.are.equal(400, err.status)
      -- no field at all: no body is sent
      assert.are.equal("parse_exception", err.type)
      assert.are.equal("request body is required", err.reason)
    end)
  end)
end)
