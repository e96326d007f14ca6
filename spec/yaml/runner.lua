--- Runs Elasticsearch YAML REST test files (the format of the official
-- clients' shared tests) through esconnector's client.
--
--   lua5.4 spec/yaml/runner.lua FILE...      (scripts/yaml-tests finds the
--                                            files and starts the emulator)
--
-- The cluster is ES_URL, with ES_API_KEY or ES_USERNAME/ES_PASSWORD, and
-- ES_CA_FILE.  Prints `ok - FILE: TEST`, `not ok - FILE: TEST: WHY` or
-- `skip - FILE: TEST: REASON` per test, then `N passed, N failed, N skipped`.
--
-- A file: an optional `requires:` document (`stack: false` skips the file:
-- the target is a stack cluster), optional `setup:` and `teardown:` (run
-- before and after every test, teardown even after a failure), then one
-- document per test.  A test is skipped, never run, when it (or its setup or
-- teardown) calls an API outside the client's catalog, when a skip/requires
-- section says so, or when it uses something this runner does not
-- implement (warnings checks, node_selector, a regex it cannot compile...):
-- a skip is never reported as a pass.
--
-- Before every test that runs (and once after the last) the cluster is
-- wiped and the fixtures of YAML_FIXTURES are made again (cluster.lua);
-- with fixtures, steps without an Authorization header run as their
-- run_as user, while the wipe and the fixtures use the runner's own
-- credentials.
--
-- YAML_EXPECTED_FAILURES=FILE lists tests that fail on purpose (expected.lua):
-- they run, a failure is counted as an expected failure, a pass fails the run.
local esconnector = require "esconnector"
local core = require "esconnector.core"
local loader = require "spec.yaml.loader"
local values = require "spec.yaml.values"
local steps = require "spec.yaml.steps"
local regex = require "spec.yaml.regex"
local cluster = require "spec.yaml.cluster"
local expected = require "spec.yaml.expected"

local runner = {}

--- The YAML runner features (`skip: features`, `requires:
-- test_runner_features`) this runner implements.
runner.FEATURES = {
  headers = true, catch_unauthorized = true, contains = true, close_to = true,
  stash_in_key = true, stash_in_path = true, embedded_stash_key = true, arbitrary_key = true,
  is_after = true, transform_and_set = true,
  -- Warnings are never checked, so tests that only allow some pass as they are.
  allowed_warnings = true, allowed_warnings_regex = true,
}

--- Named cluster features (`requires`/`skip` `cluster_features`) and the
-- Elasticsearch version that introduced each; `gte_vX.Y.Z` (historical
-- features) needs no row.  A name that is in neither skips the test.
runner.CLUSTER_FEATURES = {
  connector_soft_deletes = "9.0.0",
}

--- The REST spec's older API names, as the client takes them too.
function runner.canonical_api(api)
  return (api:gsub("^connector_secret%.", "connector.secret_"):gsub("^connector_sync_job%.", "connector.sync_job_"))
end

local null = values.null

local Context = {}
Context.__index = Context

--- The last response: what `match`, `set`... look at, and `$body`.
function Context:set_response(body)
  self.response = body
  self.stash:set("body", body)
end

function Context:reset()
  self.stash = values.new_stash()
  self.response = nil
end

--- Notes what a successful call made, for the deletion wipe.
function Context:record(api, params, res)
  cluster.record(self.made, runner.canonical_api(api), params, res)
end

--- Brings the cluster back to its state before any test: wiped, with the
-- fixtures.  Raises on failure.
function Context:wipe()
  if self.wipe_mode == "reset" then
    cluster.reset_emulator(self.control_url)
  elseif self.wipe_mode == "delete" then
    cluster.delete_all(self.admin, self.made, self.fixtures, self.own_key_id)
  end
  self.made = cluster.new_record()
  cluster.create_fixtures(self.admin, self.fixtures)
end

local function parse_version(s)
  if type(s) ~= "string" then return nil end
  local a, b, c = s:match("^%s*(%d+)%.?(%d*)%.?(%d*)")
  if not a then return nil end
  return { tonumber(a), tonumber(b) or 0, tonumber(c) or 0 }
end

local function compare_versions(x, y)
  for i = 1, 3 do
    if x[i] ~= y[i] then return x[i] < y[i] and -1 or 1 end
  end
  return 0
end

--- The cluster's version ({ major, minor, patch }), asked once; nil and
-- the error when GET / fails.
function Context:cluster_version()
  if self.version == nil then
    local res, err = self.admin:request("info", {})
    local v = res and type(res.version) == "table" and parse_version(res.version.number)
    if v then self.version = v else self.version = false; self.version_error = tostring(err) end
  end
  return self.version or nil, self.version_error
end

--- A context for a cluster: options are esconnector.new's (the runner's
-- own, admin, credentials).  setup (optional): fixtures (from
-- cluster.load_fixtures: tests then run as its run_as user), wipe_mode
-- ("reset", "delete" or nil for none) and control_url.
function runner.new_context(options, setup)
  setup = setup or {}
  local function with_auth(auth)
    local copy = {}
    for k, v in pairs(options) do copy[k] = v end
    copy.api_key, copy.basic_auth, copy.bearer_auth = nil, nil, nil
    for k, v in pairs(auth) do copy[k] = v end
    return copy
  end
  local catalog = {}
  for _, row in ipairs(core.catalog()) do catalog[row.name] = true end
  local admin = esconnector.new(options)
  local client = admin
  local run_as = setup.fixtures and setup.fixtures.run_as
  if run_as then client = esconnector.new(with_auth({ basic_auth = { run_as.name, run_as.password } })) end
  local own_key_id
  if type(options.api_key) == "string" then
    own_key_id = (core.base64_decode(options.api_key) or ""):match("^([^:]+):")
  end
  local ctx = setmetatable({
    admin = admin,
    client = client,
    anonymous = esconnector.new(with_auth({})),
    catalog = catalog,
    fixtures = setup.fixtures,
    wipe_mode = setup.wipe_mode,
    control_url = setup.control_url,
    own_key_id = own_key_id,
    made = cluster.new_record(),
  }, Context)
  ctx:reset()
  return ctx
