-- The C core's request building and validation (no I/O).
local core = require "esconnector.core"
local json = require "esconnector.json"

local BOTH_NULL = "Validation Failed: 1: [api_key_id] and [api_key_secret_id] cannot both be [null]. "
  .. "Please provide a value for at least one of them.;"
local ID_EMPTY = 'Validation Failed: 1: [connector_id] cannot be [null] or [""].;'

describe("core.prepare", function()
  describe("connector.update_api_key_id", function()
    it("builds method, path and body", function()
      local req = assert(core.prepare("connector.update_api_key_id", {
        connector_id = "my-connector", api_key_id = "k", api_key_secret_id = "s" }))
      assert.are.equal("PUT", req.method)
      assert.are.equal("/_connector/my-connector/_api_key_id", req.path)
      assert.is_nil(req.query)
      assert.are.same({ api_key_id = "k", api_key_secret_id = "s" }, req.body)
      assert.is_true(req.body_required)
    end)

    it("keeps a connector id that needs escaping as one path segment", function()
      local req = assert(core.prepare("connector.update_api_key_id",
        { connector_id = "a b/c?d#é", api_key_id = "k" }))
      assert.are.equal("/_connector/a%20b%2Fc%3Fd%23%C3%A9/_api_key_id", req.path)
    end)

    it("escapes dot segments so nothing resolves them", function()
      local req = assert(core.prepare("connector.get", { connector_id = ".." }))
      assert.are.equal("/_connector/%2E%2E", req.path)
    end)

    it("accepts an integral number as an id", function()
      local req = assert(core.prepare("connector.get", { connector_id = 123 }))
      assert.are.equal("/_connector/123", req.path)
    end)

    it("refuses a missing or empty connector_id in Elasticsearch's words", function()
      for _, id in ipairs({ json.null, "" }) do
        local params = { api_key_id = "k" }
        if id ~= json.null then params.connector_id = id end
        local req, err = core.prepare("connector.update_api_key_id", params)
        assert.is_nil(req)
        assert.are.equal("validation", err.kind)
        assert.are.equal("action_request_validation_exception", err.type)
        assert.are.equal(ID_EMPTY, err.reason)
      end
    end)

    it("refuses a call with neither id", function()
      for _, params in ipairs({
        { connector_id = "c" },
        { connector_id = "c", api_key_id = json.null },
        { connector_id = "c", api_key_id = json.null, api_key_secret_id = json.null },
        { connector_id = "c", body = {} },
      }) do
        local _, err = core.prepare("connector.update_api_key_id", params)
        assert.are.equal(BOTH_NULL, err.reason)
      end
    end)

    it("numbers several validation failures as Elasticsearch does", function()
      local _, err = core.prepare("connector.update_api_key_id", { connector_id = "" })
      assert.are.equal('Validation Failed: 1: [connector_id] cannot be [null] or [""].;'
        .. "2: [api_key_id] and [api_key_secret_id] cannot both be [null]. "
        .. "Please provide a value for at least one of them.;", err.reason)
    end)

    it("names a field of the wrong type with its JSON token", function()
      local cases = {
        { 5, "VALUE_NUMBER" }, { true, "VALUE_BOOLEAN" }, { {}, "START_OBJECT" },
        { { "a" }, "START_ARRAY" }, { json.array(), "START_ARRAY" },
      }
      for _, case in ipairs(cases) do
        local _, err = core.prepare("connector.update_api_key_id",
          { connector_id = "c", api_key_id = case[1] })
        assert.are.equal("x_content_parse_exception", err.type)
        assert.are.equal("[connector_update_api_key_id_request] api_key_id doesn't support values of type: "
          .. case[2], err.reason)
      end
    end)

    it("names an unknown field and suggests the near one", function()
      local _, err = core.prepare("connector.update_api_key_id",
        { connector_id = "c", api_key = "x" })
      assert.are.equal("[connector_update_api_key_id_request] unknown field [api_key] did you mean [api_key_id]?",
        err.reason)
      _, err = core.prepare("connector.update_api_key_id", { connector_id = "c", zzz = "x" })
      assert.are.equal("[connector_update_api_key_id_request] unknown field [zzz]", err.reason)
    end)

    it("takes fields from params.body too, a named one winning", function()
      local req = assert(core.prepare("connector.update_api_key_id",
        { connector_id = "c", api_key_id = "named", body = { api_key_id = "b", api_key_secret_id = "s" } }))
      assert.are.same({ api_key_id = "named", api_key_secret_id = "s" }, req.body)
      local _, err = core.prepare("connector.update_api_key_id",
        { connector_id = "c", body = { nope = 1 } })
      assert.are.equal("[connector_update_api_key_id_request] unknown field [nope]", err.reason)
    end)

    it("with validation off sends what it is given", function()
      local req = assert(core.prepare("connector.update_api_key_id",
        { api_key_id = 5, foo = "bar" }, false))
      assert.are.equal("/_connector//_api_key_id", req.path)
      assert.are.same({ api_key_id = 5, foo = "bar" }, req.body)
    end)
  end)

  describe("query parameters", function()
    it("types booleans, lists and common parameters", function()
      local req = assert(core.prepare("connector.get", { connector_id = "x", include_deleted = true,
        filter_path = { "id", "api_key_*" }, pretty = false }))
      assert.are.equal("include_deleted=true&filter_path=id,api_key_*&pretty=false", req.query)
    end)

    it("escapes query values", function()
      local req = assert(core.prepare("connector.get", { connector_id = "x", filter_path = "a&b=c" }))
      assert.are.equal("filter_path=a%26b%3Dc", req.query)
    end)

    it("refuses a boolean that is not one", function()
      local _, err = core.prepare("connector.delete", { connector_id = "x", hard = "yes" })
      assert.are.equal("illegal_argument_exception", err.type)
      assert.are.equal("Failed to parse value [yes] as only [true] or [false] are allowed.", err.reason)
    end)

    it("refuses unknown parameters on a bodiless endpoint as the REST layer does", function()
      local _, err = core.prepare("connector.get", { connector_id = "x", foo = 1, prety = true })
      assert.are.equal("illegal_argument_exception", err.type)
      assert.are.equal("request [/_connector/x] contains unrecognized parameters: [foo], "
        .. "[prety] -> did you mean [pretty]?", err.reason)
      _, err = core.prepare("connector.get", { connector_id = "x", foo = 1 })
      assert.are.equal("request [/_connector/x] contains unrecognized parameter: [foo]", err.reason)
    end)

    it("sends unknown parameters to the query when unchecked on a bodiless endpoint", function()
      local req = assert(core.prepare("connector.get", { connector_id = "x", foo = "a b" }, false))
      assert.are.equal("foo=a%20b", req.query)
    end)
  end)

  describe("connector.put", function()
    it("uses /_connector when no id is given", function()
      local req = assert(core.prepare("connector.put", { name = "n" }))
      assert.are.equal("/_connector", req.path)
      assert.are.same({ name = "n" }, req.body)
    end)

    it("has no body when no field is given", function()
      local req = assert(core.prepare("connector.put", { connector_id = "c" }))
      assert.is_nil(req.body)
      assert.is_false(req.body_required)
    end)

    it("checks field types", function()
      local _, err = core.prepare("connector.put", { connector_id = "c", is_native = "maybe" })
      assert.are.equal("[connector_put_request] is_native doesn't support values of type: VALUE_STRING",
        err.reason)
    end)
  end)

  it("raises for an API that does not exist (a programmer error)", function()
    assert.has_error(function() core.prepare("connector.nope", {}) end,
      "esconnector: unknown API 'connector.nope'")
  end)

  it("raises for a non-string parameter name", function()
    assert.has_error(function() core.prepare("connector.get", { connector_id = "c", [1] = "x" }) end)
  end)
end)

