--- The esconnector command-line tool (bin/esconnector calls main).
-- Exit codes: 0 ok, 1 an API call failed or something is left over (a key
-- or secret still valid that should not be, a failed rotation), 2 bad
-- usage.  Never prints a key.
--
--     esconnector [options] update-api-key-id CONNECTOR_ID [--api-key-id ID] [--api-key-secret-id ID]
--     esconnector [options] update-api-key-id --from FILE|- [--concurrency N]
--     esconnector [options] rotate CONNECTOR_ID... | --all [--page-size N] [--concurrency N] [--dry-run]
--                               [--expiration 30d] [--key-dir DIR] [--retire-after 1h]
--     esconnector [options] reconcile CONNECTOR_ID... | --all [--apply] [--grace 1h] [--page-size N]
--     esconnector [options] retire CONNECTOR_ID... | --all [--page-size N]
--     esconnector [options] get CONNECTOR_ID
--     esconnector [options] list [--size N] [--include-deleted]
--     esconnector completion bash|zsh|fish
--     esconnector --version
--
-- Options (each also from a variable): `--url` (ES_URL) or `--cloud-id`
-- (ES_CLOUD_ID); `--api-key` (ES_API_KEY), `--bearer-token`
-- (ES_BEARER_TOKEN) or `--username`/`--password` (ES_USERNAME/ES_PASSWORD);
-- `--ca-file`, `--ca-path`, `--ca-fingerprint`, `--client-cert`,
-- `--client-key` (ES_CA_FILE, ...); `--insecure`; `--timeout-ms`; `--json`;
-- `--verbose` (each request and response line on stderr, credentials
-- redacted).  `esconnector --help` and `esconnector COMMAND --help` list all.
-- @module esconnector.cli
local argparse = require "argparse"
local esconnector = require "esconnector"
local core = require "esconnector.core"
local errors = require "esconnector.errors"
local json = require "esconnector.json"
local rotation = require "esconnector.rotation"

local cli = {}

-- Raised by --version's action, to stop parsing before "a command is required".
local VERSION_REQUESTED = {}

