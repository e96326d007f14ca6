--- The client: options, namespaces built from the C catalog, and the one
-- request path every API call takes (prepare -> send -> interpret).
-- Make one with `esconnector.new(options)`.
-- @module esconnector.client
local core = require "esconnector.core"
local json = require "esconnector.json"
local errors = require "esconnector.errors"
local pool = require "esconnector.pool"
local scheduler = require "esconnector.scheduler"

local client = {}

local DEFAULTS = {
  hosts = { "http://localhost:9200" },
  connect_timeout_ms = 10000,
  request_timeout_ms = 30000,
  validate = true,
  verify_tls = true,
  compatible_with = 8,
  max_response_bytes = 64 * 1024 * 1024,
  transport = "auto",
  max_retries = 3,
  retry_on_status = { 502, 503, 504 },
  retry_on_timeout = false,
  retry_backoff_ms = 1000,
  max_retry_backoff_ms = 4000,
  resurrect_ms = 60000,
  max_resurrect_ms = 60000 * 32,
  http_compress = false,
  sniff_on_start = false,
}

--- Every option `esconnector.new` accepts; any other name, a value of the
-- wrong type, a timeout or size not above 0, a retry count or backoff below 0
-- raises.  Timeouts are milliseconds.
-- @table options
-- @field hosts node URLs (default `{ "http://localhost:9200" }`; a string for one;
--   `user:password@` in a URL becomes Basic auth, never printed)
-- @field cloud_id an Elastic Cloud ID, instead of `hosts`
-- @field api_key the encoded `base64(id:api_key)`, or `{ id = , api_key = }`
-- @field basic_auth `{ user, password }` or `{ username = , password = }`
-- @field bearer_auth a bearer token
-- @field connect_timeout_ms one attempt's connection timeout (10000)
-- @field request_timeout_ms one attempt's whole-request timeout (30000)
-- @field deadline_ms one deadline for every attempt of a call, waits included
-- @field max_retries retries after the first attempt (3)
-- @field retry_on_status statuses retried on another node (`{ 502, 503, 504 }`); with 429
--   listed, a `Retry-After` (seconds or HTTP date) is waited for when the retry still fits in
--   the deadline (without one, in `request_timeout_ms`), else the call fails at once with
--   `err.retry_after_ms`
-- @field retry_on_timeout also retry attempts that timed out (false)
-- @field retry_backoff_ms equal-jitter backoff base after each full round over the nodes (1000)
-- @field max_retry_backoff_ms its ceiling (4000)
-- @field resurrect_ms how long a failed node is skipped, doubling per failure (60000)
-- @field max_resurrect_ms its ceiling (1920000)
-- @field sniff_on_start replace `hosts` by the nodes `GET /_nodes/_all/http` lists (false)
-- @field sniff_interval_ms sniff again after this long
-- @field on_request observer: `function{ api, method, url, node, attempt, headers }`, credentials `[redacted]`
-- @field on_response observer: `function{ api, node, attempt, status, kind, message, duration_ms }`
-- @field verify_tls verify the server's certificate and name (true)
-- @field ca_file CA certificate file
-- @field ca_path CA certificate directory (hashed)
-- @field ca_fingerprint SHA-256 of the CA certificate (needs a core built with OpenSSL)
-- @field client_cert TLS client certificate file
-- @field client_key its key file
-- @field http_compress gzip request bodies (not a body sent with a Content-Encoding of its own) and ask
-- for compressed answers, as the official clients do with compression on (false; true with cloud_id);
-- the curl transport inflates compressed answers either way
-- @field validate check calls locally before sending (true)
-- @field headers extra request headers `{ name = value }`
-- @field compatible_with the vendored media type's `compatible-with` (8 or 9; 8)
-- @field max_response_bytes larger bodies are a `decode` error (64 MiB)
-- @field transport `"auto"` (libcurl outside nginx, cosockets inside), `"curl"`, `"resty"`,
--   or a table with `send`, `now_ms`, `sleep_ms`
-- @field allow_blocking let the curl transport block an nginx worker (false)
-- @see call_options

