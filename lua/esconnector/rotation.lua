--- Safe API-key rotation for a connector: client:rotate_api_key{...}.
--
-- Order, chosen so that at every moment the connector's api_key_id (and
-- api_key_secret_id) name a key that works:
--   1 read      the connector (index_name, is_native, current ids)
--   2 create    a new API key
--   3 secret    native connectors: store its encoded value in a NEW secret
--   4 update    point the connector at the new key (and secret) in one call
--   5 verify    authenticate with the new key
--   5b deliver  self-managed connectors: hand the key to on_key(encoded,
--               info), whose service must be given it (the library never
--               returns or prints it)
--   6 retire    invalidate the old key, then delete the old secret
-- Kibana invalidates the old key before pointing the connector at the new
-- one; a failure between the two leaves a connector with a dead key.  Here a
-- failure at any step undoes what was done, in reverse: the connector is
-- pointed back at its old ids, the new secret deleted, the new key
-- invalidated.  Whatever an undo step could not do is listed in err.leftovers.
-- @module esconnector.rotation
local errors = require "esconnector.errors"
local json = require "esconnector.json"

local rotation = {}

local STEPS = { "read", "create", "secret", "update", "verify", "deliver", "retire" }
rotation.STEPS = STEPS

-- Kibana's toAlphanumeric: runs of other characters become "-", trimmed.
local function alphanumeric(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""):gsub("[^%w]+", "-"):gsub("^%-+", ""):gsub("%-+$", ""):lower())
end

--- Kibana's role descriptors for a connector's key.
function rotation.default_role_descriptors(index_name)
  return {
    [alphanumeric(index_name) .. "-connector-role"] = {
      cluster = { "monitor", "manage_connector" },
      indices = { {
        names = { index_name, ".search-acl-filter-" .. index_name, ".elastic-connectors*" },
        privileges = { "all" },
        allow_restricted_indices = false,
      } },
    },
  }
end

local function iso8601_now()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

