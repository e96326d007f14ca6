--- Transport selection, made per call rather than once: the same client
-- can be created in init_by_lua and used from request handlers and timers.
--
--   auto.new{ transport = "auto" | "curl" | "resty", allow_blocking = false,
--             settings = { the client's per-client settings, see curl.lua },
--             keepalive_timeout_ms =, keepalive_pool_size = }   (resty's options)
--
-- "auto" (the default): outside nginx, curl; inside nginx, resty in the
-- phases where cosockets exist; in the others (init, init_worker, set,
-- log, header/body filters, balancer, ...) a call raises, saying to run it
-- from a timer, since curl would block the worker there.
-- "curl": inside nginx, raises unless allow_blocking = true: libcurl stops
-- the whole worker, every other request included, until it returns.
-- "resty": raises outside a cosocket phase.
-- These raise rather than return nil, err: they are programmer errors,
-- the same on every call.
local core = require "esconnector.core"

local auto = {}

-- ngx.get_phase() names where ngx.socket.tcp and ngx.sleep work (the
-- lua-nginx-module docs: rewrite/access/content_by_lua*, ngx.timer.*,
-- ssl_certificate_by_lua*, ssl_session_fetch_by_lua*,
-- ssl_client_hello_by_lua*; preread is the stream module's).
local COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
  preread = true,
}

local MODES = { auto = true, curl = true, resty = true }

--- True for an nginx phase with cosockets (and light threads).
function auto.cosocket_phase(phase)
  return COSOCKET_PHASES[phase] == true
end

-- The nginx phase, or nil outside nginx.
local function nginx_phase()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then return nil end
  local ok, phase = pcall(ngx.get_phase)
  return ok and phase or nil
end

local function no_cosockets(phase)
  -- init runs in the master, where no timer can be started
  local from = phase == "init"
    and "from init_worker_by_lua* (init_by_lua runs in the master: make the client there, call it later)"
    or "from here"
  return ("esconnector: nginx has no cosockets in the %s phase, and the curl transport would block the worker: "
    .. "make the call in a timer, ngx.timer.at(0, function(premature) ... end), started %s; "
    .. "or pass allow_blocking = true to block with curl"):format(phase, from)
end

local Auto = {}
Auto.__index = Auto

function auto.new(options)
  options = options or {}
  local mode = options.transport or "auto"
  if not MODES[mode] then
    error(("esconnector: unknown transport '%s' (auto, curl or resty)"):format(tostring(mode)), 2)
  end
  return setmetatable({
    mode = mode,
    allow_blocking = options.allow_blocking == true,
    settings = options.settings or {},
    resty_options = { keepalive_timeout_ms = options.keepalive_timeout_ms,
      keepalive_pool_size = options.keepalive_pool_size },
  }, Auto)
end

--- Which transport a call made now would use: "curl" or "resty".
-- Raises as a call would when neither may be used here.
function Auto:selected()
  local phase = nginx_phase()
  local cosockets = phase ~= nil and COSOCKET_PHASES[phase]
  if self.mode == "resty" then
    if cosockets then return "resty" end
    error(phase and ("esconnector: the resty transport needs cosockets, which nginx does not have in the %s "
      .. "phase: make the call from a timer (ngx.timer.at)"):format(phase)
      or "esconnector: the resty transport only works inside nginx (OpenResty); use transport = \"auto\"", 0)
  end
  if self.mode == "auto" and cosockets then return "resty" end
  if phase and not self.allow_blocking then
    if self.mode == "curl" then
      error(("esconnector: transport = \"curl\" would block the nginx worker (%s phase) and every request "
        .. "it serves: use transport = \"auto\" (cosockets), or pass allow_blocking = true"):format(phase), 0)
    end
    error(no_cosockets(phase), 0)
  end
  return "curl"
end

-- The transport object for this call; each is made on first use.
function Auto:current()
  -- outside nginx, once the curl transport exists: nothing to decide
  if self.curl and self.curl_pid == 0 and self.mode ~= "resty" and not self.closed
      and rawget(_G, "ngx") == nil then
    return self.curl
  end
  local name = self:selected()
  if self.closed then error("esconnector: the " .. name .. " transport is closed", 0) end
  if name == "resty" then
    if not self.resty then
      self.resty = require("esconnector.transport.resty").new(self.settings, self.resty_options)
    end
    return self.resty
  end
  -- A libcurl handle must not cross a fork: one made in nginx's master
  -- (init_by_lua with allow_blocking) is not reused by the workers.
  local ngx = rawget(_G, "ngx")
  local pid = ngx and ngx.worker and ngx.worker.pid and ngx.worker.pid() or 0
  if not self.curl or self.curl_pid ~= pid then
    self.curl, self.curl_pid = require("esconnector.transport.curl").new(self.settings), pid
  end
  return self.curl
end

function Auto:send(request)
  return self:current():send(request)
end

-- For the scheduler (see esconnector.scheduler): only the curl transport
-- starts transfers without waiting; inside nginx light threads run calls.
function Auto:start(request)
  local transport = self:current()
  if not transport.start then
    return nil, { kind = "connection", message = "this transport cannot start a transfer" }
  end
  return transport:start(request)
end

function Auto:poll(timeout_ms)
  return self.curl and self.curl:poll(timeout_ms) or {}
end

-- The clock and sleeps of the curl transport are the core's: reading the
-- time does not make the curl handle (nor load libcurl) before a send.
local function curl_clock(self)
  return not self.closed and (self.mode ~= "resty" and rawget(_G, "ngx") == nil or self:selected() == "curl")
end

function Auto:now_ms()
  if curl_clock(self) then return core.now_ms() end
  return self:current():now_ms()
end

function Auto:sleep_ms(ms)
  if curl_clock(self) then return core.sleep_ms(ms) end
  return self:current():sleep_ms(ms)
end

--- Releases the curl handle, if one was made; the transport is unusable
-- afterwards (resty connections belong to nginx's pool, nothing to close).
function Auto:close()
  if self.curl then self.curl:close() end
  self.closed = true
end

return auto
