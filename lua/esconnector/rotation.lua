--- API-key rotation for connectors: client:rotate_api_key{...},
-- client:reconcile{...} and client:retire{...}.
--
-- What rotation promises, whatever fails and whenever the process dies:
--   1 the connector's api_key_id names a key that works (a native
--     connector's api_key_secret_id holds that key's encoded value);
--   2 the key a self-managed connector's service was given works;
--   3 every valid key made for the connector (metadata.connector_id) is the
--     one it uses, or is named in the report or the error.
--
-- Steps:
--   read     the connector (index_name, is_native, current ids)
--   create   a new API key, tagged in its metadata: connector_id, a random
--            rotation_id, rotated_at, the id its secret will have, and the
--            retirement plan of the old key (retires)
--   secret   native connectors: PUT its encoded value in a new secret whose
--            id was chosen up front (so a lost answer is settled by reading)
--   verify   authenticate with the new key (and read the secret back)
--   update   point the connector at the new key and secret, in one call
--   deliver  self-managed connectors: on_key(encoded, info) gives the key to
--            the service
--   -------- commit point: from here on nothing invalidates the new key
--   retire   invalidate the old key and delete the old secret, now or, with
--            retire_after, later (client:retire / `esconnector retire`)
--
-- Before the commit point a failure undoes what was done: the connector is
-- pointed back at its old ids, the new secret deleted, the new key
-- invalidated.  After it, a failure only reports: the old key stays valid
-- and is listed in report.leftovers with the call that finishes the job.
--
-- Unknown outcomes.  A timeout or a lost connection after a request went
-- out means "maybe applied, maybe still on its way".  The state is read
-- back before deciding, and a write that may still land is never raced: if
-- the switch to the new key may land late, the new key and secret are kept
-- valid (and reported) rather than invalidated under a connector that may
-- yet point at them.  Creating a key is not idempotent: the client sends it
-- at most once (never retried, on a fresh connection), and a lost answer is
-- resolved by finding the key by its rotation_id and invalidating it.
--
-- Every function here is a plain function of (client, params) with no
-- state of its own, so several may run at once in coroutines.
-- @module esconnector.rotation
local errors = require "esconnector.errors"
local scheduler = require "esconnector.scheduler"
local json = require "esconnector.json"

local rotation = {}

local STEPS = { "read", "create", "secret", "verify", "update", "deliver", "retire" }
rotation.STEPS = STEPS

rotation.DEFAULT_GRACE_SECONDS = 3600

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

