-- Releases: both rockspecs lint, one version everywhere, the versioned
-- rockspec packs from a local git tag, and `luarocks make` installs offline
-- a rock that loads on its own.  Everything runs in a temporary copy of the
-- working tree (never in the checkout, where a stray core.so would shadow
-- the real module) that is removed whatever happens.
local core = require "esconnector.core"

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function run(cmd)
  local pipe = assert(io.popen("env -u LD_PRELOAD sh -c " .. quote(cmd) .. " 2>&1; echo \"rc=$?\""))
  local out = pipe:read("*a")
  pipe:close()
  return out:match("rc=(%d+)%s*$") == "0", (out:gsub("rc=%d+%s*$", ""))
end

local read_file = require("spec.support.shell").read_file
local function read(path) return assert(read_file(path), "cannot read " .. path) end

local is_jit = rawget(_G, "jit") ~= nil
local lua_version = is_jit and "5.1" or _VERSION:match("%d+%.%d+")
local interpreter = is_jit and "luajit" or "lua" .. lua_version
local jit_vars = is_jit and " LUA_INCDIR=/usr/include/luajit-2.1 LUA=/usr/bin/luajit" or ""
local RELEASE = "rockspecs/esconnector-" .. core.version .. "-1.rockspec"

-- A temporary directory holding a copy of the working tree (tracked and
-- new files, not ignored ones) at dir/src; removed by finally().
local function temporary_copy()
  local dir = os.tmpname()
  os.remove(dir)
  finally(function() run("rm -rf " .. quote(dir)) end)
  local ok, out = run(("mkdir -p %s/src && git ls-files -z -co --exclude-standard | "
    .. "xargs -0 sh -c 'for f; do [ -e \"$f\" ] && printf \"%%s\\0\" \"$f\"; done' _ | "
    .. "tar --null -T - -cf - | tar -xf - -C %s/src"):format(quote(dir), quote(dir)))
  assert(ok, out)
  return dir
end

-- Loads esconnector from tree only, from another folder; prints the
-- core's path and whether a client can be made, then the curl module's path
-- and whether it makes a handle.
local function load_from(tree)
  return run(("cd / && LUA_PATH=%s LUA_CPATH=%s "
    .. "env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_3 -u LUA_CPATH_5_3 -u LUA_PATH_5_2 -u LUA_CPATH_5_2 "
    .. "%s -e %s"):format(
    quote(("%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua;;"):format(tree, lua_version, tree, lua_version)),
    quote(("%s/lib/lua/%s/?.so;;"):format(tree, lua_version)), interpreter,
    quote('local e = require "esconnector"; local c = require "esconnector.core"; '
      .. 'print(package.searchpath and package.searchpath("esconnector.core", package.cpath) or "", c.version); '
      .. 'print(e.new{ hosts = "http://127.0.0.1:1" }.connector ~= nil); local curl = require "esconnector.curl"; '
      .. 'print(package.searchpath and package.searchpath("esconnector.curl", package.cpath) or "", '
      .. 'curl.curl_new{}:close() == nil and "curl handle")')))
end

