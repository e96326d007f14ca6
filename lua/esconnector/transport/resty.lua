--- The OpenResty transport: HTTP/1.1 over nginx cosockets (ngx.socket.tcp),
-- so a call yields to nginx instead of blocking the worker.  Same contract
-- as transport/curl.lua; catalog, validation, interpretation and retries
-- stay in the client and the C core.
--
-- Works in the nginx phases where cosockets exist (rewrite, access,
-- content, ngx.timer, ssl_certificate, ...); transport/auto.lua picks it.
--
-- What nginx.conf has to provide:
--   lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;  # or your CA
--       certificates are verified (verify_tls = true, the default) against
--       this file only: a cosocket cannot take a CA per request, so the
--       client options ca_file and ca_path are refused with a "tls" error
--       instead of being silently ignored.
--   lua_ssl_verify_depth 3;      # nginx's default (1) is too short for most chains
--   resolver 127.0.0.53;         # any host name other than localhost needs it:
--       cosockets resolve through nginx, not through /etc/hosts
-- nginx matches the host with X509_check_host: DNS names and the CN, not
-- IP address entries, so a node reached by IP whose certificate lists the
-- IP only as an IP entry fails with "certificate host mismatch" (curl
-- accepts it).
-- ca_fingerprint cannot be checked either (a cosocket does not expose the
-- peer's chain) and is refused the same way.  client_cert and client_key
-- (PEM files) are supported through tcpsock:setclientcert; they are read
-- once per worker, so a renewed certificate needs an nginx reload.
--
-- request.fresh_connect = true (calls that create, sent at most once): a new
-- connection, closed after the answer, never one from the keepalive pool,
-- and never resent (see STALE_RETRIES).
--
-- Accept-Encoding is never sent: nothing here could inflate the body, and
-- Elasticsearch only compresses when asked.
local resty = {}

local DEFAULT_TIMEOUT_MS = 30000
local DEFAULT_CONNECT_TIMEOUT_MS = 10000
-- Below Elasticsearch's and nginx's own idle timeouts, so that the server
-- rarely closes a pooled connection first.
local DEFAULT_KEEPALIVE_MS = 60000
local READ_CHUNK = 65536

local monotonic_msec
do
  -- resty.core's monotonic clock when there is one (a wall clock step must
  -- not stretch or cut a deadline); ngx.now() otherwise.
  local ok, time = pcall(require, "resty.core.time")
  if ok and type(time) == "table" then monotonic_msec = time.monotonic_msec end
end

local RestyTransport = {}
RestyTransport.__index = RestyTransport