local function iso8601(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

-- A random token: 16 bytes from /dev/urandom as hex (math.random only
-- where there is no /dev/urandom).
local function token()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(16)
  if f then f:close() end
  if not bytes or #bytes ~= 16 then
    local t = {}
    for i = 1, 16 do t[i] = string.char(math.random(0, 255)) end
    bytes = table.concat(t)
  end
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function value(v)
  if v == json.null then return nil end
  return v
end

-- Outcomes ------------------------------------------------------------------------

-- Did the failed call perhaps happen?  Only a refusal Elasticsearch itself
-- gave (a 4xx) or one made before sending (validation) says "no".
local function maybe_applied(err)
  if err.kind == "validation" then return false end
  if err.kind == "http" and type(err.status) == "number" and err.status < 500 then return false end
  return true
end

-- May the request still be on its way (nobody answered for the server)?
local function may_land_later(err)
  return err.kind == "timeout" or err.kind == "connection" or err.status == 502 or err.status == 504
end

-- settle(write, check): runs a write whose effect can be read back.
-- check() -> true (applied), false (not applied), nil (cannot tell).
-- Returns "done" | "failed" | "unknown", the error (if any), and whether a
-- copy of the request may still land later (in_flight).
local function settle(write, check)
  local res, err = write()
  if res then return "done", nil, false, res end
  if not maybe_applied(err) then return "failed", err, false end
  local in_flight = may_land_later(err)
  local state = check()
  if state == true then return "done", err, in_flight end
  if state == false then return "failed", err, in_flight end
  return "unknown", err, in_flight
end

-- Leftovers: what is still there, why, and the call that finishes the job.
local function key_leftover(id, reason)
  return { kind = "api_key", id = id, reason = reason,
    call = ('DELETE /_security/api_key {"ids":["%s"]}'):format(id) }
end

local function secret_leftover(id, reason)
  return { kind = "secret", id = id, reason = reason, call = "DELETE /_connector/_secret/" .. id }
end

-- A key that may be created later (its create's answer was lost and no key
-- with its rotation_id was found yet): reconcile finds it by that id.
local function pending_key_leftover(rotation_id, connector_id, reason)
  return { kind = "pending_api_key", rotation_id = rotation_id, reason = reason,
    call = "esconnector reconcile --apply " .. connector_id }
end

local function leftover_text(l)
  local what = ({ api_key = "API key", secret = "connector secret",
    pending_api_key = "API key with rotation_id" })[l.kind] or l.kind
  return ("%s [%s] %s (finish with: %s)"):format(what, l.id or l.rotation_id, l.reason, l.call)
end
rotation.leftover_text = leftover_text

-- A failed rotation: the underlying error with the step, what was undone
-- and what is left.
local function failure(step, err, undone, leftovers, extra)
  local e = {}
  for k, v in pairs(errors.fields(err)) do e[k] = v end -- an error's fields are behind its metatable
  for k, v in pairs(extra or {}) do e[k] = v end
  e.step = step
  e.undone = undone
  e.leftovers = leftovers
  e.committed = false
  local texts = {}
  for i, l in ipairs(leftovers) do texts[i] = leftover_text(l) end
  e.message = ("rotation failed at step '%s': %s%s"):format(step, tostring(err),
    #texts > 0 and ("; left over: " .. table.concat(texts, "; ")) or "")
  return errors.new(e)
end

-- Reading state ---------------------------------------------------------------------

-- The key's record, false when there is none, nil and an error otherwise.
local function get_key(client, id)
  local res, err = client.security:get_api_key{ id = id }
  if res then return (res.api_keys or {})[1] or false end
  if err.status == 404 then return false end
  return nil, err
end

local function key_is_valid(k, now)
  if not k or k.invalidated == true then return false end
  local expiration = value(k.expiration)
  return not (type(expiration) == "number" and expiration <= now * 1000)
end

-- true when the secret exists and holds `expected` (any value when nil),
-- false when it is missing or holds something else, nil when unknown.
local function secret_holds(client, id, expected)
  local res, err = client.connector:secret_get{ id = id }
  if res then return expected == nil or res.value == expected end
  if err.status == 404 then return false end
  return nil
end

-- The connector's ids: api_key_id, api_key_secret_id (nil for none), or
-- nil, nil, err.  gone = true when the connector does not exist.
local function connector_ids(client, id)
  local doc, err = client.connector:get{ connector_id = id }
  if not doc then
    if err.status == 404 then return nil, nil, nil, true end
    return nil, nil, err
  end
  return value(doc.api_key_id), value(doc.api_key_secret_id)
end

-- Retirement plans kept in a key's metadata: { { api_key_id, secret_id,
-- after (epoch seconds), at (ISO 8601), awaiting_delivery }, ... }.  A plan
-- awaiting delivery is never carried out: a self-managed service may still
-- hold that key because the new one was never confirmed delivered.
local function plans_of(key)
  local meta = key and type(key.metadata) == "table" and key.metadata or {}
  local out = {}
  for _, p in ipairs(type(meta.retires) == "table" and meta.retires or {}) do
    if type(p) == "table" and type(p.api_key_id) == "string" and type(p.after) == "number" then
      out[#out + 1] = { api_key_id = p.api_key_id, secret_id = value(p.secret_id), after = p.after, at = p.at,
        awaiting_delivery = p.awaiting_delivery == true or nil }
    end
  end
  return out
end

-- Invalidates a key and settles the outcome: true, or nil and the reason.
local function invalidate(client, key_id)
  local outcome, err = settle(
    function() return client.security:invalidate_api_key{ ids = { key_id } } end,
    function()
      local k = get_key(client, key_id)
      if k == nil then return nil end
      return k == false or k.invalidated == true
    end)
  if outcome == "done" then return true end
  return nil, ("could not be invalidated: %s"):format(tostring(err))
end

-- Deletes a secret (a missing one counts as deleted): true, or nil and why.
local function delete_secret(client, secret_id)
  local outcome, err = settle(
    function()
      local res, e = client.connector:secret_delete{ id = secret_id }
      if not res and e.status == 404 then return true end
      return res, e
    end,
    function()
      local holds = secret_holds(client, secret_id)
      if holds == nil then return nil end
      return not holds
    end)
  if outcome == "done" then return true end
  return nil, ("could not be deleted: %s"):format(tostring(err))
end

-- Keys made for a connector (metadata.connector_id), invalidated ones too.
local function keys_made_for(client, connector_id)
  local res, err = client.security:query_api_keys{
    query = { term = { ["metadata.connector_id"] = connector_id } },
    size = 1000,
  }
  if not res then return nil, err end
  return res.api_keys or {}
end

