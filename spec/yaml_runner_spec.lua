--- The YAML REST test runner (spec/yaml/, scripts/yaml-tests): its parts
-- directly, then the whole runner as a subprocess on small YAML files
-- against the cluster at ES_URL.
local esconnector = require "esconnector"
local json = require "esconnector.json"
local loader = require "spec.yaml.loader"
local values = require "spec.yaml.values"
local regex = require "spec.yaml.regex"
local env = require "spec.support.env"

local function re(pattern, subject, comments)
  local compiled = assert(regex.compile(pattern, comments))
  return regex.find(compiled, subject)
end

describe("yaml runner: regex", function()
  it("finds a match anywhere, like Java's Matcher.find", function()
    assert.is_true(re("b", "abc"))
    assert.is_false(re("^b", "abc"))
    assert.is_true(re("c$", "abc"))
    assert.is_true(re("c$", "abc\n"))
    assert.is_false(re("a.c", "a\nc"))
  end)

  it("supports classes, groups, alternation and quantifiers", function()
    assert.is_true(re("^\\d{2,3}-[a-z_]+$", "123-ab_c"))
    assert.is_false(re("^\\d{2,3}$", "1234"))
    assert.is_true(re("^colou?r$", "color"))
    assert.is_true(re("^(ab)+c$", "ababc"))
    assert.is_true(re("^(?:cat|dog)s?$", "dogs"))
    assert.is_true(re("[^a-c]", "abcd"))
    assert.is_false(re("[^a-c]", "abc"))
    assert.is_true(re("\\bfoo\\b", "a foo b"))
    assert.is_false(re("\\bfoo\\b", "afoob"))
    assert.is_true(re("^a.*?b$", "axxb"))
    assert.is_true(re("\\Q.*\\E", "a.*b"))
    assert.is_false(re("\\Q.*\\E", "ab"))
    assert.is_true(re("\\[null\\]", "cannot be [null]"))
    assert.is_false(re("^(a*)*b$", "aaaaaaaaaaaaaaaac"))
  end)

  it("matches code points, not bytes", function()
    assert.is_true(re("^.{2}$", "\195\169a"))
  end)

  it("ignores whitespace and comments in COMMENTS mode", function()
    assert.is_true(re(" ^ a b c   # letters\n $ ", "abc", true))
    assert.is_true(re("a\\ b", "a b", true))
    assert.is_false(re(" a b ", "abc"))
  end)

  it("refuses what it does not implement instead of guessing", function()
    for _, pattern in ipairs({ "(?i)abc", "a(?=b)", "(a)\\1", "\\p{L}", "a++", "[a[b]]", "[a&&b]", "{2}" }) do
      local compiled, why = regex.compile(pattern)
      assert.is_nil(compiled, pattern)
      assert.is_string(why)
    end
  end)
end)