-- The parser, and every command's own parser by name (for its usage line):
-- commands are recorded as they are added, whoever adds them.
local function build_parser()
  local parser = argparse("esconnector", "Drive Elasticsearch connectors: API key ids and safe key rotation.")
    :epilog("Connection settings come from the flags or from ES_URL, ES_CLOUD_ID, ES_API_KEY, ES_BEARER_TOKEN, "
      .. "ES_USERNAME, ES_PASSWORD, ES_CA_FILE, ES_CA_PATH, ES_CA_FINGERPRINT, ES_CLIENT_CERT and ES_CLIENT_KEY."
      .. "\nExit codes: 0 ok, 1 an API call failed or something is left over, 2 usage.")
  parser:usage("Usage: esconnector [options] <command> [<args>]")
  local command_parsers = {}
  local add_command = parser.command
  parser.command = function(self, name, ...)
    local command = add_command(self, name, ...)
    command_parsers[name:match("^%S+")] = command
    return command
  end
  parser:flag("--version", "Print the version and exit."):action(function() error(VERSION_REQUESTED, 0) end)
  parser:option("--url", "Elasticsearch URL (or ES_URL).")
  parser:option("--cloud-id", "Elastic Cloud ID, instead of a URL (or ES_CLOUD_ID).")
  parser:option("--api-key", "Encoded API key (or ES_API_KEY; prefer the variable: flags show in ps).")
  parser:option("--username", "Basic auth user (or ES_USERNAME).")
  parser:option("--password", "Basic auth password (or ES_PASSWORD).")
  parser:option("--bearer-token", "Bearer token (or ES_BEARER_TOKEN; prefer the variable).")
  parser:option("--ca-file", "CA certificate file (or ES_CA_FILE).")
  parser:option("--ca-path", "Directory of hashed CA certificates (or ES_CA_PATH).")
  parser:option("--ca-fingerprint", "SHA-256 of the CA certificate (or ES_CA_FINGERPRINT).")
  parser:option("--client-cert", "Client certificate (PEM) for TLS client authentication (or ES_CLIENT_CERT).")
  parser:option("--client-key", "The client certificate's private key (PEM) (or ES_CLIENT_KEY).")
  parser:flag("--insecure", "Do not verify the server's certificate or name (tests only; a fingerprint still pins).")
  parser:option("--timeout-ms", "Request timeout in milliseconds."):convert(tonumber)
  parser:flag("--json", "Machine-readable output: one JSON document per line.")
  parser:flag("-v --verbose", "Print each request and response line to stderr (credentials redacted).")
  parser:command_target("command")

  local update = parser:command("update-api-key-id", "Set a connector's api_key_id and/or api_key_secret_id.")
  update:argument("connector_id", "The connector."):args("?")
  update:option("--api-key-id", "The API key id.")
  update:option("--api-key-secret-id", "The connector secret id (Elastic-managed connectors).")
  update:option("--from", "Many connectors: FILE (or - for stdin) with one JSON object per line, "
    .. "{\"connector_id\":..., \"api_key_id\":..., \"api_key_secret_id\":...}; one result line per input "
    .. "line, in order, then a summary.")
  update:option("--concurrency", "With --from: calls in flight at once."):convert(tonumber):default("16")

  local rotate = parser:command("rotate", "Rotate connectors' API keys safely.")
  rotate:argument("connector_id", "Connectors to rotate."):args("*")
  rotate:flag("--all", "Every connector (paged through connector.list).")
  rotate:flag("--dry-run", "Only read, and say what would happen (or what the real run would refuse).")
  rotate:option("--expiration", "Lifetime of the new keys, e.g. 30d.")
  rotate:option("--page-size", "With --all: connectors read per connector.list call."):convert(tonumber)
    :default("100")
  rotate:option("--concurrency", "Connectors rotated at once."):convert(tonumber):default("1")
  rotate:option("--key-dir", "Self-managed connectors: write each new encoded key to DIR/<connector_id>.key "
    .. "(mode 0600) for their service; needed to rotate them.")
  rotate:option("--retire-after", "Keep each old key valid this long after the switch (e.g. 1h), so that "
    .. "services can reload; `esconnector retire` then retires it. Default: at once.")

  local reconcile = parser:command("reconcile", "List (and with --apply remove) API keys and secrets that "
    .. "rotations made for connectors and that nothing uses.")
  reconcile:argument("connector_id", "Connectors to check."):args("*")
  reconcile:flag("--all", "Every connector.")
  reconcile:flag("--apply", "Invalidate those keys and delete those secrets (older than --grace only).")
  reconcile:option("--grace", "Leave what is younger than this alone: a rotation may be running (default 1h)."
    ):default("1h")
  reconcile:option("--page-size", "Connectors read per connector.list call."):convert(tonumber):default("100")

  local retire = parser:command("retire", "Retire old keys whose planned retirement (rotate --retire-after) has "
    .. "come; never a key a connector uses. For cron.")
  retire:argument("connector_id", "Connectors to look at."):args("*")
  retire:flag("--all", "Every connector.")
  retire:option("--page-size", "Connectors read per connector.list call."):convert(tonumber):default("100")

  local get = parser:command("get", "Show a connector.")
  get:argument("connector_id", "The connector.")

  local list = parser:command("list", "List connectors.")
  list:option("--size", "Page size."):convert(tonumber):default("100")
  list:flag("--include-deleted", "Also soft-deleted connectors.")

  local completion = parser:command("completion", "Print a shell completion script: "
    .. "eval \"$(esconnector completion bash)\", or into zsh's fpath, or fish's completions folder.")
  completion:argument("shell", "bash, zsh or fish."):choices{ "bash", "zsh", "fish" }
  return parser, command_parsers
end

-- "90", "90s", "15m", "1h", "2d" -> seconds, or nil.
local function seconds(text)
  local n, unit = tostring(text):match("^(%d+)([smhd]?)$")
  if not n then return nil end
  return tonumber(n) * ({ [""] = 1, s = 1, m = 60, h = 3600, d = 86400 })[unit]
end

-- Output goes through these so that specs can capture it.
local function writer(out)
  return function(...)
    out:write(table.concat({ ... }, " "), "\n")
  end
end

