-- The shared transport cases (spec/openresty/cases.lua) through the curl
-- transport, on every Lua; scripts/openresty-tests runs the same cases
-- through resty inside nginx.
local env = require "spec.support.env"
local esconnector = require "esconnector"
local cases = require "spec.openresty.cases"
local core = require "esconnector.core"

-- A listener that never accepts: the kernel completes the handshake, the
-- request goes out, and no answer ever comes.  Perl is always on Debian.
local function start_silent_server()
  local script = [[$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 128)]]
    .. [[ or die "listen: $!"; $| = 1; print $s->sockport, " $$\n"; sleep 300]]
  -- no LD_PRELOAD (the sanitizer runs set one) for a program that is not ours
  local handle = assert(io.popen("exec env -u LD_PRELOAD perl -MIO::Socket::INET -e '" .. script .. "'", "r"))
  local line = handle:read("*l") or ""
  local port, pid = line:match("^(%d+) (%d+)$")
  assert(port, "the silent server did not start: " .. line)
  return port, function()
    os.execute("kill " .. pid .. " 2>/dev/null")
    handle:close()
  end
end

describe("shared transport cases through curl", function()
  local ctx, stop

  setup(function()
    if not env.url then return end
    local port
    port, stop = start_silent_server()
    ctx = {
      url = env.url:gsub("/$", ""),
      api_key = env.api_key ~= "" and env.api_key or nil,
      closed_url = "http://127.0.0.1:1",
      tls_url = "https://" .. env.host_port(),
      slow_url = "http://127.0.0.1:" .. port,
      unique = env.unique,
      control_url = os.getenv("ES_CONTROL_URL"),
    }
  end)

  teardown(function()
    if stop then stop() end
  end)

  for _, case in ipairs(cases.list) do
    it(case.name, function()
      if not env.url then
        pending("ES_URL is not set: run through make test")
        return
      end
      if case.name:find("^https to a plain") and env.url:find("^https") then
        pending("the cluster under test speaks TLS")
        return
      end
      local extra = {}
      if not ctx.api_key and env.username and env.username ~= "" then
        extra.basic_auth = { env.username, env.password }
      end
      extra.ca_file = env.ca_file
      local passed, detail, transport = cases.run(case, ctx, esconnector, core.now_ms, extra)
      assert(passed, detail)
      if transport then assert.are.equal("curl", transport) end
    end)
  end
end)
