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
  local function run(name, yaml)
    local path = dir .. "/" .. name .. ".yml"
    local f = assert(io.open(path, "w"))
    f:write((yaml:gsub("ID", id .. "-" .. name)))
    f:close()
    local p = io.popen("scripts/yaml-tests '" .. path .. "' 2>&1; echo \"exit=$?\"")
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
