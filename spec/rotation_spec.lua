-- client:rotate_api_key, client:reconcile and client:retire over real HTTP.
-- After every fault (a clean failure, an answer lost after the request was
-- applied, a request applied after the client gave up, the process killed
-- between two steps, a retire that fails after delivery) three things must
-- hold:
--   1 the connector's key authenticates as its api_key_id (a native one
--     through its secret's value);
--   2 the key a self-managed service holds works;
--   3 every valid key with the connector's metadata is the one it uses, or
--     is named in the report or the error.
local env = require "spec.support.env"
local emulator = require "spec.support.emulator"
local json = require "esconnector.json"
local core = require "esconnector.core"

local secured = env.username ~= nil and env.username ~= ""

describe("client:rotate_api_key", function()
  if not secured then
    pending("needs a secured cluster (ES_USERNAME / ES_PASSWORD)")
    return
  end

  local client, admin

  before_each(function()
    client = env.user_client{ max_retries = 0 }
    admin = env.user_client{ max_retries = 0 } -- for checks, never faulted on purpose
  end)
  after_each(function()
    if emulator.available() then emulator.clear_faults() end
    client:close()
    admin:close()
  end)

  -- Is this encoded key accepted now?  The status of security.authenticate
  -- (200 when it works) and the answer.
  local function status_of(encoded)
    local probe = admin:derive{ api_key = encoded }
    local res, err = probe.security:authenticate()
    probe:close()
    return res and 200 or err.status, res
  end

  -- A connector pointing at a fresh key (tagged with the connector, as a
  -- rotation's key would be); returns id, key record, secret id, index.
  local function connector_with_key(native)
    local id = env.unique("rot")
    local index = (native and "content-" or "search-") .. id
    assert(admin.connector:put{ connector_id = id, index_name = index, is_native = native })
    local key = assert(admin.security:create_api_key{ name = "initial-" .. id, metadata = { connector_id = id } })
    local secret_id
    if native then
      secret_id = assert(admin.connector:secret_post{ value = key.encoded }).id
    end
    assert(admin.connector:update_api_key_id{ connector_id = id, api_key_id = key.id,
      api_key_secret_id = secret_id })
    return id, key, secret_id, index
  end

  -- The three invariants.  ctx: known = { [key id] = encoded } (what this
  -- spec saw), service = the encoded key a self-managed service holds,
  -- named = the text of the report / error / reconcile report.
  local function assert_invariants(id, ctx)
    local doc = assert(admin.connector:get{ connector_id = id })
    -- 1
    if doc.is_native then
      local secret = assert(admin.connector:secret_get{ id = doc.api_key_secret_id })
      local status, who = status_of(secret.value)
      assert.are.equal(200, status, "the native connector's secret holds no working key")
      assert.are.equal(doc.api_key_id, who.api_key.id)
    else
      local encoded = ctx.known[doc.api_key_id]
      if encoded then
        local status, who = status_of(encoded)
        assert.are.equal(200, status, "the connector's key does not work")
        assert.are.equal(doc.api_key_id, who.api_key.id)
      else -- its value died with a killed process: the key must still be valid
        local k = assert(admin.security:get_api_key{ id = doc.api_key_id }).api_keys[1]
        assert.is_false(k.invalidated, "the connector's key was invalidated")
      end
    end
    -- 2
    if ctx.service then
      assert.are.equal(200, (status_of(ctx.service)), "the key the service holds does not work")
    end
    -- 3
    local res = assert(admin.security:query_api_keys{ query = { term = { ["metadata.connector_id"] = id } },
      size = 1000 })
    for _, k in ipairs(res.api_keys) do
      if not k.invalidated and k.id ~= doc.api_key_id then
        local rotation_id = type(k.metadata) == "table" and k.metadata.rotation_id
        local named = ctx.named:find(k.id, 1, true) or (rotation_id and ctx.named:find(rotation_id, 1, true))
        assert(named, ("the valid key [%s] (rotation %s) is neither used by the connector nor named in: %s"):format(
          k.id, tostring(rotation_id), ctx.named))
      end
    end
    return doc
  end

  local function named_text(report, err)
    local t = report or err or {}
    return json.encode{ leftovers = t.leftovers, retiring = t.retiring, found = t.found,
      message = err and err.message or nil, rotation_id = t.rotation_id }
  end

  it("rotates a self-managed connector: the new key works, the old one answers 401", function()
    local id, old = connector_with_key(false)
    local delivered
    local report, err = client:rotate_api_key{ connector_id = id,
      on_key = function(encoded) delivered = encoded; return true end }
    assert.is_nil(err)
    assert.is_true(report.committed)
    assert.are.equal(old.id, report.old_api_key_id)
    assert.are_not.equal(old.id, report.new_api_key_id)
    assert.are.same({ old.id }, report.invalidated)
    assert.are.same({}, report.leftovers)
    assert.is_true(report.verified)
    assert.are.equal(report.new_api_key_id, assert(client.connector:get{ connector_id = id }).api_key_id)
    assert.are.equal(200, (status_of(delivered)))
    assert.are.equal(401, (status_of(old.encoded)))
    -- the report never holds the key
    assert.is_nil(json.encode(report):find(delivered, 1, true))
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
    assert.are.same({ old_secret }, report.deleted_secrets)
    local _, err = client.connector:secret_get{ id = old_secret }
    assert.are.equal(404, err.status)
  end)

  it("gives the new key Kibana's role descriptors and tags it: connector, rotation, secret, plan", function()
    local id, old, old_secret, index = connector_with_key(true)
    local report = assert(client:rotate_api_key{ connector_id = id })
    local keys = assert(client.security:get_api_key{ id = report.new_api_key_id }).api_keys
    assert.are.equal(index .. "-connector", keys[1].name)
    local meta = keys[1].metadata
    assert.are.equal(id, meta.connector_id)
    assert.are.equal(report.rotation_id, meta.rotation_id)
    assert.matches("^%x+$", meta.rotation_id)
    assert.are.equal(report.new_api_key_secret_id, meta.secret_id)
    assert.are.equal(old.id, meta.retires[1].api_key_id)
    assert.are.equal(old_secret, meta.retires[1].secret_id)
    local role = keys[1].role_descriptors[index .. "-connector-role"]
    assert.are.same({ "monitor", "manage_connector" }, role.cluster)
    assert.are.same({ index, ".search-acl-filter-" .. index, ".elastic-connectors*" }, role.indices[1].names)
  end)

  it("only reads on a dry run, and says what the real run would refuse", function()
    local id, old = connector_with_key(true)
    local report = assert(client:rotate_api_key{ connector_id = id, dry_run = true })
    assert.is_true(report.dry_run)
    assert.is_false(report.would_fail)
    local plan = table.concat(report.would, "\n")
    assert.matches("invalidate the old API key %[" .. old.id:gsub("%p", "%%%0") .. "%]", plan)
    assert.are.equal(old.id, assert(client.connector:get{ connector_id = id }).api_key_id)
    assert.are.equal(200, (status_of(old.encoded)))

    local managed = connector_with_key(false)
    report = assert(client:rotate_api_key{ connector_id = managed, dry_run = true })
    assert.is_true(report.would_fail)
    assert.matches("self%-managed", report.refusals[1])

    -- an API key cannot create keys with privileges: the dry run says so
    local probe = admin:derive{ api_key = old.encoded }
    report = assert(probe:rotate_api_key{ connector_id = id, dry_run = true, check_leftovers = false })
    probe:close()
    assert.is_true(report.would_fail)
    assert.matches("API key", table.concat(report.refusals, "\n"))
  end)

  it("refuses a self-managed connector without on_key, changing nothing", function()
    local id, old = connector_with_key(false)
    local _, err = client:rotate_api_key{ connector_id = id }
    assert.are.equal("read", err.step)
    assert.matches("on_key", err.message)
    assert.are.equal(old.id, assert(client.connector:get{ connector_id = id }).api_key_id)
  end)

  describe("retire_after", function()
    it("keeps the old key valid until retire, which never touches a key in use", function()
      local id, old = connector_with_key(false)
      local known, service = { [old.id] = old.encoded }, old.encoded
      local report = assert(client:rotate_api_key{ connector_id = id, retire_after = 3600,
        on_key = function(encoded, info) known[info.api_key_id], service = encoded, encoded; return true end })
      assert.are.equal(old.id, report.retiring.api_key_id)
      assert.are.same({}, report.invalidated)
      assert.are.equal(200, (status_of(old.encoded)))
      -- not yet
      local r = assert(client:retire{ connector_ids = { id } })
      assert.are.same({}, r.retired)
      assert.are.equal(old.id, r.pending[1].api_key_id)
      assert.are.equal(200, (status_of(old.encoded)))
      -- an hour later
      r = assert(client:retire{ connector_ids = { id }, now = os.time() + 3601 })
      assert.are.equal(old.id, r.retired[1].api_key_id)
      assert.are.equal(401, (status_of(old.encoded)))
      assert.are.equal(200, (status_of(service)))
      -- done once: a second run finds nothing to do
      r = assert(client:retire{ connector_ids = { id }, now = os.time() + 3601 })
      assert.are.same({}, r.retired)
      assert_invariants(id, { known = known, service = service, named = "" })
    end)

    it("retires the old key at once when on_key confirms the service reloaded", function()
      local id, old = connector_with_key(false)
      local report = assert(client:rotate_api_key{ connector_id = id, retire_after = 3600,
        on_key = function() return "reloaded" end })
      assert.is_nil(report.retiring)
      assert.are.same({ old.id }, report.invalidated)
      assert.are.equal(401, (status_of(old.encoded)))
    end)

    it("never retires a key another connector uses", function()
      local id, old = connector_with_key(false)
      local other = env.unique("rot-other")
      assert(admin.connector:put{ connector_id = other, index_name = "search-" .. other })
      assert(admin.connector:update_api_key_id{ connector_id = other, api_key_id = old.id })
      assert(client:rotate_api_key{ connector_id = id, retire_after = 60, on_key = function() return true end })
      local r = assert(client:retire{ connector_ids = { id }, now = os.time() + 61 })
      assert.are.same({}, r.retired)
      assert.are.equal(old.id, r.in_use[1].api_key_id)
      assert.are.equal(200, (status_of(old.encoded)))
    end)
  end)

  describe("reconcile", function()
    it("finds keys and secrets made for a connector that it does not use; --apply removes old ones", function()
      local id, old, _, index = connector_with_key(true)
      -- what a rotation killed after its secret would leave
      local orphan = assert(admin.security:create_api_key{ name = index .. "-connector",
        metadata = { connector_id = id, rotation_id = "r1", secret_id = "orphan-secret-" .. id } })
      assert(admin.connector:secret_put{ id = "orphan-secret-" .. id, value = orphan.encoded })
      local r = assert(client:reconcile{ connector_ids = { id } })
      local c = r.connectors[1]
      assert.are.equal(orphan.id, c.keys[1].id)
      assert.are.equal("recent", c.keys[1].status) -- within the grace period
      assert.are.equal("orphan-secret-" .. id, c.secrets[1].id)
      assert.are.equal(200, (status_of(orphan.encoded)))
      r = assert(client:reconcile{ connector_ids = { id }, apply = true, grace_seconds = 0 })
      c = r.connectors[1]
      assert.are.equal("invalidated", c.keys[1].status)
      assert.are.equal("deleted", c.secrets[1].status)
      assert.are.equal(401, (status_of(orphan.encoded)))
      local _, err = admin.connector:secret_get{ id = "orphan-secret-" .. id }
      assert.are.equal(404, err.status)
      -- the connector's own key and secret are untouched
      assert_invariants(id, { known = { [old.id] = old.encoded }, named = "" })
      -- and a rotation reports what it finds first
      local orphan2 = assert(admin.security:create_api_key{ name = "x", metadata = { connector_id = id } })
      local report = assert(client:rotate_api_key{ connector_id = id })
      assert.are.equal(orphan2.id, report.found.keys[1].id)
    end)
  end)

  describe("under faults #timing", function()
    if not emulator.available() then
      pending("needs the emulator's fault injection")
      return
    end

    local TIMEOUT_MS, DELAY_MS = 300, 550

    -- The requests of each step: method, path pattern, how many requests
    -- the forward step sends (a clean failure must hit them all).
    local STEP_REQUESTS = {
      read = { "GET", "^/_connector/rot%-[^/]*$", 1 },
      create = { "PUT", "^/_security/api_key$", 1 },
      secret = { "PUT", "^/_connector/_secret/esconnector%-", 1 },
      verify = { "GET", "^/_security/_authenticate$", 1 },
      update = { "PUT", "/_api_key_id$", 2 }, -- sent once more when it did not happen
      retire = { "DELETE", "^/_security/api_key$", 1 },
      retire_secret = { "DELETE", "^/_connector/_secret/", 1 },
    }
    -- The fault classes.
    local CLASSES = {
      clean = function(count) return { fault = "status", status = 500, count = count } end,
      answer_lost = function() return { fault = "drop_answer", count = 1 } end,
      answer_late = function() return { fault = "delay_answer", ms = DELAY_MS, count = 1 } end,
      applied_late = function() return { fault = "delay", ms = DELAY_MS, count = 1 } end,
    }
    local CLASS_ORDER = { "clean", "answer_lost", "answer_late", "applied_late" }

    local function run_case(step, class, native)
      local id, old = connector_with_key(native)
      local known, service = { [old.id] = old.encoded }, (not native) and old.encoded or nil
      local req = STEP_REQUESTS[step]
      if req then
        local f = CLASSES[class](req[3])
        f.method, f.path = req[1], req[2]
        emulator.fault(f)
      end
      local rotating = env.user_client{ max_retries = 0, request_timeout_ms = TIMEOUT_MS }
      local report, err = rotating:rotate_api_key{ connector_id = id,
        on_key = (not native) and function(encoded, info)
          known[info.api_key_id] = encoded
          if step == "deliver" then return false, "refused by the spec" end
          service = encoded
          return true
        end or nil }
      rotating:close()
      if class ~= "clean" and class ~= "answer_lost" then core.sleep_ms(DELAY_MS + 250) end -- late ones land
      emulator.clear_faults()
      assert.is_true(report ~= nil or err ~= nil)
      local doc = assert_invariants(id, { known = known, service = service, named = named_text(report, err) })
      return report, err, doc, old, id
    end

    local PRE_COMMIT = { "read", "create", "secret", "verify", "update", "deliver" }
    for _, native in ipairs({ true, false }) do
      local kind = native and "native" or "self-managed"
      for _, step in ipairs(PRE_COMMIT) do
        if not (native and step == "deliver") and not (not native and step == "secret") then
          for _, class in ipairs(CLASS_ORDER) do
            if class == "clean" or STEP_REQUESTS[step] then
              it(("keeps its promise: %s, %s fails (%s)"):format(kind, step, class), function()
                local report, err, doc, old = run_case(step, class, native)
                if class == "clean" then
                  -- a clean failure undoes everything and leaves nothing
                  assert.is_table(err, "the rotation did not fail")
                  assert.are.equal(step, err.step)
                  assert.are.same({}, err.leftovers)
                  assert.are.equal(old.id, doc.api_key_id)
                  assert.matches("step '" .. step .. "'", err.message)
                elseif report then
                  assert.is_true(report.committed)
                  assert.are.equal(report.new_api_key_id, doc.api_key_id)
                end
              end)
            end
          end
        end
      end
      -- after the commit point: the old key or secret cannot be retired
      local retire_steps = native and { "retire", "retire_secret" } or { "retire" }
      for _, step in ipairs(retire_steps) do
        for _, class in ipairs(CLASS_ORDER) do
          it(("keeps its promise after the commit point: %s, %s fails (%s)"):format(kind, step, class), function()
            local report, err, doc, old, id = run_case(step, class, native)
            assert.is_nil(err)
            assert.is_true(report.committed)
            assert.are.equal(report.new_api_key_id, doc.api_key_id)
            if class == "clean" then
              -- reported with the call that finishes the job; retire does it
              assert.are.equal(1, #report.leftovers)
              local l = report.leftovers[1]
              assert.are.equal(step == "retire" and old.id or report.old_api_key_secret_id, l.id)
              assert.matches("^DELETE ", l.call)
              assert.matches("esconnector retire", l.reason)
              local r = assert(admin:retire{ connector_ids = { id } })
              assert.are.same({}, r.leftovers)
              assert.are.equal(401, (status_of(old.encoded)))
            end
          end)
        end
      end
    end

    -- failing undo steps (verify fails, then the undo fails): what could
    -- not be undone is named, and is all that is left
    local undo_cases = {
      { "invalidating the new key", "DELETE", "^/_security/api_key$", "is still valid", 1 },
      { "deleting the new secret", "DELETE", "^/_connector/_secret/", "still exists", 0 },
    }
    for _, case in ipairs(undo_cases) do
      local what, method, path, words, keys_left = case[1], case[2], case[3], case[4], case[5]
      it("names what is left when " .. what .. " fails", function()
        local id, old, _, index = connector_with_key(true)
        emulator.fault{ fault = "status", status = 500, method = "GET", path = "^/_security/_authenticate$" }
        emulator.fault{ fault = "status", status = 500, method = method, path = path, count = 0 }
        local _, err = client:rotate_api_key{ connector_id = id }
        emulator.clear_faults()
        assert.are.equal("verify", err.step)
        local text = named_text(nil, err)
        assert.are.equal(1, #err.leftovers)
        assert.matches(words, text)
        assert_invariants(id, { known = { [old.id] = old.encoded }, named = text })
        local active = assert(admin.security:get_api_key{ name = index .. "-connector", active_only = true })
        assert.are.equal(keys_left, #active.api_keys)
      end)
    end

    it("keeps both keys when pointing the connector back fails after delivery was refused", function()
      local id, old = connector_with_key(false)
      local known = { [old.id] = old.encoded }
      -- the switch goes through; the way back fails
      emulator.fault{ fault = "status", status = 500, method = "PUT", path = "/_api_key_id$", after = 1, count = 0 }
      local _, err = client:rotate_api_key{ connector_id = id,
        on_key = function(encoded, info) known[info.api_key_id] = encoded; return false end }
      emulator.clear_faults()
      assert.are.equal("deliver", err.step)
      assert.matches("may still point", named_text(nil, err))
      assert_invariants(id, { known = known, service = old.encoded, named = named_text(nil, err) })
    end)

    it("does not race a lost switch: a late one finds its key and secret still there", function()
      local id, old = connector_with_key(true)
      -- the switch lands late, after the client gave up and sent it again
      -- (also lost): the rotation fails, and must keep the new key
      emulator.fault{ fault = "delay", ms = 1500, method = "PUT", path = "/_api_key_id$", count = 2 }
      local rotating = env.user_client{ max_retries = 0, request_timeout_ms = TIMEOUT_MS }
      local report, err = rotating:rotate_api_key{ connector_id = id }
      rotating:close()
      core.sleep_ms(1800)
      emulator.clear_faults()
      assert.is_nil(report)
      assert.are.equal("update", err.step)
      local doc = assert_invariants(id, { known = { [old.id] = old.encoded }, named = named_text(nil, err) })
      -- the late switch landed: the connector uses the kept key
      assert.are.equal(err.new_api_key_id, doc.api_key_id)
    end)

    it("keeps the old key of a self-managed connector when the delivery cannot be recorded", function()
      local id, old = connector_with_key(false)
      local known, service = { [old.id] = old.encoded }, old.encoded
      emulator.fault{ fault = "status", status = 500, method = "PUT", path = "^/_security/api_key/[^/]+$" }
      local report = assert(client:rotate_api_key{ connector_id = id, retire_after = 60,
        on_key = function(encoded, info) known[info.api_key_id], service = encoded, encoded; return true end })
      emulator.clear_faults()
      assert.is_true(report.delivery_unrecorded)
      assert.are.equal(old.id, report.leftovers[1].id)
      -- retire does not act on a plan whose delivery was never recorded
      local r = assert(client:retire{ connector_ids = { id }, now = os.time() + 61 })
      assert.are.same({}, r.retired)
      assert.is_true(r.pending[1].awaiting_delivery)
      assert.are.equal(200, (status_of(old.encoded)))
      assert_invariants(id, { known = known, service = service, named = named_text(report) })
    end)

    it("never points a connector back at an old key that was invalidated meanwhile", function()
      local id, old = connector_with_key(false)
      local known = { [old.id] = old.encoded }
      local _, err = client:rotate_api_key{ connector_id = id, on_key = function(encoded, info)
        known[info.api_key_id] = encoded
        assert(admin.security:invalidate_api_key{ ids = { old.id } }) -- someone else, meanwhile
        return false
      end }
      assert.are.equal("deliver", err.step)
      local doc = assert_invariants(id, { known = known, named = named_text(nil, err) })
      assert.are.equal(err.new_api_key_id, doc.api_key_id)
      assert.matches("is no longer valid", named_text(nil, err))
    end)

    it("does not leave a key made by a lost create unreported", function()
      local id, old = connector_with_key(true)
      emulator.fault{ fault = "drop_answer", method = "PUT", path = "^/_security/api_key$", count = 1 }
      local _, err = client:rotate_api_key{ connector_id = id }
      emulator.clear_faults()
      assert.are.equal("create", err.step)
      -- found by its rotation_id and invalidated
      assert.matches("made by the lost create", table.concat(err.undone, "\n"))
      assert_invariants(id, { known = { [old.id] = old.encoded }, named = named_text(nil, err) })
    end)
  end)

  describe("killed between steps, then reconcile #subprocess", function()
    if not emulator.available() then
      pending("needs the emulator")
      return
    end
    local interpreter = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
    local cpath = "./build/" .. (interpreter == "luajit" and "jit" or _VERSION:match("%d+%.%d+")) .. "/?.so;;"

    local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

    -- Runs the child until it kills itself at kill_at; returns its exit code.
    local function rotate_and_die(id, kill_at, service_file)
      local cmd = ("env -u LD_PRELOAD LUA_PATH=%s LUA_CPATH=%s ES_URL=%s ES_USERNAME=%s ES_PASSWORD=%s CONNECTOR=%s "
        .. "KILL_AT=%s SERVICE_FILE=%s %s spec/support/rotate_child.lua 2>&1; echo \"exit=$?\""):format(
        quote("./lua/?.lua;./lua/?/init.lua;./?.lua;;"), quote(cpath), quote(env.url), quote(env.username),
        quote(env.password), quote(id), quote(kill_at), quote(service_file), interpreter)
      local pipe = assert(io.popen(cmd))
      local out = pipe:read("*a")
      pipe:close()
      return tonumber(out:match("exit=(%d+)")), out
    end

    local function read_file(path)
      local f = io.open(path)
      if not f then return nil end
      local text = f:read("*a")
      f:close()
      return text ~= "" and text or nil
    end

    local KILL_POINTS = {
      { "connector.get", true, true }, -- after read
      { "security.create_api_key", true, true },
      { "connector.secret_put", true, false },
      { "security.authenticate", true, true },
      { "connector.update_api_key_id", true, true },
      { "deliver", false, true },
      { "security.invalidate_api_key", true, true }, -- mid-retire
    }
    for _, point in ipairs(KILL_POINTS) do
      for _, native in ipairs({ true, false }) do
        if (native and point[2]) or (not native and point[3]) then
          local kill_at = point[1]
          it(("keeps its promise when killed after %s (%s)"):format(kill_at,
            native and "native" or "self-managed"), function()
            local id, old = connector_with_key(native)
            local service_file = os.tmpname()
            local code, out = rotate_and_die(id, kill_at, service_file)
            assert.are.equal(137, code, out)
            local delivered = read_file(service_file)
            os.remove(service_file)
            local known = { [old.id] = old.encoded }
            if delivered then
              known[core.base64_decode(delivered):match("^([^:]+)")] = delivered
            end
            local service = (not native) and (delivered or old.encoded) or nil
            -- what the next run (or cron) does: reconcile, then retire
            local rec = assert(client:reconcile{ connector_ids = { id }, apply = true, grace_seconds = 0 })
            local ret = assert(client:retire{ connector_ids = { id } })
            assert.are.equal(0, rec.failed)
            assert.are.same({}, ret.leftovers)
            local named = json.encode{ rec, ret }
            assert_invariants(id, { known = known, service = service, named = named })
            -- and a new rotation from there completes
            local report = assert(client:rotate_api_key{ connector_id = id,
              on_key = (not native) and function(encoded, info)
                known[info.api_key_id], service = encoded, encoded
                return true
              end or nil })
            assert.are.same({}, report.leftovers)
            assert_invariants(id, { known = known, service = service, named = named_text(report) })
          end)
        end
      end
    end
  end)
end)
