-- Start-up cost: libcurl (and OpenSSL, ~30 libraries, most of the time of
-- require + new()) is loaded by the first call through the curl transport,
-- never by require "esconnector" or new().  Each case runs in a fresh
-- interpreter of the Lua under test, since this process has loaded
-- everything already; the call goes over real HTTP to a recording server.
-- The User-Agent names esconnector and Lua only: it is made without libcurl
-- and is the same from either transport.
local raw = require "spec.support.raw"
local cli_run = require "spec.support.cli_run"
local core = require "esconnector.core"

local quote = cli_run.quote

-- Runs a Lua chunk in a fresh interpreter with this checkout on its paths;
-- returns its output and whether it exited 0.
local function fresh(chunk, ...)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(chunk)
  f:close()
  local args = {}
  for i, v in ipairs{ ... } do args[i] = quote(v) end
  local cpath = "./build/" .. (cli_run.interpreter == "luajit" and "jit" or _VERSION:match("%d+%.%d+")) .. "/?.so;;"
  local pipe = assert(io.popen(("env -u LD_PRELOAD LUA_PATH=%s LUA_CPATH=%s %s %s %s 2>&1"):format(
    quote("./lua/?.lua;./lua/?/init.lua;;"), quote(cpath), cli_run.interpreter, quote(script),
    table.concat(args, " "))))
  local out = pipe:read("*a")
  local ok, _, code = pipe:close()
  if type(ok) == "number" then code = ok end -- Lua 5.1
  os.remove(script)
  return out, ok == true or code == 0
end

-- In the child: "curl module: <loaded|absent>, libcurl mapped: <yes|no>".
local PROBE = [[
local function state(label)
  local f = assert(io.open("/proc/self/maps"))
  local maps = f:read("*a")
  f:close()
  print(("%s: curl module %s, libcurl mapped %s"):format(label,
    package.loaded["esconnector.curl"] and "loaded" or "absent",
    maps:find("libcurl", 1, true) and "yes" or "no"))
end
]]

describe("start-up #subprocess", function()
  local server
  before_each(function()
    server = raw.start{ responses = { raw.ok('{"result":"updated"}') } }
  end)
  after_each(function() server.stop() end)

  it("loads libcurl at the first curl call, not at require or new()", function()
    local out, ok = fresh(PROBE .. [[
local esconnector = require "esconnector"
state("required")
local client = esconnector.new{ hosts = { arg[1] } }
state("new")
local res, err = client.connector:update_api_key_id{ connector_id = "c1", api_key_id = "k1" }
assert(res and res.result == "updated", tostring(err))
state("called")
]], server.url)
    assert(ok, out)
    assert.are.equal("required: curl module absent, libcurl mapped no\n"
      .. "new: curl module absent, libcurl mapped no\n"
      .. "called: curl module loaded, libcurl mapped yes\n", out)
    assert.are.equal(1, #server.requests())
  end)

  it("sends esconnector/<version> (<Lua>) as the User-Agent, without libcurl's version", function()
    local out, ok = fresh([[
local client = require("esconnector").new{ hosts = { arg[1] } }
assert(client.connector:update_api_key_id{ connector_id = "c1", api_key_id = "k1" })
]], server.url)
    assert(ok, out)
    local requests = server.requests()
    assert.are.equal(1, #requests)
    local agent = requests[1].raw:match("\r\n[Uu]ser%-[Aa]gent: ([^\r\n]*)\r\n")
    local lua = rawget(_G, "jit") and _G.jit.version or _VERSION
    assert.are.equal(("esconnector/%s (%s)"):format(core.version, lua), agent)
  end)

  it("loads the curl module at new() only for ca_fingerprint, which it checks", function()
    local out, ok = fresh(PROBE .. [[
local esconnector = require "esconnector"
local ok, err = pcall(esconnector.new, { hosts = { "https://127.0.0.1:9" }, ca_fingerprint = ("ab"):rep(32) })
assert(ok or tostring(err):find("OpenSSL", 1, true), tostring(err))
state("pinned")
]])
    assert(ok, out)
    assert.are.equal("pinned: curl module loaded, libcurl mapped yes\n", out)
  end)
end)
