-- Entry points called from nginx.conf: init() in the master at start-up,
-- handle() and log() for every request on a node port.

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

-- The --auth credentials (superuser and its API key), from credentials.json.
local function put_credentials(c)
  local auth = require "esemu.auth"
  auth.put_user(c.username, c.password, { "superuser" })
  auth.put_api_key(json.obj("id", c.api_key_id, "api_key", c.api_key, "name", "esemu-superuser-key",
    "username", c.username, "realm", "reserved", "creation", math.floor(ngx.now() * 1000), "invalidated", false))
end

-- restore_credentials(): puts the bootstrap credentials back after the
-- control endpoint's POST /reset wiped esemu_auth.
function M.restore_credentials()
  local raw = ngx.shared.esemu_meta:get("bootstrap_credentials")
  if raw then put_credentials(xcontent.decode(raw)) end
end

-- init(opts): fresh state for this start.  Runs in the master (as root when
-- started as root), so it can read the 0600 credentials file that the
-- workers could not.  opts: prefix, auth, tls, ports (one per node),
-- cluster_name.
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
  meta:set("cluster_name", opts.cluster_name or "esemu")
  local nodes = require "esemu.handlers.nodes"
  nodes.setup(opts.ports or {})
  -- handle() sets it to the name of the node each request came in on
  meta:set("node_name", (nodes.all()[1] or { name = "esemu-1" }).name)
  ngx.shared.esemu_control:flush_all()
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
    local raw = assert(read_file(opts.prefix .. "/credentials.json"), "cannot read credentials.json")
    meta:set("bootstrap_credentials", raw)
    put_credentials(xcontent.decode(raw))
  end
end

local routes_compiled = false

-- Load every module and compile the routes in the master: workers inherit
-- them, so they never read Lua files from the prefix (as user nobody they may
-- not be allowed to, e.g. under a 0700 mktemp -d directory).
function M.preload()
  for _, name in ipairs({ "esemu.router", "esemu.response", "esemu.request", "esemu.auth", "esemu.store",
                          "esemu.filter_path", "esemu.handlers.info", "esemu.handlers.connector",
                          "esemu.handlers.nodes", "esemu.faults", "esemu.control" }) do
    require(name)
  end
  require("esemu.router").compile(require "esemu.routes")
  routes_compiled = true
end

local function on_error(e)
  if errors.is(e) then return e end
  return debug.traceback(tostring(e), 2)
end

