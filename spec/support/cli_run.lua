--- Runs bin/esconnector as a user would: a subprocess of the Lua running
-- the specs, with lua/ and this Lua's build/ on its paths, the cluster
-- under test in ES_URL/ES_API_KEY (extra_env overrides; "" empties).
local env = require "spec.support.env"

local cli_run = {}

cli_run.interpreter = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))

cli_run.quote = require("spec.support.shell").quote
local quote = cli_run.quote

local function slurp(path)
  local f = assert(io.open(path))
  local text = f:read("*a")
  f:close()
  os.remove(path)
  return text
end

--- Returns stdout, stderr and the exit code of `esconnector <args>`, with
-- input (when given) on its standard input.
function cli_run.run(args, extra_env, input)
  local out, err = os.tmpname(), os.tmpname()
  local stdin = "/dev/null"
  if input then
    stdin = os.tmpname()
    local f = assert(io.open(stdin, "wb"))
    f:write(input)
    f:close()
  end
  local vars = {
    "LUA_PATH=" .. quote("./lua/?.lua;./lua/?/init.lua;;"),
    "LUA_CPATH=" .. quote("./build/" .. (cli_run.interpreter == "luajit" and "jit" or _VERSION:match("%d+%.%d+"))
      .. "/?.so;;"),
    "ES_URL=" .. quote(env.url or ""),
    "ES_API_KEY=" .. quote(env.api_key or ""),
    "ES_USERNAME=", "ES_PASSWORD=",
  }
  for k, v in pairs(extra_env or {}) do vars[#vars + 1] = k .. "=" .. quote(v) end
  local cmd = ("env -u LD_PRELOAD -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_3 -u LUA_CPATH_5_3 "
    .. "-u LUA_PATH_5_2 -u LUA_CPATH_5_2 -u ES_CLOUD_ID -u ES_BEARER_TOKEN -u ES_CA_FILE -u ES_CA_PATH "
    .. "-u ES_CA_FINGERPRINT -u ES_CLIENT_CERT -u ES_CLIENT_KEY %s %s bin/esconnector %s <%s >%s 2>%s; echo $?"):format(
    table.concat(vars, " "), cli_run.interpreter, args, stdin, out, err)
  local pipe = assert(io.popen(cmd))
  local code = tonumber(pipe:read("*a"))
  pipe:close()
  if input then os.remove(stdin) end
  return slurp(out), slurp(err), code
end

return cli_run
