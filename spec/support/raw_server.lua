-- A recording HTTP server for specs that must see the exact bytes a client
-- sends, or answer with bytes no real server would (folded headers,
-- trailers, a status line with a colon).  Run as its own process:
--   lua5.4 spec/support/raw_server.lua DIR
-- It listens on a free loopback port (written to DIR/port), answers each
-- request with the next raw response of DIR/responses.json (a JSON list of
-- strings; the last one repeats), and appends one JSON line per request to
-- DIR/requests.jsonl: { connection = n, raw = "request bytes" }.  It stops
-- when DIR/stop exists, or after 300 s.  Driven by spec/support/raw.lua.
local socket = require "socket"
local cjson = require "cjson"

local dir = assert(arg[1], "usage: raw_server.lua DIR")

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("*a")
  f:close()
  return data
end

local responses = cjson.decode(assert(read_file(dir .. "/responses.json")))
local server = assert(socket.bind("127.0.0.1", 0))
server:settimeout(0)
local _, port = server:getsockname()
local f = assert(io.open(dir .. "/port.tmp", "w"))
f:write(port, "\n")
f:close()
os.rename(dir .. "/port.tmp", dir .. "/port")

local log = assert(io.open(dir .. "/requests.jsonl", "a"))
local served, connections, clients = 0, 0, {}
local started = socket.gettime()

-- One request from a connection's buffer, or nil while incomplete.
local function take_request(state)
  local head_end = state.buffer:find("\r\n\r\n", 1, true)
  if not head_end then return nil end
  local head = state.buffer:sub(1, head_end + 3)
  local length = tonumber(head:lower():match("\ncontent%-length:%s*(%d+)") or "0")
  if #state.buffer < head_end + 3 + length then return nil end
  local raw = state.buffer:sub(1, head_end + 3 + length)
  state.buffer = state.buffer:sub(head_end + 4 + length)
  return raw
end

while socket.gettime() - started < 300 do
  if io.open(dir .. "/stop") then break end
  local watched = { server }
  for _, c in ipairs(clients) do watched[#watched + 1] = c.sock end
  local readable = socket.select(watched, nil, 0.05)
  for _, s in ipairs(readable) do
    if s == server then
      local sock = server:accept()
      if sock then
        connections = connections + 1
        sock:settimeout(0)
        clients[#clients + 1] = { sock = sock, id = connections, buffer = "" }
      end
    else
      for i, c in ipairs(clients) do
        if c.sock == s then
          local data, err, partial = s:receive(65536)
          data = data or partial
          if data and data ~= "" then c.buffer = c.buffer .. data end
          while true do
            local raw = take_request(c)
            if not raw then break end
            log:write(cjson.encode({ connection = c.id, raw = raw }), "\n")
            log:flush()
            served = served + 1
            local response = responses[math.min(served, #responses)]
            s:settimeout(5)
            s:send(response)
            s:settimeout(0)
            if response:lower():find("\nconnection: close", 1, true) then err = "closed" end
          end
          if err == "closed" then
            s:close()
            table.remove(clients, i)
          end
          break
        end
      end
    end
  end
end
log:close()
server:close()