end

--- Closes the context's clients.
function Context:close()
  if self.client ~= self.admin then self.client:close() end
  self.admin:close()
  self.anonymous:close()
end

--- Client options from ES_URL, ES_USERNAME/ES_PASSWORD or ES_API_KEY, ES_CA_FILE.
function runner.options_from_env(getenv)
  getenv = getenv or os.getenv
  local function get(name)
    local v = getenv(name)
    if v == "" then return nil end
    return v
  end
  local url = get("ES_URL")
  if not url then return nil, "ES_URL is not set" end
  -- One request per `do`: a retried call would hide what the test checks.
  local options = { hosts = { url }, ca_file = get("ES_CA_FILE"), max_retries = 0 }
  -- A user, as the official clients' runners use: keys created while
  -- authenticated with an API key are "derived" keys, which Elasticsearch
  -- restricts (the security tests create keys with role descriptors).
  if get("ES_USERNAME") then
    options.basic_auth = { get("ES_USERNAME"), get("ES_PASSWORD") or "" }
  elseif get("ES_API_KEY") then
    options.api_key = get("ES_API_KEY")
  end
  return options
end

local function list_of(v)
  if v == nil or v == null then return {} end
  if type(v) == "table" then return v end
  return { v }
end

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- True when the version is in one of the ranges ("all", "7.0.0 - 7.9.99",
-- "- 8.1.0", "8.2.0 -", comma-separated); nil and why when unknown.
local function in_ranges(ranges, version)
  for range in (tostring(ranges) .. ","):gmatch("([^,]*),") do
    range = trim(range)
    if range == "all" then return true end
    if range ~= "" then
      local lo, hi = range:match("^([^-]*)%-(.*)$")
      if not lo then lo, hi = range, range end
      lo, hi = trim(lo), trim(hi)
      local low = lo == "" and { 0, 0, 0 } or parse_version(lo)
      local high = hi == "" and { math.huge, 0, 0 } or parse_version(hi)
      if not low or not high then return nil, ("cannot read the version range [%s]"):format(range) end
      if compare_versions(version, low) >= 0 and compare_versions(version, high) <= 0 then return true end
    end
  end
  return false
