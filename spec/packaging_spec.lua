-- `luarocks make` installs the rock offline for the Lua running this spec,
-- and the installed copy loads and works on its own.
local function run(cmd)
  local pipe = assert(io.popen(cmd .. " 2>&1; echo \"rc=$?\""))
  local out = pipe:read("*a")
  pipe:close()
  return out:match("rc=(%d+)%s*$") == "0", out
end

describe("the rockspec #packaging", function()
  it("installs with luarocks make, without network, and loads from its tree", function()
    local is_jit = rawget(_G, "jit") ~= nil
    local version = is_jit and "5.1" or _VERSION:match("%d+%.%d+")
    local interpreter = is_jit and "luajit" or "lua" .. version
    local tree = os.tmpname()
    os.remove(tree)
    local extra = is_jit and " LUA_INCDIR=/usr/include/luajit-2.1 LUA=/usr/bin/luajit" or ""
    local ok, out = run(("LUAROCKS_CONFIG=$PWD/luarocks-config.lua luarocks make --lua-version=%s --tree=%s "
      .. "esconnector-scm-1.rockspec%s"):format(version, tree, extra))
    assert(ok, out)
    assert.matches("is now installed", out)
    -- load from the installed tree only, from another folder
    ok, out = run(("cd / && LUA_PATH='%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua;;' "
      .. "LUA_CPATH='%s/lib/lua/%s/?.so;;' "
      .. "env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_3 -u LUA_CPATH_5_3 -u LUA_PATH_5_2 -u LUA_CPATH_5_2 "
      .. "%s -e 'local e = require \"esconnector\"; print(package.searchpath and "
      .. "package.searchpath(\"esconnector.core\", package.cpath) or \"\"); "
      .. "print(e.new{ hosts = \"http://127.0.0.1:1\" }.connector ~= nil)'"):format(
      tree, version, tree, version, tree, version, interpreter))
    assert(ok, out)
    assert.matches("true", out)
    if not is_jit and version ~= "5.1" then assert.matches(tree, out, 1, true) end
    run("rm -rf " .. tree .. " esconnector src/core.o core.o") -- builtin builds leave these
  end)
end)
