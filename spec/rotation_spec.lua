-- client:rotate_api_key over real HTTP: the new key works, the old one is
-- dead, and when a step (or an undo step) fails, the connector still points
-- at a key that works and no key the rotation made stays valid unless the
-- error says so.
local env = require "spec.support.env"
local emulator = require "spec.support.emulator"

local secured = env.username ~= nil and env.username ~= ""

describe("client:rotate_api_key", function()
  if not secured then
    pending("needs a secured cluster (ES_USERNAME / ES_PASSWORD)")
    return
  end

  local client

  before_each(function() client = env.user_client{ max_retries = 0 } end)
  after_each(function()
    if emulator.available() then emulator.clear_faults() end
    client:close()
  end)

  -- Is this encoded key accepted now?  Returns the HTTP status of
  -- security.authenticate (200 when it works).
  local function status_of(encoded)
    local probe = client:derive{ api_key = encoded }
    local res, err = probe.security:authenticate()
    probe:close()
    return res and 200 or err.status, res
  end

  -- A connector pointing at a fresh key; returns id, key record, secret id.
  local function connector_with_key(native)
    local id = env.unique("rot")
    local index = (native and "content-" or "search-") .. id
    assert(client.connector:put{ connector_id = id, index_name = index, is_native = native })
    local key = assert(client.security:create_api_key{ name = "initial-" .. id })
    local secret_id
    if native then
      secret_id = assert(client.connector:secret_post{ value = key.encoded }).id
    end
    assert(client.connector:update_api_key_id{ connector_id = id, api_key_id = key.id,
      api_key_secret_id = secret_id })
    return id, key, secret_id, index
  end

  -- The encoded key the connector references works.
  local function assert_invariant(id, known_keys)
    local doc = assert(client.connector:get{ connector_id = id })
    local encoded
    if doc.is_native then
      encoded = assert(client.connector:secret_get{ id = doc.api_key_secret_id }).value
    else
      encoded = known_keys[doc.api_key_id]
    end
    assert.is_string(encoded, "no known key for " .. tostring(doc.api_key_id))
    local status, who = status_of(encoded)
    assert.are.equal(200, status)
    assert.are.equal(doc.api_key_id, who.api_key.id)
  end

  -- Active keys the rotation created (named <index>-connector).
  local function active_rotation_keys(index)
    local res, err = client.security:get_api_key{ name = index .. "-connector", active_only = true }
    if not res then
      assert.are.equal(404, err.status)
      return {}
    end
    return res.api_keys
  end

  it("rotates a self-managed connector: the new key works, the old one answers 401", function()
    local id, old = connector_with_key(false)
    local delivered
    local report, err = client:rotate_api_key{ connector_id = id,
      on_key = function(encoded) delivered = encoded; return true end }
    assert.is_nil(err)
    assert.are.equal(old.id, report.old_api_key_id)
    assert.are_not.equal(old.id, report.new_api_key_id)
    assert.are.same({ old.id }, report.invalidated)
    assert.is_true(report.verified)
    assert.are.equal(report.new_api_key_id, assert(client.connector:get{ connector_id = id }).api_key_id)
    assert.are.equal(200, (status_of(delivered)))
    assert.are.equal(401, (status_of(old.encoded)))
    -- the report never holds the key
    for _, v in pairs(report) do assert.are_not.equal(delivered, v) end
  end)

  it("rotates a native connector through a new secret and deletes the old one", function()
    local id, old, old_secret = connector_with_key(true)
    local report = assert(client:rotate_api_key{ connector_id = id })
    local doc = assert(client.connector:get{ connector_id = id })
    assert.are.equal(report.new_api_key_id, doc.api_key_id)
    assert.are.equal(report.new_api_key_secret_id, doc.api_key_secret_id)
    local encoded = assert(client.connector:secret_get{ id = doc.api_key_secret_id }).value
    local status, who = status_of(encoded)
    assert.are.equal(200, status)
    assert.are.equal(report.new_api_key_id, who.api_key.id)
    assert.are.equal(401, (status_of(old.encoded)))
    assert.are.equal(old_secret, report.deleted_secret)
    local _, err = client.connector:secret_get{ id = old_secret }
    assert.are.equal(404, err.status)
  end)

  it("gives the new key Kibana's role descriptors and records the connector in its metadata", function()
    local id, _, _, index = connector_with_key(true)
    local report = assert(client:rotate_api_key{ connector_id = id })
    local keys = assert(client.security:get_api_key{ id = report.new_api_key_id }).api_keys
    assert.are.equal(index .. "-connector", keys[1].name)
    assert.are.equal(id, keys[1].metadata.connector_id)
    local role = keys[1].role_descriptors[index .. "-connector-role"]
    assert.are.same({ "monitor", "manage_connector" }, role.cluster)
    assert.are.same({ index, ".search-acl-filter-" .. index, ".elastic-connectors*" }, role.indices[1].names)
  end)

  it("only reads on a dry run", function()
    local id, old = connector_with_key(true)
    local report = assert(client:rotate_api_key{ connector_id = id, dry_run = true })
    assert.is_true(report.dry_run)
    local plan = table.concat(report.would, "\n")
    assert.matches("invalidate the old API key %[" .. old.id:gsub("%p", "%%%0") .. "%]", plan)
    assert.are.equal(old.id, assert(client.connector:get{ connector_id = id }).api_key_id)
    assert.are.equal(200, (status_of(old.encoded)))
  end)

  it("refuses a self-managed connector without on_key, changing nothing", function()
    local id, old = connector_with_key(false)
    local _, err = client:rotate_api_key{ connector_id = id }
    assert.are.equal("read", err.step)
    assert.matches("on_key", err.message)
    assert.are.equal(old.id, assert(client.connector:get{ connector_id = id }).api_key_id)
  end)

  describe("failing each step", function()
    if not emulator.available() then
      pending("needs the emulator's fault injection")
      return
    end

    -- step, native?, the request to fail: method and path pattern
    local cases = {
      { "read", true, "GET", "^/_connector/[^/_][^/]*$" },
      { "create", true, "PUT", "^/_security/api_key$" },
      { "secret", true, "POST", "^/_connector/_secret$" },
      { "update", true, "PUT", "/_api_key_id$" },
      { "verify", true, "GET", "^/_security/_authenticate$" },
      { "deliver", false, nil, nil },
      { "retire", true, "DELETE", "^/_security/api_key$" },
      { "retire", false, "DELETE", "^/_security/api_key$" },
    }
    for _, case in ipairs(cases) do
      local step, native, method, path = case[1], case[2], case[3], case[4]
      it(("undoes everything when '%s' fails (%s)"):format(step, native and "native" or "self-managed"), function()
        local id, old, _, index = connector_with_key(native)
        local known = { [old.id] = old.encoded }
        if method then emulator.fault{ fault = "status", status = 500, method = method, path = path, count = 1 } end
        local _, err = client:rotate_api_key{ connector_id = id,
          on_key = not native and function(encoded, info)
            known[info.api_key_id] = encoded
            return step ~= "deliver" -- refuse the key to fail that step
          end or nil }
        emulator.clear_faults()
        assert.is_table(err, "the rotation did not fail")
        assert.are.equal(step, err.step)
        assert.are.same({}, err.leftovers)
        assert.matches("step '" .. step .. "'", err.message)
        assert_invariant(id, known)
        assert.are.equal(old.id, assert(client.connector:get{ connector_id = id }).api_key_id)
        assert.are.same({}, active_rotation_keys(index))
      end)
    end

    -- failing undo steps: what could not be undone is named, and is all that is left
    local undo_cases = {
      { "invalidating the new key", "DELETE", "^/_security/api_key$", 0, "is still valid", true },
      { "deleting the new secret", "DELETE", "^/_connector/_secret/", 0, "still exists", false },
      { "pointing the connector back", "PUT", "/_api_key_id$", 1, "may still point", true },
    }
    for _, case in ipairs(undo_cases) do
      local what, method, path, after, words, key_left = case[1], case[2], case[3], case[4], case[5], case[6]
      it("names what is left when " .. what .. " fails", function()
        local id, old, _, index = connector_with_key(true)
        emulator.fault{ fault = "status", status = 500, method = "GET", path = "^/_security/_authenticate$" }
        emulator.fault{ fault = "status", status = 500, method = method, path = path, after = after, count = 1 }
        local _, err = client:rotate_api_key{ connector_id = id }
        emulator.clear_faults()
        assert.are.equal("verify", err.step)
        assert.is_true(#err.leftovers >= 1)
        assert.matches(words, table.concat(err.leftovers, "\n"))
        assert_invariant(id, { [old.id] = old.encoded })
        local active = active_rotation_keys(index)
        if key_left then
          assert.are.equal(1, #active)
          assert.matches(active[1].id, table.concat(err.leftovers, "\n"), 1, true)
        else
          assert.are.same({}, active)
        end
      end)
    end
  end)
end)