describe("the rockspecs #packaging", function()
  it("lint, and carry one version shared with the core, the tool and the changelog", function()
    for _, spec in ipairs{ "esconnector-scm-1.rockspec", RELEASE } do
      local ok, out = run("luarocks lint " .. spec)
      assert(ok, spec .. ": " .. out)
    end
    local release = read(RELEASE)
    assert.are.equal(core.version .. "-1", release:match('\nversion = "([^"]+)"'))
    assert.are.equal("v" .. core.version, release:match('tag = "([^"]+)"'))
    assert.matches('"lua >= 5.1, < 5.5"', release, 1, true)
    assert.matches('supported_platforms = { "unix" }', release, 1, true)
    assert.matches('type = "busted"', release, 1, true)
    assert.matches("^git%+https://", release:match('url = "([^"]+)"'))
    -- the scm rockspec differs only in version and source
    local scm = read("esconnector-scm-1.rockspec")
    local function body(text) return text:match("\ndescription = .*$") end
    assert.are.equal(body(release), body(scm))
    assert.matches("## %[" .. core.version:gsub("%.", "%%.") .. "%] %- %d%d%d%d%-%d%d%-%d%d", read("CHANGELOG.md"))
    local ok, out = run(("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/%s/?.so;;' "
      .. "%s bin/esconnector --version"):format(is_jit and "jit" or lua_version, interpreter))
    assert(ok, out)
    assert.are.equal("esconnector " .. core.version .. "\n", out)
  end)

  it("packs the versioned rockspec from a local git tag", function()
    local dir = temporary_copy()
    local src = dir .. "/src"
    local ok, out = run(("cd %s && git init -q && git add -A && git -c user.name=spec -c user.email=spec@localhost "
      .. "commit -qm release && git tag v%s"):format(quote(src), core.version))
    assert(ok, out)
    -- the same rockspec, its source pointed at the local clone
    local release = read(src .. "/" .. RELEASE)
    local url = release:match('url = "([^"]+)"')
    local f = assert(io.open(dir .. "/esconnector-" .. core.version .. "-1.rockspec", "w"))
    f:write((release:gsub(url:gsub("%p", "%%%0"), "git+file://" .. src, 1)))
    f:close()
    ok, out = run(("cd %s && luarocks pack esconnector-%s-1.rockspec"):format(quote(dir), core.version))
    assert(ok, out)
    local rock = ("%s/esconnector-%s-1.src.rock"):format(dir, core.version)
    ok, out = run("unzip -l " .. quote(rock))
    assert(ok, out)
    assert.matches("esconnector-" .. core.version .. "-1.rockspec", out, 1, true)
    assert.matches("src/core.c", out, 1, true)
    assert.matches("src/curl.c", out, 1, true)
    assert.matches("lua/esconnector/client.lua", out, 1, true)
    assert.matches("rockspecs/core.mk", out, 1, true)
    -- the packed rock builds and installs offline
    local tree = dir .. "/tree"
    ok, out = run(("cd %s && LUAROCKS_CONFIG=%s/luarocks-config.lua luarocks build --lua-version=%s --tree=%s %s%s")
      :format(quote(dir), quote(src), lua_version, quote(tree), quote(rock), jit_vars))
    assert(ok, out)
    ok, out = load_from(tree)
    assert(ok, out)
    assert.matches(core.version .. "\ntrue\n", out, 1, true)
    assert.matches("curl handle", out, 1, true)
  end)

  it("installs with luarocks make, without network, and loads from its tree", function()
    local dir = temporary_copy()
    local tree = dir .. "/tree"
    local ok, out = run(("cd %s/src && LUAROCKS_CONFIG=$PWD/luarocks-config.lua luarocks make --lua-version=%s "
      .. "--tree=%s esconnector-scm-1.rockspec%s"):format(quote(dir), lua_version, quote(tree), jit_vars))
    assert(ok, out)
    assert.matches("is now installed", out)
    assert.matches("-lssl", out, 1, true)
    -- only esconnector.curl links libcurl: require + new() do not load it
    ok, out = run("readelf -d " .. quote(("%s/lib/lua/%s/esconnector/core.so"):format(tree, lua_version)))
    assert(ok, out)
    assert.is_nil(out:find("libcurl", 1, true), out)
    ok, out = run("readelf -d " .. quote(("%s/lib/lua/%s/esconnector/curl.so"):format(tree, lua_version)))
    assert(ok, out)
    assert.matches("libcurl", out, 1, true)
    ok, out = load_from(tree)
    assert(ok, out)
    assert.matches("true", out)
    assert.matches("curl handle", out, 1, true)
    if not is_jit and lua_version ~= "5.1" then assert.matches(tree, out, 1, true) end
  end)

  it("builds without OpenSSL when OPENSSL=0, and ca_fingerprint then says why", function()
    if not read("src/tls_pin.c"):find("ESC_NO_OPENSSL", 1, true) then
      pending("the core has no ESC_NO_OPENSSL build yet")
      return
    end
    local dir = temporary_copy()
    local tree = dir .. "/tree"
    local ok, out = run(("cd %s/src && OPENSSL=0 LUAROCKS_CONFIG=$PWD/luarocks-config.lua luarocks make "
      .. "--lua-version=%s --tree=%s esconnector-scm-1.rockspec%s"):format(
      quote(dir), lua_version, quote(tree), jit_vars))
    assert(ok, out)
    assert.is_nil(out:find("-lssl", 1, true), out)
    for _, module in ipairs{ "core", "curl" } do
      local so = ("%s/lib/lua/%s/esconnector/%s.so"):format(tree, lua_version, module)
      ok, out = run("readelf -d " .. quote(so))
      assert(ok, out)
      assert.is_nil(out:find("libssl", 1, true), out)
      assert.is_nil(out:find("libcrypto", 1, true), out)
    end
    ok, out = load_from(tree)
    assert(ok, out)
    assert.matches("curl handle", out, 1, true)
  end)
end)
