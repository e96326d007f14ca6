-- bin/esconnector, run as a user would: a subprocess, over real HTTP.
local env = require "spec.support.env"
local json = require "esconnector.json"

local cli_run = require "spec.support.cli_run"
local quote, run = cli_run.quote, cli_run.run

describe("bin/esconnector #subprocess", function()
  local client
  before_each(function() client = env.client() end)
  after_each(function() client:close() end)

  it("prints usage and exits 2 for bad arguments", function()
    for _, args in ipairs({ "", "bogus", "get", "update-api-key-id c", "rotate", "rotate a --all",
                            "list --size x" }) do
      local _, err, code = run(args)
      assert.are.equal(2, code, args)
      assert.matches("Usage: esconnector", err, 1, true)
    end
  end)

  it("exits 2 without a URL", function()
    local _, err, code = run("get x", { ES_URL = "" })
    assert.are.equal(2, code)
    assert.matches("ES_URL", err)
  end)

  it("updates the API key id and gets the connector, as text and as JSON", function()
    local id = env.unique("cli")
    assert(client.connector:put{ connector_id = id, name = "cli" })
    local out, _, code = run("update-api-key-id " .. quote(id) .. " --api-key-id k1 --api-key-secret-id s1")
    assert.are.equal(0, code)
    assert.are.equal(id .. ": updated\n", out)
    out, _, code = run("get " .. quote(id))
    assert.are.equal(0, code)
    assert.matches("api_key_id=k1 api_key_secret_id=s1", out, 1, true)
    out, _, code = run("--json get " .. quote(id))
    assert.are.equal(0, code)
    local doc = json.decode(out)
    assert.are.equal("k1", doc.api_key_id)
    out = run("--json update-api-key-id " .. quote(id) .. " --api-key-id k1")
    assert.are.same({ connector_id = id, result = "noop" }, json.decode(out))
    assert(client.connector:delete{ connector_id = id, hard = true })
  end)

  it("exits 1 with the API error for a missing connector", function()
    local id = env.unique("cli-missing")
    local _, err, code = run("get " .. quote(id))
    assert.are.equal(1, code)
    assert.matches("404 resource_not_found_exception: connector %[" .. id:gsub("%p", "%%%0") .. "%] not found", err)
    local out
    out, _, code = run("--json get " .. quote(id))
    assert.are.equal(1, code)
    local e = json.decode(out)
    assert.are.equal(404, e.status)
    assert.is_false(e.ok)
  end)

  it("lists connectors, paging through them", function()
    local ids = {}
    for i = 1, 3 do
      ids[i] = env.unique("cli-list")
      assert(client.connector:put{ connector_id = ids[i], index_name = "search-" .. ids[i] })
    end
    local out, _, code = run("list --size 2")
    assert.are.equal(0, code)
    for _, id in ipairs(ids) do assert.matches(id, out, 1, true) end
    out = run("--json list --size 2")
    local seen = 0
    for line in out:gmatch("[^\n]+") do
      local c = json.decode(line)
      for _, id in ipairs(ids) do if c.id == id then seen = seen + 1 end end
    end
    assert.are.equal(3, seen)
    for _, id in ipairs(ids) do client.connector:delete{ connector_id = id, hard = true } end
  end)

  describe("rotate", function()
    if not (env.username and env.username ~= "") then
      pending("needs a secured cluster")
      return
    end
    -- rotation creates API keys: it runs as a user
    local as_user = { ES_API_KEY = "", ES_USERNAME = env.username, ES_PASSWORD = env.password }
    local user_client
    before_each(function() user_client = env.user_client() end)
    after_each(function() user_client:close() end)

    local function native_connector()
      local id = env.unique("cli-rot")
      assert(client.connector:put{ connector_id = id, index_name = "content-" .. id, is_native = true })
      local key = assert(user_client.security:create_api_key{ name = "cli-" .. id })
      local secret = assert(client.connector:secret_post{ value = key.encoded })
      assert(client.connector:update_api_key_id{ connector_id = id, api_key_id = key.id,
        api_key_secret_id = secret.id })
      return id, key
    end

    it("rotates, never printing the key, and reports as JSON", function()
      local id, old = native_connector()
      local out, err, code = run("--json rotate " .. quote(id), as_user)
      assert.are.equal(0, code, err)
      local report = json.decode(out)
      assert.is_true(report.ok)
      assert.are.equal(old.id, report.old_api_key_id)
      local doc = assert(client.connector:get{ connector_id = id })
      assert.are.equal(report.new_api_key_id, doc.api_key_id)
      local encoded = assert(client.connector:secret_get{ id = doc.api_key_secret_id }).value
      assert.is_nil(out:find(encoded, 1, true))
      assert.is_nil(err:find(encoded, 1, true))
    end)

    it("dry-runs, writes self-managed keys only to --key-dir, and fails one line per bad connector", function()
      local native = native_connector()
      local managed = env.unique("cli-self")
      assert(client.connector:put{ connector_id = managed, index_name = "search-" .. managed })
      local out, _, code = run("rotate --dry-run " .. quote(native), as_user)
      assert.are.equal(0, code)
      assert.matches("^would rotate " .. native:gsub("%p", "%%%0"), out)

      local dir = os.tmpname()
      os.remove(dir)
      os.execute("mkdir " .. quote(dir))
      out, _, code = run("rotate " .. quote(managed) .. " no-such-connector-" .. managed .. " --key-dir " .. quote(dir),
        as_user)
      assert.are.equal(1, code) -- one failed, the other went on
      assert.matches("rotated " .. managed:gsub("%p", "%%%0"), out)
      assert.matches("FAILED no%-such%-connector", out)
      local f = assert(io.open(dir .. "/" .. managed .. ".key"))
      local encoded = f:read("*l")
      f:close()
      assert.is_nil(out:find(encoded, 1, true))
      local mode = io.popen("stat -c %a " .. quote(dir .. "/" .. managed .. ".key")):read("*l")
      assert.are.equal("600", mode)
      local probe = client:derive{ api_key = encoded }
      assert(probe.security:authenticate())
      probe:close()
      os.execute("rm -rf " .. quote(dir))
    end)

    it("rotates --all, paging, going on past a failure, one line each", function()
      local emulator = require "spec.support.emulator"
      local own = emulator.start{ auth = true }
      local creds = own.credentials
      local esconnector = require "esconnector"
      local admin = esconnector.new{ hosts = { own.url }, basic_auth = { creds.username, creds.password } }
      local ids = {}
      for i = 1, 3 do
        ids[i] = "all-" .. i
        assert(admin.connector:put{ connector_id = ids[i], index_name = "content-all-" .. i, is_native = true })
      end
      assert(admin.connector:put{ connector_id = "no-index" }) -- cannot get default role descriptors
      local vars = { ES_URL = own.url, ES_API_KEY = "", ES_USERNAME = creds.username, ES_PASSWORD = creds.password }
      local out, _, code = run("rotate --all --page-size 2", vars)
      assert.are.equal(1, code)
      for _, id in ipairs(ids) do assert.matches("rotated " .. id:gsub("%p", "%%%0") .. ":", out) end
      assert.matches("FAILED no%-index:", out)
      local lines = 0
      for _ in out:gmatch("[^\n]+") do lines = lines + 1 end
      assert.are.equal(4, lines)
      for _, id in ipairs(ids) do
        assert.is_string(assert(admin.connector:get{ connector_id = id }).api_key_id)
      end
      admin:close()
      own.stop()
    end)
  end)
end)
