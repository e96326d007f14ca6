-- The CLI's version, completion, usage errors and connection flags, run as
-- a subprocess against emulators over real HTTP (plain and TLS).
local env = require "spec.support.env"
local emulator = require "spec.support.emulator"
local core = require "esconnector.core"
local cli_run = require "spec.support.cli_run"
local quote, run = cli_run.quote, cli_run.run

local function sh(cmd)
  local pipe = assert(io.popen("env -u LD_PRELOAD " .. cmd .. " 2>&1; echo \"rc=$?\""))
  local out = pipe:read("*a")
  pipe:close()
  return out:match("rc=(%d+)%s*$") == "0", out
end

local function lines(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

describe("esconnector #subprocess", function()
  it("--version prints the core's version", function()
    local out, err, code = run("--version", { ES_URL = "" })
    assert.are.equal(0, code, err)
    assert.are.equal("esconnector " .. core.version .. "\n", out)
  end)

  it("completion prints scripts for bash, zsh and fish; the bash and fish ones complete", function()
    for _, shell in ipairs{ "bash", "zsh", "fish" } do
      local out, err, code = run("completion " .. shell, { ES_URL = "" })
      assert.are.equal(0, code, err)
      assert.matches("esconnector", out)
      assert.matches("update%-api%-key%-id", out)
      assert.matches("cloud%-id", out)
    end
    local script = os.tmpname()
    local function write_script(shell)
      local f = assert(io.open(script, "w"))
      f:write((run("completion " .. shell, { ES_URL = "" })))
      f:close()
    end
    -- what each shell runs to complete a command line, non-interactively
    local complete_line = {
      bash = function(line)
        return ". " .. script .. "; COMP_WORDS=(" .. line .. "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "
          .. "_esconnector; printf '%s\\n' \"${COMPREPLY[@]}\""
      end,
      fish = function(line) return "source " .. script .. "; complete -C " .. quote(line) end,
    }
    local syntax_check = { bash = "bash -n ", fish = "fish --no-execute ", zsh = "zsh -n " }
    for _, shell in ipairs{ "bash", "fish" } do
      write_script(shell)
      local function complete(line)
        local ok, got = sh(("%s -c %s"):format(shell, quote(complete_line[shell](line))))
        assert(ok, got)
        return got
      end
      assert.matches("update%-api%-key%-id", complete("esconnector up"), nil, shell)
      assert.matches("%-%-version", complete("esconnector --vers"), nil, shell)
      assert.matches("%-%-include%-deleted", complete("esconnector list --inc"), nil, shell)
      assert.is_nil(complete("esconnector list --inc"):find("--api-key-id", 1, true), shell)
      assert(sh(syntax_check[shell] .. script))
    end
    -- zsh's completion system needs a terminal: its script is parsed and loaded
    write_script("zsh")
    assert(sh(syntax_check.zsh .. script))
    local ok, got = sh(("zsh -c %s"):format(quote("source " .. script .. " 2>/dev/null; whence -w _esconnector")))
    assert(ok, got)
    assert.matches("_esconnector: function", got)
    os.remove(script)
  end)

  it("shows the failing command's usage line, not the whole tool's", function()
    for args, want in pairs{
      ["get"] = "Usage: esconnector get ",
      ["list --size x"] = "Usage: esconnector list ",
      ["update-api-key-id c"] = "Usage: esconnector update-api-key-id ",
      ["completion tcsh"] = "Usage: esconnector completion ",
      ["bogus"] = "Usage: esconnector [options] <command> [<args>]",
      [""] = "Usage: esconnector [options] <command> [<args>]",
    } do
      local _, err, code = run(args, { ES_URL = "http://127.0.0.1:1" })
      assert.are.equal(2, code, args)
      assert.are.equal(1, select(2, err:gsub("Usage:", "")), err)
      assert.matches(want, err, 1, true)
      assert.is_nil(err:find("--ca-fingerprint", 1, true), err) -- no top-level option list
      -- the usage (its first line, then wrapped lines indented) and one reason
      local got = lines(err)
      assert.matches("^Usage: ", got[1])
      for i = 2, #got - 1 do assert.matches("^%s+%S", got[i], 1) end
      assert.matches("^esconnector: ", got[#got])
    end
  end)

  it("--verbose prints each request and response to stderr, credentials redacted", function()
    local id = env.unique("cli-verbose")
    local out, err, code = run("--verbose get " .. quote(id))
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("> GET " .. env.url:gsub("%p", "%%%0") .. "/_connector/" .. id:gsub("%p", "%%%0")
      .. " %(attempt 1%)", err)
    assert.matches(">   Authorization: [redacted]", err, 1, true)
    assert.matches("< HTTP 404 from " .. env.url:gsub("%p", "%%%0") .. " in %d+ ms", err)
    if env.api_key and env.api_key ~= "" then assert.is_nil(err:find(env.api_key, 1, true)) end
    -- without --verbose: only the error
    err = select(2, run("get " .. quote(id)))
    assert.is_nil(err:find("> GET", 1, true))
  end)

  it("--bearer-token and ES_BEARER_TOKEN send a Bearer token, never shown", function()
    local token = "SENTINEL-bearer-token-7e1"
    for _, how in ipairs{ { "--bearer-token " .. token, {} }, { "", { ES_BEARER_TOKEN = token } } } do
      local vars = how[2]
      vars.ES_API_KEY = ""
      local out, err, code = run("--verbose " .. how[1] .. " get x", vars)
      assert.are.equal(1, code, err)
      assert.matches("Authorization: [redacted]", err, 1, true)
      assert.matches("< HTTP 401", err, 1, true) -- the emulator knows no such token
      assert.is_nil((out .. err):find(token, 1, true))
    end
    -- an API key (ES_API_KEY here) wins over a bearer token
    if env.api_key and env.api_key ~= "" then
      local _, err, code = run("--verbose --bearer-token " .. token .. " get " .. quote(env.unique("cli-bearer")))
      assert.are.equal(1, code)
      assert.matches("< HTTP 404", err, 1, true)
    end
  end)

  it("refuses --url with --cloud-id, and ES_URL with ES_CLOUD_ID", function()
    local _, err, code = run("--url http://a:9200 --cloud-id x:eA== get c")
    assert.are.equal(2, code)
    assert.matches("not both", err)
    _, err, code = run("get c", { ES_CLOUD_ID = "x:eA==" })
    assert.are.equal(2, code)
    assert.matches("ES_CLOUD_ID", err)
    _, err, code = run("get c", { ES_URL = "", ES_CLOUD_ID = "not-a-cloud-id" })
    assert.are.equal(2, code)
    assert.matches("Cloud ID", err)
  end)

  describe("over TLS", function()
    local own, vars
    setup(function()
      own = emulator.start{ tls = true, auth = true }
      vars = { ES_URL = own.url, ES_API_KEY = "", ES_USERNAME = own.credentials.username,
        ES_PASSWORD = own.credentials.password }
    end)
    teardown(function() if own then own.stop() end end)

    local function with(extra)
      local t = {}
      for k, v in pairs(vars) do t[k] = v end
      for k, v in pairs(extra or {}) do t[k] = v end
      return t
    end

    it("fails without a CA, and works with --ca-file, --ca-path or --insecure", function()
      local _, err, code = run("list", vars)
      assert.are.equal(1, code)
      assert.matches("tls", err)
      _, err, code = run("--ca-file " .. quote(own.ca_file) .. " list", vars)
      assert.are.equal(0, code, err)
      local dir = os.tmpname()
      os.remove(dir)
      assert(sh(("mkdir %s && cp %s %s/ca.pem && openssl rehash %s"):format(quote(dir), quote(own.ca_file),
        quote(dir), quote(dir))))
      _, err, code = run("--ca-path " .. quote(dir) .. " list", vars)
      assert.are.equal(0, code, err)
      _, err, code = run("list", with{ ES_CA_PATH = dir })
      assert.are.equal(0, code, err)
      sh("rm -rf " .. quote(dir))
      _, err, code = run("--insecure list", vars)
      assert.are.equal(0, code, err)
      assert.matches("--insecure: the server's certificate is not verified", err, 1, true)
    end)

    it("--cloud-id and ES_CLOUD_ID reach the cluster the Cloud ID names", function()
      local port = own.url:match(":(%d+)$")
      local cloud_id = "test:" .. core.base64("localhost:" .. port .. "$esnode$kibana")
      -- https://esnode.localhost:<port>: the certificate names localhost, so pin it instead
      local _, err, code = run("--url '' --cloud-id " .. quote(cloud_id) .. " --ca-file " .. quote(own.ca_file)
        .. " --verbose list", with{ ES_URL = "" })
      assert.are.equal(1, code)
      assert.matches("> GET https://esnode.localhost:" .. port .. "/_connector", err, 1, true)
      _, err, code = run("--insecure --ca-fingerprint " .. own.ca_fingerprint .. " --verbose list",
        with{ ES_URL = "", ES_CLOUD_ID = cloud_id })
      assert.are.equal(0, code, err)
      assert.matches("< HTTP 200 from https://esnode.localhost:" .. port, err, 1, true)
    end)

    it("--client-cert and --client-key are loaded for the TLS handshake", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(sh(("mkdir %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=client "
        .. "-keyout %s/client.key -out %s/client.pem"):format(quote(dir), quote(dir), quote(dir))))
      local ca = " --ca-file " .. quote(own.ca_file)
      local _, err, code = run(ca .. " --client-cert " .. quote(dir .. "/client.pem") .. " --client-key "
        .. quote(dir .. "/client.key") .. " list", vars)
      assert.are.equal(0, code, err)
      _, err, code = run(ca .. " list",
        with{ ES_CLIENT_CERT = dir .. "/missing.pem", ES_CLIENT_KEY = dir .. "/client.key" })
      assert.are.equal(1, code)
      assert.matches("tls", err)
      assert.matches("cert", err)
      sh("rm -rf " .. quote(dir))
    end)
  end)
end)