describe("yaml runner: loader", function()
  it("keeps empty sequences as arrays, nulls as esconnector.null, integers as integers", function()
    local doc = assert(loader.load_value("a: [ ]\nb: {}\nc: null\nd: 3\ne: 1.5\nf: '3'\ng: true\nh: no\n"))
    assert.is_true(values.is_array(doc.a))
    assert.is_false(values.is_array(doc.b))
    assert.equal(esconnector.null, doc.c)
    assert.equal(3, doc.d)
    if math.type then assert.equal("integer", math.type(doc.d)) end
    assert.equal(1.5, doc.e)
    assert.equal("3", doc.f)
    assert.is_true(doc.g)
    assert.equal("no", doc.h) -- YAML 1.2: only true/false are booleans
    assert.equal("[]", json.encode(doc.a))
    assert.equal("{}", json.encode(doc.b))
  end)

  it("parses JSON bodies the same way", function()
    local body = assert(loader.load_value('{"errors": [], "x": {"y": [1, {"z": null}]}}'))
    assert.equal('{"errors":[]}', json.encode({ errors = body.errors }))
    assert.equal(esconnector.null, body.x.y[2].z)
  end)

  it("keeps the order of mapping keys and the documents of a stream", function()
    local docs = assert(loader.load_string("---\nsetup: []\n---\n\"b\": [ {z: 1, a: 2} ]\n"))
    assert.equal(2, #docs)
    assert.same({ "z", "a" }, loader.keys(docs[2].b[1]))
  end)

  it("reports malformed YAML with its position", function()
    local docs, err = loader.load_string("a: [1, 2\nb: 3\n")
    assert.is_nil(docs)
    assert.matches("line", err)
  end)
end)

describe("yaml runner: values", function()
  it("compares as the Elasticsearch runner does", function()
    assert.is_true(values.equal(1, 1.0))
    assert.is_false(values.equal("1", 1))
    assert.is_true(values.equal(esconnector.null, nil))
    assert.is_true(values.equal(esconnector.array({ 1, 2 }), { 1, 2 }))
    assert.is_false(values.equal(esconnector.array({ 2, 1 }), { 1, 2 }))
    assert.is_true(values.equal(esconnector.array(), {}))
    assert.is_false(values.equal({ a = 1 }, { a = 1, b = 2 }))
    local ok, why = values.equal({ a = { b = 1 } }, { a = { b = 2 } })
    assert.is_false(ok)
    assert.equal("at a.b: expected 1, got 2", why)
  end)

  it("evaluates paths and stash references", function()
    local stash = values.new_stash()
    stash:set("k", "x")
    local response = { a = { { ["b.c"] = 5 } }, x = { y = 7 } }
    assert.equal(5, stash:evaluate(response, "a.0.b\\.c"))
    assert.equal(7, stash:evaluate(response, "$k.y"))
    assert.equal(response, stash:evaluate(response, "$body"))
    local resolved = stash:resolve({ id = "$k", s = "pre-${k}", [ "$k" ] = 1, l = esconnector.array({ "$k" }) })
    assert.same({ id = "x", s = "pre-x", x = 1, l = { "x" } }, resolved)
    assert.is_true(values.is_array(resolved.l))
    assert.has_error(function() stash:resolve("$missing") end)
  end)
end)

describe("yaml runner: steps and markers", function()
  local steps = require "spec.yaml.steps"
  local runner = require "spec.yaml.runner"
  local core = require "esconnector.core"

  -- A context with a response and a stash, as the runner makes one.
  local function ctx_with(response)
    local ctx = { stash = values.new_stash(), response = response }
    ctx.stash:set("body", response)
    return ctx
  end

  local function run_step(ctx, step)
    local ok, err = pcall(steps.run, ctx, step)
    if ok then return true end
    return false, values.failure(err) or tostring(err)
  end

  it("reads ISO-8601 instants with Z, offsets and fractions", function()
    assert.are.same({ 1704067200, 0 }, steps.parse_instant("2024-01-01T00:00:00Z"))
    assert.are.same({ 1704067200, 123456000 }, steps.parse_instant("2024-01-01T00:00:00.123456Z"))
    assert.are.same({ 1704067200, 0 }, steps.parse_instant("2024-01-01T01:00:00+01:00"))
    assert.are.same({ 951782400, 0 }, steps.parse_instant("2000-02-29T00:00:00Z"))
    assert.are.same({ -86400, 5e8 }, steps.parse_instant("1969-12-31T00:00:00.5Z"))
    assert.is_nil(steps.parse_instant("2024-01-01"))
    assert.is_nil(steps.parse_instant("2024-13-01T00:00:00Z"))
    assert.is_nil(steps.parse_instant("2024-01-01T00:00:00"))
  end)

  it("is_after: passes only for a strictly later instant, comparing fractions and offsets", function()
    local ctx = ctx_with({ last_seen = "2024-05-01T10:00:00.000002Z" })
    ctx.stash:set("before", "2024-05-01T10:00:00.000001Z")
    assert.is_true(run_step(ctx, { is_after = { last_seen = "$before" } }))
    assert.is_true(run_step(ctx, { is_after = { last_seen = "2024-05-01T11:59:59+02:00" } }))
    local ok, why = run_step(ctx, { is_after = { last_seen = "2024-05-01T10:00:00.000002Z" } })
    assert.is_false(ok)
    assert.matches("expected an instant after", why)
    ok, why = run_step(ctx, { is_after = { missing = "$before" } })
    assert.is_false(ok)
    assert.matches("is not an ISO%-8601 instant", why)
  end)

  it("exists: fails for a missing or null field, passes for false and 0", function()
    local ctx = ctx_with({ a = { b = false }, n = 0, z = values.null })
    assert.is_true(run_step(ctx, { exists = "a.b" }))
    assert.is_true(run_step(ctx, { exists = "n" }))
    local ok, why = run_step(ctx, { exists = "z" })
    assert.is_false(ok)
    assert.equal("field [z] does not exist", why)
    assert.is_false(run_step(ctx, { exists = "a.c" }))
  end)

  it("transform_and_set: #base64EncodeCredentials over nested paths into the stash", function()
    local ctx = ctx_with({ key = { id = "my-id", api_key = "s3cret" } })
    assert.is_true(run_step(ctx, { transform_and_set = { creds = "#base64EncodeCredentials(key.id, key.api_key)" } }))
    assert.equal(core.base64("my-id:s3cret"), ctx.stash:get("creds"))
    assert.equal("bXktaWQ6czNjcmV0", ctx.stash:get("creds"))
    local ok, why = run_step(ctx, { transform_and_set = { x = "#base64EncodeCredentials(key.id,key.nope)" } })
    assert.is_false(ok)
    assert.matches("no value at %[key.nope%]", why)
    ok, why = run_step(ctx, { transform_and_set = { x = "#rot13(key.id)" } })
    assert.is_false(ok)
    assert.matches("unsupported transformation %[rot13%]", why)
  end)

  it("match: stashed values inside regexes and strings, whole objects and null", function()
    local ctx = ctx_with({ id = "conn-1", name = "name-conn-1", configuration = {}, index_name = nil,
      filtering = { { domain = "DEFAULT" } } })
    ctx.stash:set("id", "conn-1")
    assert.is_true(run_step(ctx, { match = { name = "/^name-${id}$/" } }))
    assert.is_false(run_step(ctx, { match = { name = "/^other-${id}$/" } }))
    assert.is_true(run_step(ctx, { match = { name = "name-${id}" } }))
    assert.is_true(run_step(ctx, { match = { configuration = {} } }))
    assert.is_false(run_step(ctx, { match = { filtering = {} } }))
    assert.is_true(run_step(ctx, { match = { index_name = values.null } }))
    assert.is_false(run_step(ctx, { match = { id = values.null } }))
  end)

  -- A context stub for skip_reason: a cluster of the given version.
  local function cluster_of(version)
    local catalog = {}
    for _, row in ipairs(core.catalog()) do catalog[row.name] = true end
    return { catalog = catalog, cluster_version = function() return version end }
  end

  local function skip(version, section)
    return runner.skip_reason(cluster_of(version), { section }, {}, {})
  end

  it("requires cluster_features: gte_vX.Y.Z against the cluster's version, named ones from the table", function()
    local v91, v814 = { 9, 1, 0 }, { 8, 14, 3 }
    assert.is_nil(skip(v91, { requires = { cluster_features = { "gte_v8.12.0" }, reason = "r" } }))
    assert.is_nil(skip(v91, { requires = { cluster_features = "gte_v9.1.0" } }))
    assert.equal("requires cluster features [gte_v9.1.1], which the cluster (version 9.1.0) lacks (r)",
      skip(v91, { requires = { cluster_features = { "gte_v9.1.1" }, reason = "r" } }))
    assert.is_nil(skip(v91, { requires = { cluster_features = { "connector_soft_deletes", "gte_v8.12.0" } } }))
    assert.matches("^requires cluster features %[connector_soft_deletes%], which the cluster %(version "
      .. "8%.14%.3%) lacks", skip(v814, { requires = { cluster_features = { "connector_soft_deletes" } } }))
    assert.equal("cluster feature [no_such_feature] is unknown to this runner",
      skip(v91, { requires = { cluster_features = { "gte_v8.0.0", "no_such_feature" } } }))
  end)

  it("skip cluster_features: skips when the cluster has any of them", function()
    local v91 = { 9, 1, 0 }
    assert.equal("skipped on cluster features [gte_v99.0.0, gte_v9.0.0] (old)",
      skip(v91, { skip = { cluster_features = { "gte_v99.0.0", "gte_v9.0.0" }, reason = "old" } }))
    assert.is_nil(skip(v91, { skip = { cluster_features = { "gte_v9.2.0" } } }))
  end)

  it("runs tests that need is_after or transform_and_set, and the older API names", function()
    local v91 = { 9, 1, 0 }
    assert.is_nil(skip(v91, { requires = { test_runner_features = { "is_after", "transform_and_set" } } }))
    assert.is_nil(skip(v91, { skip = { features = { "headers", "transform_and_set" } } }))
    assert.equal("connector.secret_post", runner.canonical_api("connector_secret.post"))
    assert.equal("connector.sync_job_update_stats", runner.canonical_api("connector_sync_job.update_stats"))
    assert.equal("connector.get", runner.canonical_api("connector.get"))
    local ctx = cluster_of(v91)
    assert.is_nil(runner.skip_reason(ctx, {}, { { ["do"] = { ["connector_sync_job.post"] = { body = {} } } },
      { ["do"] = { ["connector_secret.get"] = { id = "x" } } } }, {}))
    assert.equal("API connector_sync_job.nope is outside esconnector's surface",
      runner.skip_reason(ctx, {}, { { ["do"] = { ["connector_sync_job.nope"] = {} } } }, {}))
  end)
end)

describe("yaml runner: fixtures and wipe", function()
  local cluster = require "spec.yaml.cluster"
  local dir

  before_each(function()
    local p = io.popen("mktemp -d")
    dir = p:read("*l")
    p:close()
  end)

  after_each(function()
    if dir then os.execute("rm -rf '" .. dir .. "'") end
  end)

  local function write(name, text)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(text)
    f:close()
  end

  it("reads roles.yml, users and run_as", function()
    write("roles.yml", "admin:\n  cluster: [ manage ]\n  indices:\n    - names: [ 'test-*' ]\n"
      .. "      privileges: [ read ]\nempty_role: {}\n")
    write("users", "# comment\nalice:alice-password:admin\nbob:pw:admin,superuser\n")
    write("run_as", " alice \n")
    local f = assert(cluster.load_fixtures(dir))
    assert.equal("admin", f.roles[1].name)
    assert.same({ "manage" }, { f.roles[1].descriptor.cluster[1] })
    assert.equal("test-*", f.roles[1].descriptor.indices[1].names[1])
    assert.is_true(values.is_array(f.roles[1].descriptor.cluster))
    assert.equal("empty_role", f.roles[2].name)
    assert.same({ name = "bob", password = "pw", roles = { "admin", "superuser" } }, f.users[2])
    assert.same({ name = "alice", password = "alice-password" }, f.run_as)
    assert.is_true(f.user_names.bob and f.role_names.admin)
  end)

  it("refuses malformed fixtures without printing passwords", function()
    write("users", "carol-has-no-roles-secretpw\n")
    local f, why = cluster.load_fixtures(dir)
    assert.is_nil(f)
    assert.matches("expected username:password:role", why)
    assert.is_nil(why:find("secretpw", 1, true))
    write("users", "carol:pw:r\n")
    write("run_as", "dave\n")
    f, why = cluster.load_fixtures(dir)
    assert.is_nil(f)
    assert.matches("user %[dave%] is not in", why)
    write("run_as", "carol\n")
    write("roles.yml", "- not\n- a mapping\n")
    f, why = cluster.load_fixtures(dir)
    assert.is_nil(f)
    assert.matches("roles.yml", why)
  end)

  it("records what tests made that cannot be listed", function()
    local made = cluster.new_record()
    cluster.record(made, "connector.secret_put", { id = "s1" }, { result = "created" })
    cluster.record(made, "connector.secret_post", {}, { id = "s2" })
    cluster.record(made, "security.create_api_key", { body = {} }, { id = "k1", api_key = "x" })
    cluster.record(made, "security.grant_api_key", { body = {} }, { id = "k2" })
    cluster.record(made, "security.put_user", { username = "u1" }, { created = true })
    cluster.record(made, "security.put_role", { name = "r1" }, { role = { created = true } })
    cluster.record(made, "connector.get", { connector_id = "c" }, { id = "c" })
    assert.same({ s1 = true, s2 = true }, made.secrets)
    assert.same({ k1 = true, k2 = true }, made.api_keys)
    assert.same({ u1 = true }, made.users)
    assert.same({ r1 = true }, made.roles)
  end)

  it("wipes through the emulator's control endpoint, else by deletion", function()
    local function getenv(t) return function(name) return t[name] end end
    assert.equal("reset", cluster.wipe_mode(getenv{ ES_CONTROL_URL = "http://127.0.0.1:1" }))
    assert.equal("delete", cluster.wipe_mode(getenv{}))
    assert.equal("delete", cluster.wipe_mode(getenv{ ES_CONTROL_URL = "http://127.0.0.1:1", YAML_WIPE = "delete" }))
    assert.is_nil(cluster.wipe_mode(getenv{ YAML_WIPE = "reset" }))
    assert.is_nil(cluster.wipe_mode(getenv{ YAML_WIPE = "sometimes" }))
  end)
end)

describe("yaml runner #subprocess", function()
  local url = os.getenv("ES_URL")
  if not url or url == "" then
    pending("ES_URL is not set: run the specs through `make test`")
    return
  end

  local dir
  local id = env.unique("yaml-runner")

  lazy_setup(function()
    local p = io.popen("mktemp -d")
    dir = p:read("*l")
    p:close()
  end)

  lazy_teardown(function()
    if dir then os.execute("rm -rf '" .. dir .. "'") end
  end)

  -- Writes the YAML to a file, runs scripts/yaml-tests on it, and returns
  -- the output lines, the exit status and the file's path.
  local function run(name, yaml, env_prefix)
    local path = dir .. "/" .. name .. ".yml"
    local f = assert(io.open(path, "w"))
    f:write((yaml:gsub("ID", id .. "-" .. name)))
    f:close()
    local p = io.popen((env_prefix or "") .. "scripts/yaml-tests '" .. path .. "' 2>&1; echo \"exit=$?\"")
    local lines = {}
    for line in p:lines() do lines[#lines + 1] = line end
    p:close()
    local status = tonumber(table.remove(lines):match("^exit=(%d+)$"))
    return lines, status, path
  end

  local function has_line(lines, expected)
    for _, line in ipairs(lines) do
      if line == expected then return true end
    end
    return false, table.concat(lines, "\n")
  end

  local TEARDOWN = [[
---
teardown:
  - do:
      connector.delete:
        connector_id: ID
        hard: true
        ignore: 404
]]

  it("reports a passing test as ok and exits 0", function()
    local lines, status, path = run("pass", TEARDOWN .. [[
---
"create and read":
  - do:
      connector.put:
        connector_id: ID
        body: { index_name: search-ID, name: my-connector }
  - match: { result: created }
  - do:
      connector.get:
        connector_id: ID
  - match: { id: ID }
  - match: { name: /^my-conn/ }
  - is_true: index_name
  - is_false: is_native
  - length: { configuration: 0 }
]])
    assert.is_true(has_line(lines, "ok - " .. path .. ": create and read"))
    assert.equal("1 passed, 0 failed, 0 skipped", lines[#lines])
    assert.equal(0, status)
  end)

  it("reports a failing match as not ok with the actual and expected values, and exits 1", function()
    local lines, status, path = run("fail", TEARDOWN .. [[
---
"wrong name":
  - do:
      connector.put:
        connector_id: ID
        body: { index_name: search-ID, name: my-connector }
  - match: { result: created }
  - match: { result: updated }
]])
    assert.is_true(has_line(lines, "not ok - " .. path .. ': wrong name: test step 3 (match result, line 15): '
      .. 'result: expected "updated", got "created"'))
    assert.equal("0 passed, 1 failed, 0 skipped", lines[#lines])
    assert.equal(1, status)
  end)

  it("skips a test that calls an API outside the catalog, even from teardown, and a serverless-only file", function()
    local lines, status, path = run("skip", [[
---
teardown:
  - do:
      cluster.state: {}
---
"needs cluster.state":
  - do:
      connector.list: {}
]])
    assert.is_true(has_line(lines, "skip - " .. path
      .. ": needs cluster.state: API cluster.state is outside esconnector's surface"))
    assert.equal("0 passed, 0 failed, 1 skipped", lines[#lines])
    assert.equal(0, status)

    lines, status, path = run("serverless", [[
---
requires:
  serverless: true
  stack: false
---
"serverless only":
  - do:
      connector.list: {}
]])
    assert.is_true(has_line(lines, "skip - " .. path .. ": serverless only: requires serverless"))
    assert.equal(0, status)
  end)

  it("lets catch: bad_request catch a client-side validation error, and matches its body", function()
    local lines, status, path = run("catch", [[
---
"validation":
  - do:
      catch: bad_request
      connector.update_api_key_id:
        connector_id: ID
        body: {}
  - match: { status: 400 }
  - match: { error.type: action_request_validation_exception }
  - do:
      catch: /cannot both be \[null\]/
      connector.update_api_key_id:
        connector_id: ID
---
"wrong catch":
  - do:
      catch: missing
      connector.update_api_key_id:
        connector_id: ID
]])
    assert.is_true(has_line(lines, "ok - " .. path .. ": validation"))
    assert.matches("^not ok %- .-: wrong catch: test step 1 %(do connector.update_api_key_id, line %d+%): "
      .. "expected status 404 %(catch: missing%)", lines[#lines - 1])
    assert.equal("1 passed, 1 failed, 0 skipped", lines[#lines])
    assert.equal(1, status)
  end)

  it("substitutes $var and ${var} in parameters, JSON bodies and expected values", function()
    local lines, status, path = run("stash", TEARDOWN .. [[
---
"stash":
  - do:
      connector.put:
        connector_id: ID
        body: { index_name: search-ID, name: name-ID }
  - do:
      connector.get:
        connector_id: ID
  - set: { id: cid, index_name: idx }
  - do:
      connector.get:
        connector_id: $cid
  - match: { id: $cid }
  - match: { name: "name-${cid}" }
  - match: { index_name: "$idx" }
  - do:
      connector.update_api_key_id:
        connector_id: "${cid}"
        body: >
          {"api_key_id": "$cid", "api_key_secret_id": "s-${idx}"}
  - match: { result: updated }
  - do:
      connector.get: { connector_id: $cid }
  - match: { api_key_id: ID }
  - match: { api_key_secret_id: s-search-ID }
]])
    assert.is_true(has_line(lines, "ok - " .. path .. ": stash"))
    assert.equal(0, status)
  end)

  -- Fixtures: a role that may only read connectors, two users, run_as.
  local function fixtures()
    local fdir = dir .. "/fixtures"
    os.execute("mkdir -p '" .. fdir .. "'")
    local function write(name, text)
      local f = assert(io.open(fdir .. "/" .. name, "w"))
      f:write(text)
      f:close()
    end
    -- as ES's fixtures grant it: index read on the connector index (emulator/README.md)
    write("roles.yml", "reader:\n  indices:\n    - names: [ '.elastic-connectors-v1' ]\n      privileges: [ read ]\n")
    write("users", "yaml-admin:yaml-admin-password:superuser\nyaml-reader:yaml-reader-password:reader\n")
    write("run_as", "yaml-admin\n")
    return "YAML_FIXTURES='" .. fdir .. "' "
  end

  local function basic(user, password)
    return require("esconnector.core").base64(user .. ":" .. password)
  end

  -- Two tests: the first makes a connector, a secret, an API key and a
  -- user; the second finds none of them (the wipe ran between them).
  local WIPE = [[
---
"makes things":
  - do:
      security.authenticate: {}
  - match: { username: yaml-admin }
  - do:
      connector.put:
        connector_id: ID
        body: { index_name: search-ID }
  - do:
      connector.secret_put:
        id: ID
        body: { value: v }
  - match: { result: created }
  - do:
      security.create_api_key:
        body: { name: ID }
  - set: { id: key_id }
  - transform_and_set: { creds: "#base64EncodeCredentials(id,api_key)" }
  - do:
      headers: { Authorization: "ApiKey ${creds}" }
      security.authenticate: {}
  - match: { api_key.id: $key_id }
  - do:
      security.put_user:
        username: ID-user
        body: { password: ID-password, roles: [ reader ] }
  - do:
      headers: { Authorization: "Basic USER_CREDS" }
      connector.list: {}
  - match: { count: 1 }
  - do:
      catch: forbidden
      headers: { Authorization: "Basic READER_CREDS" }
      connector.put:
        connector_id: ID-2
---
"finds nothing":
  - do:
      connector.list:
        include_deleted: true
  - match: { count: 0 }
  - do:
      catch: missing
      connector.secret_get:
        id: ID
  - do:
      catch: unauthorized
      headers: { Authorization: "Basic USER_CREDS" }
      security.authenticate: {}
  - do:
      security.get_api_key:
        name: ID
        active_only: true
  - length: { api_keys: 0 }
  - do:
      headers: { Authorization: "Basic READER_CREDS" }
      connector.list: {}
  - match: { count: 0 }
]]

  local function wipe_yaml(name)
    local full = id .. "-" .. name
    return (WIPE:gsub("USER_CREDS", basic(full .. "-user", full .. "-password"))
      :gsub("READER_CREDS", basic("yaml-reader", "yaml-reader-password")))
  end

  it("runs tests as the fixtures' run_as user and wipes between tests through the emulator's reset", function()
    if os.getenv("ES_CONTROL_URL") == nil then
      pending("needs the emulator's control endpoint")
      return
    end
    local lines, status, path = run("wipe-reset", wipe_yaml("wipe-reset"), fixtures())
    assert.equal("# wipe between tests: emulator reset, fixtures from " .. dir .. "/fixtures", lines[1])
    assert.is_true(has_line(lines, "ok - " .. path .. ": makes things"))
    assert.is_true(has_line(lines, "ok - " .. path .. ": finds nothing"))
    assert.equal(0, status)
  end)

  it("wipes by deleting what the tests made (as against a real cluster) with YAML_WIPE=delete", function()
    local lines, status, path = run("wipe-delete", wipe_yaml("wipe-delete"), fixtures() .. "YAML_WIPE=delete ")
    assert.equal("# wipe between tests: deletion, fixtures from " .. dir .. "/fixtures", lines[1])
    assert.is_true(has_line(lines, "ok - " .. path .. ": makes things"))
    assert.is_true(has_line(lines, "ok - " .. path .. ": finds nothing"))
    assert.equal(0, status)
  end)

  it("never resets an emulator that is not the cluster under test", function()
    local yaml = [[
---
"lists":
  - do:
      connector.list: {}
]]
    -- nothing listens on port 1: that control endpoint serves no ES_URL
    local lines, status = run("other-control", yaml, "ES_CONTROL_URL=http://127.0.0.1:1 ")
    assert.equal("# wipe between tests: deletion", lines[1])
    assert.equal(0, status)
    lines, status = run("other-control", yaml, "ES_CONTROL_URL=http://127.0.0.1:1 YAML_WIPE=reset ")
    assert.equal("yaml-tests: ES_CONTROL_URL is not the emulator at ES_URL", lines[#lines])
    assert.equal(2, status)
  end)

  it("checks cluster_features against the cluster's version and prints every skip's reason", function()
    local lines, status, path = run("features", [[
---
"new enough":
  - requires:
      cluster_features: [ "gte_v8.12.0", "connector_soft_deletes" ]
      reason: Introduced in 8.12.0
  - do:
      connector_sync_job.list: {}
  - match: { count: 0, results: [] }
  - do:
      connector.delete:
        connector_id: ID-missing
        ignore: 404
  - do:
      ignore: [ 404 ]
      connector.get:
        connector_id: ID-missing
  - match: { status: 404 }
---
"too new":
  - requires:
      cluster_features: [ "gte_v99.0.0" ]
      reason: from the future
  - do:
      connector.list: {}
---
"unknown feature":
  - requires:
      cluster_features: [ "no_such_feature" ]
  - do:
      connector.list: {}
]])
    assert.is_true(has_line(lines, "ok - " .. path .. ": new enough"))
    assert.matches("^skip %- .-: too new: requires cluster features %[gte_v99%.0%.0%], which the cluster %(version "
      .. "[%d.]+%) lacks %(from the future%)$", lines[#lines - 2])
    assert.is_true(has_line(lines, "skip - " .. path .. ": unknown feature: cluster feature [no_such_feature] is "
      .. "unknown to this runner"))
    assert.equal("1 passed, 0 failed, 2 skipped", lines[#lines])
    assert.equal(0, status)
  end)

  -- Two tests, one failing: listed (or not) as expected failures.
  local XFAIL = [[
---
"fails on purpose":
  - do:
      connector.list: {}
  - match: { count: 42 }
---
"passes":
  - do:
      connector.list: {}
  - is_true: results
]]

  -- Writes a YAML_EXPECTED_FAILURES list; returns the env prefix and its path.
  local function xfail_list(name, text)
    local list = dir .. "/" .. name .. "-xfail-list.yml"
    local f = assert(io.open(list, "w"))
    f:write(text)
    f:close()
    return "YAML_EXPECTED_FAILURES='" .. list .. "' ", list
  end

  it("runs a listed expected failure, counting it apart with its reason, and exits 0", function()
    local prefix = xfail_list("xfail", [[
- file: xfail.yml
  test: fails on purpose
  reason: the count is never 42 (evidence here)
  fails_with: "count: expected 42, got"
]])
    local lines, status, path = run("xfail", XFAIL, prefix)
    assert.is_true(has_line(lines, "expected failure: " .. path .. ": fails on purpose: the count is never 42 "
      .. "(evidence here) (failed: test step 2 (match count, line 5): count: expected 42, got 0)"))
    assert.is_true(has_line(lines, "ok - " .. path .. ": passes"))
    assert.equal("1 passed, 0 failed, 1 expected failure, 0 skipped", lines[#lines])
    assert.equal(0, status)
    -- without the list it is an ordinary failure, and the totals say nothing of expected failures
    lines, status = run("xfail", XFAIL)
    assert.is_true(has_line(lines, "not ok - " .. path .. ": fails on purpose: test step 2 (match count, line 5): "
      .. "count: expected 42, got 0"))
    assert.equal("1 passed, 1 failed, 0 skipped", lines[#lines])
    assert.equal(1, status)
  end)

  it("fails the run when a listed test passes, or fails otherwise than listed", function()
    local prefix, list = xfail_list("xpass", [[
- file: xpass.yml
  test: passes
  reason: listed by mistake
- file: xpass.yml
  test: fails on purpose
  reason: a different failure
  fails_with: "expected 41"
]])
    local lines, status, path = run("xpass", XFAIL, prefix)
    assert.is_true(has_line(lines, "not ok - " .. path .. ": passes: unexpectedly passed: remove it from the list ("
      .. list .. ")"))
    assert.is_true(has_line(lines, "not ok - " .. path .. ": fails on purpose: test step 2 (match count, line 5): "
      .. "count: expected 42, got 0 (listed as an expected failure in " .. list .. ', but its failure lacks '
      .. '"expected 41")'))
    assert.equal("0 passed, 2 failed, 0 expected failures, 0 skipped", lines[#lines])
    assert.equal(1, status)
  end)

  it("fails the run for a listed test that does not exist, and refuses a malformed list", function()
    local prefix, list = xfail_list("xunknown", [[
- file: xunknown.yml
  test: fails on purpose
  reason: as listed
- file: xunknown.yml
  test: no such test
  reason: renamed since
- file: elsewhere/other.yml
  test: fails on purpose
  reason: not in this run
]])
    local lines, status, path = run("xunknown", XFAIL, prefix)
    assert.is_true(has_line(lines, "expected failure: " .. path .. ": fails on purpose: as listed (failed: test "
      .. "step 2 (match count, line 5): count: expected 42, got 0)"))
    assert.is_true(has_line(lines, "not ok - (expected failures): xunknown.yml: no such test: no such test in that "
      .. "file (remove it from " .. list .. ")"))
    assert.is_true(has_line(lines, "not ok - (expected failures): elsewhere/other.yml: fails on purpose: no such "
      .. "file among the files run (" .. list .. " lists tests of a whole suite)"))
    assert.equal("1 passed, 2 failed, 1 expected failure, 0 skipped", lines[#lines])
    assert.equal(1, status)
    for _, bad in ipairs({
      { "- file: x.yml\n  test: t\n", "entry 1: [reason] must be a non-empty string" },
      { "- file: x.yml\n  test: t\n  reason: r\n  why: w\n", "entry 1: unknown field [why]" },
      { "- file: x.yml\n  test: t\n  reason: r\n- file: x.yml\n  test: t\n  reason: again\n",
        "entry 2 lists x.yml: t again" },
      { "- file: x.yml\n  test: t\n  reason: |\n    two\n    lines\n", "entry 1: [reason] must be one line" },
      { "file: x.yml\n", "expected one list of { file, test, reason }" },
    }) do
      prefix, list = xfail_list("bad", bad[1])
      lines, status = run("xunknown", XFAIL, prefix)
      assert.equal("yaml-tests: YAML_EXPECTED_FAILURES: " .. list .. ": " .. bad[2], lines[#lines])
      assert.equal(2, status)
    end
  end)

  it("sends an empty YAML or JSON sequence as [] (an array), not {}", function()
    local lines, status, path = run("array", [[
---
"empty arrays":
  - do:
      catch: /START_ARRAY/
      connector.update_api_key_id:
        connector_id: ID
        body: { api_key_id: [ ] }
  - do:
      catch: /START_ARRAY/
      connector.update_api_key_id:
        connector_id: ID
        body: >
          {"api_key_id": []}
  - do:
      catch: /START_OBJECT/
      connector.update_api_key_id:
        connector_id: ID
        body: { api_key_id: {} }
]])
    assert.is_true(has_line(lines, "ok - " .. path .. ": empty arrays"))
    assert.equal(0, status)
  end)
end)
