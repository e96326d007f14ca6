-- Authentication (401, es-behaviour.md §2.1) and authorization (403, §2.2).
-- Users, roles and API keys live in the esemu_auth shared dict, so every
-- worker and every node port sees the same ones.

local errors = require "esemu.errors"
local json = require "esemu.json"
local store = require "esemu.store"
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

function M.unauthorized(reason, opts)
  opts = opts or {}
  opts.es, opts.status = true, 401
  opts.headers = { { "WWW-Authenticate", M.www_authenticate() } }
  return errors.new("security_exception", reason, opts)
end

-- Storage ----------------------------------------------------------------------

-- Users of the reserved realm (the bootstrap superuser); the rest are native.
M.RESERVED_USERS = { elastic = true, kibana = true, kibana_system = true, logstash_system = true,
                     beats_system = true, apm_system = true, remote_monitoring_user = true }

-- put_user(name, password, roles[, extra]): extra has full_name, email,
-- metadata, enabled, realm ("reserved" when absent: the bootstrap user).
function M.put_user(name, password, roles, extra)
  extra = extra or {}
  local rs = json.arr()
  for i, r in ipairs(roles or {}) do rs[i] = r end
  local realm = extra.realm or "reserved"
  local metadata = extra.metadata or (realm == "reserved" and json.obj("_reserved", true)) or json.obj()
  assert(dict():set("user:" .. name, json.encode(json.obj("password", password, "roles", rs,
    "full_name", extra.full_name or json.null, "email", extra.email or json.null, "metadata", metadata,
    "enabled", extra.enabled ~= false, "realm", realm))))
end

function M.get_user(name)
  local v = dict():get("user:" .. name)
  return v and xcontent.decode(v)
end

function M.delete_user(name)
  if dict():get("user:" .. name) == nil then return false end
  dict():delete("user:" .. name)
  return true
end

-- Roles: the role descriptor as stored (cluster, indices, ... arrays).
function M.put_role(name, descriptor)
  assert(dict():set("role:" .. name, json.encode(descriptor)))
end

function M.get_role(name)
  local v = dict():get("role:" .. name)
  return v and xcontent.decode(v)
end

function M.delete_role(name)
  if dict():get("role:" .. name) == nil then return false end
  dict():delete("role:" .. name)
  return true
end

-- put_api_key(doc): doc is a json object with at least id, api_key, name,
-- username, realm, creation; optional expiration (epoch ms), invalidated,
-- invalidation, metadata, role_descriptors, limited_by.
function M.put_api_key(doc)
  if doc.seq == nil then doc.seq = assert(meta():incr("seq", 1, 0)) end
  assert(dict():set("apikey:" .. doc.id, json.encode(doc)))
end

function M.get_api_key(id)
  local v = dict():get("apikey:" .. id)
  return v and xcontent.decode(v)
end