--- Checks that the client's credentials can make connector keys: API keys
-- cannot (Elasticsearch lets an API key create only keys without
-- privileges).  Returns the authenticate answer, or nil and an error.
function rotation.check_credentials(client)
  local who, err = client.security:authenticate()
  if not who then return nil, err end
  if who.authentication_type == "api_key" then
    return nil, errors.new{ kind = "validation", api = "security.authenticate",
      message = "authenticated with an API key, which cannot create API keys with privileges: "
        .. "rotate as a user (basic auth, or a token) that has manage_api_key or manage_own_api_key "
        .. "and manage_connector (native connectors: write_connector_secrets too)" }
  end
  return who
end

-- Reconcile -------------------------------------------------------------------------

-- What is left behind for one connector: { connector_id, api_key_id,
-- api_key_secret_id, keys = { entries }, secrets = { entries }, errors }.
-- An entry: { id, status = "orphan"|"recent"|"scheduled"|"invalidated"|
-- "deleted"|"failed", created, rotation_id, reason }.
-- used_keys / used_secrets: ids any connector uses (never touched).
local function reconcile_one(client, id, opts, used_keys, used_secrets)
  local now, grace = opts.now, opts.grace_seconds
  local out = { connector_id = id, keys = {}, secrets = {}, errors = {} }
  local current, current_secret, err, gone
  if opts.ids then -- the caller has just read the connector
    current, current_secret = opts.ids.api_key_id, opts.ids.api_key_secret_id
  else
    current, current_secret, err, gone = connector_ids(client, id)
  end
  if err then
    out.errors[#out.errors + 1] = tostring(err)
    return out
  end
  out.gone = gone
  out.api_key_id, out.api_key_secret_id = current, current_secret
  local keys
  keys, err = keys_made_for(client, id)
  if not keys then
    out.errors[#out.errors + 1] = tostring(err)
    return out
  end
  -- plans of the current key: what retire will do, and when
  local scheduled_keys, scheduled_secrets = {}, {}
  local current_key
  for _, k in ipairs(keys) do if k.id == current then current_key = k end end
  if current and not current_key then current_key = get_key(client, current) end
  for _, p in ipairs(plans_of(current_key)) do
    if p.after > now or p.awaiting_delivery then
      scheduled_keys[p.api_key_id] = p
      if p.secret_id then scheduled_secrets[p.secret_id] = p end
    end
  end
  local function in_use_key(k) return k == current or (used_keys and used_keys[k]) end
  local function in_use_secret(s) return s == current_secret or (used_secrets and used_secrets[s]) end
  local seen_secrets = {}
  for _, k in ipairs(keys) do
    local meta = type(k.metadata) == "table" and k.metadata or {}
    local created = type(k.creation) == "number" and k.creation / 1000 or 0
    local recent = grace > 0 and now - created < grace
    if k.id ~= current and key_is_valid(k, now) and not in_use_key(k.id) then
      local entry = { id = k.id, name = value(k.name), created = iso8601(math.floor(created)),
        rotation_id = value(meta.rotation_id) }
      local plan = scheduled_keys[k.id]
      if plan then
        entry.status = "scheduled"
        entry.reason = plan.awaiting_delivery and "kept until the new key is confirmed delivered to the service"
          or "retires at " .. tostring(plan.at)
      elseif recent then
        entry.status, entry.reason = "recent", "younger than the grace period (a rotation may be running)"
      else
        entry.status = "orphan"
        if opts.apply then
          local ok, why = invalidate(client, k.id)
          entry.status, entry.reason = ok and "invalidated" or "failed", why
        end
      end
      out.keys[#out.keys + 1] = entry
    end
    -- the secret a key made for this connector was given, when nothing uses it
    local s = value(meta.secret_id)
    if type(s) == "string" and k.id ~= current and not seen_secrets[s] and not in_use_secret(s)
        and not scheduled_secrets[s] then
      seen_secrets[s] = true
      local exists = secret_holds(client, s)
      if exists == nil then
        out.errors[#out.errors + 1] = ("cannot read connector secret [%s]"):format(s)
      elseif exists then
        local entry = { id = s, api_key_id = k.id, rotation_id = value(meta.rotation_id) }
        if recent then
          entry.status, entry.reason = "recent", "younger than the grace period (a rotation may be running)"
        else
          entry.status = "orphan"
          if opts.apply then
            local ok, why = delete_secret(client, s)
            entry.status, entry.reason = ok and "deleted" or "failed", why
          end
        end
        out.secrets[#out.secrets + 1] = entry
      end
    end
  end
  return out
end

-- Every connector's id, api_key_id and api_key_secret_id, paged.
local function all_connectors(client, page_size)
  local list = {}
  for c, err in client.connector:list_all{ size = page_size or 100 } do
    if not c then return nil, err end
    list[#list + 1] = { id = c.id, api_key_id = value(c.api_key_id), api_key_secret_id = value(c.api_key_secret_id) }
  end
  return list
end
rotation.all_connectors = all_connectors

local function target_ids(params, what)
  if type(params) ~= "table" then error(("esconnector: %s needs a table of parameters"):format(what), 4) end
  local ids = params.connector_ids
  if params.connector_id then ids = { params.connector_id } end
  if ids ~= nil and type(ids) ~= "table" then
    error(("esconnector: %s: connector_ids must be a list"):format(what), 4)
  end
  if params.all and ids then error(("esconnector: %s: give connector_ids or all, not both"):format(what), 4) end
  if not params.all and not ids then error(("esconnector: %s needs connector_ids or all = true"):format(what), 4) end
  return ids
end

-- The connectors to look at and the ids every connector uses.
local function targets_and_usage(client, params, what)
  local ids = target_ids(params, what)
  local list, err = all_connectors(client, params.page_size)
  if not list then return nil, nil, nil, err end
  local used_keys, used_secrets = {}, {}
  for _, c in ipairs(list) do
    if c.api_key_id then used_keys[c.api_key_id] = true end
    if c.api_key_secret_id then used_secrets[c.api_key_secret_id] = true end
  end
  if not ids then
    ids = {}
    for i, c in ipairs(list) do ids[i] = c.id end
  end
  return ids, used_keys, used_secrets
end

--- Lists, for each connector, valid keys made for it (metadata.connector_id)
-- that it does not use, and the secrets only such keys reference; with
-- apply = true invalidates and deletes those older than grace_seconds
-- (default an hour: a rotation in flight has made its key but not switched
-- yet) and not scheduled for retirement.  Nothing any connector uses is
-- touched.  params: connector_ids = { ... } | all = true, [apply],
-- [grace_seconds], [page_size], [now] (epoch seconds).  Returns
-- { connectors = { per connector }, orphans = n, failed = n }, or nil, err.
function rotation.reconcile(client, params)
  local ids, used_keys, used_secrets, err = targets_and_usage(client, params, "reconcile")
  if not ids then return nil, err end
  local opts = { now = params.now or os.time(), grace_seconds = params.grace_seconds or rotation.DEFAULT_GRACE_SECONDS,
    apply = params.apply == true }
  local report = { connectors = {}, orphans = 0, failed = 0, cleaned = 0 }
  for _, id in ipairs(ids) do
    local one = reconcile_one(client, id, opts, used_keys, used_secrets)
    for _, list in ipairs({ one.keys, one.secrets }) do
      for _, e in ipairs(list) do
        if e.status == "orphan" then report.orphans = report.orphans + 1
        elseif e.status == "failed" then report.failed = report.failed + 1
        elseif e.status == "invalidated" or e.status == "deleted" then report.cleaned = report.cleaned + 1 end
      end
    end
    report.failed = report.failed + #one.errors
    report.connectors[#report.connectors + 1] = one
  end
  return report
end

-- Retire ----------------------------------------------------------------------------

-- Carries out one plan: invalidates its key and deletes its secret unless a
-- connector uses them.  Returns an entry { api_key_id, secret_id, at,
-- status = "retired"|"done_before"|"in_use"|"failed", leftovers }.
local function retire_plan(client, plan, used_keys, used_secrets)
  local entry = { api_key_id = plan.api_key_id, secret_id = plan.secret_id, at = plan.at, leftovers = {} }
  if used_keys[plan.api_key_id] then
    entry.status = "in_use"
    return entry
  end
  local acted = false
  local k, err = get_key(client, plan.api_key_id)
  if k == nil then
    entry.leftovers[#entry.leftovers + 1] = key_leftover(plan.api_key_id, "could not be read: " .. tostring(err))
  elseif k and k.invalidated ~= true then
    acted = true
    local ok, why = invalidate(client, plan.api_key_id)
    if not ok then entry.leftovers[#entry.leftovers + 1] = key_leftover(plan.api_key_id, "is still valid: " .. why) end
  end
  if plan.secret_id and not used_secrets[plan.secret_id] and secret_holds(client, plan.secret_id) ~= false then
    acted = true
    local ok, why = delete_secret(client, plan.secret_id)
    if not ok then entry.leftovers[#entry.leftovers + 1] = secret_leftover(plan.secret_id, "still exists: " .. why) end
  end
  entry.status = #entry.leftovers > 0 and "failed" or acted and "retired" or "done_before"
  return entry
end

--- Retires the keys (and secrets) whose planned retirement has come: the
-- plans are in the metadata of each connector's current key (written by
-- rotate_api_key).  Never a key or secret any connector uses.  params:
-- connector_ids = { ... } | all = true, [page_size], [now] (epoch seconds).
-- Returns { retired = { entries }, pending = { plans not due yet },
-- leftovers = { ... }, errors = { ... } }, or nil, err.
function rotation.retire(client, params)
  local ids, used_keys, used_secrets, err = targets_and_usage(client, params, "retire")
  if not ids then return nil, err end
  local now = params.now or os.time()
  local report = { retired = {}, pending = {}, leftovers = {}, errors = {}, in_use = {} }
  for _, id in ipairs(ids) do
    local current, _, read_err, gone = connector_ids(client, id)
    if read_err then
      report.errors[#report.errors + 1] = ("%s: %s"):format(id, tostring(read_err))
    elseif current and not gone then
      local key, key_err = get_key(client, current)
      if key == nil then
        report.errors[#report.errors + 1] = ("%s: cannot read its API key: %s"):format(id, tostring(key_err))
      end
      for _, plan in ipairs(plans_of(key)) do
        if plan.after > now or plan.awaiting_delivery then
          plan.connector_id = id
          report.pending[#report.pending + 1] = plan
        else
          local entry = retire_plan(client, plan, used_keys, used_secrets)
          entry.connector_id = id
          if entry.status == "in_use" then
            report.in_use[#report.in_use + 1] = entry
          elseif entry.status == "retired" then
            report.retired[#report.retired + 1] = entry
          end
          for _, l in ipairs(entry.leftovers) do report.leftovers[#report.leftovers + 1] = l end
        end
      end
    end
  end
  return report
end

-- Rotate ----------------------------------------------------------------------------

local function dry_run_report(client, report, params, native, old_key, old_secret)
  report.dry_run = true
  local would, refusals = {}, {}
  local function plan(step) would[#would + 1] = step end
  plan(("create API key [%s]"):format(report.name))
  if native then plan("store its encoded value in a new connector secret") end
  plan("authenticate with the new key")
  plan("point the connector at the new key" .. (native and " and secret" or ""))
  if not native then plan("hand the key to on_key") end
  if old_key then
    if params.retire_after and params.retire_after > 0 then
      plan(("keep the old API key [%s] valid for %d s, then `retire` invalidates it"):format(old_key,
        params.retire_after))
    else
      plan(("invalidate the old API key [%s]"):format(old_key))
    end
  end
  if native and old_secret then plan(("delete the old connector secret [%s]"):format(old_secret)) end
  report.would = would
  -- what the real run would refuse, checked now
  if not native and type(params.on_key) ~= "function" then
    refusals[#refusals + 1] = "the connector is self-managed: its service must be given the new key "
      .. "(on_key; the CLI: --key-dir)"
  end
  if not params.credentials_checked then
    local _, cred_err = rotation.check_credentials(client)
    if cred_err then refusals[#refusals + 1] = cred_err.message or tostring(cred_err) end
  end
  report.refusals = refusals
  report.would_fail = #refusals > 0
  return report
end

--- Rotates the API key of one connector.  params: connector_id, [name],
-- [expiration], [role_descriptors], [dry_run], [on_key] (required for
-- self-managed connectors), [retire_after] (seconds the old key stays valid
-- after the commit point; `retire` invalidates it then), [check_leftovers]
-- (default true: look for keys earlier rotations left, report.found).
--
-- on_key(encoded, info) must return true once the service can read the key
-- (it may still use the old one until it reloads: give retire_after), or
-- "reloaded" once the service uses it (the old key then retires at once);
-- anything else (false, reason), or an error, means the service does not
-- have it.  [credentials_checked]: skip the dry run's credentials check.
--
-- Returns a report (the rotation committed: the connector uses the new key)
-- whose `leftovers` lists what could not be retired, with the call that
-- finishes the job; or nil and an error whose `step` names the failed step,
-- with `leftovers` (what could not be undone, or may still appear).
-- Neither ever holds the key itself.
-- @tparam table client the client (its credentials must be a user's: keys made with an API key are restricted)
-- @tparam table params `connector_id` and the optional fields above
-- @treturn table the report: `connector_id`, `old_api_key_id`, `new_api_key_id`,
--   `new_api_key_secret_id`, `leftovers`, `found`, ...
-- @return[2] nil
-- @return[2] an error object with `step`, `undone` and `leftovers`
-- @raise without a non-empty `connector_id`
-- @usage local report, err = client:rotate_api_key{ connector_id = "my-connector", expiration = "30d" }
function rotation.rotate(client, params)
  if type(params) ~= "table" or type(params.connector_id) ~= "string" or params.connector_id == "" then
    error("esconnector: rotate_api_key needs { connector_id = <non-empty string> }", 3)
  end
  local retire_after = params.retire_after
  -- "not (x >= 0)" so that NaN is refused too
  if retire_after ~= nil and (type(retire_after) ~= "number" or not (retire_after >= 0)) then -- luacheck: ignore 581
    error("esconnector: rotate_api_key: retire_after must be a number of seconds, 0 or more", 3)
  end
  local id = params.connector_id
  local rotation_id = token()
  local undone, leftovers = {}, {}
  local extra = { rotation_id = rotation_id }

  -- 1 read
  local connector, err = client.connector:get{ connector_id = id }
  if not connector then return nil, failure("read", err, undone, leftovers, extra) end
  local index_name = value(connector.index_name)
  local native = connector.is_native == true
  local old_key = value(connector.api_key_id)
  local old_secret = native and value(connector.api_key_secret_id) or nil
  if not index_name and not params.role_descriptors then
    return nil, failure("read", errors.new{ kind = "validation", api = "connector.get",
      message = ("connector [%s] has no index_name: give role_descriptors"):format(id) }, undone, leftovers, extra)
  end
  local name = params.name or ((index_name or id) .. "-connector")
  local report = {
    connector_id = id, is_native = native, name = name, rotation_id = rotation_id,
    old_api_key_id = old_key, old_api_key_secret_id = old_secret,
    invalidated = {}, deleted_secrets = {}, leftovers = {}, warnings = {},
  }

  -- what earlier rotations left behind (reported, never touched here)
  if params.check_leftovers ~= false then
    local found = reconcile_one(client, id, { now = os.time(), grace_seconds = rotation.DEFAULT_GRACE_SECONDS,
      ids = { api_key_id = old_key, api_key_secret_id = value(connector.api_key_secret_id) } })
    report.found = { keys = found.keys, secrets = found.secrets }
    extra.found = report.found
    for _, e in ipairs(found.errors) do report.warnings[#report.warnings + 1] = "leftover check: " .. e end
  end

  if params.dry_run then return dry_run_report(client, report, params, native, old_key, old_secret) end
  if not native and type(params.on_key) ~= "function" then
    return nil, failure("read", errors.new{ kind = "validation", api = "connector.get",
      message = ("connector [%s] is self-managed: its service must be given the new key, "
        .. "so pass on_key (the CLI: --key-dir)"):format(id) }, undone, leftovers, extra)
  end

  -- pending plans of the current key travel on to the new one
  local plans = {}
  if old_key then
    local current = get_key(client, old_key)
    for _, p in ipairs(plans_of(current)) do
      if p.api_key_id ~= old_key then plans[#plans + 1] = p end
    end
  end
  local now = os.time()
  local retire_at = now + (params.retire_after or 0)
  -- a self-managed service may use the old key until the new one is
  -- delivered: the plan waits for that (confirmed below)
  local old_plan = old_key and { api_key_id = old_key, secret_id = old_secret, after = retire_at,
    at = iso8601(retire_at), awaiting_delivery = not native or nil } or nil
  plans[#plans + 1] = old_plan
  local new_secret = native and ("esconnector-" .. rotation_id) or nil

  -- 2 create: sent at most once (see client.IDEMPOTENT)
  local key
  local metadata = { connector_id = id, rotation_id = rotation_id, rotated_at = iso8601(now),
    rotated_by = "esconnector", secret_id = new_secret, replaces = old_key,
    retires = #plans > 0 and plans or nil }
  key, err = client.security:create_api_key{
    name = name,
    expiration = params.expiration,
    role_descriptors = params.role_descriptors or rotation.default_role_descriptors(index_name),
    metadata = metadata,
  }
  if not key then
    if maybe_applied(err) then
      -- find it by its rotation_id: it cannot be used (its secret is in the
      -- lost answer), so it is invalidated
      local found = keys_made_for(client, id)
      local any = false
      for _, k in ipairs(found or {}) do
        local meta = type(k.metadata) == "table" and k.metadata or {}
        if meta.rotation_id == rotation_id and key_is_valid(k, os.time()) then
          any = true
          local ok, why = invalidate(client, k.id)
          if ok then
            undone[#undone + 1] = ("invalidated API key [%s], made by the lost create"):format(k.id)
          else
            leftovers[#leftovers + 1] = key_leftover(k.id, "was made by the lost create and " .. why)
          end
        end
      end
      if not found then
        leftovers[#leftovers + 1] = pending_key_leftover(rotation_id, id, "may have been made (the create's answer "
          .. "was lost, and the keys could not be searched)")
      elseif not any and may_land_later(err) then
        leftovers[#leftovers + 1] = pending_key_leftover(rotation_id, id, "may still be made (the create's answer "
          .. "was lost and the request may land late)")
      end
    end
    return nil, failure("create", err, undone, leftovers, extra)
  end
  local new_key, encoded = key.id, key.encoded
  report.new_api_key_id = new_key
  extra.new_api_key_id = new_key

  -- What undo may drop: cleared when a write pointing the connector at the
  -- new key (and secret) may still land.
  local secret_written = false -- a write of the new secret may have happened
  local secret_in_flight = false
  local switch_sent, switch_in_flight = false, false

  -- Undo before the commit point.  Points the connector back when it may
  -- have moved, then drops the new secret and key unless something may
  -- still point at them.
  local function undo()
    local connector_on_new = false -- true, false or nil (unknown)
    local old_unusable -- why the connector cannot go back to the old key
    if switch_sent then
      local cur_key, cur_secret, read_err = connector_ids(client, id)
      if read_err then
        connector_on_new = nil
      else
        connector_on_new = cur_key == new_key or (new_secret ~= nil and cur_secret == new_secret)
      end
      if connector_on_new ~= false and old_key then
        -- never point a connector back at a key not verified valid now
        local old_record = get_key(client, old_key)
        if not key_is_valid(old_record, os.time()) then
          old_unusable = old_record == nil and "could not be read" or "is no longer valid"
        end
      end
      if connector_on_new ~= false and not old_unusable then
        -- null cannot clear a field: a connector that had no key (or, native,
        -- no secret) cannot go back to having none, so it keeps the new ones
        if old_key and not (native and not old_secret) then
          local outcome = settle(
            function()
              return client.connector:update_api_key_id{ connector_id = id, api_key_id = old_key,
                api_key_secret_id = old_secret }
            end,
            function()
              local k2, s2, e2 = connector_ids(client, id)
              if e2 then return nil end
              return k2 == old_key and (old_secret == nil or s2 == old_secret)
            end)
          if outcome == "done" then
            connector_on_new = false
            undone[#undone + 1] = ("pointed the connector back at API key [%s]"):format(old_key)
          end
        end
      end
    end
    local keep
    if connector_on_new ~= false and old_unusable then
      keep = ("the connector points at it, and the old key [%s] %s"):format(old_key, old_unusable)
    elseif connector_on_new == true then
      keep = (old_key and not (native and not old_secret)) and "the connector may still point at it "
        .. "(pointing it back failed)" or "the connector points at it (it had no key or secret before, and "
        .. "null cannot clear a field)"
    elseif connector_on_new == nil then
      keep = "the connector may point at it (it could not be read)"
    elseif switch_in_flight then
      keep = "a lost request pointing the connector at it may still land"
    end
    if new_secret and (secret_written or secret_in_flight) then
      if keep then
        leftovers[#leftovers + 1] = secret_leftover(new_secret, "is kept: " .. keep)
      else
        local ok, why = delete_secret(client, new_secret)
        if ok then
          undone[#undone + 1] = ("deleted the new connector secret [%s]"):format(new_secret)
          if secret_in_flight then
            leftovers[#leftovers + 1] = secret_leftover(new_secret, "may still be written by a lost request "
              .. "(it would hold the invalidated new key)")
          end
        else
          leftovers[#leftovers + 1] = secret_leftover(new_secret, "still exists: " .. why)
        end
      end
    end
    if keep then
      leftovers[#leftovers + 1] = key_leftover(new_key, "is kept valid: " .. keep)
      if old_key and not old_unusable then
        -- both stay valid; which one should win is for whoever finishes the job
        local back = ('PUT /_connector/%s/_api_key_id {"api_key_id":"%s"%s}'):format(id, old_key,
          old_secret and (',"api_key_secret_id":"%s"'):format(old_secret) or "")
        leftovers[#leftovers + 1] = { kind = "api_key", id = old_key, call = back,
          reason = "is kept valid (the key the rotation started from: the connector may no longer point at it"
            .. (native and "" or ", but its service holds it") .. ")" }
      end
    else
      local ok, why = invalidate(client, new_key)
      if ok then
        undone[#undone + 1] = ("invalidated the new API key [%s]"):format(new_key)
      else
        leftovers[#leftovers + 1] = key_leftover(new_key, "is still valid: " .. why)
      end
    end
  end

  local function fail(step, e)
    undo()
    return nil, failure(step, e, undone, leftovers, extra)
  end

  -- 3 secret: a PUT to an id chosen up front, so it can be read back
  if native then
    local outcome, in_flight
    outcome, err, in_flight = settle(
      function() return client.connector:secret_put{ id = new_secret, value = encoded } end,
      function() return secret_holds(client, new_secret, encoded) end)
    secret_written = outcome ~= "failed" or maybe_applied(err)
    secret_in_flight = in_flight
    if outcome ~= "done" then return fail("secret", err) end
    report.new_api_key_secret_id = new_secret
    extra.new_api_key_secret_id = new_secret
  end

  -- 4 verify: the new key authenticates as itself; the secret holds it
  local probe = client:derive{ api_key = encoded }
  local who
  who, err = probe.security:authenticate()
  probe:close()
  if who and not (type(who.api_key) == "table" and who.api_key.id == new_key) then
    who, err = nil, errors.new{ kind = "decode", api = "security.authenticate",
      message = "authenticated, but not as the new API key" }
  end
  if not who then return fail("verify", err) end
  if native then
    local holds = secret_holds(client, new_secret, encoded)
    if holds ~= true then
      return fail("verify", errors.new{ kind = holds == nil and "connection" or "decode",
        api = "connector.secret_get",
        message = ("the new connector secret [%s] %s"):format(new_secret,
          holds == nil and "could not be read back" or "does not hold the new key") })
    end
  end
  report.verified = true

  -- 5 update: one call, so that the key and its secret switch together.
  -- Idempotent: when its outcome is unknown it is read back, and sent once
  -- more if it did not happen (a late copy then changes nothing).
  local function on_new()
    local k2, s2, e2 = connector_ids(client, id)
    if e2 then return nil end
    return k2 == new_key and (new_secret == nil or s2 == new_secret)
  end
  local function switch()
    switch_sent = true
    return client.connector:update_api_key_id{ connector_id = id, api_key_id = new_key,
      api_key_secret_id = new_secret }
  end
  local outcome, in_flight
  outcome, err, in_flight = settle(switch, on_new)
  switch_in_flight = in_flight
  if outcome ~= "done" and maybe_applied(err or {}) then
    local again
    outcome, again, in_flight = settle(switch, on_new)
    switch_in_flight = switch_in_flight or in_flight
    if outcome ~= "done" then err = again or err end
  end
  if outcome ~= "done" then
    err = err or errors.new{ kind = "connection", api = "connector.update_api_key_id",
      message = "the connector could not be pointed at the new key" }
    return fail("update", err)
  end

  -- 6 deliver: a self-managed connector's service reads its key from its
  -- own configuration, so whoever runs it must get the new key.
  local reloaded = false
  if not native then
    -- (under pcall, where PUC 5.1 cannot yield: on_key's own calls block)
    local ok, delivered, reason = pcall(scheduler.without_yield, params.on_key, encoded, { connector_id = id,
      api_key_id = new_key, rotation_id = rotation_id })
    if not ok or (delivered ~= true and delivered ~= "reloaded") then
      local why = ok and ("it returned " .. tostring(delivered)) or ("it raised: " .. tostring(delivered))
      if ok and type(reason) == "string" then why = why .. ": " .. reason end
      -- whatever on_key said must not carry the key itself
      local from = 1
      while true do
        local i, j = why:find(encoded, from, true)
        if not i then break end
        why = why:sub(1, i - 1) .. "[redacted]" .. why:sub(j + 1)
        from = i + 10
      end
      return fail("deliver", errors.new{ kind = "validation", api = "on_key",
        message = "on_key did not take the new key: " .. why })
    end
    reloaded = delivered == "reloaded"
    report.delivered = true
    -- record the delivery: the plans waiting for it may now be carried out
    local waiting = false
    for _, p in ipairs(plans) do
      if p.awaiting_delivery then waiting, p.awaiting_delivery = true, nil end
    end
    if waiting then
      local recorded, record_err = client.security:update_api_key{ id = new_key, metadata = metadata }
      if not recorded then
        report.warnings[#report.warnings + 1] = ("the delivery could not be recorded in the new key's metadata "
          .. "(%s): `retire` and `reconcile` keep the keys it replaces"):format(tostring(record_err))
        report.delivery_unrecorded = true
      end
    end
  end

  -- Commit point: the connector uses the verified new key, and a
  -- self-managed service has it.  Nothing below touches the new key.
  report.committed = true

  -- 7 retire the old key and secret, now or after retire_after
  if old_plan then
    if retire_at > os.time() and not reloaded then
      report.retiring = old_plan
      if report.delivery_unrecorded then
        report.leftovers[#report.leftovers + 1] = key_leftover(old_key, ("stays valid: `retire` will not "
          .. "retire it (the delivery could not be recorded); once the service uses the new key"):format())
      end
    else
      local entry = retire_plan(client, old_plan, {}, {})
      local left = {}
      for _, l in ipairs(entry.leftovers) do left[l.kind] = true end
      if not left.api_key then report.invalidated[#report.invalidated + 1] = old_key end
      if old_secret and not left.secret then report.deleted_secrets[#report.deleted_secrets + 1] = old_secret end
      for _, l in ipairs(entry.leftovers) do
        if not report.delivery_unrecorded then
          l.reason = l.reason .. "; `esconnector retire " .. id .. "` finishes it"
        end
        report.leftovers[#report.leftovers + 1] = l
      end
    end
  end
  return report
end

return rotation
