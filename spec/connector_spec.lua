-- connector.put / get / delete and info over real HTTP.
local env = require "spec.support.env"

describe("connector CRUD", function()
  local client

  before_each(function() client = env.client() end)
  after_each(function() client:close() end)

  it("info names the cluster and its version", function()
    local info = assert(client:info())
    assert.is_string(info.cluster_name)
    assert.is_string(info.version.number)
    assert.are.equal("You Know, for Search", info.tagline)
  end)

  it("speaks compatible-with 9 and 8, and refuses 7 before sending", function()
    local major = tonumber(assert(client:info()).version.number:match("^(%d+)"))
    for _, version in ipairs(major >= 9 and { 9, 8 } or { 8 }) do
      local c = env.client{ compatible_with = version }
      assert(c.connector:put{ connector_id = env.unique("compat"), name = "v" .. version })
      c:close()
    end
    -- a 9.x server answers 7 with 400 media_type_header_exception
    -- (spec/emulator_spec.lua checks the emulator does)
    local ok, msg = pcall(env.client, { compatible_with = 7 })
    assert.is_false(ok)
    assert.matches("esconnector: compatible_with must be 8 or 9, got 7", msg, 1, true)
  end)

  it("creates, replaces, reads and hard-deletes a connector", function()
    local id = env.unique("spec-crud")
    local res = assert(client.connector:put{ connector_id = id, name = "first", index_name = env.unique("search-crud"),
      service_type = "google_drive", is_native = false, language = "en" })
    assert.are.same({ id = id, result = "created" }, res)

    local doc = assert(client.connector:get{ connector_id = id })
    assert.are.equal(id, doc.id)
    assert.are.equal("first", doc.name)
    assert.are.equal("created", doc.status)
    assert.is_false(doc.is_native)
    assert.is_false(doc.sync_now)
    assert.are.equal("DEFAULT", doc.filtering[1].domain)
    assert.is_nil(doc.api_key_id)

    assert(client.connector:update_api_key_id{ connector_id = id, api_key_id = "k" })
    res = assert(client.connector:put{ connector_id = id, name = "second" })
    assert.are.same({ id = id, result = "updated" }, res)
    doc = assert(client.connector:get{ connector_id = id })
    assert.are.equal("second", doc.name)
    assert.is_nil(doc.api_key_id) -- a re-PUT replaces the whole document

    assert.are.same({ acknowledged = true }, assert(client.connector:delete{ connector_id = id, hard = true }))
    local _, err = client.connector:get{ connector_id = id, include_deleted = true }
    assert.are.equal(404, err.status)
  end)

  it("creates a connector with a generated id", function()
    local res = assert(client.connector:put{ name = "auto" })
    assert.are.equal("created", res.result)
    assert.is_string(res.id)
    assert.are.equal("auto", assert(client.connector:get{ connector_id = res.id }).name)
    assert(client.connector:delete{ connector_id = res.id, hard = true })
  end)

  it("soft-deletes by default", function()
    local id = env.unique("spec-soft")
    assert(client.connector:put{ connector_id = id })
    assert(client.connector:delete{ connector_id = id })
    local _, err = client.connector:get{ connector_id = id }
    assert.are.equal(404, err.status)
    assert.are.equal("resource_not_found_exception", err.type)
    assert.are.equal("connector [" .. id .. "] not found", err.reason)
    local doc = assert(client.connector:get{ connector_id = id, include_deleted = true })
    assert.is_true(doc.deleted)
    assert(client.connector:delete{ connector_id = id, hard = true })
  end)

  it("answers 404 for deleting a connector that does not exist", function()
    local id = env.unique("spec-none")
    local _, err = client.connector:delete{ connector_id = id }
    assert.are.equal(404, err.status)
    assert.are.equal("connector [" .. id .. "] not found", err.reason)
  end)

  it("refuses a body field of the wrong type before sending", function()
    local _, err = client.connector:put{ connector_id = "x", name = 42 }
    assert.are.equal("validation", err.kind)
    assert.are.equal("[connector_put_request] name doesn't support values of type: VALUE_NUMBER", err.reason)
  end)

  it("passes common query parameters", function()
    local id = env.unique("spec-fp")
    assert(client.connector:put{ connector_id = id, name = "fp" })
    local doc = assert(client.connector:get{ connector_id = id, filter_path = { "id", "name" } })
    assert.are.same({ id = id, name = "fp" }, doc)
    assert(client.connector:delete{ connector_id = id, hard = true })
  end)
end)