-- all_api_keys(): every key, in creation order.
function M.all_api_keys()
  local out = {}
  for _, k in ipairs(dict():get_keys(0)) do
    if k:sub(1, 7) == "apikey:" then
      local v = dict():get(k)
      if v then out[#out + 1] = xcontent.decode(v) end
    end
  end
  table.sort(out, function(a, b) return (a.seq or 0) < (b.seq or 0) end)
  return out
end

-- realm_of(user record) -> name, type
function M.realm_of(user)
  if user and user.realm == "default_native" then return "default_native", "native" end
  return "reserved", "reserved"
end

-- Authentication ----------------------------------------------------------------

local function basic(req, value)
  local raw, err = util.base64_decode_java(value)
  if not raw then
    error(M.unauthorized("invalid basic authentication header encoding", { cause = errors.illegal_argument(err) }), 0)
  end
  local i = raw:find(":", 1, true)
  if not i then error(M.unauthorized("invalid basic authentication header value"), 0) end
  local name, password = raw:sub(1, i - 1), raw:sub(i + 1)
  local user = M.get_user(name)
  if not user or user.password ~= password or user.enabled == false then
    error(M.unauthorized(("unable to authenticate user [%s] for REST request [%s]"):format(name, req.uri)), 0)
  end
  local realm, realm_type = M.realm_of(user)
  return { kind = "user", username = name, roles = user.roles, user = user, realm = realm, realm_type = realm_type }
end

local function api_key(req, value)
  local raw, err = util.base64_decode_java(value)
  if raw then
    local i = raw:find(":", 1, true)
    if not i or i < 2 then raw, err = nil, "invalid ApiKey value" end
  end
  if not raw then
    error(M.unauthorized("error attempting to authenticate request", { cause = errors.illegal_argument(err) }), 0)
  end
  local i = raw:find(":", 1, true)
  local id, secret = raw:sub(1, i - 1), raw:sub(i + 1)
  local function fail(detail)
    error(M.unauthorized(
      "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
      { metadata = { { "additional_unsuccessful_credentials", "API key: " .. detail } } }), 0)
  end
  local key = M.get_api_key(id)
  if not key then fail("unable to find apikey with id " .. id) end
  if key.invalidated == true then fail("api key [" .. id .. "] has been invalidated") end
  if key.api_key ~= secret then fail("invalid credentials for API key [" .. id .. "]") end
  if type(key.expiration) == "number" and req.now * 1000 > key.expiration then fail("api key is expired") end
  local owner = M.get_user(key.username)
  return { kind = "api_key", api_key_id = id, api_key_name = key.name, username = key.username,
           roles = owner and owner.roles or {}, user = owner, key = key,
           realm = key.realm or "reserved", realm_type = key.realm_type or key.realm or "reserved" }
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
  error(M.unauthorized(("missing authentication credentials for REST request [%s]"):format(req.uri)), 0)
end

-- check_password(name, password): the user record, or nil (grant_api_key).
function M.check_password(name, password)
  local user = M.get_user(name)
  if not user or user.password ~= password or user.enabled == false then return nil end
  return user
end

-- Privileges ---------------------------------------------------------------------

local SECRET_ACTIONS = {
  ["cluster:admin/xpack/connector/secret/get"] = true, ["cluster:admin/xpack/connector/secret/post"] = true,
  ["cluster:admin/xpack/connector/secret/put"] = true, ["cluster:admin/xpack/connector/secret/delete"] = true,
}
local MONITOR_CONNECTOR = {
  ["cluster:admin/xpack/connector/get"] = true, ["cluster:admin/xpack/connector/list"] = true,
  ["cluster:admin/xpack/connector/sync_job/get"] = true, ["cluster:admin/xpack/connector/sync_job/list"] = true,
}
local READ_SECURITY = {
  ["cluster:admin/xpack/security/api_key/get"] = true, ["cluster:admin/xpack/security/api_key/query"] = true,
  ["cluster:admin/xpack/security/role/get"] = true, ["cluster:admin/xpack/security/user/get"] = true,
  ["cluster:admin/xpack/security/user/has_privileges"] = true,
}
-- The API-key actions manage_own_api_key allows for the owner's own keys.
local OWN_API_KEY = {
  ["cluster:admin/xpack/security/api_key/create"] = "always",
  ["cluster:admin/xpack/security/api_key/get"] = "own",
  ["cluster:admin/xpack/security/api_key/query"] = "always",
  ["cluster:admin/xpack/security/api_key/invalidate"] = "own",
  ["cluster:admin/xpack/security/api_key/update"] = "always",
  ["cluster:admin/xpack/security/api_key/bulk_update"] = "always",
}

local function starts(s, prefix) return s:sub(1, #prefix) == prefix end
local function is_cluster_action(a)
  return starts(a, "cluster:") or starts(a, "indices:admin/template/") or starts(a, "indices:admin/index_template/")
end

-- Cluster privileges that matter here: name -> function(action, ctx), and
-- a rank ordering them from least to most privileged, as
-- ClusterPrivilegeResolver.sortByAccessLevel does (how many others each
-- implies, then the name).
local CLUSTER = {
  none = { 0, function() return false end },
  all = { 60, is_cluster_action },
  monitor = { 8, function(a) return starts(a, "cluster:monitor/") end },
  manage = { 45, function(a) return is_cluster_action(a) and not starts(a, "cluster:admin/xpack/security/") end },
  manage_security = { 12, function(a) return starts(a, "cluster:admin/xpack/security/") end },
  manage_api_key = { 2, function(a) return starts(a, "cluster:admin/xpack/security/api_key/") end },
  manage_own_api_key = { 0, function(a, ctx)
    local how = OWN_API_KEY[a]
    return how == "always" or (how == "own" and ctx ~= nil and ctx.own == true)
  end },
  grant_api_key = { 0, function(a) return starts(a, "cluster:admin/xpack/security/api_key/grant") end },
  read_security = { 0, function(a) return READ_SECURITY[a] == true end },
  manage_connector = { 1, function(a)
    return starts(a, "cluster:admin/xpack/connector/") and not SECRET_ACTIONS[a]
  end },
  monitor_connector = { 0, function(a) return MONITOR_CONNECTOR[a] == true end },
  read_connector_secrets = { 0, function(a) return a == "cluster:admin/xpack/connector/secret/get" end },
  write_connector_secrets = { 0, function(a)
    return SECRET_ACTIONS[a] == true and a ~= "cluster:admin/xpack/connector/secret/get"
  end },
  manage_token = { 0, function(a) return starts(a, "cluster:admin/xpack/security/token/") end },
}
local CLUSTER_ORDER = {}
for name in pairs(CLUSTER) do CLUSTER_ORDER[#CLUSTER_ORDER + 1] = name end
table.sort(CLUSTER_ORDER, function(a, b)
  if CLUSTER[a][1] ~= CLUSTER[b][1] then return CLUSTER[a][1] < CLUSTER[b][1] end
  return a < b
end)

-- Every predefined cluster privilege name of ES 9.1, as its "unknown cluster
-- privilege" message lists them (sorted from least to most privileged).
M.CLUSTER_PRIVILEGE_NAMES = {
  "cancel_task", "create_snapshot", "cross_cluster_replication", "cross_cluster_search", "delegate_pki",
  "grant_api_key", "manage_autoscaling", "manage_behavioral_analytics", "manage_ccr",
  "manage_data_stream_global_retention", "manage_enrich", "manage_ilm", "manage_inference",
  "manage_ingest_pipelines", "manage_logstash_pipelines", "manage_ml", "manage_oidc", "manage_own_api_key",
  "manage_pipeline", "manage_rollup", "manage_saml", "manage_search_application", "manage_search_query_rules",
  "manage_search_synonyms", "manage_service_account", "manage_slm", "manage_token", "manage_transform",
  "manage_user_profile", "manage_watcher", "monitor_connector", "monitor_data_stream_global_retention",
  "monitor_enrich", "monitor_inference", "monitor_ml", "monitor_rollup", "monitor_snapshot",
  "monitor_text_structure", "monitor_transform", "monitor_watcher", "none", "post_behavioral_analytics_event",
  "read_ccr", "read_connector_secrets", "read_fleet_secrets", "read_ilm", "read_pipeline", "read_security",
  "read_slm", "transport_client", "write_connector_secrets", "write_fleet_secrets", "manage_api_key",
  "manage_connector", "manage_data_frame_transforms", "manage_index_templates", "monitor_data_frame_transforms",
  "manage_security", "monitor", "manage", "all",
}
local KNOWN_CLUSTER = {}
for _, n in ipairs(M.CLUSTER_PRIVILEGE_NAMES) do KNOWN_CLUSTER[n] = true end

-- unknown_cluster_privilege(name): ES's message, or nil for a valid name
-- (a predefined one, or a pattern over cluster actions).
function M.unknown_cluster_privilege(name)
  local lower = name:lower()
  if KNOWN_CLUSTER[lower] or is_cluster_action(lower) then return nil end
  return ("unknown cluster privilege [%s]. a privilege must be either one of the predefined cluster privilege "
    .. "names [%s] or a pattern over one of the available cluster actions")
    :format(lower, table.concat(M.CLUSTER_PRIVILEGE_NAMES, ","))
end

-- A cluster privilege grants an action: a named one, or an action pattern
-- ("cluster:admin/xpack/connector/*" or an action name, which means name*).
local function cluster_grants(priv, action, ctx)
  priv = priv:lower()
  local c = CLUSTER[priv]
  if c then return c[2](action, ctx) end
  if is_cluster_action(priv) then
    local prefix = priv:gsub("%*+$", "")
    return starts(action, prefix)
  end
  return false
end

local function glob_match(pattern, s)
  local lua = "^" .. pattern:gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", ".*") .. "$"
  return s:find(lua) ~= nil
end

local function as_list(v)
  if type(v) == "string" then return { v } end
  if type(v) == "table" then return v end
  return {}
end

-- Index privileges that matter here, least privileged first (as a denial
-- lists them): name and what IndexPrivilege's automaton grants of the index
-- actions the emulator knows ("read" is indices:data/read/*).
local INDEX = {
  { "read", function(a) return starts(a, "indices:data/read/") end },
  { "delete_index", function(a) return a == "indices:admin/delete" end },
  { "manage", function(a) return starts(a, "indices:admin/") or starts(a, "indices:monitor/") end },
  { "all", function() return true end },
}
local INDEX_BY_NAME = {}
for _, row in ipairs(INDEX) do INDEX_BY_NAME[row[1]] = row[2] end

-- An index privilege grants an index action: a named one, or an action
-- pattern ("indices:data/read/*" or an action name, which means name*).
local function index_privilege_grants(priv, action)
  priv = priv:lower()
  local named = INDEX_BY_NAME[priv]
  if named then return named(action) end
  if starts(priv, "indices:") then return starts(action, (priv:gsub("%*+$", ""))) end
  return false
end

-- Does the role descriptor grant the index action on the index?
local function index_grants(rd, action, index)
  for _, entry in ipairs(as_list(rd.indices or rd.index)) do
    if type(entry) == "table" then
      local name_ok, priv_ok = false, false
      for _, n in ipairs(as_list(entry.names)) do
        if type(n) == "string" and glob_match(n, index) then name_ok = true end
      end
      for _, pv in ipairs(as_list(entry.privileges)) do
        if type(pv) == "string" and index_privilege_grants(pv, action) then priv_ok = true end
      end
      if name_ok and priv_ok then return true end
    end
  end
  return false
end

-- Cluster actions that an index privilege on one index grants as well: the
-- connector and sync-job reads.  ES 8.13 to 8.x named them index actions
-- (ListConnectorAction: "indices:data/read/xpack/connector/list", requests
-- on the connector's own index), so reading that index allowed them; ES 9
-- named them cluster:admin/xpack/connector/* for monitor_connector.  ES's
-- own REST tests and their fixtures (index read, no connector privilege)
-- still rely on the index grant, so either allows them (emulator/README.md).
-- action -> { index action, index }
local INDEX_GRANTED_CLUSTER_ACTIONS = {
  ["cluster:admin/xpack/connector/get"] = { "indices:data/read/xpack/connector/get", store.CONNECTORS },
  ["cluster:admin/xpack/connector/list"] = { "indices:data/read/xpack/connector/list", store.CONNECTORS },
  ["cluster:admin/xpack/connector/sync_job/get"] =
    { "indices:data/read/xpack/connector/sync_job/get", store.SYNC_JOBS },
  ["cluster:admin/xpack/connector/sync_job/list"] =
    { "indices:data/read/xpack/connector/sync_job/list", store.SYNC_JOBS },
}

-- A role descriptor grants an action (cluster, or index on every name).
local function descriptor_grants(rd, action, ctx)
  if ctx.indices then
    for _, index in ipairs(ctx.indices) do
      if not index_grants(rd, action, index) then return false end
    end
    return #ctx.indices > 0
  end
  for _, priv in ipairs(as_list(rd.cluster)) do
    if type(priv) == "string" and cluster_grants(priv, action, ctx) then return true end
  end
  local via_index = INDEX_GRANTED_CLUSTER_ACTIONS[action]
  return via_index ~= nil and index_grants(rd, via_index[1], via_index[2])
end

local SUPERUSER = { cluster = { "all" }, indices = { { names = { "*" }, privileges = { "all" } } } }

-- resolve_roles(names) -> descriptors, unresolved names
function M.resolve_roles(names)
  local out, unresolved = {}, {}
  for _, name in ipairs(names or {}) do
    if name == "superuser" then
      out[#out + 1] = SUPERUSER
    else
      local rd = M.get_role(name)
      if rd then out[#out + 1] = rd else unresolved[#unresolved + 1] = name end
    end
  end
  return out, unresolved
end

local function any_grants(descriptors, action, ctx)
  for _, rd in ipairs(descriptors) do
    if descriptor_grants(rd, action, ctx) then return true end
  end
  return false
end

-- Has the key its own role descriptors (an empty map means the owner's)?
local function key_descriptors(key)
  local rds = key.role_descriptors
  if not json.is_obj(rds) then return nil end
  local out = {}
  for _, rd in json.opairs(rds) do out[#out + 1] = rd end
  if #out == 0 then return nil end
  return out
end

-- The owner's role descriptors as the key recorded them (limited_by): ES
-- snapshots them at creation and update, later role changes do not count.
local function limited_descriptors(key)
  local lb = key.limited_by
  if not json.is_arr(lb) or not json.is_obj(lb[1]) then return nil end
  local out = {}
  for _, rd in json.opairs(lb[1]) do out[#out + 1] = rd end
  return out
end

-- allowed(principal, action, ctx): a user's roles decide; an API key gets
-- what both its own role descriptors (if any) and its owner's allow.
function M.allowed(principal, action, ctx)
  if action == "cluster:admin/xpack/security/user/authenticate" then return true end
  if principal.kind == "api_key" then
    local own = key_descriptors(principal.key)
    if own and not any_grants(own, action, ctx) then return false end
    local limit = limited_descriptors(principal.key)
    if limit then return any_grants(limit, action, ctx) end
  end
  return any_grants((M.resolve_roles(principal.roles)), action, ctx)
end

-- The privileges ES lists as granting an action, least privileged first.
function M.granting_privileges(action, ctx)
  ctx = ctx or {}
  local out = {}
  if ctx.indices then
    for _, row in ipairs(INDEX) do
      if row[2](action) then out[#out + 1] = row[1] end
    end
    return out
  end
  for _, name in ipairs(CLUSTER_ORDER) do
    if CLUSTER[name][2](action, ctx) then out[#out + 1] = name end
  end
  return out
end

-- AuthorizationDenialMessages: who, then the declared roles of a user.
local function who(principal)
  if principal.kind == "api_key" then
    return ("API key id [%s] of user [%s]"):format(principal.api_key_id, principal.username)
  end
  local roles = principal.roles or {}
  local s = "user [" .. principal.username .. "]"
  if #roles == 0 then return s .. " with no declared roles" end
  local _, unresolved = M.resolve_roles(roles)
  local state
  if #unresolved == 0 then
    state = "all resolved"
  elseif #unresolved == #roles then
    state = "none resolved"
  else
    table.sort(unresolved)
    state = "unresolved [" .. table.concat(unresolved, ",") .. "]"
  end
  return ("%s with declared roles [%s] (%s)"):format(s, table.concat(roles, ","), state)
end

function M.denied(principal, action, ctx)
  ctx = ctx or {}
  local msg = ("action [%s] is unauthorized for %s"):format(action, who(principal))
  if ctx.indices then msg = msg .. " on indices [" .. table.concat(ctx.indices, ",") .. "]" end
  local privs = M.granting_privileges(action, ctx)
  if #privs > 0 then
    msg = msg .. (", this action is granted by the %s privileges [%s]")
      :format(ctx.indices and "index" or "cluster", table.concat(privs, ","))
  end
  return errors.new("security_exception", msg, { es = true, status = 403 })
end

-- authorize(principal, action, ctx): returns, or raises 403.  ctx: own (the
-- request is about the principal's own API keys), indices (index actions).
function M.authorize(principal, action, ctx)
  if principal == nil or action == nil then return end
  if not M.allowed(principal, action, ctx or {}) then error(M.denied(principal, action, ctx), 0) end
end

return M