--- What a single call may override: the second argument of every API call
-- (the fourth of `perform_request`).
-- @table call_options
-- @field validate check this call locally (or not)
-- @field connect_timeout_ms
-- @field request_timeout_ms
-- @field deadline_ms
-- @field headers extra headers for this call (an `Authorization` here replaces the client's)
-- @field opaque_id sent as `X-Opaque-Id`
-- @field max_retries
-- @field retry_on_timeout

-- Every option new() accepts, with the Lua type it must have.
local OPTION_TYPES = {
  hosts = "table|string",
  api_key = "string|table",
  basic_auth = "table",
  bearer_auth = "string",
  ca_file = "string",
  ca_path = "string",
  client_cert = "string",
  client_key = "string",
  verify_tls = "boolean",
  connect_timeout_ms = "number",
  request_timeout_ms = "number",
  validate = "boolean",
  headers = "table",
  compatible_with = "number",
  max_response_bytes = "number",
  transport = "string|table",
  cloud_id = "string",
  ca_fingerprint = "string",
  max_retries = "number",
  retry_on_status = "table",
  retry_on_timeout = "boolean",
  retry_backoff_ms = "number",
  max_retry_backoff_ms = "number",
  resurrect_ms = "number",
  max_resurrect_ms = "number",
  deadline_ms = "number",
  http_compress = "boolean",
  sniff_on_start = "boolean",
  sniff_interval_ms = "number",
  on_request = "function",
  on_response = "function",
  allow_blocking = "boolean",
}

-- What a single call may override.
local CALL_OPTION_TYPES = {
  validate = "boolean",
  connect_timeout_ms = "number",
  request_timeout_ms = "number",
  deadline_ms = "number",
  headers = "table",
  opaque_id = "string",
  max_retries = "number",
  retry_on_timeout = "boolean",
}

-- Options that never become plain client fields (credentials stay out of
-- the client table, the rest is turned into something else).
local NOT_COPIED = {
  api_key = true, basic_auth = true, bearer_auth = true, headers = true,
  transport = true, hosts = true, cloud_id = true, retry_on_status = true,
}

-- Credentials live here, keyed by client, so that no field of the client
-- (and so no dump or tostring of it) holds them.
local credentials = setmetatable({}, { __mode = "k" })

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function type_matches(value, spec)
  for t in spec:gmatch("[^|]+") do
    if type(value) == t then return true end
  end
  return false
end

-- Limits: at least 1 (libcurl reads a 0 timeout or size as "none", and the C
-- core would truncate 0.5 to that), finite, and within what libcurl keeps (a
-- long of milliseconds; sizes are exact integers up to 2^53).  The rest may
-- be 0 but must be finite.
local MAX_MS, MAX_SIZE = 2147483647, 2 ^ 53 - 1
local LIMITS = {
  connect_timeout_ms = MAX_MS, request_timeout_ms = MAX_MS, deadline_ms = MAX_MS, max_response_bytes = MAX_SIZE,
  resurrect_ms = MAX_MS, max_resurrect_ms = MAX_MS, sniff_interval_ms = MAX_MS,
}
local NON_NEGATIVE = { max_retries = true, retry_backoff_ms = true, max_retry_backoff_ms = true }

-- What is wrong with the options (unknown or ill-typed), or nil.
local function options_problem(options, types, what)
  for key, value in pairs(options) do
    local spec = types[key]
    if not spec then
      return ("esconnector: unknown %s '%s' (known: %s)"):format(
        what, tostring(key), table.concat(sorted_keys(types), ", "))
    end
    if not type_matches(value, spec) then
      return ("esconnector: %s '%s' must be a %s, got a %s"):format(
        what, key, spec:gsub("|", " or "), type(value))
    end
    -- "not (1 <= v <= max)" rather than "v < 1 or v > max": NaN is refused too
    local max = LIMITS[key]
    if max and not (value >= 1 and value <= max) then -- luacheck: ignore 581
      return ("esconnector: %s '%s' must be at least 1 and at most %d, got %s"):format(
        what, key, max, tostring(value))
    end
    if NON_NEGATIVE[key] and not (value >= 0 and value < math.huge) then -- luacheck: ignore 581
      return ("esconnector: %s '%s' must be 0 or more (and finite), got %s"):format(what, key, tostring(value))
    end
  end
  if options.compatible_with and options.compatible_with ~= 8 and options.compatible_with ~= 9 then
    return ("esconnector: compatible_with must be 8 or 9, got %s"):format(tostring(options.compatible_with))
  end
  return nil
end

-- Raises (at the caller's caller) for an unknown or ill-typed option.
local function check_options(options, types, what)
  local problem = options_problem(options, types, what)
  if problem then error(problem, 3) end
end

local function check_header(name, value)
  if type(name) ~= "string" or type(value) ~= "string" then
    error("esconnector: header names and values must be strings", 4)
  end
  if name:find("[\r\n:]") or value:find("[\r\n]") or (name .. value):find("\0", 1, true) then
    error(("esconnector: header '%s' contains CR, LF, NUL or ':'"):format(
      (name:gsub("[%c]", "?"))), 4)
  end
end

local function percent_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- Splits "https://user:pass@host:9200/prefix" into a node whose url and
-- display carry no credentials; the user info is returned apart.
local function parse_host(host)
  local scheme, authority, path = host:match("^(%a[%w+.-]*)://([^/?#]*)([^?#]*)$")
  if not scheme or authority == "" then
    error(("esconnector: host '%s' is not a URL like https://host:9200"):format(
      (host:gsub("//[^@/]*@", "//"))), 4)
  end
  scheme = scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then
    error(("esconnector: host scheme must be http or https, got '%s'"):format(scheme), 4)
  end
  local userinfo, hostport = authority:match("^(.*)@(.*)$")
  hostport = hostport or authority
  local user, password
  if userinfo then
    local u, p = userinfo:match("^([^:]*):(.*)$")
    user, password = percent_decode(u or userinfo), percent_decode(p or "")
  end
  local url = scheme .. "://" .. hostport .. path:gsub("/+$", "")
  return { url = url, scheme = scheme }, user, password
end

-- Cloud ID "name:base64(host$es_id$kibana_id)" -> the Elasticsearch URL,
-- as the official clients decode it.
local function cloud_url(cloud_id)
  local encoded = cloud_id:match("^[^:]*:(.+)$")
  local decoded = encoded and core.base64_decode(encoded)
  local host, es_id = (decoded or ""):match("^([^$]+)%$([^$]+)")
  if not host then
    error("esconnector: cloud_id is not a valid Cloud ID", 3)
  end
  local name, port = host:match("^(.-):(%d+)$")
  if name and port ~= "443" then
    return ("https://%s.%s:%s"):format(es_id, name, port)
  end
  return ("https://%s.%s"):format(es_id, name or host)
end

local function authorization(options, url_user, url_password)
  local api_key = options.api_key
  if api_key then
    if type(api_key) == "table" then
      if type(api_key.id) ~= "string" or type(api_key.api_key) ~= "string" then
        error("esconnector: api_key must be the encoded string or { id = , api_key = }", 3)
      end
      return "ApiKey " .. core.base64(api_key.id .. ":" .. api_key.api_key)
    end
    return "ApiKey " .. api_key
  end
  if options.bearer_auth then
    return "Bearer " .. options.bearer_auth
  end
  local basic = options.basic_auth
  if basic then
    local user = basic.username or basic.user or basic[1]
    local password = basic.password or basic[2]
    if type(user) ~= "string" or type(password) ~= "string" then
      error("esconnector: basic_auth must be { user, password }", 3)
    end
    return "Basic " .. core.base64(user .. ":" .. password)
  end
  if url_user then
    return "Basic " .. core.base64(url_user .. ":" .. url_password)
  end
  return nil
end

-- Names no transport: the same from libcurl and from nginx's cosockets, and
-- made without loading libcurl.
local function user_agent()
  local lua = rawget(_G, "jit") and _G.jit.version or _VERSION
  return ("esconnector/%s (%s)"):format(core.version, lua)
end

local TRANSPORTS = { auto = true, curl = true, resty = true }

-- "auto" picks resty (cosockets) inside nginx and curl elsewhere, per call.
-- settings: what the transport fixes for the client's life (TLS, pin, size
-- cap, default timeouts); a custom transport table keeps its own.
local function new_transport(option, allow_blocking, settings)
  if type(option) == "table" then return option end -- a custom transport
  if TRANSPORTS[option] then
    return require("esconnector.transport.auto").new{ transport = option, allow_blocking = allow_blocking,
      settings = settings }
  end
  error(("esconnector: unknown transport '%s'"):format(option), 3)
end

-- Body fields whose values are secrets: they are scrubbed from anything an
-- error carries (Elasticsearch can echo a body it could not parse).
local SECRET_FIELDS = {
  ["connector.secret_post"] = { "value" },
  ["connector.secret_put"] = { "value" },
  ["security.grant_api_key"] = { "password", "access_token" },
  ["security.put_user"] = { "password", "password_hash" },
}

local function scrub(v, secrets, seen)
  if type(v) == "string" then
    for _, secret in ipairs(secrets) do
      local from = 1
      while true do
        local i, j = v:find(secret, from, true)
        if not i then break end
        v = v:sub(1, i - 1) .. "[redacted]" .. v:sub(j + 1)
        from = i + #"[redacted]"
      end
    end
    return v
  end
  if type(v) ~= "table" or seen[v] then return v end
  seen[v] = true
  for k, child in pairs(v) do v[k] = scrub(child, secrets, seen) end
  return v
end

local function request_secrets(api, body)
  local fields = SECRET_FIELDS[api]
  local secrets = {}
  if fields and body then
    for _, name in ipairs(fields) do
      if type(body[name]) == "string" and #body[name] >= 4 then secrets[#secrets + 1] = body[name] end
    end
  end
  return secrets
end

--- A client: `client:info()`, `client.connector:update_api_key_id{...}`, one
-- namespace table per catalog namespace (see the namespace pages).  Runtime
-- failures are returned as `nil, err` (`esconnector.errors`); programmer
-- errors raise.
-- @type Client
local Client = {}
Client.__index = Client

local Namespace = {}
Namespace.__index = function(ns, key)
  return ns._methods[key]
end

-- The methods of every namespace, built once from the catalog: a method
-- finds its client through the namespace table it is called on.
local METHODS = {}
-- Whether an API may be sent twice with the same effect.  A call that
-- creates something (a POST, or security.create_api_key's PUT) is not: a
-- second send after a lost answer makes a second key or secret.  Such calls
-- are never retried, and go out on a fresh connection, because libcurl and
-- the cosocket transport resend silently on a kept-alive connection the
-- server had closed.  POSTs that only read or update are listed as safe.
local CREATES = { ["security.create_api_key"] = true }
local SAFE_POSTS = { ["security.query_api_keys"] = true, ["security.clear_api_key_cache"] = true,
  ["security.bulk_update_api_keys"] = true }
local IDEMPOTENT = {}
client.IDEMPOTENT = IDEMPOTENT
local KNOWN_APIS = {}
for _, row in ipairs(core.catalog()) do -- one copy of the catalog: it is not cheap to build
  IDEMPOTENT[row.name] = not CREATES[row.name] and (row.method ~= "POST" or SAFE_POSTS[row.name] == true)
  local ns, method = row.name:match("^([%w_]+)%.([%w_]+)$")
  local api = row.name
  KNOWN_APIS[api] = true
  local call = function(namespace_or_client, params, call_options)
    local c = namespace_or_client._client or namespace_or_client
    return c:request(api, params, call_options)
  end
  if ns then
    METHODS[ns] = METHODS[ns] or {}
    METHODS[ns][method] = call
  else
    Client[api] = call -- top level: client:info()
  end
end
-- The REST spec's older names: connector_secret:get == connector:secret_get,
-- connector_sync_job:post == connector:sync_job_post.
METHODS.connector_secret, METHODS.connector_sync_job = {}, {}
local API_ALIASES = {} -- "connector_secret.get" -> "connector.secret_get", for client:request
for method, call in pairs(METHODS.connector) do
  for _, old in ipairs{ "secret", "sync_job" } do
    local short = method:match("^" .. old .. "_(.+)$")
    if short then
      METHODS["connector_" .. old][short] = call
      API_ALIASES["connector_" .. old .. "." .. short] = "connector." .. method
    end
  end
end

--- Iterates over every connector, page after page (`connector.list` with
-- `from`/`size`; `size` is the page size, 100 by default).  A failed page is
-- one last iteration with `false` and the error object.  Elasticsearch's
-- `from + size` limit (10000 by default) applies.
-- @function connector:list_all
-- @tparam[opt] table params `connector.list`'s parameters (`size`, `from`, `include_deleted`, filters)
-- @tparam[opt] table call_options
-- @return an iterator: each connector, or `false, err` once when a page failed
-- @usage for connector, err in client.connector:list_all{ size = 200 } do
--   if not connector then error(err) end
--   print(connector.id)
-- end

--- Iterates over every sync job, page after page (`connector.sync_job_list`),
-- the same way as `connector:list_all`.
-- @function connector:sync_job_list_all
-- @tparam[opt] table params `connector.sync_job_list`'s parameters (`connector_id`, `status`, `job_type`, `size`)
-- @tparam[opt] table call_options
-- @return an iterator: each sync job, or `false, err` once when a page failed

-- Paging helpers: an iterator over every item of a from/size list API.
-- A failed page is one more iteration with false and the error object, and
-- then the loop ends: a generic for stops at nil, so `nil, err` would end it
-- silently, and raising would break the library's rule that runtime
-- failures are values.  Code that ignores err still fails loudly, on
-- `false.id`.
local function pager(api)
  return function(namespace_or_client, params, call_options)
    local c = namespace_or_client._client or namespace_or_client
    if params == nil then params = {} end
    if type(params) ~= "table" then
      error(("esconnector: %s_all takes a table of parameters"):format(api), 2)
    end
    local query = {}
    for k, v in pairs(params) do query[k] = v end
    local size = query.size or 100
    local from = query.from or 0
    local page, index, done = {}, 0, false
    local last_page = false
    return function()
      if done then return nil end
      index = index + 1
      if index > #page then
        if last_page then done = true return nil end
        query.from, query.size = from, size
        -- (called by a for loop, where PUC 5.1 cannot yield to a scheduler)
        local res, err = scheduler.without_yield(c.request, c, api, query, call_options)
        if not res then
          done = true
          return false, err
        end
        page, index = type(res.results) == "table" and res.results or {}, 1
        from = from + #page
        last_page = #page < size or (type(res.count) == "number" and from >= res.count)
        if #page == 0 then done = true return nil end
      end
      return page[index]
    end
  end
end
METHODS.connector.list_all = pager("connector.list")
METHODS.connector.sync_job_list_all = pager("connector.sync_job_list")

local function build_namespaces(self)
  for ns, methods in pairs(METHODS) do
    self[ns] = setmetatable({ _client = self, _methods = methods }, Namespace)
  end
end

function client.new(options)
  if options == nil then options = {} end
  if type(options) ~= "table" then
    error("esconnector.new: options must be a table", 2)
  end
  check_options(options, OPTION_TYPES, "option")
  local self = setmetatable({}, Client)
  for k, v in pairs(DEFAULTS) do self[k] = v end
  for k, v in pairs(options) do
    if not NOT_COPIED[k] then self[k] = v end
  end
  if options.cloud_id and options.hosts then
    error("esconnector: give hosts or cloud_id, not both", 2)
  end
  local hosts = options.hosts or DEFAULTS.hosts
  if options.cloud_id then
    hosts = { cloud_url(options.cloud_id) }
    -- as the official clients: compression is on by default for Elastic Cloud
    if options.http_compress == nil then self.http_compress = true end
  end
  if type(hosts) == "string" then hosts = { hosts } end
  if #hosts == 0 then error("esconnector: hosts must list at least one URL", 2) end
  local nodes = {}
  local url_user, url_password
  for i, host in ipairs(hosts) do
    if type(host) ~= "string" then error("esconnector: hosts must be URLs", 2) end
    local node, user, password = parse_host(host)
    nodes[i] = node
    if user and not url_user then url_user, url_password = user, password end
    if options.ca_fingerprint and node.scheme ~= "https" then
      error("esconnector: ca_fingerprint needs https hosts", 2)
    end
  end
  self.scheme = nodes[1].scheme
  self.pool = pool.new(nodes, { resurrect_ms = self.resurrect_ms, max_resurrect_ms = self.max_resurrect_ms })
  self.retry_status = {}
  for _, status in ipairs(options.retry_on_status or DEFAULTS.retry_on_status) do
    if type(status) ~= "number" or status % 1 ~= 0 or status < 400 or status > 599 then
      error("esconnector: retry_on_status must list HTTP error statuses (400 to 599)", 2)
    end
    self.retry_status[status] = true
  end
  if self.ca_fingerprint then
    -- the one option that loads libcurl at new(): the pin lives in its module
    if not require("esconnector.curl").has_ca_fingerprint then
      error("esconnector: ca_fingerprint needs the C core and libcurl built with OpenSSL "
        .. "(this core cannot check it)", 2)
    end
    self.ca_fingerprint = self.ca_fingerprint:gsub(":", ""):lower()
    if not self.ca_fingerprint:match("^%x+$") or #self.ca_fingerprint ~= 64 then
      error("esconnector: ca_fingerprint must be a SHA-256 fingerprint (64 hex digits)", 2)
    end
  end
  self.sniff_pending = self.sniff_on_start
  -- What derive() starts from: every option but the credentials.
  local base = {}
  for k, v in pairs(options) do
    if k ~= "api_key" and k ~= "basic_auth" and k ~= "bearer_auth" and k ~= "cloud_id" then base[k] = v end
  end
  base.hosts, base.http_compress = {}, self.http_compress
  for i, node in ipairs(nodes) do base.hosts[i] = node.url end
  self.base_options = base

  local headers = {
    "Accept: application/vnd.elasticsearch+json; compatible-with=" .. self.compatible_with,
    "User-Agent: " .. user_agent(),
  }
  for _, name in ipairs(sorted_keys(options.headers or {})) do
    check_header(name, options.headers[name])
    headers[#headers + 1] = name .. ": " .. options.headers[name]
  end
  self.headers = headers
  -- The whole header lists of a call with no per-call headers, made once:
  -- for a request without a body and with one.  They hold the credential,
  -- so they live apart from the client's fields too.
  local auth = authorization(options, url_user, url_password)
  local plain, with_body = {}, {}
  for i, h in ipairs(headers) do plain[i], with_body[i] = h, h end
  with_body[#with_body + 1] = "Content-Type: application/vnd.elasticsearch+json; compatible-with="
    .. self.compatible_with
  if auth then
    plain[#plain + 1] = "Authorization: " .. auth
    with_body[#with_body + 1] = "Authorization: " .. auth
  end
  -- a custom transport might change the list it is given: it gets copies
  credentials[self] = { auth = auth, plain = plain, with_body = with_body,
    shared = type(options.transport) ~= "table" }
  self.transport = new_transport(options.transport or DEFAULTS.transport, options.allow_blocking, {
    connect_timeout_ms = self.connect_timeout_ms, timeout_ms = self.request_timeout_ms,
    verify_peer = self.verify_tls or self.ca_fingerprint ~= nil, verify_host = self.verify_tls,
    ca_file = self.ca_file, ca_path = self.ca_path, client_cert = self.client_cert, client_key = self.client_key,
    ca_fingerprint = self.ca_fingerprint, max_response_bytes = self.max_response_bytes,
    accept_compressed = self.http_compress,
  })
  build_namespaces(self)
  return self
end

function Client:__tostring()
  local urls = {}
  for i, node in ipairs(self.pool.nodes) do urls[i] = node.url end
  return ("esconnector.client (%s)"):format(table.concat(urls, ", "))
end

--- Asks the cluster for its nodes (GET /_nodes/_all/http) and uses them.
-- Returns true, or nil and the error (the node list is then unchanged).
-- @treturn boolean true
-- @return[2] nil
-- @return[2] the error
function Client:sniff()
  self.sniff_pending = false
  self.last_sniff = self.transport:now_ms()
  local res, err = self:request("nodes.info", { node_id = "_all", metric = "http" }, { max_retries = 0 })
  if not res then return nil, err end
  local nodes = {}
  for _, info in pairs(type(res.nodes) == "table" and res.nodes or {}) do
    local address = type(info.http) == "table" and info.http.publish_address
    if type(address) == "string" then
      -- "hostname/ip:port" or "ip:port"
      local host, port = address:match("^([^/]+)/[^:]*:(%d+)$")
      if not host then host, port = address:match("^(.+):(%d+)$") end
      if host then nodes[#nodes + 1] = { url = self.scheme .. "://" .. host .. ":" .. port, scheme = self.scheme } end
    end
  end
  if #nodes == 0 then
    return nil, errors.new{ kind = "decode", api = "nodes.info", message = "sniffing found no node addresses" }
  end
  table.sort(nodes, function(a, b) return a.url < b.url end)
  self.pool:replace(nodes)
  return true
end

-- Headers for observers: the same, with credentials replaced.
local function redacted_headers(headers)
  local copy = {}
  for i, h in ipairs(headers) do
    copy[i] = h:match("^[Aa]uthorization:") and "Authorization: [redacted]" or h
  end
  return copy
end

-- Equal-jitter backoff after a full round over the nodes: half the ceiling,
-- plus up to as much again at random.
local function backoff_ms(self, round)
  local ceiling = math.min(self.max_retry_backoff_ms, self.retry_backoff_ms * 2 ^ round) / 2
  return ceiling + math.random() * ceiling
end

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6, jul = 7, aug = 8, sep = 9, oct = 10,
  nov = 11, dec = 12 }

-- Seconds since the epoch of a UTC civil date (Howard Hinnant's days_from_civil).
local function utc_epoch(y, m, d, hh, mm, ss)
  y = m <= 2 and y - 1 or y
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * (m + (m > 2 and -3 or 9)) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return ((days * 24 + hh) * 60 + mm) * 60 + ss
end

--- Milliseconds a Retry-After header value asks to wait (RFC 9110: delay-seconds,
-- or an HTTP date in any of its three forms), or nil when it is not one.
-- @local
function client.retry_after_ms(value, now_s)
  if type(value) ~= "string" then return nil end
  local seconds = value:match("^%s*(%d+)%s*$")
  if seconds then return tonumber(seconds) * 1000 end
  local d, mon, y, hh, mm, ss = value:match("^%s*%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT%s*$")
  if not d then -- RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    d, mon, y, hh, mm, ss = value:match("^%s*%a+, (%d%d)%-(%a%a%a)%-(%d%d) (%d%d):(%d%d):(%d%d) GMT%s*$")
    if y then y = tonumber(y) + (tonumber(y) < 70 and 2000 or 1900) end
  end
  if not d then -- asctime: Sun Nov  6 08:49:37 1994
    mon, d, hh, mm, ss, y = value:match("^%s*%a%a%a (%a%a%a) +(%d%d?) (%d%d):(%d%d):(%d%d) (%d%d%d%d)%s*$")
  end
  local month = mon and MONTHS[mon:lower()]
  if not month then return nil end
  local at = utc_epoch(tonumber(y), month, tonumber(d), tonumber(hh), tonumber(mm), tonumber(ss))
  return math.max(0, (at - (now_s or os.time())) * 1000)
end

--- Calls one API: validates params in the C core, sends, interprets.
-- Returns the decoded response body, or nil and an error object.
-- Params or call options when there are none (never written to).
local EMPTY = {}

-- The header lines of one call, and whether to gzip its body: the client's
-- lists made in new() as they are, unless the call adds headers of its own
-- (call_options.headers, then extra: perform_request's), which may replace
-- the Content-Type and the credentials.  A Content-Encoding of the call's
-- own says the body is encoded already: http_compress leaves it alone.
local function call_headers(self, body, call_options, extra)
  local cred = credentials[self]
  local compress = body and self.http_compress
  if cred.shared and not call_options.opaque_id and not call_options.headers and not extra and not compress then
    return body and cred.with_body or cred.plain, false
  end
  local headers = {}
  for i, h in ipairs(self.headers) do headers[i] = h end
  local has_type = false -- a Content-Type of the call's own replaces the JSON one
  for _, given in ipairs{ call_options.headers or EMPTY, extra or EMPTY } do
    for name in pairs(given) do
      local lower = type(name) == "string" and name:lower()
      if lower == "content-type" then has_type = true end
      if lower == "content-encoding" then compress = false end
    end
  end
  if body and not has_type then headers[#headers + 1] = cred.with_body[#self.headers + 1] end -- Content-Type
  if call_options.opaque_id then
    check_header("X-Opaque-Id", call_options.opaque_id)
    headers[#headers + 1] = "X-Opaque-Id: " .. call_options.opaque_id
  end
  local auth = cred.auth
  for _, given in ipairs{ call_options.headers or EMPTY, extra or EMPTY } do
    for _, name in ipairs(sorted_keys(given)) do
      check_header(name, given[name])
      if name:lower() == "authorization" then auth = nil end -- the call's own replaces the client's
      headers[#headers + 1] = name .. ": " .. given[name]
    end
  end
  if auth then headers[#headers + 1] = "Authorization: " .. auth end
  if compress then headers[#headers + 1] = "Content-Encoding: gzip" end
  return headers, compress
end


-- Every namespace method calls this (`client.connector:get{...}` is
-- `client:request("connector.get", {...})`).
-- @tparam string api the catalog name, like `"connector.update_api_key_id"`
-- @tparam[opt] table params path, query and body parameters in one table
-- @tparam[opt] table call_options see `call_options`
-- @treturn table the decoded response body
-- @return[2] nil
-- @return[2] an error object (`kind = "validation"` when the local check refused it)
-- @raise when params or call_options is not a table, or a call option is unknown
function Client:request(api, params, call_options)
  api = API_ALIASES[api] or api
  if params == nil then params = EMPTY end
  if type(params) ~= "table" then
    error(("esconnector: %s takes a table of parameters"):format(api), 3)
  end
  if call_options == nil then
    call_options = EMPTY
  elseif type(call_options) ~= "table" then
    error("esconnector: call options must be a table", 3)
  elseif next(call_options) ~= nil then
    check_options(call_options, CALL_OPTION_TYPES, "call option")
  end
  local validate = self.validate
  if call_options.validate ~= nil then validate = call_options.validate end

  -- prepare: method, path, query and body, validated by the C core
  local prepared, err = core.prepare(api, params, validate)
  if not prepared then
    err.api = api
    return nil, errors.new(err)
  end
  local body
  if prepared.body then
    local encode_err
    body, encode_err = json.encode(prepared.body)
    if not body then
      return nil, errors.new{ kind = "validation", api = api,
        message = "cannot encode the body as JSON: " .. tostring(encode_err) }
    end
  end
  local headers, compress = call_headers(self, body, call_options)
  if compress then body = core.gzip(body) end
  -- transport and interpret, with retries
  return self:send(api, prepared, headers, body, call_options)
end

-- Body fields perform_request scrubs from errors: every secret field any
-- catalog API has (it cannot know which API a path is).
local ANY_SECRET_FIELDS = {}
for _, fields in pairs(SECRET_FIELDS) do
  for _, name in ipairs(fields) do ANY_SECRET_FIELDS[name] = true end
end

local function query_value(v)
  if type(v) == "table" then -- a list: ES takes comma-separated values
    local parts = {}
    for i, item in ipairs(v) do parts[i] = tostring(item) end
    v = table.concat(parts, ",")
  end
  return core.escape(tostring(v))
end

-- Like core.interpret, but a 2xx body may be any JSON value (a JSON array
-- from _cat?format=json) or text (_cat without it): perform_request cannot
-- know what the path answers.
local function interpret_any(response, decode)
  local result, err = core.interpret(response, decode)
  if result or err.kind ~= "decode" or response.status < 200 or response.status > 299 then
    return result, err
  end
  if err.message == "the response body is not a JSON object" then
    local value = decode(response.body)
    if value == false or value == nil then return response.body end -- "false": its text, as for _cat
    return value
  elseif tostring(err.message):find("^unexpected content%-type") then
    return response.body
  end
  return nil, err
end

local PERFORM_PARAMS = { query = "table|string", body = "table|string", headers = "table" }

--- Sends a request the catalog does not list: the escape hatch.
-- It takes the same path as every API call (nodes, retries, deadline,
-- observers, the product check, error objects, redaction of credentials and
-- of secret body fields) but no validation: the path is sent as given.
-- @tparam string method an HTTP method in capitals (`"GET"`, `"PUT"`, ...)
-- @tparam string path the path, starting with `/`, already escaped (see `core.escape`)
-- @tparam[opt] table params `query` (a table of name = value, lists joined by commas, or an
--   encoded string), `body` (a table sent as JSON, or a string sent as it is), `headers`
--   (a table of name = value; a `Content-Type` here replaces the JSON one)
-- @tparam[opt] table call_options as for any API call (timeouts, deadline_ms, max_retries, opaque_id, headers)
-- @return the decoded body (a table; for a 2xx that is not a JSON object, the JSON value or the text)
-- @return[2] nil
-- @return[2] an error object (`err.api` is `"perform_request"`)
-- @raise for a bad method, path or parameter (a programmer error)
-- @usage local stats, err = client:perform_request("GET", "/_connector/_stats")
-- local res, err = client:perform_request("POST", "/my-index/_doc",
--   { query = { refresh = "true" }, body = { title = "x" } })
function Client:perform_request(method, path, params, call_options)
  if type(method) ~= "string" or not method:match("^%u+$") then
    error("esconnector: perform_request: method must be an HTTP method in capitals, like \"GET\"", 2)
  end
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" or path:find("[%s%c#]") then
    error("esconnector: perform_request: path must start with / and hold no spaces, controls or #", 2)
  end
  params = params or {}
  if type(params) ~= "table" then error("esconnector: perform_request: params must be a table", 2) end
  check_options(params, PERFORM_PARAMS, "perform_request parameter")
  call_options = call_options or {}
  if type(call_options) ~= "table" then error("esconnector: call options must be a table", 2) end
  check_options(call_options, CALL_OPTION_TYPES, "call option")

  local query = params.query
  if type(query) == "table" then
    local parts = {}
    for _, name in ipairs(sorted_keys(query)) do
      parts[#parts + 1] = core.escape(tostring(name)) .. "=" .. query_value(query[name])
    end
    query = #parts > 0 and table.concat(parts, "&") or nil
  elseif query == "" then
    query = nil
  end
  if query and path:find("?", 1, true) then
    error("esconnector: perform_request: give the query in the path or in params.query, not both", 2)
  end
  local body, secrets = params.body, {}
  if type(body) == "table" then
    for name in pairs(ANY_SECRET_FIELDS) do
      if type(body[name]) == "string" and #body[name] >= 4 then secrets[#secrets + 1] = body[name] end
    end
    local encode_err
    body, encode_err = json.encode(body)
    if not body then
      return nil, errors.new{ kind = "validation", api = "perform_request",
        message = "cannot encode the body as JSON: " .. tostring(encode_err) }
    end
  end
  -- the escape hatch cannot know what a POST or PATCH creates: at most once
  local prepared = { method = method, path = path, query = query, secrets = secrets, interpret = interpret_any,
    idempotent = method ~= "POST" and method ~= "PATCH" }
  local headers, compress = call_headers(self, body, call_options, params.headers)
  if compress then body = core.gzip(body) end
  return self:send("perform_request", prepared, headers, body, call_options)
end

-- A failed call's error: the attempts it made, scrubbed of the request's
-- secrets.
local function failure(api, prepared, attempts, history, err)
  err.api, err.attempts, err.history = api, attempts, history or {}
  local secrets = prepared.secrets or request_secrets(api, prepared.body)
  if #secrets > 0 then scrub(err, secrets, {}) end
  return nil, errors.new(err)
end

-- The retry loop: picks nodes, sends, interprets, retries what may be
-- retried, all within one deadline.
function Client:send(api, prepared, headers, body, call_options)
  local transport = self.transport
  -- (never from the sniff's own call)
  if api ~= "nodes.info" and (self.sniff_pending or (self.sniff_interval_ms
      and transport:now_ms() - (self.last_sniff or 0) >= self.sniff_interval_ms)) then
    self:sniff()
  end
  local max_retries = call_options.max_retries or self.max_retries
  -- at most once: a create is tried again only when it surely never left
  -- (the transport says not_sent: no connection was made)
  local idempotent = prepared.idempotent
  if idempotent == nil then idempotent = IDEMPOTENT[api] ~= false end
  local retry_on_timeout = call_options.retry_on_timeout
  if retry_on_timeout == nil then retry_on_timeout = self.retry_on_timeout end
  local deadline_ms = call_options.deadline_ms or self.deadline_ms
  local now = transport:now_ms()
  local deadline_at = deadline_ms and now + deadline_ms
  local path = prepared.query and prepared.path .. "?" .. prepared.query or prepared.path
  local history -- the failed attempts, made on the first
  local attempt = 0
  while true do
    attempt = attempt + 1
    local timeout = call_options.request_timeout_ms or self.request_timeout_ms
    local connect_timeout = call_options.connect_timeout_ms or self.connect_timeout_ms
    if deadline_at then
      local remaining = math.floor(deadline_at - now)
      if remaining <= 0 then
        return failure(api, prepared, attempt - 1, history, { kind = "timeout",
          message = ("the call's deadline of %d ms passed"):format(deadline_ms),
          node = history and history[#history].node })
      end
      timeout, connect_timeout = math.min(timeout, remaining), math.min(connect_timeout, remaining)
    end
    local node = self.pool:select(now)
    local url = node.url .. path
    if self.on_request then
      self.on_request{ api = api, method = prepared.method, url = url, node = node.url,
        attempt = attempt, headers = redacted_headers(headers) }
    end
    local response, transport_err = scheduler.send(transport, {
      method = prepared.method, url = url, headers = headers, body = body,
      connect_timeout_ms = connect_timeout, timeout_ms = timeout,
      fresh_connect = not idempotent or nil,
    })
    local finished = transport:now_ms()
    if self.on_response then
      self.on_response{ api = api, node = node.url, attempt = attempt, status = response and response.status,
        kind = transport_err and transport_err.kind, message = transport_err and transport_err.message,
        duration_ms = finished - now }
    end

    local err, retryable, retry_after
    if response then
      local status = response.status
      if status == 502 or status == 503 or status == 504 then
        self.pool:mark_dead(node, finished)
      else
        self.pool:mark_alive(node)
      end
      local result, interpret_err = (prepared.interpret or core.interpret)(response, json.decode)
      if result then return result end
      err, retryable = interpret_err, idempotent and interpret_err.kind == "http" and self.retry_status[status] == true
      if retryable then retry_after = client.retry_after_ms(response.headers and response.headers["retry-after"]) end
    else
      err = transport_err
      if err.kind == "connection" then
        self.pool:mark_dead(node, finished)
        retryable = idempotent or err.not_sent == true
      elseif err.kind == "timeout" then
        retryable = idempotent and retry_on_timeout
        if retryable then self.pool:mark_dead(node, finished) end
      end
    end
    history = history or {}
    history[#history + 1] = { node = node.url, duration_ms = finished - now,
      status = response and response.status, kind = transport_err and transport_err.kind,
      message = transport_err and transport_err.message }
    err.node = node.url
    if not retryable or attempt > max_retries then return failure(api, prepared, attempt, history, err) end
    local nodes = #self.pool.nodes
    local wait = attempt % nodes == 0 and backoff_ms(self, attempt / nodes) or 0
    if retry_after then
      -- The server said when to come back: wait that long, but only if the
      -- retry can still happen within the deadline (without one, within
      -- the request timeout); otherwise fail now with its answer.
      local budget = deadline_at and deadline_at - transport:now_ms() or timeout
      if retry_after >= budget then
        err.retry_after_ms = retry_after
        return failure(api, prepared, attempt, history, err)
      end
      wait = math.max(wait, retry_after)
    end
    if deadline_at then wait = math.min(wait, deadline_at - transport:now_ms()) end
    if wait > 0 then scheduler.sleep_ms(transport, wait) end
    now = transport:now_ms()
  end
end

local DEFAULT_CONCURRENCY = 16

local function concurrency_of(options)
  if options == nil then return DEFAULT_CONCURRENCY end
  if type(options) ~= "table" then error("esconnector: options must be a table", 3) end
  for key in pairs(options) do
    if key ~= "concurrency" then
      error(("esconnector: unknown option '%s' (known: concurrency)"):format(tostring(key)), 3)
    end
  end
  local n = options.concurrency
  if n == nil then return DEFAULT_CONCURRENCY end
  if type(n) ~= "number" or not (n >= 1) or n ~= math.floor(n) or n == math.huge then -- luacheck: ignore 581
    error(("esconnector: concurrency must be a whole number of 1 or more, got %s"):format(tostring(n)), 3)
  end
  return n
end

--- Calls every function of the list, at most options.concurrency (default
-- 16) at a time: a client call inside one waits without holding up the
-- others (curl_multi outside nginx, light threads inside).  Returns a
-- list in the same order: { result = <first value returned>, err = <second> }
-- for each, or { err = <error of kind "lua"> } for one that raised (the
-- others go on).
function Client.concurrently(_, functions, options)
  if type(functions) ~= "table" then error("esconnector: concurrently takes a list of functions", 2) end
  for i = 1, #functions do
    if type(functions[i]) ~= "function" then
      error(("esconnector: concurrently: entry %d is a %s, not a function"):format(i, type(functions[i])), 2)
    end
  end
  local ran = scheduler.run(functions, concurrency_of(options))
  local results = {}
  for i = 1, #functions do
    local r = ran[i]
    if r[1] then
      results[i] = { result = r[2], err = r[3] }
    else
      results[i] = { err = errors.new{ kind = "lua", message = tostring(r[2]) } }
    end
  end
  return results
end

-- Why calls[i] of a batch cannot be made, or nil.
local function batch_entry_problem(call)
  if type(call) ~= "table" then return "is not a table { api_name, params [, call_options] }" end
  local api, params, call_options = call[1], call[2], call[3]
  if type(api) ~= "string" then return "has no API name (a string) first" end
  api = API_ALIASES[api] or api
  if not KNOWN_APIS[api] then return ("names an unknown API '%s'"):format(api) end
  if params ~= nil and type(params) ~= "table" then return "has parameters that are not a table" end
  if call_options ~= nil and type(call_options) ~= "table" then return "has call options that are not a table" end
  return call_options and options_problem(call_options, CALL_OPTION_TYPES, "call option")
end

-- Makes entry i of a batch (batch = { client, calls, results }) unless it
-- failed its checks: one function for every batch, not a closure each.
local function make_batch_entry(batch, i)
  local results = batch.results
  if results[i] then return end
  local call = batch.calls[i]
  local res, err = batch.client:request(call[1], call[2], call[3])
  results[i] = res ~= nil and { result = res } or { err = err }
end

--- Makes many calls, at most options.concurrency (default 16) in flight.
-- calls: a list of { api_name, params [, call_options] }, api names as in
-- the catalog ("connector.update_api_key_id").  Returns a list in the same
-- order of { result = <decoded body> } or { err = <error> }; each call has
-- its own validation, retries, failover, deadline and observers, and an
-- entry that cannot be made fails alone, with a "validation" error.
function Client:batch(calls, options)
  if type(calls) ~= "table" then error("esconnector: batch takes a list of calls", 2) end
  local concurrency = concurrency_of(options)
  local results, n = {}, #calls
  for i = 1, n do
    local call = calls[i]
    local problem = batch_entry_problem(call)
    if problem then
      results[i] = { err = errors.new{ kind = "validation", api = type(call) == "table" and type(call[1]) == "string"
        and call[1] or nil, message = ("batch entry %d %s"):format(i, problem:gsub("^esconnector: ", "")) } }
    end
  end
  local raised = scheduler.each(make_batch_entry, { client = self, calls = calls, results = results }, n, concurrency)
  for i, r in pairs(raised) do
    -- what request() raises for its arguments (a header with CR/LF, say)
    -- is this entry's validation error; anything else (an observer that
    -- raised) is reported as it is
    local message = tostring(r[2])
    local ours = message:find("esconnector: ", 1, true) ~= nil
    results[i] = { err = errors.new{ kind = ours and "validation" or "lua", api = calls[i][1],
      message = ours and message:gsub("^.-esconnector: ", "") or message } }
  end
  return results
end

--- A new client for the same cluster and settings, with overrides (for
-- example other credentials: derive{ api_key = ... }).
-- @tparam[opt] table overrides options that replace this client's (credentials are not inherited)
-- @treturn Client
function Client:derive(overrides)
  local options = {}
  for k, v in pairs(self.base_options) do options[k] = v end
  for k, v in pairs(overrides or {}) do options[k] = v end
  return client.new(options)
end

--- Rotates a connector's API key safely (see esconnector.rotation).
-- @tparam table params see `esconnector.rotation.rotate`
-- @treturn table the report
-- @return[2] nil
-- @return[2] the error, with the failed `step`
function Client:rotate_api_key(params)
  return require("esconnector.rotation").rotate(self, params)
end

--- Keys and secrets earlier rotations left behind (see esconnector.rotation).
function Client:reconcile(params)
  return require("esconnector.rotation").reconcile(self, params)
end

--- Retires old keys whose planned retirement has come (see esconnector.rotation).
function Client:retire(params)
  return require("esconnector.rotation").retire(self, params)
end

--- Closes the client's connections; the client is unusable afterwards.
function Client:close()
  if self.transport.close then self.transport:close() end
end

return client
