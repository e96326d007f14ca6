--- Small shell helpers the specs share: quoting, reading a file, running a
-- command (outside any LD_PRELOAD the memory tools set: a child process
-- must not inherit the sanitizer runtime).
local shell = {}

--- s as one single-quoted shell word.
function shell.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- The whole file at path, or nil when it cannot be read.
function shell.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("*a")
  f:close()
  return data
end

--- Runs cmd with sh; returns its output (stdout and stderr) and whether it
-- exited 0.
function shell.sh(cmd)
  local pipe = assert(io.popen("env -u LD_PRELOAD sh -c " .. shell.quote(cmd) .. " 2>&1"))
  local out = pipe:read("*a")
  local ok, _, code = pipe:close()
  if type(ok) == "number" then code = ok end -- Lua 5.1's close gives the status
  return out, ok == true or code == 0
end

return shell