-- Compressed request bodies -------------------------------------------------------
-- Elasticsearch (Netty's HttpContentDecompressor, before the aggregator)
-- inflates gzip and deflate bodies; http.max_content_length applies to the
-- inflated size.  zlib through the FFI: nginx links libz, so ffi.C has it.

local ffi = require "ffi"
ffi.cdef [[
typedef struct esemu_z_stream_s {
  const unsigned char *next_in; unsigned int avail_in; unsigned long total_in;
  unsigned char *next_out; unsigned int avail_out; unsigned long total_out;
  const char *msg; void *state; void *zalloc; void *zfree; void *opaque;
  int data_type; unsigned long adler; unsigned long reserved;
} esemu_z_stream;
const char *zlibVersion(void);
int inflateInit2_(esemu_z_stream *strm, int windowBits, const char *version, int stream_size);
int inflate(esemu_z_stream *strm, int flush);
int inflateEnd(esemu_z_stream *strm);
]]

local zlib
local function z()
  if not zlib then
    if pcall(function() return ffi.C.inflate end) then
      zlib = ffi.C
    else
      local ok, lib = pcall(ffi.load, "z")
      zlib = ok and lib or ffi.load("libz.so.1")
    end
  end
  return zlib
end

local MAX_BODY = 104857600 -- nginx.conf: client_max_body_size
local CHUNK = 65536

-- inflate(data, window_bits): the inflated data, or nil and a reason
-- ("too large" past MAX_BODY).
local function inflate(data, window_bits)
  local lib = z()
  local strm = ffi.new("esemu_z_stream[1]")
  if lib.inflateInit2_(strm, window_bits, lib.zlibVersion(), ffi.sizeof("esemu_z_stream")) ~= 0 then
    return nil, "inflateInit2 failed"
  end
  local input = ffi.new("unsigned char[?]", #data)
  ffi.copy(input, data, #data)
  strm[0].next_in, strm[0].avail_in = input, #data
  local out, total, buf = {}, 0, ffi.new("unsigned char[?]", CHUNK)
  local rc
  repeat
    strm[0].next_out, strm[0].avail_out = buf, CHUNK
    rc = lib.inflate(strm, 0)
    local n = CHUNK - strm[0].avail_out
    if n > 0 then
      total = total + n
      if total > MAX_BODY then
        lib.inflateEnd(strm)
        return nil, "too large"
      end
      out[#out + 1] = ffi.string(buf, n)
    end
  until rc ~= 0 or (strm[0].avail_in == 0 and n < CHUNK)
  local msg = strm[0].msg ~= nil and ffi.string(strm[0].msg) or ("zlib error " .. rc)
  lib.inflateEnd(strm)
  if rc ~= 1 then return nil, rc == 0 and "truncated stream" or msg end -- 1: Z_STREAM_END
  return table.concat(out)
end

local function raw_body()
  local data = ngx.req.get_body_data()
  if data then return data end
  local file = ngx.req.get_body_file()
  if not file then return "" end
  return read_file(file) or ""
end

-- read_body(): reads the request body (this may yield, so it is done before
-- anything that must not) and inflates it per Content-Encoding: gzip,
-- x-gzip, deflate (zlib or raw); other codings are left as they are, as
-- Netty does.  A body that does not inflate closes the connection
-- (Elasticsearch's HTTP layer closes the channel on a decoder exception);
-- one that inflates past http.max_content_length gets a 413.
local function read_body()
  ngx.req.read_body()
  local coding = ngx.req.get_headers()["Content-Encoding"]
  if type(coding) == "table" then coding = coding[#coding] end
  coding = coding and coding:lower():match("^%s*(.-)%s*$")
  local bits = ({ gzip = 31, ["x-gzip"] = 31, deflate = 15, ["x-deflate"] = 15 })[coding or ""]
  if not bits then return end
  local data = raw_body()
  if data ~= "" then
    local out, err = inflate(data, bits)
    if not out and bits == 15 and err ~= "too large" then out, err = inflate(data, -15) end
    if not out then
      if err == "too large" then return ngx.exit(413) end
      ngx.log(ngx.WARN, "esemu: cannot inflate a ", coding, " request body (", err, "): closing the connection")
      return ngx.exit(444)
    end
    ngx.req.set_body_data(out)
  end
  ngx.req.clear_header("Content-Encoding")
end

-- Requests ------------------------------------------------------------------------

local function raw_path()
  return ((ngx.var.request_uri or ""):match("^[^?]*"))
end

local function dispatch(node)
  read_body()
  -- The name GET / reports: nothing yields from here to the response (the
  -- body is read), and there is one worker, so no other request runs
  -- between this and the handler.
  ngx.shared.esemu_meta:set("node_name", node.name)
  return require("esemu.router").dispatch()
end

function M.handle()
  local router = require "esemu.router"
  local response = require "esemu.response"
  if not routes_compiled then
    router.compile(require "esemu.routes")
    routes_compiled = true
  end
  local node = require("esemu.handlers.nodes").current() or { index = 0, name = "esemu" }
  -- faults first: they stand for the network and proxies in front of ES
  local faults = require "esemu.faults"
  local fault = faults.take(node.index, ngx.req.get_method(), raw_path())
  if fault and faults.apply(fault) then return end
  local ok, e = xpcall(function() return dispatch(node) end, on_error)
  if ok then return end
  if not errors.is(e) then
    -- a bug in the emulator: log it and answer like an unexpected ES failure
    ngx.log(ngx.ERR, "esemu: ", e)
    e = errors.new("exception", "esemu internal error: " .. tostring(e):match("^[^\n]*"), { status = 500 })
  end
  return response.error(e)
end

-- log(): the log phase of the node ports: the request log of the control
-- endpoint (GET /requests).
function M.log()
  -- a connection closed before it sent a request (a TLS probe, a port
  -- scan): not a request
  if (ngx.var.request or "") == "" then return end
  local ok, err = pcall(function()
    local node = require("esemu.handlers.nodes").current()
    require("esemu.control").record(node and node.index or 0, ngx.var.request_method or "",
      raw_path(), tonumber(ngx.var.status) or 0, ngx.ctx.esemu_fault, tonumber(ngx.var.connection),
      tonumber(ngx.var.connection_requests))
  end)
  if not ok then ngx.log(ngx.ERR, "esemu: request log: ", err) end
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
