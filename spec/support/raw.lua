--- Starts spec/support/raw_server.lua (a recording HTTP server answering
-- with raw bytes) for one spec, and reads what it recorded.
--   local server = raw.start{ responses = { raw1, raw2, ... } }
--   server.url, server.requests() -> { { connection = n, raw = s }, ... },
--   server.stop()
local json = require "esconnector.json"

local raw = {}

local shell = require "spec.support.shell"
local quote, read_file = shell.quote, shell.read_file

--- A plain answer Elasticsearch would give: 200, the product header, JSON.
function raw.ok(body, extra_headers)
  body = body or "{}"
  return "HTTP/1.1 200 OK\r\nX-elastic-product: Elasticsearch\r\n"
    .. "Content-Type: application/json\r\n" .. (extra_headers or "")
    .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
end

function raw.start(options)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -m 0700 " .. quote(dir)))
  local f = assert(io.open(dir .. "/responses.json", "wb"))
  f:write(json.encode(options.responses or { raw.ok() }))
  f:close()
  -- its own process (without the memory tools' LD_PRELOAD)
  os.execute(("env -u LD_PRELOAD lua5.4 spec/support/raw_server.lua %s >%s 2>&1 &"):format(
    quote(dir), quote(dir .. "/out")))
  local port
  for _ = 1, 200 do
    port = (read_file(dir .. "/port") or ""):match("%d+")
    if port then break end
    os.execute("sleep 0.05")
  end
  assert(port, "the raw server did not start: " .. tostring(read_file(dir .. "/out")))
  local server = { url = "http://127.0.0.1:" .. port, dir = dir }
  function server.requests()
    local list = {}
    for line in (read_file(dir .. "/requests.jsonl") or ""):gmatch("[^\n]+") do
      list[#list + 1] = json.decode(line)
    end
    return list
  end
  function server.stop()
    local stop = io.open(dir .. "/stop", "w")
    if stop then stop:close() end
    os.execute("sleep 0.2; rm -rf " .. quote(dir))
  end
  return server
end

return raw
