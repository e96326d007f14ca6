-- core.write_private_file: the key files of `esconnector rotate --key-dir`.
local core = require "esconnector.core"

describe("core.write_private_file", function()
  local dir

  local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    return text
  end
  local function mode(path)
    local p = io.popen("stat -c %a " .. quote(path))
    local m = p:read("*l")
    p:close()
    return m
  end
  local function entries()
    local p = io.popen("ls -A " .. quote(dir))
    local names = {}
    for line in p:lines() do names[#names + 1] = line end
    p:close()
    table.sort(names)
    return names
  end

  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. quote(dir)))
  end)
  after_each(function() os.execute("rm -rf " .. quote(dir)) end)

  it("writes the data, mode 0600, and leaves no temporary file", function()
    assert.is_true(core.write_private_file(dir .. "/a.key", "secret\n"))
    assert.are.equal("secret\n", read(dir .. "/a.key"))
    assert.are.equal("600", mode(dir .. "/a.key"))
    assert.are.same({ "a.key" }, entries())
  end)

  it("replaces a file whole, NUL bytes and a MiB included", function()
    assert.is_true(core.write_private_file(dir .. "/a.key", "old"))
    local big = ("x\0y"):rep(350000)
    assert.is_true(core.write_private_file(dir .. "/a.key", big))
    assert.are.equal(big, read(dir .. "/a.key"))
    assert.is_true(core.write_private_file(dir .. "/a.key", ""))
    assert.are.equal("", read(dir .. "/a.key"))
  end)

  it("replaces a symlink at the path instead of writing through it", function()
    local target = dir .. "/target"
    local f = assert(io.open(target, "w"))
    f:write("untouched")
    f:close()
    assert(os.execute("ln -s " .. quote(target) .. " " .. quote(dir .. "/a.key")))
    assert.is_true(core.write_private_file(dir .. "/a.key", "new"))
    assert.are.equal("untouched", read(target))
    assert.are.equal("new", read(dir .. "/a.key"))
    assert.are.equal("600", mode(dir .. "/a.key"))
  end)

  it("fails with the path and the reason, never the data, and leaves nothing behind", function()
    local ok, why, renamed = core.write_private_file(dir .. "/missing/a.key", "the-secret-value")
    assert.is_nil(ok)
    assert.is_false(renamed)
    assert.matches("cannot create a temporary file next to " .. dir:gsub("%p", "%%%0") .. "/missing/a%.key: ", why)
    assert.is_nil(why:find("the-secret-value", 1, true))
    -- a directory where the file should be: the rename fails, the temporary file goes
    assert(os.execute("mkdir " .. quote(dir .. "/d.key")))
    assert(os.execute("touch " .. quote(dir .. "/d.key/x")))
    ok, why, renamed = core.write_private_file(dir .. "/d.key", "v")
    assert.is_nil(ok)
    assert.is_false(renamed)
    assert.matches("cannot rename", why)
    assert.are.same({ "d.key" }, entries())
  end)

  it("refuses a path that is empty, has a NUL or is too long", function()
    assert.has_error(function() core.write_private_file("", "x") end)
    assert.has_error(function() core.write_private_file(dir .. "/a\0b", "x") end)
    assert.has_error(function() core.write_private_file(dir .. "/" .. ("a"):rep(5000), "x") end)
    assert.has_error(function() core.write_private_file(dir .. "/a.key") end)
  end)
end)