-- --verbose: one line per request and per response on stderr, through the
-- client's observers (their headers already have credentials redacted).
local function verbose_observers(options, complain)
  options.on_request = function(e)
    complain(("> %s %s (attempt %d)"):format(e.method, e.url, e.attempt))
    for _, header in ipairs(e.headers) do complain(">   " .. header) end
  end
  options.on_response = function(e)
    local what = e.status and ("HTTP " .. e.status) or (tostring(e.kind) .. ": " .. tostring(e.message))
    complain(("< %s from %s in %d ms"):format(what, e.node, math.floor(e.duration_ms + 0.5)))
  end
end

local function client_from(args, env, complain)
  -- a flag beats a variable; a flag or variable left empty counts as not given
  local function setting(flag, variable)
    local value = args[flag]
    if value == nil then value = env(variable) end
    if value == "" then return nil end
    return value
  end
  local url, cloud_id = args.url ~= "" and args.url or nil, args.cloud_id ~= "" and args.cloud_id or nil
  if url and cloud_id then return nil, "give --url or --cloud-id, not both" end
  if not url and not cloud_id then url, cloud_id = setting("url", "ES_URL"), setting("cloud_id", "ES_CLOUD_ID") end
  if url and cloud_id then return nil, "ES_URL and ES_CLOUD_ID are both set: give one" end
  if not url and not cloud_id then
    return nil, "no Elasticsearch URL: give --url or --cloud-id, or set ES_URL or ES_CLOUD_ID"
  end
  local options = { hosts = url and { url } or nil, cloud_id = cloud_id }
  local api_key = setting("api_key", "ES_API_KEY")
  local bearer = setting("bearer_token", "ES_BEARER_TOKEN")
  local username = setting("username", "ES_USERNAME")
  if api_key then
    options.api_key = api_key
  elseif bearer then
    options.bearer_auth = bearer
  elseif username then
    options.basic_auth = { username, args.password or env("ES_PASSWORD") or "" }
  end
  options.ca_file = setting("ca_file", "ES_CA_FILE")
  options.ca_path = setting("ca_path", "ES_CA_PATH")
  options.ca_fingerprint = setting("ca_fingerprint", "ES_CA_FINGERPRINT")
  options.client_cert = setting("client_cert", "ES_CLIENT_CERT")
  options.client_key = setting("client_key", "ES_CLIENT_KEY")
  if args.insecure then
    options.verify_tls = false
    complain("esconnector: --insecure: the server's certificate is not verified")
  end
  if args.verbose then verbose_observers(options, complain) end
  options.request_timeout_ms = args.timeout_ms
  local ok, client = pcall(esconnector.new, options)
  if not ok then return nil, (tostring(client):gsub("^[^:]*:%d+: ", "")) end
  return client
end

-- A connector as one line of text.
local function connector_line(c)
  local function s(v) return (v == nil or v == json.null) and "-" or tostring(v) end
  return ("%s  name=%s index=%s native=%s status=%s api_key_id=%s api_key_secret_id=%s"):format(
    s(c.id), s(c.name), s(c.index_name), s(c.is_native), s(c.status), s(c.api_key_id), s(c.api_key_secret_id))
end

local function error_json(err)
  return { ok = false, kind = err.kind, status = err.status, type = err.type, reason = err.reason,
    message = err.message, step = err.step, leftovers = err.leftovers, undone = err.undone,
    rotation_id = err.rotation_id, found = err.found, committed = err.committed, error = tostring(err) }
end

local commands = {}

function commands.get(client, args, say)
  local doc, err = client.connector:get{ connector_id = args.connector_id }
  if not doc then return 1, err end
  say(args.json and json.encode(doc) or connector_line(doc))
  return 0
end

-- A page size: a whole number of at least 1.
local function check_size(n, flag)
  if type(n) ~= "number" or n < 1 or n ~= math.floor(n) then
    return ("%s must be a whole number of at least 1"):format(flag)
  end
end

function commands.list(client, args, say)
  local bad = check_size(args.size, "--size")
  if bad then return 2, bad end
  for c, err in client.connector:list_all{ size = args.size, include_deleted = args.include_deleted or nil } do
    if not c then return 1, err end
    say(args.json and json.encode(c) or connector_line(c))
  end
  return 0
end