end

-- Does the cluster have every feature (all = true) or any of them?  nil
-- and why when one cannot be checked.
local function has_cluster_features(ctx, list, all)
  local version, err
  for _, name in ipairs(list_of(list)) do
    name = tostring(name)
    local since = name:match("^gte_v(%d+%.%d+%.%d+)$") or runner.CLUSTER_FEATURES[name]
    if not since then return nil, ("cluster feature [%s] is unknown to this runner"):format(name) end
    if not version then
      version, err = ctx:cluster_version()
      if not version then return nil, "cannot read the cluster version for cluster_features: " .. tostring(err) end
    end
    local has = compare_versions(version, parse_version(since)) >= 0
    if all and not has then return false end
    if not all and has then return true end
  end
  return all
end

local function version_text(v)
  return v and table.concat(v, ".") or "?"
end

local function unsupported_features(list)
  local missing = {}
  for _, f in ipairs(list_of(list)) do
    if not runner.FEATURES[tostring(f)] then missing[#missing + 1] = tostring(f) end
  end
  if #missing == 0 then return nil end
  return ("needs runner feature%s %s, not supported here"):format(#missing > 1 and "s" or "",
    table.concat(missing, ", "))
end

local function with_reason(text, args)
  if type(args) == "table" and type(args.reason) == "string" and args.reason ~= "" then
    return text .. " (" .. args.reason .. ")"
  end
  return text
end

-- Why a skip/requires section skips the test, or nil.
local function section_reason(ctx, kind, args)
  if type(args) ~= "table" or values.is_array(args) then return nil end
  if kind == "requires" then
    if args.stack == false then return "requires serverless" end
    local why = unsupported_features(args.test_runner_features)
    if why then return with_reason(why, args) end
    if args.cluster_features ~= nil then
      local has, err = has_cluster_features(ctx, args.cluster_features, true)
      if has == nil then return with_reason(err, args) end
      if not has then
        return with_reason(("requires cluster features [%s], which the cluster (version %s) lacks")
          :format(table.concat(list_of(args.cluster_features), ", "), version_text(ctx:cluster_version())), args)
      end
    end
    return nil
  end
  -- skip:
  if args.version ~= nil then
    local version, err
    if trim(tostring(args.version)) ~= "all" then
      version, err = ctx:cluster_version()
      if not version then return "cannot read the cluster version for a version skip: " .. tostring(err) end
    end
    local hit, why = in_ranges(args.version, version or { 0, 0, 0 })
    if hit == nil then return why end
    if hit then return with_reason(("skipped on version %s"):format(tostring(args.version)), args) end
  end
  local why = unsupported_features(args.features)
  if why then return with_reason(why, args) end
  if args.cluster_features ~= nil then
    local has, err = has_cluster_features(ctx, args.cluster_features, false)
    if has == nil then return with_reason(err, args) end
    if has then
      return with_reason(("skipped on cluster features [%s]")
        :format(table.concat(list_of(args.cluster_features), ", ")), args)
    end
  end
  if args.known_issues ~= nil then return with_reason("skipped for known issues", args) end
  if args.awaits_fix ~= nil then return with_reason("awaits fix: " .. tostring(args.awaits_fix), args) end
  return nil
end

-- Why one step cannot be run by this runner, or nil.
local function step_unsupported(kind, args)
  if not steps.handlers[kind] then return ("the step %s is not supported by this runner"):format(kind) end
  if kind == "do" and type(args) == "table" then
    for _, option in ipairs({ "warnings", "warnings_regex" }) do
      if args[option] ~= nil and args[option] ~= null and #list_of(args[option]) > 0 then
        return ("do: %s checks are not supported by this runner"):format(option)
      end
    end
    if args.node_selector ~= nil then return "do: node_selector is not supported by this runner" end
    local catch = args.catch
    if catch ~= nil and catch ~= null then
      local pattern = steps.regex_text(catch)
      if pattern then
        local ok, why = regex.compile(pattern, false)
        if not ok then return ("catch regex %s is not supported: %s"):format(catch, why) end
      elseif catch ~= "param" and catch ~= "request" and not steps.CATCHES[catch] then
        return ("catch value [%s] is not supported"):format(tostring(catch))
      end
    end
  elseif kind == "match" and type(args) == "table" then
    for _, path in ipairs(loader.keys(args)) do
      local pattern = steps.regex_text(args[path])
      if pattern then
        local ok, why = regex.compile(pattern, true)
        if not ok then return ("regex %s is not supported: %s"):format(args[path], why) end
      end
    end
  end
  return nil
end

--- Why a test must be skipped, or nil: skip/requires sections in its setup
-- or body, then APIs outside the catalog, then what the runner lacks.
function runner.skip_reason(ctx, setup, body, teardown)
  for _, section in ipairs({ setup, body }) do
    for _, step in ipairs(section) do
      local kind, args = steps.parse(step)
      if kind == "skip" or kind == "requires" then
        local why = section_reason(ctx, kind, args)
        if why then return why end
      end
    end
  end
  for _, section in ipairs({ setup, body, teardown }) do
    for _, step in ipairs(section) do
      local kind, args = steps.parse(step)
      if kind == "do" then
        local api = steps.api_of(args)
        if api and not ctx.catalog[runner.canonical_api(api)] then
          return ("API %s is outside esconnector's surface"):format(api)
        end
      end
    end
  end
  for _, section in ipairs({ setup, body, teardown }) do
    for _, step in ipairs(section) do
      local kind, args = steps.parse(step)
      if kind then
        local why = step_unsupported(kind, args)
        if why then return why end
      end
    end
  end
  return nil
end

-- Runs a list of steps; returns the first failure's message, or nil.
-- keep_going runs the remaining steps after a failure (for teardown).
local function run_steps(ctx, list, label, keep_going)
  local first
  for i, step in ipairs(list) do
    local ok, err = pcall(steps.run, ctx, step)
    if not ok then
      local why = values.failure(err) or ("runner error: " .. tostring(err))
      local message = ("%s step %d (%s): %s"):format(label, i, steps.describe(step), why)
      if not keep_going then return message end
      first = first or message
    end
  end
  return first
end

local function is_step_list(v)
  return type(v) == "table" and (values.is_array(v) or next(v) == nil)
end

--- Runs one test; report(status, name, detail) with status pass, fail or skip.
function runner.run_test(ctx, test, setup, teardown, report)
  if not is_step_list(test.steps) then
    return report("fail", test.name, "a test must be a list of steps")
  end
  local reason = runner.skip_reason(ctx, setup, test.steps, teardown)
  if reason then return report("skip", test.name, reason) end
  local ok, err = pcall(ctx.wipe, ctx)
  if not ok then return report("fail", test.name, "wiping the cluster before the test: " .. tostring(err)) end
  ctx:reset()
  local failure = run_steps(ctx, setup, "setup", false)
  if not failure then failure = run_steps(ctx, test.steps, "test", false) end
  local teardown_failure = run_steps(ctx, teardown, "teardown", true)
  failure = failure or teardown_failure
  if failure then return report("fail", test.name, failure) end
  return report("pass", test.name)
end

--- Runs every test of one file; report(status, name, detail).
function runner.run_file(ctx, path, report)
  local docs, err = loader.load_file(path)
  if not docs then return report("fail", "(file)", "cannot load: " .. tostring(err)) end
  local setup, teardown = {}, {}
  local file_skip
  local tests = {}
  for i, doc in ipairs(docs) do
    if type(doc) ~= "table" or values.is_array(doc) then
      return report("fail", "(file)", ("document %d is not a mapping"):format(i))
    end
    for _, key in ipairs(loader.keys(doc)) do
      local v = doc[key]
      if key == "requires" then
        if type(v) == "table" and v.stack == false then file_skip = "requires serverless" end
      elseif key == "setup" or key == "teardown" then
        if not is_step_list(v) then
          return report("fail", "(file)", key .. " must be a list of steps")
        end
        if key == "setup" then setup = v else teardown = v end
      else
        tests[#tests + 1] = { name = key, steps = v }
      end
    end
  end
  for _, test in ipairs(tests) do
    if file_skip then
      report("skip", test.name, file_skip)
    else
      runner.run_test(ctx, test, setup, teardown, report)
    end
  end
end

local function one_line(s)
  return (tostring(s):gsub("\r?\n", "\\n"))
end

--- Runs the files and prints the results; returns the exit status.
function runner.main(files, out)
  out = out or io.stdout
  local options, err = runner.options_from_env()
  if not options then
    io.stderr:write("yaml-tests: ", err, "\n")
    return 2
  end
  local setup = {}
  local fixtures_dir = os.getenv("YAML_FIXTURES")
  if fixtures_dir and fixtures_dir ~= "" then
    local fixtures, why = cluster.load_fixtures(fixtures_dir)
    if not fixtures then
      io.stderr:write("yaml-tests: YAML_FIXTURES: ", why, "\n")
      return 2
    end
    setup.fixtures = fixtures
  end
  local xfails
  local xfails_path = os.getenv("YAML_EXPECTED_FAILURES")
  if xfails_path and xfails_path ~= "" then
    local why
    xfails, why = expected.load(xfails_path)
    if not xfails then
      io.stderr:write("yaml-tests: YAML_EXPECTED_FAILURES: ", why, "\n")
      return 2
    end
  end
  local mode, control_or_why = cluster.wipe_mode()
  if not mode then
    io.stderr:write("yaml-tests: ", control_or_why, "\n")
    return 2
  end
  if mode == "reset" and not cluster.control_serves(control_or_why, options.hosts[1]) then
    if os.getenv("YAML_WIPE") == "reset" then
      io.stderr:write("yaml-tests: ES_CONTROL_URL is not the emulator at ES_URL\n")
      return 2
    end
    mode, control_or_why = "delete", nil -- ES_CONTROL_URL belongs to another cluster
  end
  setup.wipe_mode, setup.control_url = mode, control_or_why
  local ok, ctx = pcall(runner.new_context, options, setup)
  if not ok then
    io.stderr:write("yaml-tests: cannot create the client: ", tostring(ctx), "\n")
    return 2
  end
  out:write(("# wipe between tests: %s%s\n"):format(mode == "reset" and "emulator reset" or "deletion",
    setup.fixtures and (", fixtures from " .. fixtures_dir) or ""))
  local counts = { pass = 0, fail = 0, skip = 0, xfail = 0 }
  local PREFIX = { pass = "ok - ", fail = "not ok - ", skip = "skip - ", xfail = "expected failure: " }
  local function write_result(status, path, name, detail)
    counts[status] = counts[status] + 1
    local line = ("%s%s: %s"):format(PREFIX[status], path, one_line(name))
    if detail then line = line .. ": " .. one_line(detail) end
    out:write(line, "\n")
    out:flush()
  end
  for _, path in ipairs(files) do
    if xfails then expected.file_started(xfails, path) end
    runner.run_file(ctx, path, function(status, name, detail)
      local entry = xfails and expected.find(xfails, path, name)
      if entry then status, detail = expected.judge(xfails, entry, status, detail) end
      write_result(status, path, name, detail)
    end)
  end
  for _, unmet in ipairs(xfails and expected.unmet(xfails) or {}) do
    write_result("fail", "(expected failures)", unmet.entry.file .. ": " .. unmet.entry.test, unmet.why)
  end
  -- Leave the cluster as the tests found it (a real cluster keeps no test data).
  local wiped, why = pcall(ctx.wipe, ctx)
  if not wiped then
    counts.fail = counts.fail + 1
    out:write("not ok - (cleanup): wiping the cluster after the tests: ", one_line(why), "\n")
  end
  ctx:close()
  local xfail_text = ""
  if xfails then
    xfail_text = (", %d expected failure%s"):format(counts.xfail, counts.xfail == 1 and "" or "s")
  end
  out:write(("%d passed, %d failed%s, %d skipped\n"):format(counts.pass, counts.fail, xfail_text, counts.skip))
  out:flush()
  return counts.fail == 0 and 0 or 1
end

-- Run as a script (`...` is then the first argument, not the module name).
if ... ~= "spec.yaml.runner" then
  os.exit(runner.main({ ... }))
end

return runner