describe("core.catalog", function()
  it("lists every row with its method, path and parameters", function()
    local by_name = {}
    for _, row in ipairs(core.catalog()) do by_name[row.name] = row end
    for _, name in ipairs({ "info", "connector.get", "connector.put", "connector.delete",
                            "connector.update_api_key_id" }) do
      assert.is_table(by_name[name], name)
    end
    local row = by_name["connector.update_api_key_id"]
    assert.are.equal("PUT", row.method)
    assert.are.equal("/_connector/{connector_id}/_api_key_id", row.path)
    assert.are.equal("required", row.body_rule)
    assert.are.same({ name = "connector_id", type = "id", required = true }, row.path_params[1])
    assert.are.same({ "api_key_id", "api_key_secret_id" },
      { row.body[1].name, row.body[2].name })
  end)
end)

describe("core.escape and core.base64", function()
  it("percent-encodes all but the unreserved characters", function()
    assert.are.equal("a-z_0.9~%20%2F%3F%23%25%2B%C3%A9", core.escape("a-z_0.9~ /?#%+é"))
  end)

  it("encodes base64 with padding", function()
    assert.are.equal("bXktaWQ6bXktc2VjcmV0", core.base64("my-id:my-secret"))
    assert.are.equal("YQ==", core.base64("a"))
    assert.are.equal("YWI=", core.base64("ab"))
    assert.are.equal("", core.base64(""))
  end)

  it("decodes base64, standard or URL-safe, and refuses other text", function()
    assert.are.equal("my-id:my-secret", core.base64_decode("bXktaWQ6bXktc2VjcmV0"))
    assert.are.equal("ab", core.base64_decode("YWI="))
    assert.are.equal("a", core.base64_decode("YQ"))
    assert.are.equal("\255\239", core.base64_decode("_-8"))
    assert.is_nil(core.base64_decode("a*b"))
  end)
end)