-- A failed step: the underlying error, with the step and what is left.
local function failure(step, err, undone, leftovers)
  local e = {}
  for k, v in pairs(errors.fields(err)) do e[k] = v end -- an error's fields are behind its metatable
  e.step = step
  e.undone = undone
  e.leftovers = leftovers
  e.message = ("rotation failed at step '%s': %s%s"):format(step, tostring(err),
    #leftovers > 0 and ("; left over: " .. table.concat(leftovers, "; ")) or "")
  return errors.new(e)
end

--- Rotates the API key of one connector.  params: connector_id, [name],
-- [expiration], [role_descriptors], [dry_run], [on_key] (required for
-- self-managed connectors: function(encoded, info) returning true once the
-- key is safely handed over).  Returns a report, or nil and
-- an error whose `step` names the step that failed.  Neither ever holds the
-- key itself.
-- @tparam table client the client (its credentials must be a user's: keys made with an API key are restricted)
-- @tparam table params `connector_id` and the optional fields above
-- @treturn table the report: `connector_id`, `old_api_key_id`, `new_api_key_id`, `new_api_key_secret_id`, ...
-- @return[2] nil
-- @return[2] an error object with `step`, `undone` and `leftovers`
-- @raise without a non-empty `connector_id`
-- @usage local report, err = client:rotate_api_key{ connector_id = "my-connector", expiration = "30d" }
function rotation.rotate(client, params)
  if type(params) ~= "table" or type(params.connector_id) ~= "string" or params.connector_id == "" then
    error("esconnector: rotate_api_key needs { connector_id = <non-empty string> }", 3)
  end
  local id = params.connector_id
  -- What to undo, most recent last: { run = function() -> ok, what end,
  -- keep = why } (a kept one is reported, not run).
  local undo = {}
  local undone = {}

  local function fail(step, err)
    local leftovers = {}
    for i = #undo, 1, -1 do
      local u = undo[i]
      if u.keep then
        leftovers[#leftovers + 1] = u.keep
      else
        local ok, what = u.run()
        if ok then undone[#undone + 1] = what else leftovers[#leftovers + 1] = what end
      end
    end
    return nil, failure(step, err, undone, leftovers)
  end

  -- 1 read
  local connector, err = client.connector:get{ connector_id = id }
  if not connector then return fail("read", err) end
  local index_name = connector.index_name ~= json.null and connector.index_name or nil
  local native = connector.is_native == true
  local old_key = connector.api_key_id ~= json.null and connector.api_key_id or nil
  local old_secret = connector.api_key_secret_id ~= json.null and connector.api_key_secret_id or nil
  if not index_name and not params.role_descriptors then
    return fail("read", errors.new{ kind = "validation", api = "connector.get",
      message = ("connector [%s] has no index_name: give role_descriptors"):format(id) })
  end
  if not native and not params.dry_run and type(params.on_key) ~= "function" then
    return fail("read", errors.new{ kind = "validation", api = "connector.get",
      message = ("connector [%s] is self-managed: its service must be given the new key, "
        .. "so pass on_key (the CLI: --key-dir)"):format(id) })
  end
  local name = params.name or ((index_name or id) .. "-connector")
  local report = {
    connector_id = id, is_native = native, name = name,
    old_api_key_id = old_key, old_api_key_secret_id = old_secret,
  }
  if params.dry_run then
    report.dry_run = true
    local would = {}
    local function plan(step) would[#would + 1] = step end
    plan(("create API key [%s]"):format(name))
    if native then plan("store its encoded value in a new connector secret") end
    plan("point the connector at the new key" .. (native and " and secret" or ""))
    plan("authenticate with the new key")
    if not native then plan("hand the key to on_key") end
    if old_key then plan(("invalidate the old API key [%s]"):format(old_key)) end
    if native and old_secret then plan(("delete the old connector secret [%s]"):format(old_secret)) end
    report.would = would
    return report
  end

  -- 2 create
  local key
  key, err = client.security:create_api_key{
    name = name,
    expiration = params.expiration,
    role_descriptors = params.role_descriptors or rotation.default_role_descriptors(index_name),
    metadata = { connector_id = id, rotated_at = iso8601_now(), rotated_by = "esconnector" },
  }
  if not key then return fail("create", err) end
  local new_key, encoded = key.id, key.encoded
  local key_undo = { run = function()
    local res = client.security:invalidate_api_key{ ids = { new_key } }
    if res then return true, ("invalidated the new API key [%s]"):format(new_key) end
    return false, ("the new API key [%s] is still valid"):format(new_key)
  end }
  undo[#undo + 1] = key_undo
  report.new_api_key_id = new_key

  -- 3 secret (native connectors read their key from a secret)
  local new_secret
  local secret_undo = {}
  if native then
    local secret
    secret, err = client.connector:secret_post{ value = encoded }
    if not secret then return fail("secret", err) end
    new_secret = secret.id
    secret_undo.run = function()
      local res = client.connector:secret_delete{ id = new_secret }
      if res then return true, ("deleted the new connector secret [%s]"):format(new_secret) end
      return false, ("the new connector secret [%s] still exists"):format(new_secret)
    end
    undo[#undo + 1] = secret_undo
    report.new_api_key_secret_id = new_secret
  end

  -- 4 update: one call, so the key and its secret switch together
  local updated
  updated, err = client.connector:update_api_key_id{ connector_id = id, api_key_id = new_key,
    api_key_secret_id = new_secret }
  -- Even a failed call may have been applied (a timeout after the write):
  -- point the connector back at the old ids before anything is dropped, and
  -- if that cannot be done, keep the new key and secret valid.
  local function keep_new(why)
    key_undo.keep = ("the new API key [%s] is kept: %s"):format(new_key, why)
    if secret_undo.run then
      secret_undo.keep = ("the new connector secret [%s] is kept: %s"):format(new_secret, why)
    end
  end
  undo[#undo + 1] = { run = function()
    if not old_key then
      -- null cannot clear a field: api_key_id cannot go back to "none"
      local current = client.connector:get{ connector_id = id }
      if current and current.api_key_id ~= new_key then
        return true, "the connector never pointed at the new key"
      end
      keep_new("the connector uses it")
      return false, ("the connector [%s] points at the new key (it had none before)"):format(id)
    end
    local res = client.connector:update_api_key_id{ connector_id = id, api_key_id = old_key,
      api_key_secret_id = old_secret }
    if res then return true, ("pointed the connector back at [%s]"):format(tostring(old_key)) end
    keep_new("the connector may use it")
    return false, ("the connector [%s] may still point at the new key"):format(id)
  end }
  if not updated then return fail("update", err) end

  -- 5 verify with the new key itself
  local probe = client:derive{ api_key = encoded }
  local who
  who, err = probe.security:authenticate()
  probe:close()
  if who and not (type(who.api_key) == "table" and who.api_key.id == new_key) then
    who, err = nil, errors.new{ kind = "decode", api = "security.authenticate",
      message = "authenticated, but not as the new API key" }
  end
  if not who then return fail("verify", err) end

  -- 5b deliver: a self-managed connector's service reads its key from its
  -- own configuration, so whoever runs it must get the new key first.
  if params.on_key then
    local ok, delivered = pcall(params.on_key, encoded, { connector_id = id, api_key_id = new_key })
    if not ok or delivered ~= true then
      return fail("deliver", errors.new{ kind = "validation", api = "security.create_api_key",
        message = "on_key did not take the new key: " .. (ok and tostring(delivered) or tostring(delivered)) })
    end
    report.delivered = true
  end

  -- 6 retire the old key, then the old secret
  report.invalidated = {}
  if old_key then
    local res
    res, err = client.security:invalidate_api_key{ ids = { old_key } }
    if not res then return fail("retire", err) end
    report.invalidated[1] = old_key
  end
  if native and old_secret then
    local res
    res, err = client.connector:secret_delete{ id = old_secret }
    -- a missing old secret is not a failure: there is nothing to retire
    if not res and err.status ~= 404 then
      -- the old key is already invalidated: undoing now would point the
      -- connector back at a dead key, so this step only reports.
      report.leftovers = { ("the old connector secret [%s] still exists: %s"):format(old_secret, tostring(err)) }
    else
      report.deleted_secret = old_secret
    end
  end
  report.verified = true
  return report
end

return rotation
