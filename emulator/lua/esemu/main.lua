-- Entry points called from nginx.conf: init() in the master at start-up,
-- handle() for every request.
-- luacheck: globals ngx

local errors = require "esemu.errors"
local json = require "esemu.json"
local util = require "esemu.util"
local xcontent = require "esemu.xcontent"

local M = {}

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- init(opts): fresh state for this start.  Runs in the master (as root when
-- started as root), so it can read the 0600 credentials file that the
-- workers could not.  opts: prefix, auth, tls, node_name, cluster_name.
function M.init(opts)
  -- The interpreter only.  Under nginx with luajit2 2.1-20230119 a hot loop
  -- that built a Lua pattern with gsub and matched it intermittently gave
  -- wrong answers once JIT-compiled (never interpreted).  That code is gone,
  -- but an emulator wants exact answers more than speed.
  require("jit").off()
  local meta, docs, auth_dict = ngx.shared.esemu_meta, ngx.shared.esemu_docs, ngx.shared.esemu_auth
  meta:flush_all()
  docs:flush_all()
  auth_dict:flush_all()
  meta:set("node_name", opts.node_name or "esemu-0")
  meta:set("cluster_name", opts.cluster_name or "esemu")
  meta:set("cluster_uuid", util.random_base64_uuid())
  meta:set("seq", 0)
  meta:set("tls", opts.tls == true)
  local store = require "esemu.store"
  for _, index in ipairs({ store.CONNECTORS, store.SYNC_JOBS, store.SECRETS }) do
    meta:set("index_uuid:" .. index, util.random_base64_uuid())
  end
  meta:set("auth", opts.auth == true)
  M.preload()
  if opts.auth then
    local auth = require "esemu.auth"
    local raw = assert(read_file(opts.prefix .. "/credentials.json"), "cannot read credentials.json")
    local c = xcontent.decode(raw)
    auth.put_user(c.username, c.password, { "superuser" })
    auth.put_api_key(json.obj("id", c.api_key_id, "api_key", c.api_key, "name", "esemu-superuser-key",
      "username", c.username, "realm", "reserved", "creation", math.floor(ngx.now() * 1000), "invalidated", false))
  end
end

local routes_compiled = false

-- Load every module and compile the routes in the master: workers inherit
-- them, so they never read Lua files from the prefix (as user nobody they may
-- not be allowed to, e.g. under a 0700 mktemp -d directory).
function M.preload()
  for _, name in ipairs({ "esemu.router", "esemu.response", "esemu.request", "esemu.auth", "esemu.store",
                          "esemu.filter_path", "esemu.handlers.info", "esemu.handlers.connector" }) do
    require(name)
  end
  require("esemu.router").compile(require "esemu.routes")
  routes_compiled = true
end

local function on_error(e)
  if errors.is(e) then return e end
  return debug.traceback(tostring(e), 2)
end

function M.handle()
  local router = require "esemu.router"
  local response = require "esemu.response"
  if not routes_compiled then
    router.compile(require "esemu.routes")
    routes_compiled = true
  end
  local ok, e = xpcall(router.dispatch, on_error)
  if ok then return end
  if not errors.is(e) then
    -- a bug in the emulator: log it and answer like an unexpected ES failure
    ngx.log(ngx.ERR, "esemu: ", e)
    e = errors.new("exception", "esemu internal error: " .. tostring(e):match("^[^\n]*"), { status = 500 })
  end
  return response.error(e)
end

-- bad_request(): nginx refused the request line or headers.  A malformed
-- %-escape gets the message ES's RestUtils.decodeComponent gives; anything
-- else a generic one.
function M.bad_request()
  if not ngx.req.is_internal() then return M.handle() end -- asked for by name
  local response = require "esemu.response"
  response.bind(nil)
  local path = (ngx.var.request or ""):match("^%S+%s+([^%s?]+)") or ""
  local reason = "invalid HTTP request"
  for seg in path:gmatch("[^/]+") do
    local ok, err = util.url_decode(seg, false)
    if not ok then
      reason = err
      break
    end
  end
  return response.error(errors.illegal_argument(reason))
end

return M
