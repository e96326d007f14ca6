--- The esconnector command-line tool (bin/esconnector calls main).
-- Exit codes: 0 ok, 1 an API call failed, 2 bad usage.  Never prints a key.
local argparse = require "argparse"
local esconnector = require "esconnector"
local json = require "esconnector.json"

local cli = {}

local function build_parser()
  local parser = argparse("esconnector", "Drive Elasticsearch connectors: API key ids and safe key rotation.")
    :epilog("Connection settings come from the flags or from ES_URL, ES_API_KEY, ES_USERNAME, "
      .. "ES_PASSWORD, ES_CA_FILE and ES_CA_FINGERPRINT.\nExit codes: 0 ok, 1 API error, 2 usage.")
  parser:option("--url", "Elasticsearch URL (or ES_URL).")
  parser:option("--api-key", "Encoded API key (or ES_API_KEY; prefer the variable: flags show in ps).")
  parser:option("--username", "Basic auth user (or ES_USERNAME).")
  parser:option("--password", "Basic auth password (or ES_PASSWORD).")
  parser:option("--ca-file", "CA certificate file (or ES_CA_FILE).")
  parser:option("--ca-fingerprint", "SHA-256 of the CA certificate (or ES_CA_FINGERPRINT).")
  parser:option("--timeout-ms", "Request timeout in milliseconds."):convert(tonumber)
  parser:flag("--json", "Machine-readable output: one JSON document per line.")
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
  rotate:flag("--dry-run", "Only read, and say what would happen.")
  rotate:option("--expiration", "Lifetime of the new keys, e.g. 30d.")
  rotate:option("--page-size", "With --all: connectors read per connector.list call."):convert(tonumber)
    :default("100")
  rotate:option("--concurrency", "Connectors rotated at once."):convert(tonumber):default("1")
  rotate:option("--key-dir", "Self-managed connectors: write each new encoded key to DIR/<connector_id>.key "
    .. "(mode 0600) for their service; needed to rotate them.")

  local get = parser:command("get", "Show a connector.")
  get:argument("connector_id", "The connector.")

  local list = parser:command("list", "List connectors.")
  list:option("--size", "Page size."):convert(tonumber):default("100")
  list:flag("--include-deleted", "Also soft-deleted connectors.")
  return parser
end

-- Output goes through these so that specs can capture it.
local function writer(out)
  return function(...)
    out:write(table.concat({ ... }, " "), "\n")
  end
end

local function client_from(args, env)
  local url = args.url or env("ES_URL")
  if not url or url == "" then return nil, "no Elasticsearch URL: give --url or set ES_URL" end
  local options = { hosts = { url } }
  local api_key = args.api_key or env("ES_API_KEY")
  local username = args.username or env("ES_USERNAME")
  if api_key and api_key ~= "" then
    options.api_key = api_key
  elseif username and username ~= "" then
    options.basic_auth = { username, args.password or env("ES_PASSWORD") or "" }
  end
  options.ca_file = args.ca_file or env("ES_CA_FILE")
  if options.ca_file == "" then options.ca_file = nil end
  local fingerprint = args.ca_fingerprint or env("ES_CA_FINGERPRINT")
  if fingerprint and fingerprint ~= "" then options.ca_fingerprint = fingerprint end
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
    message = err.message, step = err.step, leftovers = err.leftovers, error = tostring(err) }
end

local commands = {}

function commands.get(client, args, say)
  local doc, err = client.connector:get{ connector_id = args.connector_id }
  if not doc then return 1, err end
  say(args.json and json.encode(doc) or connector_line(doc))
  return 0
end

function commands.list(client, args, say)
  local from, size = 0, args.size
  while true do
    local page, err = client.connector:list{ from = from, size = size, include_deleted = args.include_deleted or nil }
    if not page then return 1, err end
    for _, c in ipairs(page.results or {}) do
      say(args.json and json.encode(c) or connector_line(c))
    end
    from = from + #(page.results or {})
    if #(page.results or {}) < size or from >= (page.count or 0) then return 0 end
  end
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
        bad[i] = { kind = "validation", message = problem }
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

