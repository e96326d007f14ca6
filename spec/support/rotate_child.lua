-- A rotation that dies mid-way, for the crash specs: run as its own
-- process, it rotates CONNECTOR and exits at once (os.exit, no cleanup, as
-- a kill would) when KILL_AT happens:
--   an API name    right after that call's answer arrived (it was applied)
--   "deliver"      inside on_key, after the key file was written
-- Self-managed connectors get their key in SERVICE_FILE (the service's copy).
-- Environment: ES_URL, ES_USERNAME, ES_PASSWORD, CONNECTOR, KILL_AT, SERVICE_FILE.
local esconnector = require "esconnector"

local kill_at = os.getenv("KILL_AT")
local client = esconnector.new{
  hosts = { os.getenv("ES_URL") },
  basic_auth = { os.getenv("ES_USERNAME"), os.getenv("ES_PASSWORD") },
  max_retries = 0,
  on_response = function(info)
    if info.api == kill_at then os.exit(137, false) end
  end,
}
local report, err = client:rotate_api_key{
  connector_id = os.getenv("CONNECTOR"),
  on_key = function(encoded)
    local f = assert(io.open(os.getenv("SERVICE_FILE"), "w"))
    f:write(encoded)
    f:close()
    if kill_at == "deliver" then os.exit(137, false) end
    return true
  end,
}
-- not killed: the kill point was never reached
io.stderr:write("rotate_child: not killed: ", report and "rotated" or tostring(err), "\n")
os.exit(3)