-- The update of one --from line: params, or nil, why the line is bad and
-- the connector id when there is one.
local function update_params(line)
  local doc = json.decode(line)
  if type(doc) ~= "table" or doc[1] ~= nil then
    return nil, line:find("%S") and "not a JSON object" or "an empty line"
  end
  local id = type(doc.connector_id) == "string" and doc.connector_id or nil
  for key, value in pairs(doc) do
    if key ~= "connector_id" and key ~= "api_key_id" and key ~= "api_key_secret_id" then
      return nil, ("unknown field '%s' (connector_id, api_key_id, api_key_secret_id)"):format(tostring(key)), id
    end
    if type(value) ~= "string" and not (key ~= "connector_id" and value == json.null) then
      return nil, ("%s must be a string"):format(key), id
    end
  end
  if not id or id == "" then return nil, "no connector_id" end
  if doc.api_key_id == nil and doc.api_key_secret_id == nil then
    return nil, "neither api_key_id nor api_key_secret_id", id
  end
  return doc
end

local function concurrency_ok(args)
  local n = args.concurrency
  return n ~= nil and n >= 1 and n == math.floor(n) and n < math.huge
end

local FROM_CHUNK = 1000 -- lines read and sent per batch: memory stays bounded

-- update-api-key-id --from FILE: every line becomes a call or an error of
-- its own; results are printed in input order as each chunk completes.
local function update_from(client, args, say, io_in)
  local input, why = io_in, nil
  if args.from ~= "-" then input, why = io.open(args.from, "r") end
  if not input then return 2, "cannot read --from: " .. tostring(why) end
  if not concurrency_ok(args) then return 2, "--concurrency must be a whole number of 1 or more" end
  local number, ok_count, failed = 0, 0, 0
  local function report(line_no, id, res, err)
    if res then
      ok_count = ok_count + 1
      say(args.json and json.encode{ line = line_no, ok = true, connector_id = id, result = res.result }
        or ("line %d: %s: %s"):format(line_no, id, tostring(res.result)))
    else
      failed = failed + 1
      if args.json then
        local e = error_json(err)
        e.line, e.connector_id = line_no, id
        say(json.encode(e))
      else
        say(("line %d: FAILED %s: %s"):format(line_no, id or "-", err.message or tostring(err)))
      end
    end
  end
  local done = false
  while not done do
    local lines = {}
    for _ = 1, FROM_CHUNK do
      local line = input:read("*l")
      if not line then done = true break end
      lines[#lines + 1] = line:gsub("\r$", "")
    end
    local calls, bad, ids = {}, {}, {}
    for i, line in ipairs(lines) do
      local params, problem, id = update_params(line)
      if params then
        ids[i] = params.connector_id
        calls[#calls + 1] = { "connector.update_api_key_id", params }
      else
        ids[i] = id or false
        bad[i] = errors.new{ kind = "validation", message = problem }
      end
    end
    local results = client:batch(calls, { concurrency = args.concurrency })
    local k = 0
    for i = 1, #lines do
      if bad[i] then
        report(number + i, ids[i] or nil, nil, bad[i])
      else
        k = k + 1
        report(number + i, ids[i], results[k].result, results[k].err)
      end
    end
    number = number + #lines
  end
  if input ~= io_in then input:close() end
  say(args.json and json.encode{ summary = { lines = number, ok = ok_count, failed = failed } }
    or ("%d lines: %d updated, %d failed"):format(number, ok_count, failed))
  return failed > 0 and 1 or 0
end

commands["update-api-key-id"] = function(client, args, say, _, io_in)
  if args.from then
    if args.connector_id or args.api_key_id or args.api_key_secret_id then
      return 2, "give --from or a connector id with its ids, not both"
    end
    return update_from(client, args, say, io_in)
  end
  if not args.connector_id then return 2, "give a connector id, or --from FILE" end
  if not args.api_key_id and not args.api_key_secret_id then
    return 2, "give --api-key-id, --api-key-secret-id or both"
  end
  local res, err = client.connector:update_api_key_id{ connector_id = args.connector_id,
    api_key_id = args.api_key_id, api_key_secret_id = args.api_key_secret_id }
  if not res then return 1, err end
  say(args.json and json.encode{ connector_id = args.connector_id, result = res.result }
    or (args.connector_id .. ": " .. tostring(res.result)))
  return 0
end

-- Every connector id, paged through connector.list.
local function all_connector_ids(client, size)
  local list, err = rotation.all_connectors(client, size)
  if not list then return nil, err end
  local ids = {}
  for i, c in ipairs(list) do ids[i] = c.id end
  return ids
end

-- The key file of a connector: DIR/<id>.key, the id %-encoded where it is
-- not a letter, digit, '.', '_' or '-' (so two ids never share a file).
local function key_path(dir, id)
  return dir .. "/" .. id:gsub("[^%w._-]", function(c) return ("%%%02X"):format(c:byte()) end) .. ".key"
end

-- Writes a key for a self-managed connector's service: see
-- core.write_private_file (O_EXCL temporary file, 0600, fsync, read back,
-- rename, directory fsync).  true, or false and why (never the key).
local function write_key(dir, id, encoded, warn)
  local path = key_path(dir, id)
  local ok, why, renamed = core.write_private_file(path, encoded .. "\n")
  if ok then return true end
  if renamed then
    -- the file is in place: the service can read it, so it was delivered
    warn(("esconnector: %s: %s"):format(id, why))
    return true
  end
  return false, why
end

-- Checks before the first key is made: the key directory can take a key
-- file, and the credentials can make keys.  Returns nil or a message.
-- Why the connectors a rotate, reconcile or retire names are not usable
-- (ids and --all together, or neither; a bad --page-size), or nil.
local function targets_problem(args)
  if args.all and #args.connector_id > 0 then return "give connector ids or --all, not both" end
  if not args.all and #args.connector_id == 0 then return "give connector ids or --all" end
  return check_size(args.page_size, "--page-size")
end

-- Returns nil, or the error that stops the run: the key directory (a file
-- is written there and removed, dry run included: that is what the real run
-- would need) and the credentials (the API's own error, status and all).
local function preflight(client, args)
  if args.key_dir then
    local probe = args.key_dir .. "/.esconnector-probe"
    local ok, why = core.write_private_file(probe, "probe\n")
    if not ok then
      return errors.new{ kind = "validation",
        message = ("--key-dir %s cannot take key files: %s"):format(args.key_dir, why) }
    end
    os.remove(probe)
  end
  local _, err = rotation.check_credentials(client)
  return err
end

local function leftover_line(id, l)
  return ("LEFTOVER %s: %s"):format(id, rotation.leftover_text(l))
end

-- Orphans among the keys and secrets found by the check before a rotation
-- (older than the grace period, used by nothing): they count as leftovers.
local function count_orphans(found)
  local orphans = 0
  for _, kind in ipairs({ "keys", "secrets" }) do
    for _, e in ipairs(found and found[kind] or {}) do
      if e.status == "orphan" then orphans = orphans + 1 end
    end
  end
  return orphans
end

local function print_found(id, found, say)
  for _, kind in ipairs({ "keys", "secrets" }) do
    for _, e in ipairs(found and found[kind] or {}) do
      say(("FOUND %s: %s [%s] %s%s (esconnector reconcile --apply %s)"):format(id,
        kind == "keys" and "API key" or "connector secret", e.id, e.status,
        e.reason and (": " .. e.reason) or "", id))
    end
  end
end

function commands.rotate(client, args, say, complain)
  local ids = args.connector_id
  local bad = targets_problem(args)
  if bad then return 2, bad end
  if not concurrency_ok(args) then return 2, "--concurrency must be a whole number of 1 or more" end
  local retire_after
  if args.retire_after then
    retire_after = seconds(args.retire_after)
    if not retire_after then return 2, "--retire-after must be a duration like 90s, 15m, 1h or 2d" end
  end
  -- before any key exists: the key directory and the credentials
  local refused = preflight(client, args)
  if refused then
    if args.dry_run then
      say(args.json and json.encode{ ok = false, dry_run = true, refused = refused.message or tostring(refused) }
        or ("the real run would stop before rotating anything: " .. (refused.message or tostring(refused))))
      if args.json then return 1 end -- one JSON document: the dry run's answer
    end
    return 1, refused
  end
  if args.all then
    local err
    ids, err = all_connector_ids(client, args.page_size)
    if not ids then return 1, err end
  end
  local rotated, failed, left = 0, 0, 0
  local function print_one(id, report, err)
    local found = report and report.found or err and err.found
    local orphans = count_orphans(found)
    if report and report.dry_run then
      if report.would_fail then failed = failed + 1 else rotated = rotated + 1 end
      if args.json then
        report.ok = not report.would_fail
        say(json.encode(report))
      elseif report.would_fail then
        say(("WOULD FAIL %s: %s"):format(id, table.concat(report.refusals, "; ")))
      else
        say(("would rotate %s: %s"):format(id, table.concat(report.would, "; ")))
      end
    elseif report then
      rotated = rotated + 1
      left = left + #report.leftovers
      if args.json then
        report.ok = #report.leftovers == 0 and orphans == 0
        say(json.encode(report))
      else
        say(("rotated %s: %s -> %s%s%s"):format(id, tostring(report.old_api_key_id or "-"), report.new_api_key_id,
          report.new_api_key_secret_id and (" (secret " .. report.new_api_key_secret_id .. ")") or "",
          report.retiring and (" (old key retires at " .. report.retiring.at .. ": esconnector retire)") or ""))
        for _, l in ipairs(report.leftovers) do say(leftover_line(id, l)) end
        for _, w in ipairs(report.warnings) do complain(("esconnector: %s: %s"):format(id, w)) end
      end
    else
      failed = failed + 1
      left = left + #(err.leftovers or {})
      if args.json then
        local e = error_json(err)
        e.connector_id = id
        say(json.encode(e))
      else
        say(("FAILED %s: %s"):format(id, err.message or tostring(err)))
        for _, l in ipairs(err.leftovers or {}) do say(leftover_line(id, l)) end
      end
    end
    left = left + orphans
    if not args.json then print_found(id, found, say) end
  end
  -- --concurrency N rotates N at a time; each result is printed, in input
  -- order, as soon as it and every one before it are done (a killed cron
  -- job keeps the record of what finished).
  local outcome, next_to_print = {}, 1
  local function flush()
    while outcome[next_to_print] do
      local o = outcome[next_to_print]
      print_one(ids[next_to_print], o.report, o.err)
      next_to_print = next_to_print + 1
    end
  end
  local rotations = {}
  for i, id in ipairs(ids) do
    local on_key
    if args.key_dir then
      on_key = function(encoded)
        return write_key(args.key_dir, id, encoded, complain)
      end
    end
    rotations[i] = function()
      complain(("esconnector: rotating %s (%d/%d)"):format(id, i, #ids))
      local report, err = client:rotate_api_key{ connector_id = id, dry_run = args.dry_run,
        expiration = args.expiration, on_key = on_key, retire_after = retire_after,
        credentials_checked = true }
      outcome[i] = { report = report, err = err }
      flush()
      return report, err
    end
  end
  local done = client:concurrently(rotations, { concurrency = args.concurrency })
  for i = 1, #ids do -- a rotation that raised: its error stands for it
    if not outcome[i] then outcome[i] = { err = done[i].err } end
  end
  flush()
  if args.json then
    say(json.encode{ summary = true, rotated = rotated, failed = failed, leftovers = left, dry_run = args.dry_run })
  else
    say(("%s %d, failed %d, leftovers %d"):format(args.dry_run and "would rotate" or "rotated", rotated, failed, left))
  end
  return (failed > 0 or left > 0) and 1 or 0
end

function commands.reconcile(client, args, say)
  local ids = args.connector_id
  local bad = targets_problem(args)
  if bad then return 2, bad end
  local grace = seconds(args.grace)
  if not grace then return 2, "--grace must be a duration like 0, 90s, 15m, 1h or 2d" end
  local report, err = client:reconcile{ connector_ids = not args.all and ids or nil, all = args.all or nil,
    apply = args.apply, grace_seconds = grace, page_size = args.page_size }
  if not report then return 1, err end
  for _, c in ipairs(report.connectors) do
    if args.json then
      say(json.encode(c))
    else
      for _, kind in ipairs({ "keys", "secrets" }) do
        for _, e in ipairs(c[kind]) do
          say(("%s %s: %s [%s]%s"):format(e.status:upper(), c.connector_id,
            kind == "keys" and "API key" or "connector secret", e.id, e.reason and (" " .. e.reason) or ""))
        end
      end
      for _, e in ipairs(c.errors) do say(("ERROR %s: %s"):format(c.connector_id, e)) end
    end
  end
  local summary = { checked = #report.connectors, orphans = report.orphans, cleaned = report.cleaned,
    failed = report.failed }
  if args.json then
    summary.summary = true
    say(json.encode(summary))
  else
    say(("checked %d, orphans %d, cleaned %d, failed %d"):format(summary.checked, summary.orphans,
      summary.cleaned, summary.failed))
  end
  return (report.orphans > 0 or report.failed > 0) and 1 or 0
end

function commands.retire(client, args, say)
  local ids = args.connector_id
  local bad = targets_problem(args)
  if bad then return 2, bad end
  local report, err = client:retire{ connector_ids = not args.all and ids or nil, all = args.all or nil,
    page_size = args.page_size }
  if not report then return 1, err end
  if args.json then
    report.summary = true
    say(json.encode(report))
  else
    for _, e in ipairs(report.retired) do
      say(("RETIRED %s: API key [%s]%s"):format(e.connector_id, e.api_key_id,
        e.secret_id and (" and connector secret [" .. e.secret_id .. "]") or ""))
    end
    for _, p in ipairs(report.pending) do
      say(("PENDING %s: API key [%s] %s"):format(p.connector_id, p.api_key_id,
        p.awaiting_delivery and "waits until its replacement is confirmed delivered" or ("retires at " .. p.at)))
    end
    for _, e in ipairs(report.in_use) do
      say(("IN USE %s: API key [%s] is used by a connector: left alone"):format(e.connector_id, e.api_key_id))
    end
    for _, l in ipairs(report.leftovers) do say(("LEFTOVER %s"):format(rotation.leftover_text(l))) end
    for _, e in ipairs(report.errors) do say("ERROR " .. e) end
    say(("retired %d, pending %d, leftovers %d, errors %d"):format(#report.retired, #report.pending,
      #report.leftovers, #report.errors))
  end
  return (#report.leftovers > 0 or #report.errors > 0) and 1 or 0
end

--- Runs the tool.  argv: the arguments; io_out/io_err: files (default the
-- standard ones); env: a getenv; io_in: standard input.  Returns the exit code.
-- @tparam table argv the arguments (as `arg`)
-- @param[opt] io_out where output goes (default `io.stdout`)
-- @param[opt] io_err where diagnostics go (default `io.stderr`)
-- @tparam[opt] function env a getenv (default `os.getenv`)
-- @param[opt] io_in standard input, for `--from -` (default `io.stdin`)
-- @treturn int the exit code: 0 ok, 1 an API call failed or something is left over, 2 bad usage
function cli.main(argv, io_out, io_err, env, io_in)
  -- line by line even into a pipe or file: a killed cron job keeps its record
  if not io_out then io.stdout:setvbuf("line") end
  local say, complain = writer(io_out or io.stdout), writer(io_err or io.stderr)
  env = env or os.getenv
  local parser, command_parsers = build_parser()
  -- argparse calls the root's error handler with the (sub)command it was
  -- parsing: its usage, not the whole tool's, goes with the message.
  parser.error = function(failing, message)
    local usage = failing:get_usage()
    if failing == parser then usage = usage .. "  (esconnector --help lists them)" end
    error({ usage = usage, message = message }, 0)
  end
  local ok, args = pcall(parser.parse, parser, argv)
  if not ok then
    if args == VERSION_REQUESTED then
      say("esconnector " .. esconnector.VERSION)
      return 0
    end
    if type(args) ~= "table" or not args.usage then error(args, 0) end
    complain(args.usage)
    complain("esconnector: " .. tostring(args.message))
    return 2
  end
  if args.command == "completion" then
    local script = parser["get_" .. args.shell .. "_complete"](parser)
    ;(io_out or io.stdout):write(script)
    return 0
  end
  local client, why = client_from(args, env, complain)
  if not client then
    complain("esconnector: " .. why)
    return 2
  end
  local code, err = commands[args.command](client, args, say, complain, io_in or io.stdin)
  client:close()
  if code == 2 then
    complain((command_parsers[args.command] or parser):get_usage())
    complain("esconnector: " .. tostring(err))
  elseif code ~= 0 and err then
    if args.json then say(json.encode(error_json(err))) else complain(tostring(err)) end
  end
  return code
end

return cli