commands["update-api-key-id"] = function(client, args, say, io_in)
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
  local ids, from = {}, 0
  while true do
    local page, err = client.connector:list{ from = from, size = size }
    if not page then return nil, err end
    for _, c in ipairs(page.results or {}) do ids[#ids + 1] = c.id end
    from = from + #(page.results or {})
    if #(page.results or {}) == 0 or from >= (page.count or 0) then return ids end
  end
end

-- Writes a key to DIR/<id>.key readable by its owner only; true or an error.
local function write_key(dir, id, encoded)
  local safe = id:gsub("[^%w._-]", "_")
  local path = dir .. "/" .. safe .. ".key"
  local tmp = path .. ".tmp"
  -- umask first, so the file is never readable by others, even briefly
  local ok = os.execute(("umask 077 && : > '%s'"):format(tmp:gsub("'", "'\\''")))
  if ok ~= true and ok ~= 0 then return "cannot create " .. tmp end
  local f, why = io.open(tmp, "w")
  if not f then return why end
  f:write(encoded, "\n")
  f:close()
  local renamed, rename_err = os.rename(tmp, path)
  if not renamed then return rename_err end
  return true
end

function commands.rotate(client, args, say)
  local ids = args.connector_id
  if args.all and #ids > 0 then return 2, "give connector ids or --all, not both" end
  if not args.all and #ids == 0 then return 2, "give connector ids or --all" end
  if not concurrency_ok(args) then return 2, "--concurrency must be a whole number of 1 or more" end
  if args.all then
    local err
    ids, err = all_connector_ids(client, args.page_size)
    if not ids then return 1, err end
  end
  local rotations = {}
  for i, id in ipairs(ids) do
    local on_key
    if args.key_dir then
      on_key = function(encoded)
        return write_key(args.key_dir, id, encoded)
      end
    end
    rotations[i] = function()
      return client:rotate_api_key{ connector_id = id, dry_run = args.dry_run,
        expiration = args.expiration, on_key = on_key }
    end
  end
  local done = client:concurrently(rotations, { concurrency = args.concurrency })
  local failed = 0
  for i, id in ipairs(ids) do
    local report, err = done[i].result, done[i].err
    if report then
      if args.json then
        report.ok = true
        say(json.encode(report))
      elseif report.dry_run then
        say(("would rotate %s: %s"):format(id, table.concat(report.would, "; ")))
      else
        say(("rotated %s: %s -> %s%s"):format(id, tostring(report.old_api_key_id or "-"), report.new_api_key_id,
          report.new_api_key_secret_id and (" (secret " .. report.new_api_key_secret_id .. ")") or ""))
      end
    else
      failed = failed + 1
      if args.json then
        local e = error_json(err)
        e.connector_id = id
        say(json.encode(e))
      else
        say(("FAILED %s: %s"):format(id, err.message or tostring(err)))
      end
    end
  end
  return failed > 0 and 1 or 0
end

--- Runs the tool.  argv: the arguments; io_out/io_err: files (default the
-- standard ones); env: a getenv; io_in: standard input.  Returns the exit code.
function cli.main(argv, io_out, io_err, env, io_in)
  local say, complain = writer(io_out or io.stdout), writer(io_err or io.stderr)
  env = env or os.getenv
  local parser = build_parser()
  local ok, args = parser:pparse(argv)
  if not ok then
    complain(parser:get_usage())
    complain("esconnector: " .. tostring(args))
    return 2
  end
  local client, why = client_from(args, env)
  if not client then
    complain("esconnector: " .. why)
    return 2
  end
  local code, err = commands[args.command](client, args, say, io_in or io.stdin)
  client:close()
  if code == 2 then
    complain(parser:get_usage())
    complain("esconnector: " .. tostring(err))
  elseif code ~= 0 and err then
    if args.json then say(json.encode(error_json(err))) else complain(tostring(err)) end
  end
  return code
end

return cli
