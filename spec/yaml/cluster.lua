--- What the YAML runner does to the cluster around the tests, as
-- Elasticsearch's runner does: fixtures (roles and users of the test
-- cluster, and the user that requests without an Authorization header run
-- as) and the wipe between tests.
--
-- Wipe: on the emulator (ES_CONTROL_URL) its control `POST /reset`; on any
-- other cluster (or with YAML_WIPE=delete) by deletion: every connector
-- (hard, with its sync jobs) and every sync job, and what the tests made
-- that cannot be listed: connector secrets, API keys (invalidated; also the
-- fixture users' keys), users and roles outside the fixtures.  Setup and
-- cleanup use the runner's own (admin) client.
local loader = require "spec.yaml.loader"
local values = require "spec.yaml.values"

local cluster = {}

-- Fixtures ---------------------------------------------------------------------

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("*a")
  f:close()
  return text
end

--- Reads DIR/roles.yml (Elasticsearch's roles.yml: name -> role
-- descriptor), DIR/users (`username:password:role[,role]` lines) and
-- DIR/run_as (one user name).  Returns { roles = {{name, descriptor}},
-- users = {{name, password, roles}}, run_as = {name, password} }, or nil
-- and why.
function cluster.load_fixtures(dir)
  local fixtures = { roles = {}, users = {}, role_names = {}, user_names = {} }
  local roles_path = dir .. "/roles.yml"
  if read_file(roles_path) then
    local docs, err = loader.load_file(roles_path)
    if not docs then return nil, roles_path .. ": " .. tostring(err) end
    local doc = docs[1] or {}
    if type(doc) ~= "table" or values.is_array(doc) or #docs > 1 then
      return nil, roles_path .. ": expected one mapping of role names to role descriptors"
    end
    for _, name in ipairs(loader.keys(doc)) do
      if type(doc[name]) ~= "table" or values.is_array(doc[name]) then
        return nil, ("%s: role [%s] is not a mapping"):format(roles_path, name)
      end
      fixtures.roles[#fixtures.roles + 1] = { name = name, descriptor = doc[name] }
      fixtures.role_names[name] = true
    end
  end
  local users_text = read_file(dir .. "/users")
  local passwords = {}
  for line in (users_text or ""):gmatch("[^\r\n]+") do
    if not line:match("^%s*#") and line:match("%S") then
      local name, password, roles = line:match("^([^:]+):([^:]*):(.*)$")
      if not name then
        return nil, ("%s/users: expected username:password:role[,role], got a line of %d characters")
          :format(dir, #line) -- the line holds a password: never print it
      end
      local list = {}
      for r in roles:gmatch("[^,%s]+") do list[#list + 1] = r end
      fixtures.users[#fixtures.users + 1] = { name = name, password = password, roles = list }
      fixtures.user_names[name] = true
      passwords[name] = password
    end
  end
  local run_as = read_file(dir .. "/run_as")
  if run_as then
    run_as = run_as:match("^%s*(%S+)%s*$")
    if not run_as then return nil, dir .. "/run_as: expected one user name" end
    if not passwords[run_as] then
      return nil, ("%s/run_as: user [%s] is not in %s/users"):format(dir, run_as, dir)
    end
    fixtures.run_as = { name = run_as, password = passwords[run_as] }
  end
  if #fixtures.roles == 0 and #fixtures.users == 0 then
    return nil, dir .. ": no roles.yml and no users"
  end
  return fixtures
end

local function check(res, err, what)
  if res == nil then error(("%s: %s"):format(what, tostring(err)), 0) end
  return res
end

--- (Re)creates the fixture roles, then users, through the admin client.
function cluster.create_fixtures(admin, fixtures)
  if not fixtures then return end
  for _, role in ipairs(fixtures.roles) do
    local res, err = admin:request("security.put_role", { name = role.name, body = role.descriptor })
    check(res, err, "fixtures: put role " .. role.name)
  end
  for _, user in ipairs(fixtures.users) do
    local roles = require("esconnector").array()
    for i, r in ipairs(user.roles) do roles[i] = r end
    local res, err = admin:request("security.put_user", { username = user.name,
      body = { password = user.password, roles = roles } })
    check(res, err, "fixtures: put user " .. user.name)
  end
end

-- What tests made -------------------------------------------------------------

--- An empty record of what the tests made.
function cluster.new_record()
  return { secrets = {}, api_keys = {}, users = {}, roles = {} }
end

local function add(set, v)
  if type(v) == "string" or type(v) == "number" then set[tostring(v)] = true end
end

--- Notes what a successful call made (api is the catalog name).
function cluster.record(made, api, params, res)
  if api == "connector.secret_put" then
    add(made.secrets, params.id)
  elseif api == "connector.secret_post" then
    add(made.secrets, type(res) == "table" and res.id)
  elseif api == "security.create_api_key" or api == "security.grant_api_key" then
    add(made.api_keys, type(res) == "table" and res.id)
  elseif api == "security.put_user" then
    add(made.users, params.username)
  elseif api == "security.put_role" then
    add(made.roles, params.name)
  end
end

-- Wiping ---------------------------------------------------------------------

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- Is the emulator behind control_url the cluster at url?  (An
-- ES_CONTROL_URL left in the environment must never reset some other
-- emulator while the tests run against a real cluster.)
function cluster.control_serves(control_url, url)
  local cmd = ("curl -sS -f %s 2>/dev/null"):format(shell_quote(control_url:gsub("/+$", "") .. "/"))
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  local ok, info = pcall(require("esconnector.json").decode, out)
  if not ok or type(info) ~= "table" or type(info.nodes) ~= "table" then return false end
  local want = url:gsub("/+$", "")
  for _, node in ipairs(info.nodes) do
    if type(node) == "string" and node:gsub("/+$", "") == want then return true end
  end
  return false
end

--- The emulator's control reset: all data gone, bootstrap credentials back.
function cluster.reset_emulator(control_url)
  local cmd = ("curl -sS -f -X POST %s 2>&1"):format(shell_quote(control_url:gsub("/+$", "") .. "/reset"))
  local p = io.popen(cmd)
  local out = p:read("*a")
  local ok, _, code = p:close()
  if ok ~= true and code ~= 0 then error("emulator reset failed: " .. out, 0) end
end

local PAGE = 100

-- Every item of a paged list API (from/size, results), or raises.
local function list_all(admin, api, params)
  local out, from = {}, 0
  while true do
    local p = {}
    for k, v in pairs(params) do p[k] = v end
    p.from, p.size = from, PAGE
    local res, err = admin:request(api, p)
    if not res then return nil, err end
    local results = type(res.results) == "table" and res.results or {}
    for _, item in ipairs(results) do out[#out + 1] = item end
    from = from + PAGE
    if #results < PAGE or from >= (tonumber(res.count) or 0) then break end
  end
  return out
end

local function ignoring_missing(what, res, err)
  if res == nil and not (type(err) == "table" and err.status == 404) then
    error(("wipe: %s: %s"):format(what, tostring(err)), 0)
  end
end

local function sorted(set)
  local out = {}
  for k in pairs(set) do out[#out + 1] = k end
  table.sort(out)
  return out
end

--- Deletes what the tests made, as far as the APIs let a client find it.
-- own_key_id: the runner's own API key (never invalidated).
function cluster.delete_all(admin, made, fixtures, own_key_id)
  -- Connectors, soft-deleted ones too (include_deleted needs 9.0; older
  -- clusters refuse it and have no soft deletes).
  local connectors, err = list_all(admin, "connector.list", { include_deleted = true })
  if not connectors and type(err) == "table" and err.status == 400 then
    connectors, err = list_all(admin, "connector.list", {})
  end
  if not connectors then error("wipe: connector.list: " .. tostring(err), 0) end
  for _, c in ipairs(connectors) do
    ignoring_missing("connector.delete " .. tostring(c.id),
      admin:request("connector.delete", { connector_id = c.id, hard = true, delete_sync_jobs = true }))
  end
  local jobs
  jobs, err = list_all(admin, "connector.sync_job_list", {})
  if not jobs then error("wipe: connector.sync_job_list: " .. tostring(err), 0) end
  for _, job in ipairs(jobs) do
    ignoring_missing("connector.sync_job_delete " .. tostring(job.id),
      admin:request("connector.sync_job_delete", { connector_sync_job_id = job.id }))
  end
  for _, id in ipairs(sorted(made.secrets)) do
    ignoring_missing("connector.secret_delete " .. id,
      admin:request("connector.secret_delete", { id = id }))
  end
  -- API keys: those the tests made, and every key of a fixture user.
  local keys = {}
  for id in pairs(made.api_keys) do keys[id] = true end
  for name in pairs(fixtures and fixtures.user_names or {}) do
    local res, e = admin:request("security.get_api_key", { username = name })
    if res and type(res.api_keys) == "table" then
      for _, k in ipairs(res.api_keys) do
        if k.invalidated ~= true then keys[k.id] = true end
      end
    elseif not (type(e) == "table" and e.status == 404) then
      error("wipe: security.get_api_key: " .. tostring(e), 0)
    end
  end
  if own_key_id then keys[own_key_id] = nil end
  local ids = require("esconnector").array()
  for _, id in ipairs(sorted(keys)) do ids[#ids + 1] = id end
  if #ids > 0 then
    ignoring_missing("security.invalidate_api_key",
      admin:request("security.invalidate_api_key", { body = { ids = ids } }))
  end
  for _, name in ipairs(sorted(made.users)) do
    if not (fixtures and fixtures.user_names[name]) then
      ignoring_missing("security.delete_user " .. name,
      admin:request("security.delete_user", { username = name }))
    end
  end
  for _, name in ipairs(sorted(made.roles)) do
    if not (fixtures and fixtures.role_names[name]) then
      ignoring_missing("security.delete_role " .. name,
      admin:request("security.delete_role", { name = name }))
    end
  end
end

--- The wipe mode: "reset" (the emulator's control endpoint) or "delete";
-- YAML_WIPE=delete forces deletion, YAML_WIPE=reset needs ES_CONTROL_URL.
function cluster.wipe_mode(getenv)
  getenv = getenv or os.getenv
  local forced, control = getenv("YAML_WIPE"), getenv("ES_CONTROL_URL")
  if control == "" then control = nil end
  if forced == "delete" then return "delete" end
  if forced == "reset" then
    if not control then return nil, "YAML_WIPE=reset needs ES_CONTROL_URL (the emulator's control endpoint)" end
    return "reset", control
  end
  if forced ~= nil and forced ~= "" then return nil, "YAML_WIPE must be reset or delete, not " .. forced end
  if control then return "reset", control end
  return "delete"
end

return cluster
