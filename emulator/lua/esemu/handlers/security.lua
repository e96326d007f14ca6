-- Security APIs (es-behaviour.md §2, §6): API keys (create, grant, get,
-- query, invalidate, update, bulk update, cache clear), authenticate, roles
-- and native users.  State lives in auth.lua (esemu_auth shared dict).

local auth = require "esemu.auth"
local errors = require "esemu.errors"
local json = require "esemu.json"
local nodes = require "esemu.handlers.nodes"
local util = require "esemu.util"
local xcontent = require "esemu.xcontent"

local obj, arr = json.obj, json.arr

local M = {}

local PREFIX = "cluster:admin/xpack/security/"

local function empty(s) return s == nil or s == "" end
local function now_ms(req) return math.floor(req.now * 1000) end

local function bad(msg) error(errors.illegal_argument(msg), 0) end

-- WriteRequest.RefreshPolicy.parse
local function read_refresh(req)
  local v = req:param("refresh")
  if v ~= nil and v ~= "" and v ~= "true" and v ~= "false" and v ~= "wait_for" then
    bad("Unknown value for refresh: [" .. v .. "].")
  end
end

-- Role descriptors -------------------------------------------------------------------

local function string_array(p)
  if p.token == "VALUE_STRING" then return arr({ p:text() }) end
  local a = arr()
  while p:next_token() ~= "END_ARRAY" do
    if p.token ~= "VALUE_STRING" then
      error(xcontent.parse_error(p.tline, p.tcol, "expected a string but found [" .. p.token .. "] instead"), 0)
    end
    a[#a + 1] = p:text()
  end
  return a
end

local INDEX_PRIVILEGES = xcontent.object_parser("indices_privileges", {
  { "names", "string_array", string_array, required = true },
  { "privileges", "string_array", string_array, required = true },
  { "field_security", "object" },
  { "query", "object_or_string" },
  { "allow_restricted_indices", "boolean" },
})

local function index_privileges(p)
  local function one()
    local v = INDEX_PRIVILEGES:parse(p)
    return obj("names", v.names, "privileges", v.privileges, "field_security", v.field_security,
      "query", v.query, "allow_restricted_indices", v.allow_restricted_indices == true)
  end
  if p.token == "START_OBJECT" then return arr({ one() }) end
  local a = arr()
  while p:next_token() ~= "END_ARRAY" do a[#a + 1] = one() end
  return a
end

local ROLE_FIELDS = {
  { "cluster", "string_array", string_array },
  { "indices", "object_array", index_privileges },
  { "index", "object_array", index_privileges },
  { "applications", "object_array" },
  { "run_as", "string_array", string_array },
  { "metadata", "object" },
  { "transient_metadata", "object" },
  { "global", "object" },
  { "description", "string" },
  { "remote_indices", "object_array" },
  { "remote_cluster", "object_array" },
  { "restriction", "object" },
}
local ROLE_PARSER = xcontent.object_parser("role_descriptor", ROLE_FIELDS)

-- RoleDescriptor.toXContent of a parsed descriptor ("index" reads as indices).
local function role_doc(v)
  return obj("cluster", v.cluster or arr(), "indices", v.indices or v.index or arr(),
    "applications", v.applications or arr(), "run_as", v.run_as or arr(), "metadata", v.metadata or obj(),
    "transient_metadata", v.transient_metadata or obj("enabled", true), "description", v.description,
    "remote_indices", v.remote_indices, "remote_cluster", v.remote_cluster, "restriction", v.restriction)
end

-- RoleDescriptor.isEmpty: no privilege of any kind.
local function role_is_empty(rd)
  for _, k in ipairs({ "cluster", "indices", "applications", "run_as", "remote_indices", "remote_cluster" }) do
    if json.is_arr(rd[k]) and #rd[k] > 0 then return false end
  end
  return true
end

-- {"name": descriptor, ...} -> ordered object of normalized descriptors
local function role_descriptors_reader(p)
  local out = obj()
  while p:next_token() ~= "END_OBJECT" do
    local name = p.value
    p:next_token()
    out[name] = role_doc(ROLE_PARSER:parse(p))
  end
  return out
end

-- RoleDescriptorRequestValidator: the cluster privilege names.
local function role_messages(rd, msgs)
  for _, priv in ipairs(rd.cluster or {}) do
    local m = auth.unknown_cluster_privilege(priv)
    if m then msgs[#msgs + 1] = m end
  end
end

local function descriptors_messages(rds, msgs)
  if json.is_obj(rds) then
    for _, rd in json.opairs(rds) do role_messages(rd, msgs) end
  end
end

-- Time values (TimeValue.parseTimeValue) ------------------------------------------------

local UNITS = { { "nanos", 1e-6 }, { "micros", 1e-3 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
                { "h", 3600000 }, { "d", 86400000 } }

-- duration_ms(text, setting): milliseconds, or raises parse_exception.
function M.duration_ms(text, setting)
  local s = text:lower():match("^%s*(.-)%s*$")
  if s == "-1" then return -1 end
  if s == "0" then return 0 end
  for _, u in ipairs(UNITS) do
    local num = s:match("^(.-)%s*" .. u[1] .. "$")
    if num and num:match("^%-?%d+$") then return tonumber(num) * u[2] end
    if num and num:match("^%-?%d*%.%d+$") then
      error(errors.parse_exception(("failed to parse [%s], fractional time values are not supported"):format(text)), 0)
    end
  end
  error(errors.parse_exception(("failed to parse setting [%s] with value [%s] as a time value: unit is missing or "
    .. "unrecognized"):format(setting, text)), 0)
end

local function expiration_reader(p)
  local text = p:text()
  M.duration_ms(text, "expiration")
  return text
end

-- API key documents ------------------------------------------------------------------

-- The owner of new keys: without --auth, the anonymous user _authenticate shows.
local function owner_of(principal)
  if principal == nil then return "_anonymous", "__anonymous", "anonymous" end
  return principal.username, principal.realm, principal.realm_type
end

-- The owner's role descriptors at creation (limited_by).
local function limited_by(username)
  local user = auth.get_user(username)
  local o = obj()
  for _, name in ipairs(user and user.roles or {}) do
    local rd = name == "superuser" and role_doc({ cluster = arr({ "all" }),
      indices = arr({ obj("names", arr({ "*" }), "privileges", arr({ "all" }), "allow_restricted_indices", true) }),
      run_as = arr({ "*" }) }) or auth.get_role(name)
    if rd then o[name] = rd end
  end
  return arr({ o })
end

local function new_key(req, username, realm, realm_type, v)
  local id, secret = util.base64_uuid(), util.random_base64_uuid()
  local creation = now_ms(req)
  local expiration
  if v.expiration then
    local ms = M.duration_ms(v.expiration, "expiration")
    if ms > 0 then expiration = creation + ms end
  end
  auth.put_api_key(obj("id", id, "api_key", secret, "name", v.name, "type", "rest", "creation", creation,
    "expiration", expiration, "invalidated", false, "username", username, "realm", realm, "realm_type", realm_type,
    "metadata", v.metadata or obj(), "role_descriptors", v.role_descriptors or obj(),
    "limited_by", limited_by(username)))
  -- CreateApiKeyResponse: expiration only when set
  return obj("id", id, "name", v.name, "expiration", expiration, "api_key", secret,
    "encoded", util.base64_encode(id .. ":" .. secret))
end

-- ApiKey.toXContent as GET and query render it.
local function key_info(k, with_limited_by)
  return obj("id", k.id, "name", k.name == nil and json.null or k.name, "type", k.type or "rest",
    "creation", k.creation, "expiration", k.expiration, "invalidated", k.invalidated == true,
    "invalidation", k.invalidation, "username", k.username, "realm", k.realm, "realm_type", k.realm_type,
    "metadata", k.metadata or obj(), "role_descriptors", k.role_descriptors or obj(),
    "limited_by", with_limited_by and k.limited_by or nil)
end

local function is_owner(k, principal)
  local username, realm = owner_of(principal)
  return k.username == username and k.realm == realm
end

local function name_matches(pattern, name)
  if type(name) ~= "string" then return false end
  if pattern == "*" then return true end
  if pattern:sub(-1) == "*" then return name:sub(1, #pattern - 1) == pattern:sub(1, -2) end
  return pattern == name
end

-- CreateApiKeyRequest.validate, shared with grant.
local function key_request_messages(v, msgs)
  if empty(v.name) then
    msgs[#msgs + 1] = "api key name is required"
  else
    if #v.name > 256 then msgs[#msgs + 1] = "api key name may not be more than 256 characters long" end
    if v.name ~= v.name:match("^[%z\1-\32]*(.-)[%z\1-\32]*$") then
      msgs[#msgs + 1] = "api key name may not begin or end with whitespace"
    end
    if v.name:sub(1, 1) == "_" then msgs[#msgs + 1] = "api key name may not begin with an underscore" end
  end
  if json.is_obj(v.metadata) then
    for k in json.opairs(v.metadata) do
      if k:sub(1, 1) == "_" then
        msgs[#msgs + 1] = "API key metadata keys may not start with [_]"
        break
      end
    end
  end
  descriptors_messages(v.role_descriptors, msgs)
end

local KEY_FIELDS = {
  { "name", "string" },
  { "expiration", "string", expiration_reader },
  { "role_descriptors", "object", role_descriptors_reader },
  { "metadata", "object" },
}
local CREATE_PARSER = xcontent.object_parser("api_key_request", KEY_FIELDS)

-- Does the request give the key any privilege? (TransportCreateApiKeyAction)
local function grants_any(rds)
  if not json.is_obj(rds) then return true end
  local n = 0
  for _, rd in json.opairs(rds) do
    n = n + 1
    if not role_is_empty(rd) then return true end
  end
  return n == 0
end

-- PUT|POST /_security/api_key ------------------------------------------------------------

M.create_api_key = {
  action = PREFIX .. "api_key/create",
  prepare = function(req)
    read_refresh(req)
    return (xcontent.parse_body(req:required_content(), CREATE_PARSER))
  end,
  validate = function(r)
    local msgs = {}
    key_request_messages(r, msgs)
    return msgs
  end,
  execute = function(r, req)
    local p = req.principal
    if p and p.kind == "api_key" and grants_any(r.role_descriptors) then
      bad("creating derived api keys requires an explicit role descriptor that is empty (has no privileges)")
    end
    local username, realm, realm_type = owner_of(p)
    return 200, new_key(req, username, realm, realm_type, r)
  end,
}

-- POST /_security/api_key/grant ------------------------------------------------------------

local GRANT_KEY_PARSER = xcontent.object_parser("api_key_request", KEY_FIELDS)
local GRANT_PARSER = xcontent.object_parser("grant_api_key_request", {
  { "api_key", "object", xcontent.nested(GRANT_KEY_PARSER), required = true },
  { "grant_type", "string", required = true },
  { "access_token", "string" },
  { "username", "string" },
  { "password", "string" },
  { "run_as", "string" },
})

M.grant_api_key = {
  action = PREFIX .. "api_key/grant",
  prepare = function(req)
    read_refresh(req)
    return (xcontent.parse_body(req:required_content(), GRANT_PARSER))
  end,
  validate = function(r)
    local msgs = {}
    key_request_messages(r.api_key, msgs)
    if r.grant_type == "password" then
      if empty(r.username) then msgs[#msgs + 1] = "[username] is required for grant_type [password]" end
      if empty(r.password) then msgs[#msgs + 1] = "[password] is required for grant_type [password]" end
      if r.access_token then msgs[#msgs + 1] = "[access_token] is not supported for grant_type [password]" end
    elseif r.grant_type == "access_token" then
      if empty(r.access_token) then msgs[#msgs + 1] = "[access_token] is required for grant_type [access_token]" end
      if r.username then msgs[#msgs + 1] = "[username] is not supported for grant_type [access_token]" end
      if r.password then msgs[#msgs + 1] = "[password] is not supported for grant_type [access_token]" end
    else
      msgs[#msgs + 1] = "grant_type [" .. tostring(r.grant_type) .. "] is not supported"
    end
    return msgs
  end,
  execute = function(r, req)
    local user = r.grant_type == "password" and auth.check_password(r.username, r.password) or nil
    if not user then
      -- no token service: access tokens never authenticate
      error(auth.unauthorized(("unable to authenticate user [%s] for action [%s]")
        :format(tostring(r.username), PREFIX .. "api_key/grant")), 0)
    end
    local realm, realm_type = auth.realm_of(user)
    return 200, new_key(req, r.username, realm, realm_type, r.api_key)
  end,
}

-- GET /_security/api_key -------------------------------------------------------------------

M.get_api_key = {
  action = PREFIX .. "api_key/get",
  prepare = function(req)
    return {
      id = req:param("id"), name = req:param("name"), realm_name = req:param("realm_name"),
      username = req:param("username"), owner = req:param_bool("owner", false),
      with_limited_by = req:param_bool("with_limited_by", false), active_only = req:param_bool("active_only", false),
      with_profile_uid = req:param_bool("with_profile_uid", false),
    }
  end,
  validate = function(r)
    local msgs = {}
    if (not empty(r.realm_name) or not empty(r.username)) and r.owner then
      msgs[#msgs + 1] = "neither username nor realm-name may be specified when retrieving owned API keys"
    end
    if not empty(r.id) and not empty(r.name) then
      msgs[#msgs + 1] = "only one of [api key id, api key name] can be specified"
    end
    return msgs
  end,
  authz = function(r, req)
    local username, realm = owner_of(req.principal)
    local p = req.principal
    local own = r.owner or (r.username == username and r.realm_name == realm)
      or (p ~= nil and p.kind == "api_key" and r.id == p.api_key_id)
    return { own = own }
  end,
  execute = function(r, req)
    local keys = arr()
    for _, k in ipairs(auth.all_api_keys()) do
      local ok = (empty(r.id) or k.id == r.id) and (empty(r.name) or name_matches(r.name, k.name))
        and (empty(r.username) or k.username == r.username) and (empty(r.realm_name) or k.realm == r.realm_name)
        and (not r.owner or is_owner(k, req.principal))
        and not (r.active_only and (k.invalidated == true
          or (type(k.expiration) == "number" and k.expiration < now_ms(req))))
      if ok then keys[#keys + 1] = key_info(k, r.with_limited_by) end
    end
    -- RestGetApiKeyAction: an id that matches nothing is a 404, same body
    return (#keys == 0 and not empty(r.id)) and 404 or 200, obj("api_keys", keys)
  end,
}

-- POST|GET /_security/_query/api_key ----------------------------------------------------------

-- The fields an API key query may use (ApiKeyFieldNameTranslators).
local QUERY_FIELDS = { id = "id", _id = "id", name = "name", type = "type", creation = "creation",
  expiration = "expiration", invalidated = "invalidated", invalidation = "invalidation",
  username = "username", realm_name = "realm" }

local function field_value(k, field)
  if field:sub(1, 9) == "metadata." then
    local v = k.metadata
    for part in field:sub(10):gmatch("[^.]+") do
      v = json.is_obj(v) and v[part] or nil
    end
    return v
  end
  local name = QUERY_FIELDS[field]
  if not name then bad("Field [" .. field .. "] is not allowed for querying or aggregation") end
  if name == "type" then return k.type or "rest" end
  if name == "invalidated" then return k.invalidated == true end
  return k[name]
end

-- The single field of {"field": value} or {"field": {"value": v}}.
local function field_and(body, what)
  if not json.is_obj(body) then bad("[" .. what .. "] query malformed, no start_object after query name") end
  local keys = json.keys(body)
  if #keys ~= 1 then
    bad("[" .. what .. "] query doesn't support multiple fields, found [" .. table.concat(keys, "] and [") .. "]")
  end
  return keys[1], body[keys[1]]
end

local function plain(v)
  if json.is_obj(v) then return v.value end
  return v
end

local function glob(pattern, s)
  if type(s) ~= "string" then return false end
  local lua = "^" .. pattern:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".") .. "$"
  return s:find(lua) ~= nil
end

local match_query

local QUERIES = {
  match_all = function() return function() return true end end,
  ids = function(body)
    local set = {}
    for _, v in ipairs(json.is_obj(body) and body.values or {}) do set[v] = true end
    return function(k) return set[k.id] == true end
  end,
  term = function(body)
    local field, v = field_and(body, "term")
    v = plain(v)
    return function(k) return field_value(k, field) == v end
  end,
  terms = function(body)
    local field, list = field_and(body, "terms")
    local set = {}
    for _, v in ipairs(json.is_arr(list) and list or {}) do set[v] = true end
    return function(k) return set[field_value(k, field)] == true end
  end,
  prefix = function(body)
    local field, v = field_and(body, "prefix")
    v = plain(v)
    return function(k)
      local x = field_value(k, field)
      return type(x) == "string" and x:sub(1, #v) == v
    end
  end,
  wildcard = function(body)
    local field, v = field_and(body, "wildcard")
    v = plain(v)
    return function(k) return glob(v, field_value(k, field)) end
  end,
  exists = function(body)
    local field = json.is_obj(body) and body.field
    return function(k) return field_value(k, field) ~= nil end
  end,
  range = function(body)
    local field, r = field_and(body, "range")
    return function(k)
      local x = field_value(k, field)
      if type(x) ~= "number" then return false end
      return (r.gt == nil or x > r.gt) and (r.gte == nil or x >= r.gte) and (r.lt == nil or x < r.lt)
        and (r.lte == nil or x <= r.lte)
    end
  end,
  bool = function(body)
    local function list(v)
      if v == nil then return {} end
      if json.is_arr(v) then return v end
      return { v }
    end
    local must, should, must_not = {}, {}, {}
    for _, q in ipairs(list(body.must)) do must[#must + 1] = match_query(q) end
    for _, q in ipairs(list(body.filter)) do must[#must + 1] = match_query(q) end
    for _, q in ipairs(list(body.should)) do should[#should + 1] = match_query(q) end
    for _, q in ipairs(list(body.must_not)) do must_not[#must_not + 1] = match_query(q) end
    local min = tonumber(body.minimum_should_match) or ((#must == 0 and #should > 0) and 1 or 0)
    return function(k)
      for _, f in ipairs(must) do if not f(k) then return false end end
      for _, f in ipairs(must_not) do if f(k) then return false end end
      local n = 0
      for _, f in ipairs(should) do if f(k) then n = n + 1 end end
      return n >= min
    end
  end,
}

match_query = function(q)
  if not json.is_obj(q) then error(errors.new("parsing_exception", "query malformed, must start with start_object",
    { es = true }), 0) end
  local name = json.keys(q)[1]
  local build = QUERIES[name]
  if not build then
    error(errors.new("parsing_exception", "unknown query [" .. tostring(name) .. "]", { es = true }), 0)
  end
  return build(q[name])
end

local QUERY_PARSER = xcontent.object_parser("query_api_key_request", {
  { "query", "object" },
  { "from", "int" },
  { "size", "int" },
  { "sort", "any" },
  { "search_after", "any" },
  { "aggs", "object" },
  { "aggregations", "object" },
})

-- The sort, as a list of {field, descending}.
local function sort_spec(sort)
  local out = {}
  local items = json.is_arr(sort) and sort or { sort }
  for _, s in ipairs(items) do
    if type(s) == "string" then
      out[#out + 1] = { s, false }
    elseif json.is_obj(s) then
      for f, o in json.opairs(s) do
        local order = json.is_obj(o) and o.order or o
        out[#out + 1] = { f, order == "desc" }
      end
    end
  end
  return out
end

M.query_api_keys = {
  action = PREFIX .. "api_key/query",
  prepare = function(req)
    local r = { with_limited_by = req:param_bool("with_limited_by", false),
                with_profile_uid = req:param_bool("with_profile_uid", false),
                typed_keys = req:param_bool("typed_keys", false) }
    if req:has_content() then
      local v = xcontent.parse_body(req:content(), QUERY_PARSER)
      for k, x in pairs(v) do r[k] = x end
    end
    return r
  end,
  validate = function(r)
    local msgs = {}
    if r.from and r.from < 0 then msgs[#msgs + 1] = "[from] parameter cannot be negative but was [" .. r.from .. "]" end
    if r.size and r.size < 0 then msgs[#msgs + 1] = "[size] parameter cannot be negative but was [" .. r.size .. "]" end
    return msgs
  end,
  execute = function(r, req)
    local match = r.query and match_query(r.query) or function() return true end
    local p = req.principal
    -- manage_own_api_key alone sees only the owner's keys
    local all = p == nil or auth.allowed(p, PREFIX .. "api_key/get", { own = false })
    local hits = {}
    for _, k in ipairs(auth.all_api_keys()) do
      if (all or is_owner(k, p)) and match(k) then hits[#hits + 1] = k end
    end
    local sort = r.sort and sort_spec(r.sort) or {}
    if #sort > 0 then
      table.sort(hits, function(a, b)
        for _, s in ipairs(sort) do
          local x, y = field_value(a, s[1]), field_value(b, s[1])
          if x ~= y and x ~= nil and y ~= nil then
            if type(x) ~= type(y) then x, y = tostring(x), tostring(y) end
            if s[2] then return x > y end
            return x < y
          end
        end
        return (a.seq or 0) < (b.seq or 0)
      end)
    end
    local from, size = r.from or 0, r.size or 10
    local keys = arr()
    for i = from + 1, math.min(#hits, from + size) do
      local info = key_info(hits[i], r.with_limited_by)
      if #sort > 0 then
        local values = arr()
        for j, s in ipairs(sort) do
          local v = field_value(hits[i], s[1])
          values[j] = v == nil and json.null or v
        end
        info._sort = values
      end
      keys[#keys + 1] = info
    end
    return 200, obj("total", #hits, "count", #keys, "api_keys", keys)
  end,
}

-- DELETE /_security/api_key --------------------------------------------------------------

local INVALIDATE_PARSER = xcontent.object_parser("invalidate_api_key", {
  { "realm_name", "string" },
  { "username", "string" },
  { "id", "string" },
  { "ids", "string_array", string_array },
  { "name", "string" },
  { "owner", "boolean" },
})

M.invalidate_api_key = {
  action = PREFIX .. "api_key/invalidate",
  prepare = function(req)
    local r = xcontent.parse_body(req:required_content(), INVALIDATE_PARSER)
    if r.id ~= nil and r.ids ~= nil then bad("Must use either [id] or [ids], not both at the same time") end
    if r.id ~= nil then r.ids = arr({ r.id }) end
    return r
  end,
  validate = function(r)
    local msgs = {}
    local ids = r.ids ~= nil
    local has_name = not empty(r.name)
    local user_or_realm = not empty(r.username) or not empty(r.realm_name)
    if not r.owner and not ids and not has_name and not user_or_realm then
      msgs[#msgs + 1] = "One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag "
        .. "is false"
    end
    if ids and #r.ids == 0 then msgs[#msgs + 1] = "Field [ids] cannot be an empty array" end
    if ids then
      for i, id in ipairs(r.ids) do
        if empty(id) then
          msgs[#msgs + 1] = ("Field [ids] must not contain blank id, but got blank id at index position: [%d]")
            :format(i - 1)
          break
        end
      end
    end
    if ids and has_name then msgs[#msgs + 1] = "only one of [api key id(s), api key name] can be specified" end
    if (ids or has_name) and user_or_realm then
      msgs[#msgs + 1] = "username or realm name must not be specified when the api key id(s) or api key name are "
        .. "specified"
    end
    return msgs
  end,
  authz = function(r, req)
    local p = req.principal
    local username, realm = owner_of(p)
    local own = r.owner == true or (r.username == username and r.realm_name == realm)
    if p ~= nil and p.kind == "api_key" and r.ids and #r.ids == 1 and r.ids[1] == p.api_key_id then own = true end
    return { own = own }
  end,
  execute = function(r, req)
    local set
    if r.ids then
      set = {}
      for _, id in ipairs(r.ids) do set[id] = true end
    end
    local invalidated, previously = arr(), arr()
    for _, k in ipairs(auth.all_api_keys()) do
      local ok = (set == nil or set[k.id]) and (empty(r.name) or name_matches(r.name, k.name))
        and (empty(r.username) or k.username == r.username) and (empty(r.realm_name) or k.realm == r.realm_name)
        and (not r.owner or is_owner(k, req.principal))
      if ok then
        if k.invalidated == true then
          previously[#previously + 1] = k.id
        else
          k.invalidated, k.invalidation = true, now_ms(req)
          auth.put_api_key(k)
          invalidated[#invalidated + 1] = k.id
        end
      end
    end
    return 200, obj("invalidated_api_keys", invalidated, "previously_invalidated_api_keys", previously,
      "error_count", 0)
  end,
}

-- PUT /_security/api_key/{id}, POST /_security/api_key/_bulk_update -------------------------

local UPDATE_FIELDS = {
  { "role_descriptors", "object", role_descriptors_reader },
  { "metadata", "object" },
  { "expiration", "string", expiration_reader },
}
local UPDATE_PARSER = xcontent.object_parser("update_api_key_request_payload", UPDATE_FIELDS)
local BULK_PARSER = xcontent.object_parser("bulk_update_api_key_request", {
  { "ids", "string_array", string_array, required = true },
  UPDATE_FIELDS[1], UPDATE_FIELDS[2], UPDATE_FIELDS[3],
})

local function update_messages(r, msgs)
  if json.is_obj(r.metadata) then
    for k in json.opairs(r.metadata) do
      if k:sub(1, 1) == "_" then
        msgs[#msgs + 1] = "API key metadata keys may not start with [_]"
        break
      end
    end
  end
  descriptors_messages(r.role_descriptors, msgs)
end

local function no_api_key_auth(req)
  local p = req.principal
  if p ~= nil and p.kind == "api_key" then
    bad("authentication via API key not supported: only the owner user can update an API key")
  end
end

-- update_one(id, r, req): "updated", "noop", or nil and an error.
local function update_one(id, r, req)
  local k = auth.get_api_key(id)
  if not k or not is_owner(k, req.principal) then
    return nil, errors.resource_not_found("no API key owned by requesting user found for ID [" .. id .. "]")
  end
  if k.invalidated == true or (type(k.expiration) == "number" and k.expiration < now_ms(req)) then
    return nil, errors.illegal_argument("cannot update invalidated or expired API key [" .. id .. "]")
  end
  local changed = false
  local function set(field, v)
    if v ~= nil and not json.equal(k[field], v) then
      k[field] = v
      changed = true
    end
  end
  set("role_descriptors", r.role_descriptors)
  set("metadata", r.metadata)
  set("limited_by", limited_by(k.username))
  if r.expiration then
    local ms = M.duration_ms(r.expiration, "expiration")
    set("expiration", ms > 0 and now_ms(req) + ms or nil)
  end
  if not changed then return "noop" end
  auth.put_api_key(k)
  return "updated"
end

M.update_api_key = {
  action = PREFIX .. "api_key/update",
  prepare = function(req)
    local r = {}
    if req:has_content() then r = xcontent.parse_body(req:content(), UPDATE_PARSER) end
    r.id = req:param("id")
    return r
  end,
  validate = function(r)
    local msgs = {}
    if empty(r.id) then msgs[#msgs + 1] = "api key id is required" end
    update_messages(r, msgs)
    return msgs
  end,
  execute = function(r, req)
    no_api_key_auth(req)
    local result, err = update_one(r.id, r, req)
    if not result then error(err, 0) end
    return 200, obj("updated", result == "updated")
  end,
}

M.bulk_update_api_keys = {
  action = PREFIX .. "api_key/bulk_update",
  prepare = function(req) return (xcontent.parse_body(req:required_content(), BULK_PARSER)) end,
  validate = function(r)
    local msgs = {}
    if #r.ids == 0 then msgs[#msgs + 1] = "Field [ids] cannot be empty" end
    update_messages(r, msgs)
    return msgs
  end,
  execute = function(r, req)
    no_api_key_auth(req)
    local updated, noops, details, count = arr(), arr(), obj(), 0
    for _, id in ipairs(r.ids) do
      local result, err = update_one(id, r, req)
      if result == "updated" then
        updated[#updated + 1] = id
      elseif result == "noop" then
        noops[#noops + 1] = id
      else
        count = count + 1
        details[id] = obj("type", err.type, "reason", err.reason)
      end
    end
    return 200, obj("updated", updated, "noops", noops,
      "errors", count > 0 and obj("count", count, "details", details) or nil)
  end,
}

-- POST /_security/api_key/{ids}/_clear_cache -------------------------------------------------

M.clear_api_key_cache = {
  action = PREFIX .. "cache/clear",
  prepare = function(req) return { ids = req:param_list("ids") } end,
  validate = function(r)
    if #r.ids == 0 then return { "[ids] is required" } end
  end,
  execute = function()
    local all = nodes.all()
    local by_id = obj()
    for _, n in ipairs(all) do by_id[n.id] = obj("name", n.name) end
    local total = math.max(#all, 1)
    return 200, obj("_nodes", obj("total", total, "successful", total, "failed", 0),
      "cluster_name", ngx.shared.esemu_meta:get("cluster_name"), "nodes", by_id)
  end,
}

-- GET /_security/_authenticate ------------------------------------------------------------------

M.authenticate = {
  action = PREFIX .. "user/authenticate",
  prepare = function() return {} end,
  execute = function(_, req)
    local p = req.principal
    if p == nil then
      -- security off: ES's anonymous-less node still answers for _xpack_security
      return 200, obj("username", "_anonymous", "roles", arr(), "full_name", json.null, "email", json.null,
        "metadata", obj(), "enabled", true, "authentication_realm", obj("name", "__anonymous", "type", "anonymous"),
        "lookup_realm", obj("name", "__anonymous", "type", "anonymous"), "authentication_type", "anonymous")
    end
    local user = p.user or {}
    if p.kind == "api_key" then
      local realm = obj("name", "_es_api_key", "type", "_es_api_key")
      return 200, obj("username", p.username, "roles", arr(), "full_name", user.full_name or json.null,
        "email", user.email or json.null, "metadata", obj(), "enabled", true,
        "authentication_realm", realm, "lookup_realm", obj("name", "_es_api_key", "type", "_es_api_key"),
        "authentication_type", "api_key", "api_key", obj("id", p.api_key_id, "name", p.api_key_name or json.null))
    end
    local roles = arr()
    for i, r in ipairs(p.roles or {}) do roles[i] = r end
    return 200, obj("username", p.username, "roles", roles, "full_name", user.full_name or json.null,
      "email", user.email or json.null, "metadata", user.metadata or obj(), "enabled", true,
      "authentication_realm", obj("name", p.realm, "type", p.realm_type),
      "lookup_realm", obj("name", p.realm, "type", p.realm_type), "authentication_type", "realm")
  end,
}

-- PUT|POST /_security/role/{name}, DELETE /_security/role/{name} ------------------------------

local RESERVED_ROLES = { superuser = true }

M.put_role = {
  action = PREFIX .. "role/put",
  prepare = function(req)
    read_refresh(req)
    local v = xcontent.parse_body(req:required_content(), ROLE_PARSER)
    return { name = req:param("name"), role = role_doc(v) }
  end,
  validate = function(r)
    local msgs = {}
    if empty(r.name) then
      msgs[#msgs + 1] = "role name is missing"
    elseif RESERVED_ROLES[r.name] then
      msgs[#msgs + 1] = "Role [" .. r.name .. "] is reserved and may not be used."
    end
    role_messages(r.role, msgs)
    return msgs
  end,
  execute = function(r)
    local created = auth.get_role(r.name) == nil
    auth.put_role(r.name, r.role)
    return 200, obj("role", obj("created", created))
  end,
}

M.delete_role = {
  action = PREFIX .. "role/delete",
  prepare = function(req)
    read_refresh(req)
    return { name = req:param("name") }
  end,
  validate = function(r)
    if empty(r.name) then return { "role name is missing" } end
    if RESERVED_ROLES[r.name] then return { "role [" .. r.name .. "] is reserved and cannot be deleted" } end
  end,
  execute = function(r)
    local found = auth.delete_role(r.name)
    return found and 200 or 404, obj("found", found)
  end,
}

-- PUT|POST /_security/user/{username}, DELETE /_security/user/{username} ----------------------

local USER_PARSER = xcontent.object_parser("put_user_request", {
  { "username", "string" },
  { "password", "string" },
  { "password_hash", "string" },
  { "roles", "string_array", string_array },
  { "full_name", "string_or_null" },
  { "email", "string_or_null" },
  { "metadata", "object" },
  { "enabled", "boolean" },
})

M.put_user = {
  action = PREFIX .. "user/put",
  prepare = function(req)
    read_refresh(req)
    local r = xcontent.parse_body(req:required_content(), USER_PARSER)
    r.name = req:param("username")
    -- PutUserRequestBuilder checks the password while parsing
    if r.password ~= nil and #r.password < 6 then
      error(errors.new("validation_exception",
        "Validation Failed: 1: passwords must be at least [6] characters long;"), 0)
    end
    return r
  end,
  validate = function(r)
    local msgs = {}
    if empty(r.name) then
      msgs[#msgs + 1] = "user is missing"
    elseif auth.RESERVED_USERS[r.name] then
      msgs[#msgs + 1] = "user [" .. r.name .. "] is reserved and only the password can be changed"
    end
    if r.roles == nil then msgs[#msgs + 1] = "roles are missing" end
    if json.is_obj(r.metadata) then
      for k in json.opairs(r.metadata) do
        if k:sub(1, 1) == "_" then
          msgs[#msgs + 1] = "metadata keys may not start with [_]"
          break
        end
      end
    end
    return msgs
  end,
  execute = function(r)
    local old = auth.get_user(r.name)
    local password = r.password or (old and old.password)
    if password == nil then
      -- NativeUsersStore: a ValidationException, not the request's own
      error(errors.new("validation_exception",
        "Validation Failed: 1: password must be specified unless you are updating an existing user;"), 0)
    end
    auth.put_user(r.name, password, r.roles, { full_name = r.full_name, email = r.email, metadata = r.metadata,
      enabled = r.enabled, realm = "default_native" })
    return 200, obj("created", old == nil)
  end,
}

M.delete_user = {
  action = PREFIX .. "user/delete",
  prepare = function(req)
    read_refresh(req)
    return { name = req:param("username") }
  end,
  validate = function(r)
    if empty(r.name) then return { "user is missing" } end
    if auth.RESERVED_USERS[r.name] then return { "user [" .. r.name .. "] is reserved and cannot be deleted" } end
  end,
  execute = function(r)
    local found = auth.delete_user(r.name)
    return found and 200 or 404, obj("found", found)
  end,
}

return M
