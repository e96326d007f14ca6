--- Driving the emulator from specs: its fault-injection control endpoint,
-- and extra emulators (several nodes, TLS) that a spec starts for itself.
-- The control endpoint exists only on the emulator: specs that need it
-- check emulator.available() and are pending against a real cluster.
local json = require "esconnector.json"

local emulator = {}

-- Shell commands run without the memory tools' LD_PRELOAD.
local function run(cmd)
  local pipe = assert(io.popen("env -u LD_PRELOAD " .. cmd .. " 2>&1"))
  local out = pipe:read("*a")
  local ok, _, code = pipe:close()
  if type(ok) == "number" then code = ok end -- Lua 5.1
  return out, (ok == true or code == 0)
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function control(control_url, method, path, body)
  local cmd = ("curl -sS -X %s %s"):format(method, quote(control_url .. path))
  if body then
    cmd = cmd .. " -H 'Content-Type: application/json' --data-binary " .. quote(json.encode(body))
  end
  local out, ok = run(cmd)
  assert(ok, "control call failed: " .. out)
  return json.decode(out) or out
end

function emulator.available()
  local url = os.getenv("ES_CONTROL_URL")
  return url ~= nil and url ~= ""
end

--- Adds a fault on the emulator the test runner started (or on `instance`).
-- spec: { fault = "close"|"reset"|"delay"|"status"|"malformed"|"no_product"|
--         "oversize"|"drop_answer"|"delay_answer", node = n, method = "PUT",
--         path = "lua pattern", status = n, retry_after = "seconds or HTTP date",
--         ms = n, count = n, after = n }
function emulator.fault(spec, instance)
  return control(instance and instance.control_url or os.getenv("ES_CONTROL_URL"), "POST", "/faults", spec)
end

function emulator.clear_faults(instance)
  return control(instance and instance.control_url or os.getenv("ES_CONTROL_URL"), "DELETE", "/faults")
end

--- Requests each node received: { { node = n, method = , path = }, ... }
--- Sets the offset of the emulator's clock in ms (negative: in the past)
-- for what it stamps from now on; 0 puts it back.
function emulator.clock(offset_ms, instance)
  return control(instance and instance.control_url or os.getenv("ES_CONTROL_URL"), "PUT", "/clock",
    { offset_ms = offset_ms })
end

function emulator.requests(instance)
  return control(instance and instance.control_url or os.getenv("ES_CONTROL_URL"), "GET", "/requests")
end

--- Starts an emulator of its own: options { nodes = n, tls = bool, auth = bool }.
-- Returns { url, urls, control_url, ca_file, ca_fingerprint, credentials, stop }.
function emulator.start(options)
  options = options or {}
  local dir = os.tmpname()
  os.remove(dir)
  local args = { "emulator/esemu", "start", "--dir", quote(dir) }
  if options.nodes then args[#args + 1] = "--nodes " .. options.nodes end
  if options.tls then args[#args + 1] = "--tls" end
  if options.auth then args[#args + 1] = "--auth" end
  local out, ok = run(table.concat(args, " "))
  assert(ok, "esemu start failed: " .. out)
  local function read(name)
    local f = io.open(dir .. "/" .. name)
    if not f then return nil end
    local text = f:read("*a")
    f:close()
    return text
  end
  local instance = { dir = dir, url = out:match("^(%S+)") }
  instance.urls = {}
  for line in (read("nodes") or instance.url):gmatch("%S+") do instance.urls[#instance.urls + 1] = line end
  instance.control_url = (read("control_url") or ""):match("%S+")
  instance.ca_file = read("ca.pem") and dir .. "/ca.pem" or nil
  instance.ca_fingerprint = (read("ca_fingerprint") or ""):match("%S+")
  local creds = read("credentials.json")
  instance.credentials = creds and json.decode(creds)
  function instance.stop()
    run("emulator/esemu stop --dir " .. quote(dir))
    run("rm -rf " .. quote(dir))
  end
  return instance
end

return emulator
