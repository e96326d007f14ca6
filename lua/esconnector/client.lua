--- The client: options, namespaces built from the C catalog, and the one
-- request path every API call takes (prepare -> send -> interpret).
local core = require "esconnector.core"
local json = require "esconnector.json"
local errors = require "esconnector.errors"

local client = {}

local DEFAULTS = {
  hosts = { "http://localhost:9200" },
  connect_timeout_ms = 10000,
  request_timeout_ms = 30000,
  validate = true,
  verify_tls = true,
  compatible_with = 8,
  max_response_bytes = 64 * 1024 * 1024,
  transport = "curl",
}

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
}

-- What a single call may override.
local CALL_OPTION_TYPES = {
  validate = "boolean",
  connect_timeout_ms = "number",
  request_timeout_ms = "number",
  headers = "table",
  opaque_id = "string",
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

-- Raises (at the caller's caller) for an unknown or ill-typed option.
local function check_options(options, types, what)
  for key, value in pairs(options) do
    local spec = types[key]
    if not spec then
      error(("esconnector: unknown %s '%s' (known: %s)"):format(
        what, tostring(key), table.concat(sorted_keys(types), ", ")), 3)
    end
    if not type_matches(value, spec) then
      error(("esconnector: %s '%s' must be a %s, got a %s"):format(
        what, key, spec:gsub("|", " or "), type(value)), 3)
    end
  end
end

local function check_header(name, value)
  if type(name) ~= "string" or type(value) ~= "string" then
    error("esconnector: header names and values must be strings", 4)
  end
  if name:find("[\r\n:]") or value:find("[\r\n]") then
    error(("esconnector: header '%s' contains CR, LF or ':'"):format(
      name:gsub("[\r\n]", "?")), 4)
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

local function user_agent()
  local lua = rawget(_G, "jit") and _G.jit.version or _VERSION
  return ("esconnector/%s (%s; %s)"):format(core.version, lua, core.curl_version())
end

local function new_transport(option)
  if type(option) == "table" then return option end -- a custom transport
  if option == "curl" then return require("esconnector.transport.curl").new() end
  error(("esconnector: unknown transport '%s'"):format(option), 3)
end

local Client = {}
Client.__index = Client

local Namespace = {}
Namespace.__index = function(ns, key)
  return ns._methods[key]
end

-- Builds client.<namespace>:<method> for every catalog row.
local function build_namespaces(self)
  local methods = {}
  for _, row in ipairs(core.catalog()) do
    local ns, method = row.name:match("^([%w_]+)%.([%w_]+)$")
    local api = row.name
    local call = function(namespace_or_client, params, call_options)
      local c = namespace_or_client._client or namespace_or_client
      return c:request(api, params, call_options)
    end
    if ns then
      methods[ns] = methods[ns] or {}
      methods[ns][method] = call
    else
      self[api] = call -- top level: client:info()
    end
  end
  for ns, ms in pairs(methods) do
    self[ns] = setmetatable({ _client = self, _methods = ms }, Namespace)
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
    if k ~= "api_key" and k ~= "basic_auth" and k ~= "bearer_auth" and k ~= "headers"
        and k ~= "transport" then
      self[k] = v
    end
  end
  local hosts = options.hosts or DEFAULTS.hosts
  if type(hosts) == "string" then hosts = { hosts } end
  if #hosts == 0 then error("esconnector: hosts must list at least one URL", 2) end
  self.nodes = {}
  local url_user, url_password
  for i, host in ipairs(hosts) do
    if type(host) ~= "string" then error("esconnector: hosts must be URLs", 2) end
    local node, user, password = parse_host(host)
    self.nodes[i] = node
    if user and not url_user then url_user, url_password = user, password end
  end
  self.hosts = nil
  self.next_node = 1

  local headers = {
    "Accept: application/vnd.elasticsearch+json; compatible-with=" .. self.compatible_with,
    "User-Agent: " .. user_agent(),
  }
  for _, name in ipairs(sorted_keys(options.headers or {})) do
    check_header(name, options.headers[name])
    headers[#headers + 1] = name .. ": " .. options.headers[name]
  end
  self.headers = headers
  credentials[self] = authorization(options, url_user, url_password)
  self.transport = new_transport(options.transport or DEFAULTS.transport)
  build_namespaces(self)
  return self
end

function Client:__tostring()
  local urls = {}
  for i, node in ipairs(self.nodes) do urls[i] = node.url end
  return ("esconnector.client (%s)"):format(table.concat(urls, ", "))
end

-- Round-robin; the transport issue replaces this with a pool that knows
-- dead nodes.
function Client:select_node()
  local node = self.nodes[self.next_node]
  self.next_node = self.next_node % #self.nodes + 1
  return node
end

--- Calls one API: validates params in the C core, sends, interprets.
-- Returns the decoded response body, or nil and an error object.
function Client:request(api, params, call_options)
  if params == nil then params = {} end
  if type(params) ~= "table" then
    error(("esconnector: %s takes a table of parameters"):format(api), 3)
  end
  call_options = call_options or {}
  if type(call_options) ~= "table" then
    error("esconnector: call options must be a table", 3)
  end
  check_options(call_options, CALL_OPTION_TYPES, "call option")
  local validate = self.validate
  if call_options.validate ~= nil then validate = call_options.validate end

  local prepared, err = core.prepare(api, params, validate)
  if not prepared then
    err.api = api
    return nil, errors.new(err)
  end

  local headers = {}
  for i, h in ipairs(self.headers) do headers[i] = h end
  local body
  if prepared.body then
    local encode_err
    body, encode_err = json.encode(prepared.body)
    if not body then
      return nil, errors.new{ kind = "validation", api = api,
        message = "cannot encode the body as JSON: " .. tostring(encode_err) }
    end
    headers[#headers + 1] = "Content-Type: application/vnd.elasticsearch+json; compatible-with="
      .. self.compatible_with
  end
  if call_options.opaque_id then
    check_header("X-Opaque-Id", call_options.opaque_id)
    headers[#headers + 1] = "X-Opaque-Id: " .. call_options.opaque_id
  end
  for _, name in ipairs(sorted_keys(call_options.headers or {})) do
    check_header(name, call_options.headers[name])
    headers[#headers + 1] = name .. ": " .. call_options.headers[name]
  end
  local auth = credentials[self]
  if auth then headers[#headers + 1] = "Authorization: " .. auth end

  local node = self:select_node()
  local response, transport_err = self.transport:send{
    method = prepared.method,
    url = node.url .. prepared.path .. (prepared.query and "?" .. prepared.query or ""),
    headers = headers,
    body = body,
    connect_timeout_ms = call_options.connect_timeout_ms or self.connect_timeout_ms,
    timeout_ms = call_options.request_timeout_ms or self.request_timeout_ms,
    verify_peer = self.verify_tls,
    verify_host = self.verify_tls,
    ca_file = self.ca_file,
    ca_path = self.ca_path,
    client_cert = self.client_cert,
    client_key = self.client_key,
    max_response_bytes = self.max_response_bytes,
  }
  if not response then
    transport_err.api, transport_err.node, transport_err.attempts = api, node.url, 1
    return nil, errors.new(transport_err)
  end
  local result, interpret_err = core.interpret(response, json.decode)
  if not result then
    interpret_err.api, interpret_err.node, interpret_err.attempts = api, node.url, 1
    return nil, errors.new(interpret_err)
  end
  return result
end

--- Closes the client's connections; the client is unusable afterwards.
function Client:close()
  if self.transport.close then self.transport:close() end
end

return client
