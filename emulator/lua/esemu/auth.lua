-- Authentication (401, es-behaviour.md §2.1) and the authorization hook (403,
-- §2.2).  Users and API keys live in the esemu_auth shared dict, so every
-- worker (and later every node port) sees the same ones.
-- luacheck: globals ngx

local errors = require "esemu.errors"
local json = require "esemu.json"
local util = require "esemu.util"
local xcontent = require "esemu.xcontent"

local M = {}

local function dict() return ngx.shared.esemu_auth end
local function meta() return ngx.shared.esemu_meta end

function M.enabled()
  return meta():get("auth") == true
end

-- Without TLS ES has no token service, hence no Bearer challenge.
function M.www_authenticate()
  local v = { 'Basic realm="security", charset="UTF-8"' }
  if meta():get("tls") then v[#v + 1] = 'Bearer realm="security"' end
  v[#v + 1] = "ApiKey"
  return v
end

local function unauthorized(reason, opts)
  opts = opts or {}
  opts.es, opts.status = true, 401
  opts.headers = { { "WWW-Authenticate", M.www_authenticate() } }
  return errors.new("security_exception", reason, opts)
end

-- Storage ----------------------------------------------------------------------

-- put_user(name, password, roles)
function M.put_user(name, password, roles)
  local rs = json.arr()
  for i, r in ipairs(roles or {}) do rs[i] = r end
  assert(dict():set("user:" .. name, json.encode(json.obj("password", password, "roles", rs, "enabled", true))))
end

function M.get_user(name)
  local v = dict():get("user:" .. name)
  return v and xcontent.decode(v)
end

-- put_api_key(doc): doc is a json object with at least id, api_key, name,
-- username; optional expiration (epoch ms), invalidated, role_descriptors.
function M.put_api_key(doc)
  assert(dict():set("apikey:" .. doc.id, json.encode(doc)))
end

function M.get_api_key(id)
  local v = dict():get("apikey:" .. id)
  return v and xcontent.decode(v)
end

-- Authentication ----------------------------------------------------------------

local function is_superuser(roles)
  for _, r in ipairs(roles or {}) do
    if r == "superuser" then return true end
  end
  return false
end

local function basic(req, value)
  local raw, err = util.base64_decode_java(value)
  if not raw then
    error(unauthorized("invalid basic authentication header encoding", { cause = errors.illegal_argument(err) }), 0)
  end
  local i = raw:find(":", 1, true)
  if not i then error(unauthorized("invalid basic authentication header value"), 0) end
  local name, password = raw:sub(1, i - 1), raw:sub(i + 1)
  local user = M.get_user(name)
  if not user or user.password ~= password or user.enabled == false then
    error(unauthorized(("unable to authenticate user [%s] for REST request [%s]"):format(name, req.uri)), 0)
  end
  return { kind = "user", username = name, roles = user.roles, superuser = is_superuser(user.roles) }
end

local function api_key(req, value)
  local raw, err = util.base64_decode_java(value)
  if raw then
    local i = raw:find(":", 1, true)
    if not i or i < 2 then raw, err = nil, "invalid ApiKey value" end
  end
  if not raw then
    error(unauthorized("error attempting to authenticate request", { cause = errors.illegal_argument(err) }), 0)
  end
  local i = raw:find(":", 1, true)
  local id, secret = raw:sub(1, i - 1), raw:sub(i + 1)
  local function fail(detail)
    error(unauthorized(
      "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
      { metadata = { { "additional_unsuccessful_credentials", "API key: " .. detail } } }), 0)
  end
  local key = M.get_api_key(id)
  if not key then fail("unable to find apikey with id " .. id) end
  if key.invalidated == true then fail("api key [" .. id .. "] has been invalidated") end
  if key.api_key ~= secret then fail("invalid credentials for API key [" .. id .. "]") end
  if type(key.expiration) == "number" and req.now * 1000 > key.expiration then fail("api key is expired") end
  local owner = M.get_user(key.username) or {}
  return { kind = "api_key", api_key_id = id, api_key_name = key.name, username = key.username,
           roles = owner.roles, superuser = is_superuser(owner.roles) and key.role_descriptors == nil,
           key = key }
end

-- authenticate(req): the principal, nil when security is off, or raises 401.
function M.authenticate(req)
  if not M.enabled() then return nil end
  local h = req:header("Authorization")
  if h then
    local lower = h:lower()
    if lower:sub(1, 6) == "basic " then
      return basic(req, h:sub(7):match("^%s*(.-)%s*$"))
    elseif lower:sub(1, 7) == "apikey " and #h > 7 then
      return api_key(req, h:sub(8):match("^%s*(.-)%s*$"))
    end
  end
  error(unauthorized(("missing authentication credentials for REST request [%s]"):format(req.uri)), 0)
end

-- Authorization -------------------------------------------------------------------

-- Cluster privileges that grant an action (ClusterPrivilegeResolver).
local GRANTED_BY = {
  ["cluster:monitor/main"] = { "monitor", "manage", "all" },
  ["cluster:admin/xpack/connector/get"] = { "monitor_connector", "manage_connector", "manage", "all" },
  ["cluster:admin/xpack/connector/list"] = { "monitor_connector", "manage_connector", "manage", "all" },
}
local CONNECTOR_DEFAULT = { "manage_connector", "manage", "all" }

function M.granting_privileges(action)
  return GRANTED_BY[action] or (action:find("^cluster:admin/xpack/connector/") and CONNECTOR_DEFAULT) or { "all" }
end

-- authorize(principal, action): returns, or raises 403.  Only superusers
-- exist so far; role-based checks plug in here.
function M.authorize(principal, action)
  if principal == nil or principal.superuser then return end
  local who
  if principal.kind == "api_key" then
    who = ("API key id [%s] of user [%s]"):format(principal.api_key_id, principal.username)
  else
    who = ("user [%s] with effective roles [%s]"):format(principal.username,
      table.concat(principal.roles or {}, ","))
  end
  error(errors.new("security_exception",
    ("action [%s] is unauthorized for %s, this action is granted by the cluster privileges [%s]")
      :format(action, who, table.concat(M.granting_privileges(action), ",")),
    { es = true, status = 403 }), 0)
end

return M
