-- bin/esconnector, run as a user would: a subprocess, over real HTTP.
local env = require "spec.support.env"
local json = require "esconnector.json"

local cli_run = require "spec.support.cli_run"
local quote, run = cli_run.quote, cli_run.run

local function lines_of(text)
  local lines = {}
  for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
  return lines
end

describe("bin/esconnector #subprocess", function()
  local client
  before_each(function() client = env.client() end)
  after_each(function() client:close() end)

  it("prints usage and exits 2 for bad arguments", function()
    for _, args in ipairs({ "", "bogus", "get", "update-api-key-id c", "rotate", "rotate a --all",
                            "list --size x", "list --size 0", "list --size -3", "rotate --all --page-size 0",
                            "rotate a --retire-after soon", "reconcile", "reconcile a --grace x", "retire",
                            "retire a --all", "rotate a --concurrency 0", "rotate --all --concurrency 1.5",
                            "rotate a --concurrency x", "update-api-key-id --from - --concurrency 2.5" }) do
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

  describe("update-api-key-id --from", function()
    local emulator = require "spec.support.emulator"
    after_each(function() if emulator.available() then emulator.clear_faults() end end)

    it("answers every input line, in order, bad lines with their own error, then a summary", function()
      local ids = {}
      for i = 1, 5 do
        ids[i] = env.unique("cli-from")
        assert(client.connector:put{ connector_id = ids[i], name = "from" })
      end
      if emulator.available() then -- the first call answers last
        emulator.fault{ fault = "delay", ms = 600, path = "/" .. ids[1]:gsub("%p", "%%%0") .. "/_api_key_id$" }
      end
      local input = table.concat({
        json.encode{ connector_id = ids[1], api_key_id = "k1" },
        "not json",
        json.encode{ connector_id = ids[2], api_key_id = "k2", api_key_secret_id = "s2" },
        "",
        json.encode{ connector_id = ids[3] },
        json.encode{ connector_id = "missing-" .. ids[3], api_key_id = "k" },
        json.encode{ connector_id = ids[4], api_key_id = "k4", extra = 1 },
        "[1, 2]",
        json.encode{ connector_id = ids[5], api_key_secret_id = "s5" },
      }, "\n") .. "\n"
      local file = os.tmpname()
      local f = assert(io.open(file, "wb"))
      f:write(input)
      f:close()
      local out, err, code = run("update-api-key-id --from " .. quote(file) .. " --concurrency 4")
      os.remove(file)
      assert.are.equal(1, code, err)
      local lines = lines_of(out)
      assert.are.equal(10, #lines, out)
      assert.are.equal(("line 1: %s: updated"):format(ids[1]), lines[1])
      assert.are.equal("line 2: FAILED -: not a JSON object", lines[2])
      assert.are.equal(("line 3: %s: updated"):format(ids[2]), lines[3])
      assert.are.equal("line 4: FAILED -: an empty line", lines[4])
      assert.are.equal(("line 5: FAILED %s: neither api_key_id nor api_key_secret_id"):format(ids[3]), lines[5])
      assert.matches(("^line 6: FAILED missing%%-%s: .*404"):format(ids[3]:gsub("%p", "%%%0")), lines[6])
      assert.matches("^line 7: FAILED " .. ids[4]:gsub("%p", "%%%0") .. ": unknown field 'extra'", lines[7])
      assert.are.equal("line 8: FAILED -: not a JSON object", lines[8])
      assert.are.equal(("line 9: %s: updated"):format(ids[5]), lines[9])
      assert.are.equal("9 lines: 3 updated, 6 failed", lines[10])
      local doc = assert(client.connector:get{ connector_id = ids[2] })
      assert.are.equal("k2", doc.api_key_id)
      assert.are.equal("s2", doc.api_key_secret_id)
      assert.are.equal("s5", assert(client.connector:get{ connector_id = ids[5] }).api_key_secret_id)
      for _, id in ipairs(ids) do client.connector:delete{ connector_id = id, hard = true } end
    end)

    it("reads stdin with -, answers as JSON lines, and exits 0 when all succeed", function()
      local ids, input = {}, {}
      for i = 1, 30 do
        ids[i] = env.unique("cli-stdin")
        assert(client.connector:put{ connector_id = ids[i], name = "stdin" })
        input[i] = json.encode{ connector_id = ids[i], api_key_id = "key-" .. i }
      end
      local out, err, code = run("--json update-api-key-id --from - --concurrency 8", nil,
        table.concat(input, "\r\n"))
      assert.are.equal(0, code, err)
      local lines = lines_of(out)
      assert.are.equal(31, #lines)
      for i = 1, 30 do
        assert.are.same({ line = i, ok = true, connector_id = ids[i], result = "updated" }, json.decode(lines[i]))
        assert.are.equal("key-" .. i, assert(client.connector:get{ connector_id = ids[i] }).api_key_id)
      end
      assert.are.same({ summary = { lines = 30, ok = 30, failed = 0 } }, json.decode(lines[31]))
      for _, id in ipairs(ids) do client.connector:delete{ connector_id = id, hard = true } end
    end)

    it("refuses --from with a connector id, a bad --concurrency and an unreadable file", function()
      for _, args in ipairs{ "update-api-key-id c --from -", "update-api-key-id --from - --api-key-id k",
                             "update-api-key-id --from - --concurrency 0",
                             "update-api-key-id --from /nonexistent/x" } do
        local _, err, code = run(args, nil, "")
        assert.are.equal(2, code, args)
        assert.matches("esconnector: ", err)
      end
    end)
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
      local first, second = out:match("^([^\n]*)\n([^\n]*)\n$")
      local report = json.decode(first)
      assert.is_true(report.ok)
      assert.are.same({ summary = true, rotated = 1, failed = 0, leftovers = 0 }, json.decode(second))
      assert.are.equal(old.id, report.old_api_key_id)
      local doc = assert(client.connector:get{ connector_id = id })
      assert.are.equal(report.new_api_key_id, doc.api_key_id)
      local encoded = assert(client.connector:secret_get{ id = doc.api_key_secret_id }).value
      assert.is_nil(out:find(encoded, 1, true))
      assert.is_nil(err:find(encoded, 1, true))
    end)

    it("counts an orphan it finds before rotating as a leftover: JSON ok = false, FOUND, exit code 1", function()
      local emulator = require "spec.support.emulator"
      if not emulator.available() then
        pending("needs the emulator's clock: an orphan is older than the 1 h grace period")
        return
      end
      local id = native_connector()
      -- what a rotation killed two hours ago left: a key made for the connector
      emulator.clock(-2 * 3600 * 1000)
      local made, orphan = pcall(user_client.security.create_api_key, user_client.security,
        { name = "orphan-" .. id, metadata = { connector_id = id, rotation_id = "cli-crashed" } })
      emulator.clock(0)
      assert(made and orphan, tostring(orphan))
      local out, err, code = run("--json rotate " .. quote(id), as_user)
      assert.are.equal(1, code, err)
      local first, second = out:match("^([^\n]*)\n([^\n]*)\n$")
      local report = json.decode(first)
      assert.is_false(report.ok)
      assert.are.equal(orphan.id, report.found.keys[1].id)
      assert.are.equal("orphan", report.found.keys[1].status)
      assert.are.same({ summary = true, rotated = 1, failed = 0, leftovers = 1 }, json.decode(second))
      assert.are.equal(report.new_api_key_id, assert(client.connector:get{ connector_id = id }).api_key_id)
      -- rotate only reports it; the text names it and the command that clears it
      out, err, code = run("rotate " .. quote(id), as_user)
      assert.are.equal(1, code, err)
      assert.matches("FOUND " .. id:gsub("%p", "%%%0") .. ": API key %[" .. orphan.id:gsub("%p", "%%%0")
        .. "%] orphan.*esconnector reconcile %-%-apply", out)
      assert.matches("\nrotated 1, failed 0, leftovers 1\n$", out)
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
      assert.matches("\nrotated 1, failed 1, leftovers 0\n$", out)
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
      local out, err, code = run("rotate --all --page-size 2", vars)
      assert.are.equal(1, code)
      for _, id in ipairs(ids) do assert.matches("rotated " .. id:gsub("%p", "%%%0") .. ":", out) end
      assert.matches("FAILED no%-index:", out)
      local lines = 0
      for _ in out:gmatch("[^\n]+") do lines = lines + 1 end
      assert.are.equal(5, lines) -- one per connector, and the closing line
      assert.matches("\nrotated 3, failed 1, leftovers 0\n$", out)
      assert.matches("rotating no%-index %(%d/4%)", err) -- progress goes to stderr
      for _, id in ipairs(ids) do
        assert.is_string(assert(admin.connector:get{ connector_id = id }).api_key_id)
      end
      admin:close()
      own.stop()
    end)

    it("runs examples/rotate_cron.sh as a user, then its retire", function()
      local emulator = require "spec.support.emulator"
      local own = emulator.start{ auth = true }
      local creds = own.credentials
      local esconnector = require "esconnector"
      local admin = esconnector.new{ hosts = { own.url }, basic_auth = { creds.username, creds.password } }
      assert(admin.connector:put{ connector_id = "cron-native", index_name = "content-cron", is_native = true })
      assert(admin.connector:put{ connector_id = "cron-self", index_name = "search-cron" })
      local old = assert(admin.security:create_api_key{ name = "cron-old" })
      assert(admin.connector:update_api_key_id{ connector_id = "cron-self", api_key_id = old.id })
      local work = os.tmpname()
      os.remove(work)
      os.execute("mkdir " .. quote(work))
      -- `esconnector` on PATH: this checkout, on this Lua
      local wrapper = assert(io.open(work .. "/esconnector", "w"))
      wrapper:write(("#!/bin/sh\nexec env LUA_PATH=%s LUA_CPATH=%s %s %s \"$@\"\n"):format(
        quote(os.getenv("PWD") .. "/lua/?.lua;" .. os.getenv("PWD") .. "/lua/?/init.lua;;"),
        quote(os.getenv("PWD") .. "/build/" .. (cli_run.interpreter == "luajit" and "jit" or _VERSION:match("%d+%.%d+"))
          .. "/?.so;;"), cli_run.interpreter, quote(os.getenv("PWD") .. "/bin/esconnector")))
      wrapper:close()
      local password = assert(io.open(work .. "/password", "w"))
      password:write(creds.password)
      password:close()
      local function cron(what)
        local pipe = assert(io.popen(("env -u LD_PRELOAD PATH=%s:$PATH ES_URL=%s ES_USERNAME=%s ES_PASSWORD_FILE=%s "
          .. "ES_API_KEY=ignored KEY_DIR=%s sh examples/rotate_cron.sh %s 2>&1; echo \"exit=$?\""):format(
          quote(work), quote(own.url), quote(creds.username), quote(work .. "/password"), quote(work .. "/keys"),
          what)))
        local out = pipe:read("*a")
        pipe:close()
        return out, tonumber(out:match("exit=(%d+)"))
      end
      os.execute("chmod +x " .. quote(work .. "/esconnector"))
      local out, code = cron("rotate")
      assert.are.equal(0, code, out)
      assert.matches("rotated cron%-native", out)
      assert.matches("rotated cron%-self: .*old key retires at", out)
      assert.matches("rotated 2, failed 0, leftovers 0", out)
      local f = assert(io.open(work .. "/keys/cron-self.key"))
      local probe = admin:derive{ api_key = f:read("*l") }
      f:close()
      assert(probe.security:authenticate())
      probe:close()
      out, code = cron("retire")
      assert.are.equal(0, code, out)
      assert.matches("PENDING cron%-self", out)
      admin:close()
      own.stop()
      os.execute("rm -rf " .. quote(work))
    end)

    local emulator = require "spec.support.emulator"
    local function creates_since(since)
      local n = 0
      local log = emulator.requests()
      for i = since + 1, #log do
        if log[i].method == "PUT" and log[i].path == "/_security/api_key" then n = n + 1 end
      end
      return n
    end

    it("stops before making any key when the credentials are an API key or --key-dir is unusable", function()
      if not emulator.available() then return pending("needs the emulator's request log") end
      local id = native_connector()
      local since = #emulator.requests()
      local out, err, code = run("rotate --all", { ES_API_KEY = env.api_key })
      assert.are.equal(1, code)
      assert.matches("API key", err)
      assert.are.equal("", out)
      out, err, code = run("rotate --dry-run " .. quote(id), { ES_API_KEY = env.api_key })
      assert.are.equal(1, code)
      assert.matches("would stop", out)
      assert.matches("API key", err)
      local err2, code2
      out, err2, code2 = run("rotate " .. quote(id) .. " --key-dir /nonexistent/keys", as_user)
      assert.are.equal(1, code2)
      assert.matches("%-%-key%-dir /nonexistent/keys", err2)
      assert.are.equal("", out)
      assert.are.equal(0, creates_since(since))
    end)

    it("dry-runs a self-managed connector without --key-dir as the failure the real run would be", function()
      local managed = env.unique("cli-dry")
      assert(client.connector:put{ connector_id = managed, index_name = "search-" .. managed })
      local out, _, code = run("rotate --dry-run " .. quote(managed), as_user)
      assert.are.equal(1, code)
      assert.matches("WOULD FAIL " .. managed:gsub("%p", "%%%0") .. ": .*self%-managed", out)
      assert.matches("would rotate 0, failed 1", out)
    end)

    it("prints what it could not retire and exits 1", function()
      if not emulator.available() then return pending("needs the emulator's fault injection") end
      local id, old = native_connector()
      emulator.fault{ fault = "status", status = 500, method = "DELETE", path = "^/_security/api_key$" }
      local out, _, code = run("rotate " .. quote(id), as_user)
      emulator.clear_faults()
      assert.are.equal(1, code)
      assert.matches("rotated " .. id:gsub("%p", "%%%0"), out)
      assert.matches("LEFTOVER " .. id:gsub("%p", "%%%0") .. ": API key %[" .. old.id:gsub("%p", "%%%0")
        .. "%] is still valid.*DELETE /_security/api_key", out)
      assert.matches("rotated 1, failed 0, leftovers 1\n$", out)
      -- retire finishes the job
      out, _, code = run("retire " .. quote(id), as_user)
      assert.are.equal(0, code, out)
      assert.matches("RETIRED " .. id:gsub("%p", "%%%0") .. ": API key %[" .. old.id:gsub("%p", "%%%0"), out)
    end)

    it("keeps the old key with --retire-after until `retire` is due", function()
      local managed = env.unique("cli-grace")
      assert(client.connector:put{ connector_id = managed, index_name = "search-" .. managed })
      local old = assert(user_client.security:create_api_key{ name = "cli-" .. managed })
      assert(client.connector:update_api_key_id{ connector_id = managed, api_key_id = old.id })
      local dir = os.tmpname()
      os.remove(dir)
      os.execute("mkdir " .. quote(dir))
      local out, _, code = run("rotate " .. quote(managed) .. " --retire-after 1h --key-dir " .. quote(dir), as_user)
      assert.are.equal(0, code, out)
      assert.matches("old key retires at", out)
      out, _, code = run("retire " .. quote(managed), as_user)
      assert.are.equal(0, code)
      assert.matches("PENDING " .. managed:gsub("%p", "%%%0") .. ": API key %[" .. old.id:gsub("%p", "%%%0")
        .. "%] retires at", out)
      local probe = client:derive{ api_key = old.encoded }
      assert(probe.security:authenticate())
      probe:close()
      os.execute("rm -rf " .. quote(dir))
    end)

    it("writes key files without following a symlink, one file per connector id", function()
      local base = env.unique("cli-link")
      local managed = base .. "/x"
      assert(client.connector:put{ connector_id = managed, index_name = "search-" .. base })
      local dir = os.tmpname()
      os.remove(dir)
      os.execute("mkdir " .. quote(dir))
      local target = dir .. "/target"
      local f = assert(io.open(target, "w"))
      f:write("untouched\n")
      f:close()
      local path = dir .. "/" .. managed:gsub("/", "%%2F") .. ".key"
      os.execute("ln -s " .. quote(target) .. " " .. quote(path))
      local out, _, code = run("rotate " .. quote(managed) .. " --key-dir " .. quote(dir), as_user)
      assert.are.equal(0, code, out)
      f = assert(io.open(target))
      assert.are.equal("untouched\n", f:read("*a"))
      f:close()
      f = assert(io.open(path))
      local encoded = f:read("*l")
      f:close()
      local probe = client:derive{ api_key = encoded }
      assert(probe.security:authenticate())
      probe:close()
      assert.are.equal("600", io.popen("stat -c %a " .. quote(path)):read("*l"))
      os.execute("rm -rf " .. quote(dir))
    end)

    it("reconciles: lists keys made for a connector that it does not use, and removes them with --apply", function()
      local id = native_connector()
      local orphan = assert(user_client.security:create_api_key{ name = "orphan-" .. id,
        metadata = { connector_id = id, rotation_id = "cli-r1" } })
      local out, _, code = run("reconcile " .. quote(id), as_user)
      assert.are.equal(0, code, out) -- younger than the grace period: not an orphan yet
      assert.matches("RECENT " .. id:gsub("%p", "%%%0") .. ": API key %[" .. orphan.id:gsub("%p", "%%%0"), out)
      out, _, code = run("reconcile " .. quote(id) .. " --grace 0", as_user)
      assert.are.equal(1, code)
      assert.matches("ORPHAN ", out)
      out, _, code = run("reconcile " .. quote(id) .. " --grace 0 --apply", as_user)
      assert.are.equal(0, code, out)
      assert.matches("INVALIDATED ", out)
      assert.matches("checked 1, orphans 0, cleaned 1, failed 0", out)
      local probe = client:derive{ api_key = orphan.encoded }
      local _, err = probe.security:authenticate()
      probe:close()
      assert.are.equal(401, err.status)
    end)

    it("rotates --all --concurrency N: the same lines, in the same order, several at a time", function()
      local own = emulator.start{ auth = true }
      local creds = own.credentials
      local esconnector = require "esconnector"
      local admin = esconnector.new{ hosts = { own.url }, basic_auth = { creds.username, creds.password } }
      for i = 1, 6 do
        assert(admin.connector:put{ connector_id = "conc-" .. i, index_name = "content-conc-" .. i, is_native = true })
      end
      assert(admin.connector:put{ connector_id = "conc-no-index" })
      local vars = { ES_URL = own.url, ES_API_KEY = "", ES_USERNAME = creds.username, ES_PASSWORD = creds.password }
      -- the per-connector lines (not progress, FOUND or the closing line)
      local function per_connector(text)
        local kept = {}
        for _, line in ipairs(lines_of(text)) do
          local id = line:match("^would rotate ([^:]+):") or line:match("^WOULD FAIL ([^:]+):")
            or line:match("^rotated ([^:]+):") or line:match("^FAILED ([^:]+):")
          if id then kept[#kept + 1] = id end
        end
        return kept
      end
      local sequential = per_connector(run("rotate --all --dry-run", vars))
      -- every request waits 100 ms: 7 rotations of several steps each take
      -- seconds one at a time, and far less 4 at a time
      emulator.fault({ fault = "delay", ms = 100, count = 0 }, own)
      local before = #emulator.requests(own)
      local started = require("esconnector.core").now_ms()
      local out, err, code = run("rotate --all --concurrency 4", vars)
      local took = require("esconnector.core").now_ms() - started
      assert.are.equal(1, code, err)
      assert.are.same(sequential, per_connector(out)) -- the same connectors, in the same order
      assert.are.equal(7, #sequential)
      assert.matches("FAILED conc%-no%-index:", out)
      emulator.clear_faults(own)
      local requests = #emulator.requests(own) - before
      assert.is_true(requests >= 20, "only " .. requests .. " requests")
      assert.is_true(took < requests * 100 / 2,
        ("took %d ms for %d requests of 100 ms"):format(math.floor(took), requests))
      for i = 1, 6 do
        assert.is_string(assert(admin.connector:get{ connector_id = "conc-" .. i }).api_key_id)
      end
      admin:close()
      own.stop()
    end)
  end)
end)