--- settings: the client's per-client settings (see transport/curl.lua),
-- fixed for the transport's life.  options (all optional):
-- keepalive_timeout_ms, keepalive_pool_size (the per-pool connection cap;
-- nginx's lua_socket_pool_size when not given).
function resty.new(settings, options)
  settings, options = settings or {}, options or {}
  local max = settings.max_response_bytes
  return setmetatable({
    settings = settings,
    max_bytes = max and max >= 1 and max or nil,
    keepalive_timeout_ms = options.keepalive_timeout_ms or DEFAULT_KEEPALIVE_MS,
    keepalive_pool_size = options.keepalive_pool_size,
  }, RestyTransport)
end

function RestyTransport.now_ms()
  if monotonic_msec then return monotonic_msec() end
  ngx.update_time()
  return ngx.now() * 1000
end

function RestyTransport.sleep_ms(_, ms)
  if ms > 0 then ngx.sleep(ms / 1000) end
end

-- "https://user@host:9200/a?b" -> scheme, host, port, authority, target.
-- Host keeps the brackets of an IPv6 literal; user info is dropped.
local function parse_url(url)
  local scheme, authority, rest = url:match("^(%a[%w+.-]*)://([^/?#]*)([^#]*)")
  if not scheme then return nil end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then return nil end
  authority = authority:gsub("^.*@", "")
  local host, port
  if authority:sub(1, 1) == "[" then
    host, port = authority:match("^(%[[^%]]+%]):?(%d*)$")
  else
    host, port = authority:match("^([^:]+):?(%d*)$")
  end
  if not host then return nil end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  if rest == "" or rest:sub(1, 1) == "?" then rest = "/" .. rest end
  return scheme, host, port, authority, rest
end

-- Client certificates, parsed once per worker and kept by file names.
local client_certs = {}

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local data = f:read("*a")
  f:close()
  return data
end

local function load_client_cert(cert_path, key_path)
  local id = cert_path .. "\0" .. key_path
  local loaded = client_certs[id]
  if loaded then return loaded end
  local ok, ssl = pcall(require, "ngx.ssl")
  if not ok then return nil, "ngx.ssl is not available: " .. tostring(ssl) end
  local cert_pem, err = read_file(cert_path)
  if not cert_pem then return nil, "cannot read client_cert: " .. err end
  local key_pem = cert_pem
  if key_path ~= cert_path then
    key_pem, err = read_file(key_path)
    if not key_pem then return nil, "cannot read client_key: " .. err end
  end
  local cert, cert_err = ssl.parse_pem_cert(cert_pem)
  if not cert then return nil, "cannot parse client_cert " .. cert_path .. ": " .. tostring(cert_err) end
  local key, key_err = ssl.parse_pem_priv_key(key_pem)
  if not key then return nil, "cannot parse client_key " .. key_path .. ": " .. tostring(key_err) end
  loaded = { cert = cert, key = key }
  client_certs[id] = loaded
  return loaded
end

-- Per-call state: the socket, where it goes, and the call's deadline.
local Call = {}
Call.__index = Call

function Call:fail(kind, message)
  if self.sock then
    self.sock:close()
    self.sock = nil
  end
  return nil, { kind = kind, message = message }
end

-- Milliseconds left before the deadline, at least 1 (0 would mean "the
-- nginx default" to a cosocket), or nil once it has passed.
function Call:remaining()
  local left = math.floor(self.deadline - RestyTransport.now_ms())
  if left <= 0 then return nil end
  return left
end

function Call:timed_out(what)
  return self:fail("timeout", ("timed out after %d ms %s (%s)"):format(self.timeout_ms, what, self.where))
end

-- Maps a cosocket error to a kind: nginx says "timeout" for every timeout.
function Call:io_error(err, what)
  if err == "timeout" then return self:timed_out(what) end
  return self:fail("connection", ("%s %s: %s"):format(what, self.where, err))
end

-- Gives the next socket operation the time that is left.
function Call:arm()
  local left = self:remaining()
  if not left then return false end
  self.sock:settimeout(left)
  return true
end

function Call:line(what)
  if not self:arm() then return self:timed_out(what) end
  local line, err, partial = self.sock:receive("*l")
  if not line then
    if partial and partial ~= "" then self.received = true end
    if err == "closed" then err = "the connection closed before the response was complete" end
    return self:io_error(err, what)
  end
  self.received = true
  return line
end

-- Appends up to n bytes (all of them, or until the server closes when n is
-- nil) to self.parts, keeping under max_response_bytes.
function Call:read_body(n)
  local parts, max = self.parts, self.max_bytes
  while n == nil or n > 0 do
    if not self:arm() then return self:timed_out("reading the response body") end
    local want = READ_CHUNK
    if n and n < want then want = n end
    local data, err = self.sock:receiveany(want)
    if not data then
      if err == "closed" and n == nil then return true end
      if err == "closed" then err = "the connection closed before the response body was complete" end
      return self:io_error(err, "reading the response body from")
    end
    self.size = self.size + #data
    if max and self.size > max then
      return self:fail("decode", ("the response body is larger than max_response_bytes (%d bytes)"):format(max))
    end
    parts[#parts + 1] = data
    if n then n = n - #data end
  end
  return true
end

function Call:read_chunked()
  while true do
    local line, err = self:line("reading a chunk size from")
    if not line then return nil, err end
    local hex = line:match("^%s*(%x+)%s*;?.*$")
    if not hex or #hex > 12 then
      return self:fail("connection", "bad chunk size in the response from " .. self.where)
    end
    local size = tonumber(hex, 16)
    if size == 0 then
      repeat -- trailer fields, up to the empty line
        line, err = self:line("reading the chunked trailer from")
        if not line then return nil, err end
      until line == ""
      return true
    end
    local ok, read_err = self:read_body(size)
    if not ok then return nil, read_err end
    line, err = self:line("reading the end of a chunk from")
    if not line then return nil, err end
    if line ~= "" then
      return self:fail("connection", "bad chunk framing in the response from " .. self.where)
    end
  end
end

-- Reads one response; returns it and whether the connection may be reused.
function Call:read_response(method)
  local status, version
  local headers
  repeat -- skip 1xx interim responses (100 Continue, 103 Early Hints)
    local line, err = self:line("waiting for the response from")
    if not line then return nil, err end
    local major, minor, code = line:match("^HTTP/(%d)%.(%d) (%d%d%d)")
    if not major then
      return self:fail("connection", "bad status line in the response from " .. self.where)
    end
    version, status = tonumber(major) * 10 + tonumber(minor), tonumber(code)
    headers = {}
    while true do
      line, err = self:line("reading the response headers from")
      if not line then return nil, err end
      if line == "" then break end
      local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
      if not name then
        return self:fail("connection", "bad header line in the response from " .. self.where)
      end
      name = name:lower()
      -- a repeated header is joined with ", ", as the curl transport does
      headers[name] = headers[name] and headers[name] .. ", " .. value or value
    end
  until status >= 200 or status == 101

  local connection = (headers["connection"] or ""):lower()
  local reusable = version >= 11 and not connection:find("close", 1, true)
  local encoding = headers["content-encoding"]
  if encoding and encoding:lower() ~= "identity" then
    return self:fail("decode", ("the response is %s-encoded, which the resty transport cannot decode"):format(
      encoding))
  end

  self.parts, self.size = {}, 0
  local te = (headers["transfer-encoding"] or ""):lower()
  local length = headers["content-length"]
  local ok, err
  if method == "HEAD" or status == 204 or status == 304 or status < 200 then
    ok = true
  elseif te ~= "" then
    if te:match("chunked%s*$") then
      ok, err = self:read_chunked()
    else -- another coding last: the body ends when the connection does
      reusable = false
      ok, err = self:read_body(nil)
    end
  elseif length then
    local n = length:match("^%d+$") and tonumber(length)
    if not n then
      return self:fail("connection", "bad Content-Length in the response from " .. self.where)
    end
    if self.max_bytes and n > self.max_bytes then
      return self:fail("decode", ("the response body is larger than max_response_bytes (%d bytes)"):format(
        self.max_bytes))
    end
    ok, err = self:read_body(n)
  else
    reusable = false
    ok, err = self:read_body(nil)
  end
  if not ok then return nil, err end
  return { status = status, headers = headers, body = table.concat(self.parts) }, reusable
end

local function has_header(lines, name)
  local prefix = name:lower() .. ":"
  for _, h in ipairs(lines) do
    if h:sub(1, #prefix):lower() == prefix then return true end
  end
  return false
end

local BODY_METHODS = { POST = true, PUT = true, PATCH = true }

-- The first header line that is not "token: value" free of CR, LF and NUL
-- (any of which could smuggle extra headers onto the wire), or nil.
local function bad_header(lines)
  for i, h in ipairs(lines) do
    if type(h) ~= "string" or not h:find("^[%w!#$%%&'*+%-.^_`|~]+:") or h:find("[\r\n]")
        or h:find("\0", 1, true) then
      local name = type(h) == "string" and h:match("^([%w!#$%%&'*+%-.^_`|~]+):")
      return name and ("request header '%s' contains CR, LF or NUL, which could smuggle extra headers: refused")
        :format(name) or ("request header %d is not a 'Name: value' line (or contains CR, LF or NUL): refused")
        :format(i)
    end
  end
  return nil
end

local function request_text(request, authority, target)
  local body = request.body
  local lines = { request.method .. " " .. target .. " HTTP/1.1" }
  local given = request.headers or {}
  if not has_header(given, "host") then lines[#lines + 1] = "Host: " .. authority end
  for _, h in ipairs(given) do lines[#lines + 1] = h end
  if body or BODY_METHODS[request.method] then
    lines[#lines + 1] = "Content-Length: " .. (body and #body or 0)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = body or ""
  return table.concat(lines, "\r\n")
end

-- Settings a pooled connection carries: a connection made with other TLS
-- settings must never be handed out.
local function pool_name(scheme, host, port, settings)
  return table.concat({ "esconnector", scheme, host, tostring(port),
    "verify=" .. tostring(settings.verify_peer ~= false),
    "ca=" .. (settings.ca_file or "") .. "|" .. (settings.ca_path or ""),
    "cert=" .. (settings.client_cert or "") .. "|" .. (settings.client_key or ""),
    "pin=" .. (settings.ca_fingerprint or "") }, ":")
end

-- The TLS options a cosocket cannot honour; nil when there is none.
local function unsupported_tls(settings)
  if settings.ca_file or settings.ca_path then
    return "ca_file and ca_path cannot be applied per request by nginx cosockets: "
      .. "set lua_ssl_trusted_certificate in nginx.conf to that CA file and leave ca_file/ca_path unset"
  end
  if settings.ca_fingerprint then
    return "ca_fingerprint cannot be checked by nginx cosockets (they do not expose the server's "
      .. "certificate chain): trust the CA through lua_ssl_trusted_certificate instead"
  end
  if settings.client_key and not settings.client_cert then
    return "client_key was given without client_cert"
  end
  return nil
end

-- One attempt on one connection (pooled or new); sets self.reused.
function Call:attempt(request, url, settings)
  local scheme, host, port = url.scheme, url.host, url.port
  local sock = ngx.socket.tcp()
  self.sock, self.received, self.reused = sock, false, false
  local left = self:remaining()
  if not left then return self:timed_out("before connecting to") end
  local connect_ms = math.min(request.connect_timeout_ms or settings.connect_timeout_ms
    or DEFAULT_CONNECT_TIMEOUT_MS, left)
  sock:settimeouts(math.max(1, math.floor(connect_ms)), left, left)
  -- nginx's resolver does not read /etc/hosts
  local address = host == "localhost" and "127.0.0.1" or host
  local ok, err = sock:connect(address, port, { pool = url.pool, pool_size = self.pool_size })
  if not ok then
    if err == "timeout" then
      return self:fail("timeout", ("timed out after %d ms connecting to %s"):format(connect_ms, self.where))
    end
    if err:find("no resolver", 1, true) then
      err = err .. " (set the resolver directive in nginx.conf)"
    end
    local _, failed = self:fail("connection", ("cannot connect to %s: %s"):format(self.where, err))
    failed.not_sent = true -- no connection, so no byte of the request left
    return nil, failed
  end
  self.reused = (sock:getreusedtimes() or 0) > 0

  -- a pooled https connection has done its handshake already
  if scheme == "https" and not self.reused then
    if settings.client_cert then
      local pair, cert_err = load_client_cert(settings.client_cert, settings.client_key or settings.client_cert)
      if not pair then return self:fail("tls", cert_err) end
      local set, set_err = sock:setclientcert(pair.cert, pair.key)
      if not set then return self:fail("tls", "cannot use client_cert: " .. tostring(set_err)) end
    end
    if not self:arm() then return self:timed_out("during the TLS handshake with") end
    -- false: no session object back, so success is always `true`; the
    -- name is both the SNI and what the certificate must match
    local done, tls_err = sock:sslhandshake(false, url.server_name, settings.verify_peer ~= false)
    if not done then
      if tls_err == "timeout" then return self:timed_out("during the TLS handshake with") end
      tls_err = tostring(tls_err)
      if tls_err:find("host mismatch", 1, true) and url.server_name:find("^[%d.:]+$") then
        tls_err = tls_err .. " (nginx matches an IP host against DNS names and the CN only, not IP entries)"
      elseif tls_err:find("^%d+: ") then -- an OpenSSL verification error
        tls_err = tls_err .. " (nginx verifies against lua_ssl_trusted_certificate, lua_ssl_verify_depth deep)"
      end
      return self:fail("tls", ("TLS handshake with %s failed: %s"):format(self.where, tls_err))
    end
  end

  if not self:arm() then return self:timed_out("before sending the request to") end
  local sent, send_err = sock:send(request_text(request, url.authority, url.target))
  if not sent then return self:io_error(send_err, "sending the request to") end
  local response, reusable = self:read_response(request.method)
  if not response then return nil, reusable end
  if reusable and not request.fresh_connect then
    local kept = sock:setkeepalive(self.keepalive_ms, self.pool_size)
    if not kept then sock:close() end
  else
    sock:close()
  end
  self.sock = nil
  return response
end

-- A pooled connection the server has closed meanwhile fails before any
-- byte of a response: not the node's fault, so it is tried again on
-- another connection (a few times: the pool may hold several stale ones).
local STALE_RETRIES = 3

--- send(request) -> response | nil, { kind, message }.  Messages name the
-- host and port, never a header (so never a credential).
function RestyTransport:send(request)
  local scheme, host, port, authority, target = parse_url(request.url or "")
  if not scheme then
    return nil, { kind = "connection", message = "not an http or https URL" }
  end
  local where = host .. ":" .. port
  local bad = bad_header(request.headers or {})
  if bad then return nil, { kind = "validation", message = bad } end
  local method = request.method or ""
  if not method:find("^[%w!#$%%&'*+%-.^_`|~]+$") or request.url:find("[%c \128-\255]") then
    return nil, { kind = "validation",
      message = "the request method or URL contains a byte HTTP cannot carry: refused" }
  end
  local settings = self.settings
  if scheme == "https" then
    local unsupported = unsupported_tls(settings)
    if unsupported then return nil, { kind = "tls", message = unsupported .. " (" .. where .. ")" } end
  end
  local timeout_ms = request.timeout_ms or settings.timeout_ms or DEFAULT_TIMEOUT_MS
  local call = setmetatable({
    where = where, timeout_ms = timeout_ms,
    deadline = RestyTransport.now_ms() + timeout_ms,
    max_bytes = self.max_bytes,
    keepalive_ms = self.keepalive_timeout_ms, pool_size = self.keepalive_pool_size,
  }, Call)
  local url = { scheme = scheme, host = host, port = port, authority = authority, target = target,
    server_name = host:match("^%[(.*)%]$") or host, pool = pool_name(scheme, host, port, settings) }
  if request.fresh_connect then
    -- A call that must go out at most once: a pool nothing is ever put
    -- into (the connection is closed after it), so the connection is new
    -- and a failure is never resent on another one.
    url.pool = url.pool .. ":fresh"
    return call:attempt(request, url, settings)
  end
  local response, err
  for _ = 0, STALE_RETRIES do
    response, err = call:attempt(request, url, settings)
    if response or not (call.reused and not call.received and err.kind == "connection") then break end
  end
  return response, err
end

return resty
