-- The Elasticsearch emulator (emulator/), checked over real HTTP with the
-- curl command line against es-behaviour.md: statuses, error types and
-- reasons, headers, documents.  Runs against ES_URL when it is set (with
-- ES_API_KEY or ES_USERNAME/ES_PASSWORD), else starts its own emulator; the
-- --auth checks always start a second emulator of their own.

local cjson = require("cjson").new()

local curl = require "spec.support.curl"
local ESEMU, q, read_file, sh = curl.ESEMU, curl.q, curl.read_file, curl.sh
local b64, unique, http, header = curl.b64, curl.unique, curl.http, curl.header
local RUN, TMP = curl.RUN, curl.tmpdir()

-- Assertions on ES error bodies.
local function assert_error(res, status, etype, reason)
  assert.are.equal(status, res.status, res.body)
  assert.are.equal("Elasticsearch", header(res, "X-elastic-product"))
  assert.is_table(res.json, res.body)
  local e = res.json.error
  assert.is_table(e, res.body)
  assert.are.equal(status, res.json.status)
  assert.are.equal(etype, e.type, res.body)
  if reason then assert.are.equal(reason, e.reason, res.body) end
  assert.are.equal(etype, e.root_cause[1].type)
  return e
end

local function assert_simple_error(res, status, message)
  assert.are.equal(status, res.status, res.body)
  assert.are.equal("Elasticsearch", header(res, "X-elastic-product"))
  assert.are.same({ error = message, status = status }, res.json)
  assert.are.equal(('{"error":%s,"status":%d}'):format(cjson.encode(message):gsub("\\/", "/"), status), res.body)
end

local BOTH_NULL = "Validation Failed: 1: [api_key_id] and [api_key_secret_id] cannot both be [null]. "
  .. "Please provide a value for at least one of them.;"
local INDEX = ".elastic-connectors-v1"
local ISO = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"

describe("emulator #subprocess", function()
  local base, started_dir
  local on_emulator = os.getenv("ES_URL") == nil or os.getenv("ES_EMULATOR") == "1"

  local function req(method, path, opts) return http(base, method, path, opts) end
  local function put_connector(id, doc)
    local res = req("PUT", "/_connector/" .. id, { body = doc and cjson.encode(doc) or nil })
    assert.is_true(res.status == 201 or res.status == 200, res.body)
    return res
  end
  local function api_key_id(id, body, opts)
    opts = opts or {}
    opts.body = body
    return req("PUT", "/_connector/" .. id .. "/_api_key_id", opts)
  end

  lazy_setup(function()
    base = os.getenv("ES_URL")
    if base then
      base = base:gsub("/+$", "")
      local key, user = os.getenv("ES_API_KEY"), os.getenv("ES_USERNAME")
      if key and key ~= "" then
        curl.set_default_auth("ApiKey " .. key)
      elseif user and user ~= "" then
        curl.set_default_auth("Basic " .. b64(user .. ":" .. (os.getenv("ES_PASSWORD") or "")))
      end
    else
      started_dir = TMP .. "/main"
      local out, rc = sh(q(ESEMU) .. " start --dir " .. q(started_dir))
      assert.are.equal(0, rc, out)
      base = out:match("^(http://127%.0%.0%.1:%d+)\n")
      assert.is_string(base, out)
    end
  end)

  lazy_teardown(function()
    if started_dir then sh(q(ESEMU) .. " stop --dir " .. q(started_dir) .. " 2>&1") end
    sh("rm -rf " .. q(TMP))
  end)

  describe("GET /", function()
    it("answers the info body, pretty by default", function()
      local res = req("GET", "/")
      assert.are.equal(200, res.status)
      assert.are.equal("Elasticsearch", header(res, "X-elastic-product"))
      assert.are.equal("application/json", header(res, "Content-Type"))
      local v = res.json.version
      assert.are.equal("You Know, for Search", res.json.tagline)
      assert.is_string(res.json.name)
      assert.is_string(res.json.cluster_name)
      assert.is_string(res.json.cluster_uuid)
      assert.are.equal("default", v.build_flavor)
      assert.are.equal(false, v.build_snapshot)
      for _, k in ipairs({ "build_type", "build_hash", "build_date", "lucene_version",
                           "minimum_wire_compatibility_version", "minimum_index_compatibility_version" }) do
        assert.is_string(v[k], k)
      end
      if on_emulator then
        assert.are.equal("9.1.0", v.number)
        assert.matches('^{\n  "name" : "', res.body)
        assert.are.equal("\n", res.body:sub(-1))
      end
    end)

    it("prints compact JSON with ?pretty=false", function()
      local res = req("GET", "/?pretty=false")
      assert.are.equal(200, res.status)
      assert.matches('^{"name":"', res.body)
    end)

    it("applies filter_path", function()
      local res = req("GET", "/?filter_path=version.number,tagline&pretty=false")
      assert.are.equal(200, res.status)
      assert.are.same({ "tagline", "version" }, (function()
        local ks = {}
        for k in pairs(res.json) do ks[#ks + 1] = k end
        table.sort(ks)
        return ks
      end)())
      assert.is_string(res.json.version.number)
      assert.is_nil(res.json.version.lucene_version)
    end)

    it("answers HEAD", function()
      local res = req("HEAD", "/")
      assert.are.equal(200, res.status)
      assert.are.equal("Elasticsearch", header(res, "X-elastic-product"))
      assert.are.equal("application/json", header(res, "Content-Type"))
    end)
  end)

  describe("routing", function()
    it("answers 400 for an unknown route", function()
      assert_simple_error(req("GET", "/_nope/a/b"), 400, "no handler found for uri [/_nope/a/b] and method [GET]")
      assert_simple_error(req("DELETE", "/_nope/a/b?x=1"), 400,
        "no handler found for uri [/_nope/a/b?x=1] and method [DELETE]")
    end)

    it("answers 405 with Allow for a wrong method", function()
      for _, m in ipairs({ "GET", "POST", "DELETE" }) do
        local res = req(m, "/_connector/x/_api_key_id")
        assert_simple_error(res, 405, ("Incorrect HTTP method for uri [/_connector/x/_api_key_id] and method [%s], "
          .. "allowed: [PUT]"):format(m))
        assert.are.equal("PUT", header(res, "Allow"))
      end
      local res = req("POST", "/_connector/x?pretty")
      assert.are.equal(405, res.status)
      assert.are.equal("GET,PUT,DELETE", header(res, "Allow"))
      assert.are.equal("Incorrect HTTP method for uri [/_connector/x?pretty] and method [POST], "
        .. "allowed: [GET, PUT, DELETE]", res.json.error)
    end)

    it("answers OPTIONS with the allowed methods", function()
      local res = req("OPTIONS", "/_connector/x/_api_key_id")
      assert.are.equal(200, res.status)
      assert.are.equal("PUT", header(res, "Allow"))
    end)

    it("reports bad escapes and media types before routing", function()
      assert_error(req("GET", "/_connector/a%zz"), 400, "illegal_argument_exception",
        "invalid escape sequence `%zz' at index 1 of: a%zz")
      local e = assert_error(req("GET", "/_nope?a=%2"), 400, "bad_parameter_exception",
        "java.lang.IllegalArgumentException: partial escape sequence at end of string: %2")
      assert.are.same({ type = "illegal_argument_exception", reason = "partial escape sequence at end of string: %2" },
        e.caused_by)
      e = assert_error(req("GET", "/_nope", { headers = { "Accept: foo" } }), 400, "media_type_header_exception",
        "Invalid media-type value on headers [Accept]")
      assert.are.same({ type = "illegal_argument_exception", reason = "invalid media-type [foo]" }, e.caused_by)
      local v7 = "application/vnd.elasticsearch+json;compatible-with=7"
      e = assert_error(req("GET", "/", { headers = { "Accept: " .. v7 } }), 400, "media_type_header_exception",
        "Invalid media-type value on headers [Accept, Content-Type]")
      assert.are.equal("status_exception", e.caused_by.type)
      assert.are.equal("Accept version must be either version 9 or 8, but found 7. Accept=" .. v7, e.caused_by.reason)
      assert_error(req("GET", "/?pretty=maybe"), 400, "illegal_argument_exception",
        "Failed to parse value [maybe] as only [true] or [false] are allowed.")
    end)

    it("checks the route before the content type", function()
      local res = req("GET", "/_connector/x/_api_key_id", { body = "x", headers = { "Content-Type: text/plain" } })
      assert.are.equal(405, res.status)
    end)
  end)

  describe("connector CRUD", function()
    it("creates with 201, then replaces the whole document with 200", function()
      local id = unique("crud")
      local res = req("PUT", "/_connector/" .. id, { body = cjson.encode({ index_name = id, name = "n1" }) })
      assert.are.equal(201, res.status, res.body)
      assert.are.equal(('{"id":"%s","result":"created"}'):format(id), res.body)
      assert.are.equal("application/json", header(res, "Content-Type"))
      assert.are.equal(200, api_key_id(id, '{"api_key_id":"k1"}').status)
      res = req("PUT", "/_connector/" .. id, { body = cjson.encode({ index_name = id, language = "pl" }) })
      assert.are.equal(200, res.status)
      assert.are.same({ id = id, result = "updated" }, res.json)
      local doc = req("GET", "/_connector/" .. id).json
      assert.is_nil(doc.api_key_id)
      assert.are.equal("", doc.name)
      assert.are.equal("pl", doc.language)
    end)

    it("fills in the document defaults", function()
      local id = unique("defaults")
      put_connector(id, { index_name = id, name = "my-connector", language = "pl", is_native = false,
                          service_type = "super-connector", description = "d" })
      local res = req("GET", "/_connector/" .. id)
      assert.are.equal(200, res.status)
      assert.matches('^{"id":"' .. id:gsub("%-", "%%-") .. '","configuration":{},"custom_scheduling":{}', res.body)
      local d = res.json
      assert.are.equal(id, d.id)
      assert.are.equal(id, d.index_name)
      assert.are.equal("my-connector", d.name)
      assert.are.equal("pl", d.language)
      assert.are.equal("super-connector", d.service_type)
      assert.are.equal("d", d.description)
      assert.are.equal(false, d.is_native)
      assert.are.equal(false, d.sync_now)
      assert.are.equal(false, d.deleted)
      assert.are.equal("created", d.status)
      assert.are.same({}, d.configuration)
      assert.are.same({}, d.custom_scheduling)
      for _, k in ipairs({ "api_key_id", "api_key_secret_id", "error", "features", "last_seen", "sync_cursor",
                           "pipeline", "last_synced", "last_sync_status" }) do
        assert.is_nil(d[k], k)
      end
      for _, kind in ipairs({ "access_control", "full", "incremental" }) do
        assert.are.same({ enabled = false, interval = "0 0 0 * * ?" }, d.scheduling[kind])
      end
      assert.are.equal(1, #d.filtering)
      local f = d.filtering[1]
      assert.are.equal("DEFAULT", f.domain)
      for _, which in ipairs({ "active", "draft" }) do
        local rules = f[which]
        assert.matches(ISO, rules.advanced_snippet.created_at)
        assert.matches(ISO, rules.advanced_snippet.updated_at)
        assert.are.same({}, rules.advanced_snippet.value)
        assert.are.equal(1, #rules.rules)
        local r = rules.rules[1]
        assert.are.equal("_", r.field)
        assert.are.equal("DEFAULT", r.id)
        assert.are.equal(0, r.order)
        assert.are.equal("include", r.policy)
        assert.are.equal("regex", r.rule)
        assert.are.equal(".*", r.value)
        assert.matches(ISO, r.created_at)
        assert.are.equal("valid", rules.validation.state)
        assert.are.same({}, rules.validation.errors)
      end
      assert.matches('"errors":%[%]', res.body)
      assert.matches('"rules":%[{', res.body)
    end)

    it("creates without a body", function()
      local id = unique("nobody")
      local res = req("PUT", "/_connector/" .. id)
      assert.are.equal(201, res.status, res.body)
      local d = req("GET", "/_connector/" .. id).json
      assert.are.equal("", d.name)
      assert.is_nil(d.index_name)
    end)

    it("makes native connectors need configuration, with the content- prefix", function()
      local id = unique("native")
      put_connector(id, { index_name = "content-" .. id, is_native = true })
      local d = req("GET", "/_connector/" .. id).json
      assert.are.equal(true, d.is_native)
      assert.are.equal("needs_configuration", d.status)
      local res = req("PUT", "/_connector/" .. id, { body = '{"index_name":"search-x","is_native":"true"}' })
      assert_error(res, 400, "action_request_validation_exception", "Validation Failed: 1: Index [search-x] is "
        .. "invalid. Index attached to an Elastic-managed connector must start with the prefix: [content-];")
    end)

    it("validates the index name", function()
      local res = req("PUT", "/_connector/" .. unique("badindex"), { body = '{"index_name":"_bad"}' })
      assert_error(res, 400, "action_request_validation_exception", "Validation Failed: 1: [_bad] "
        .. "InvalidIndexNameException[Invalid index name [_bad], must not start with '_', '-', or '+'];")
      res = req("PUT", "/_connector/" .. unique("badindex"), { body = '{"index_name":"a b","is_native":true}' })
      assert_error(res, 400, "action_request_validation_exception", "Validation Failed: 1: [a b] "
        .. "InvalidIndexNameException[Invalid index name [a b], must not contain the following characters "
        .. "[ , \", *, \\, <, |, ,, >, /, ?]];2: Index [a b] is invalid. Index attached to an Elastic-managed "
        .. "connector must start with the prefix: [content-];")
    end)

    it("refuses an index name used by another connector", function()
      local a, b, index = unique("owner"), unique("other"), unique("shared")
      put_connector(a, { index_name = index })
      put_connector(a, { index_name = index }) -- its own index name is fine
      assert_error(req("PUT", "/_connector/" .. b, { body = cjson.encode({ index_name = index }) }), 400,
        "status_exception", "Index name [" .. index .. "] is used by another connector.")
      assert_error(req("POST", "/_connector", { body = cjson.encode({ index_name = index }) }), 400,
        "status_exception", "Index name [" .. index .. "] is used by another connector.")
      -- a soft-deleted connector frees its index name
      assert.are.equal(200, req("DELETE", "/_connector/" .. a).status)
      assert.are.equal(201, req("PUT", "/_connector/" .. b, { body = cjson.encode({ index_name = index }) }).status)
    end)

    it("parses the body strictly", function()
      local id = unique("strict")
      assert_error(req("PUT", "/_connector/" .. id, { body = '{"foo":1}' }), 400, "x_content_parse_exception",
        "[1:2] [connector_put_request] unknown field [foo]")
      assert_error(req("PUT", "/_connector/" .. id, { body = '{"nam":"x"}' }), 400, "x_content_parse_exception",
        "[1:2] [connector_put_request] unknown field [nam] did you mean [name]?")
      assert_error(req("PUT", "/_connector/" .. id, { body = '{"name":null}' }), 400, "x_content_parse_exception",
        "[1:9] [connector_put_request] name doesn't support values of type: VALUE_NULL")
      local e = assert_error(req("PUT", "/_connector/" .. id, { body = '{"is_native":"maybe"}' }), 400,
        "x_content_parse_exception", "[1:14] [connector_put_request] failed to parse field [is_native]")
      assert.are.equal("illegal_argument_exception", e.caused_by.type)
      assert.are.equal("Failed to parse value [maybe] as only [true] or [false] are allowed.", e.caused_by.reason)
      assert.are.equal(404, req("GET", "/_connector/" .. id).status)
    end)

    it("creates with an automatic id (POST and PUT without id)", function()
      for _, m in ipairs({ "POST", "PUT" }) do
        local res = req(m, "/_connector", { body = '{"name":"auto"}' })
        assert.are.equal(201, res.status, res.body)
        assert.are.equal("created", res.json.result)
        assert.matches("^[%w_%-]+$", res.json.id)
        assert.are.equal(20, #res.json.id)
        assert.are.equal("auto", req("GET", "/_connector/" .. res.json.id).json.name)
      end
      local res = req("POST", "/_connector")
      assert.are.equal(201, res.status)
    end)

    it("answers 404 resource_not_found_exception for a missing connector", function()
      local id = unique("missing")
      assert_error(req("GET", "/_connector/" .. id), 404, "resource_not_found_exception",
        "connector [" .. id .. "] not found")
    end)

    it("soft-deletes, hard-deletes and shows deleted connectors on request", function()
      local id = unique("del")
      put_connector(id, { index_name = id })
      local res = req("DELETE", "/_connector/" .. id)
      assert.are.equal(200, res.status)
      assert.are.equal('{"acknowledged":true}', res.body)
      assert_error(req("GET", "/_connector/" .. id), 404, "resource_not_found_exception",
        "connector [" .. id .. "] not found")
      res = req("GET", "/_connector/" .. id .. "?include_deleted=true")
      assert.are.equal(200, res.status)
      assert.are.equal(true, res.json.deleted)
      assert.are.equal(true, req("GET", "/_connector/" .. id .. "?include_deleted").json.deleted)
      assert_error(req("DELETE", "/_connector/" .. id), 404, "resource_not_found_exception",
        "connector [" .. id .. "] not found")
      assert.are.equal(200, req("DELETE", "/_connector/" .. id .. "?hard=true&delete_sync_jobs=true").status)
      assert.are.equal(404, req("GET", "/_connector/" .. id .. "?include_deleted=true").status)
      assert_error(req("DELETE", "/_connector/" .. id .. "?hard=true"), 404, "resource_not_found_exception",
        "connector [" .. id .. "] not found")
      assert_error(req("DELETE", "/_connector/" .. id .. "?hard=yes"), 400, "illegal_argument_exception",
        "Failed to parse value [yes] as only [true] or [false] are allowed.")
    end)

    describe("list", function()
      local tok, a, b, c, d

      lazy_setup(function()
        tok = "lst" .. RUN
        a, b, c, d = unique("la"), unique("lb"), unique("lc"), unique("ld")
        put_connector(b, { index_name = tok .. "-b", name = "nb", service_type = "s3" })
        put_connector(c, { name = "nc-" .. tok, service_type = "gdrive" })
        put_connector(a, { index_name = tok .. "-a", name = "na", service_type = "s3" })
        put_connector(d, { index_name = tok .. "-d", name = "nd", description = "gone" })
        assert.are.equal(200, req("DELETE", "/_connector/" .. d).status)
      end)

      local function ids(res)
        local out = {}
        for i, r in ipairs(res.json.results or {}) do out[i] = r.id end
        return out
      end

      it("sorts by index_name, missing last, and counts every hit", function()
        local res = req("GET", "/_connector?query=" .. tok)
        assert.are.equal(200, res.status, res.body)
        assert.are.equal(3, res.json.count)
        assert.are.same({ a, b, c }, ids(res))
        assert.matches('^{"count":3,"results":%[{"id":"', res.body)
        res = req("GET", "/_connector?query=" .. tok .. "&from=1&size=1")
        assert.are.equal(3, res.json.count)
        assert.are.same({ b }, ids(res))
        res = req("GET", "/_connector?query=" .. tok .. "&from=5")
        assert.are.equal(3, res.json.count)
        assert.are.equal('{"count":3,"results":[]}', res.body)
      end)

      it("filters", function()
        assert.are.same({ a, b }, ids(req("GET", "/_connector?query=" .. tok .. "&service_type=s3")))
        assert.are.same({ a }, ids(req("GET", "/_connector?index_name=" .. tok .. "-a," .. tok .. "-d")))
        assert.are.same({ a, b }, ids(req("GET", "/_connector?connector_name=na,nb&query=" .. tok)))
        assert.are.same({ c }, ids(req("GET", "/_connector?query=nc-" .. tok)))
        assert.are.same({ a, b }, ids(req("GET", "/_connector?query=" .. tok .. "-?")))
        assert.are.same({}, ids(req("GET", "/_connector?query=NC-" .. tok)))
        local res = req("GET", "/_connector?query=" .. tok .. "&include_deleted=true")
        assert.are.same({ a, b, d, c }, ids(res))
        assert.are.equal(true, res.json.results[3].deleted)
      end)

      it("rejects bad paging and index names", function()
        assert_error(req("GET", "/_connector?from=-1"), 400, "illegal_argument_exception",
          "Parameter [from] cannot be < 0")
        assert_error(req("GET", "/_connector?size=-1"), 400, "illegal_argument_exception",
          "Parameter [size] cannot be < 0")
        local e = assert_error(req("GET", "/_connector?size=abc"), 400, "illegal_argument_exception",
          "Failed to parse int parameter [size] with value [abc]")
        assert.are.equal("number_format_exception", e.caused_by.type)
        assert_error(req("GET", "/_connector?from=9000&size=1001"), 400, "illegal_argument_exception",
          "The sum of parameters [from] and [size] cannot be higher than 10000.")
        assert_error(req("GET", "/_connector?index_name=_x"), 400, "action_request_validation_exception",
          "Validation Failed: 1: [_x] InvalidIndexNameException[Invalid index name [_x], must not start with "
          .. "'_', '-', or '+'];")
      end)

      it("applies filter_path and pretty", function()
        local res = req("GET", "/_connector?query=" .. tok .. "&filter_path=results.id")
        assert.are.equal(200, res.status)
        assert.are.equal(('{"results":[{"id":"%s"},{"id":"%s"},{"id":"%s"}]}'):format(a, b, c), res.body)
        res = req("GET", "/_connector?query=" .. tok .. "&filter_path=count&pretty")
        assert.are.equal('{\n  "count" : 3\n}\n', res.body)
        res = req("GET", "/_connector?query=" .. tok .. "&filter_path=-results")
        assert.are.equal('{"count":3}', res.body)
        res = req("GET", "/_connector?query=" .. tok .. "&filter_path=nothing")
        assert.are.equal("{}", res.body)
      end)

      it("rejects a body", function()
        local res = req("GET", "/_connector?query=" .. tok, { body = "{}" })
        assert_error(res, 400, "illegal_argument_exception", "request [GET /_connector] does not support having a body")
      end)
    end)
  end)

  describe("PUT /_connector/{id}/_api_key_id", function()
    local id
    before_each(function()
      id = unique("akid")
      put_connector(id, { name = "spec" })
    end)

    local function stored(cid)
      local doc = req("GET", "/_connector/" .. (cid or id) .. "?include_deleted").json
      return doc.api_key_id, doc.api_key_secret_id
    end

    it("updates both fields", function()
      local res = api_key_id(id, '{"api_key_id":"my-api-key-id","api_key_secret_id":"my-connector-secret-id"}')
      assert.are.equal(200, res.status)
      assert.are.equal('{"result":"updated"}', res.body)
      assert.are.equal("application/json", header(res, "Content-Type"))
      assert.are.same({ "my-api-key-id", "my-connector-secret-id" }, { stored() })
      local body = req("GET", "/_connector/" .. id).body
      assert.matches('"deleted":false,"api_key_id":"my%-api%-key%-id",'
        .. '"api_key_secret_id":"my%-connector%-secret%-id"}$', body)
    end)

    it("updates one field and leaves the other alone", function()
      assert.are.equal(200, api_key_id(id, '{"api_key_id":"k1","api_key_secret_id":"s1"}').status)
      assert.are.equal("updated", api_key_id(id, '{"api_key_id":"k2"}').json.result)
      assert.are.same({ "k2", "s1" }, { stored() })
      assert.are.equal("updated", api_key_id(id, '{"api_key_secret_id":"s2"}').json.result)
      assert.are.same({ "k2", "s2" }, { stored() })
      -- null means "not given": it never clears a field
      assert.are.equal("updated", api_key_id(id, '{"api_key_id":"k3","api_key_secret_id":null}').json.result)
      assert.are.same({ "k3", "s2" }, { stored() })
      -- "" is a value
      assert.are.equal("updated", api_key_id(id, '{"api_key_secret_id":""}').json.result)
      assert.are.same({ "k3", "" }, { stored() })
    end)

    it("answers noop for the values already stored", function()
      assert.are.equal("updated", api_key_id(id, '{"api_key_id":"k1","api_key_secret_id":"s1"}').json.result)
      local res = api_key_id(id, '{"api_key_id":"k1","api_key_secret_id":"s1"}')
      assert.are.equal(200, res.status)
      assert.are.equal('{"result":"noop"}', res.body)
      assert.are.equal("noop", api_key_id(id, '{"api_key_id":"k1"}').json.result)
    end)

    it("refuses both values null or absent", function()
      for _, body in ipairs({ "{}", '{"api_key_id":null}', '{"api_key_id":null,"api_key_secret_id":null}' }) do
        local res = api_key_id(id, body)
        assert_error(res, 400, "action_request_validation_exception", BOTH_NULL)
        assert.are.equal(('{"error":{"root_cause":[{"type":"action_request_validation_exception","reason":%s}],'
          .. '"type":"action_request_validation_exception","reason":%s},"status":400}')
          :format(cjson.encode(BOTH_NULL), cjson.encode(BOTH_NULL)), res.body)
      end
    end)

    it("refuses an empty connector id", function()
      assert_error(api_key_id("", '{"api_key_id":"k"}'), 400, "action_request_validation_exception",
        'Validation Failed: 1: [connector_id] cannot be [null] or [""].;')
      assert_error(api_key_id("", "{}"), 400, "action_request_validation_exception",
        'Validation Failed: 1: [connector_id] cannot be [null] or [""].;2: [api_key_id] and [api_key_secret_id] '
        .. "cannot both be [null]. Please provide a value for at least one of them.;")
    end)

    it("reports unknown fields with suggestions", function()
      local p = "[connector_update_api_key_id_request] "
      assert_error(api_key_id(id, '{"foo":"x"}'), 400, "x_content_parse_exception", "[1:2] " .. p
        .. "unknown field [foo]")
      assert_error(api_key_id(id, '{"api_key":"x"}'), 400, "x_content_parse_exception", "[1:2] " .. p
        .. "unknown field [api_key] did you mean [api_key_id]?")
      assert_error(api_key_id(id, '{"api_key_secret":"x"}'), 400, "x_content_parse_exception", "[1:2] " .. p
        .. "unknown field [api_key_secret] did you mean any of [api_key_secret_id, api_key_id]?")
      assert_error(api_key_id(id, '{"api_key_id":"k",\n  "bar": 1}'), 400, "x_content_parse_exception", "[2:3] " .. p
        .. "unknown field [bar]")
    end)

    it("reports values of the wrong type at the value's position", function()
      local p = "[connector_update_api_key_id_request] "
      local cases = {
        { '{"api_key_id":{"a":1}}', "[1:15] " .. p .. "api_key_id doesn't support values of type: START_OBJECT" },
        { '{"api_key_id":1}', "[1:15] " .. p .. "api_key_id doesn't support values of type: VALUE_NUMBER" },
        { '{"api_key_id": true}', "[1:16] " .. p .. "api_key_id doesn't support values of type: VALUE_BOOLEAN" },
        { '{"api_key_id":"k","api_key_secret_id":["s"]}',
          "[1:39] " .. p .. "api_key_secret_id doesn't support values of type: START_ARRAY" },
        { '{\n  "api_key_id" : 12.5\n}', "[2:18] " .. p .. "api_key_id doesn't support values of type: VALUE_NUMBER" },
      }
      for _, c in ipairs(cases) do
        local e = assert_error(api_key_id(id, c[1]), 400, "x_content_parse_exception", c[2])
        assert.is_nil(e.caused_by)
      end
    end)

    it("refuses a top level that is not an object", function()
      for body, token in pairs({ ["[]"] = "START_ARRAY", ['"x"'] = "VALUE_STRING", ["null"] = "VALUE_NULL",
                                 ["1"] = "VALUE_NUMBER", ["true"] = "VALUE_BOOLEAN" }) do
        assert_error(api_key_id(id, body), 400, "x_content_parse_exception",
          "[1:1] [connector_update_api_key_id_request] Expected START_OBJECT but was: " .. token)
      end
    end)

    it("reports malformed JSON like Jackson", function()
      local e = assert_error(api_key_id(id, '{"api_key_id":}'), 400, "x_content_parse_exception")
      assert.are.equal("json_parse_exception", e.caused_by.type)
      assert.matches("^%[1:16%] Unexpected character %('}' %(code 125%)%): expected a value", e.reason)
      e = assert_error(api_key_id(id, '{"api_key_id" "k"}'), 400, "x_content_parse_exception")
      assert.matches("was expecting a colon to separate field name and value", e.reason, 1, true)
      e = assert_error(api_key_id(id, '{"api_key_id":"k",}'), 400, "x_content_parse_exception")
      assert.matches("was expecting double-quote to start field name", e.reason, 1, true)
      e = assert_error(api_key_id(id, "{'api_key_id':'k'}"), 400, "x_content_parse_exception")
      assert.are.equal("json_parse_exception", e.caused_by.type)
      e = assert_error(api_key_id(id, '{"api_key_id":"k"'), 400, "x_content_e_o_f_exception",
        "[1:18] Unexpected end of file")
      assert.are.equal("json_e_o_f_exception", e.caused_by.type)
      e = assert_error(api_key_id(id, '{"api_key_id":'), 400, "x_content_e_o_f_exception")
      assert.are.equal("json_e_o_f_exception", e.caused_by.type)
      -- a truncated string is read when the field is parsed
      e = assert_error(api_key_id(id, '{"api_key_id":"k'), 400, "x_content_parse_exception",
        "[1:15] [connector_update_api_key_id_request] failed to parse field [api_key_id]")
      assert.are.equal("x_content_e_o_f_exception", e.caused_by.type)
      assert.are.equal("json_e_o_f_exception", e.caused_by.caused_by.type)
    end)

    it("refuses duplicate keys", function()
      local e = assert_error(api_key_id(id, '{"api_key_id":"a","api_key_id":"b"}'), 400, "x_content_parse_exception")
      assert.matches("^%[1:31%] Duplicate field 'api_key_id'", e.reason)
      assert.are.equal("json_parse_exception", e.caused_by.type)
      assert.are.same({ nil, nil }, { stored() })
    end)

    it("accepts comments, as ES enables them", function()
      assert.are.equal(200, api_key_id(id, '/* c */ {"api_key_id": "k" // end\n}').status)
    end)

    it("requires a body", function()
      assert_error(api_key_id(id, nil), 400, "parse_exception", "request body is required")
      assert.are.equal('{"error":{"root_cause":[{"type":"parse_exception","reason":"request body is required"}],'
        .. '"type":"parse_exception","reason":"request body is required"},"status":400}', api_key_id(id, nil).body)
    end)

    it("requires a JSON content type (406)", function()
      assert_simple_error(api_key_id(id, '{"api_key_id":"k"}', { headers = { "Content-Type:" } }), 406,
        "Content-Type header is missing")
      assert_simple_error(api_key_id(id, '{"api_key_id":"k"}', { headers = { "Content-Type: text/plain" } }), 406,
        "Content-Type header [text/plain] is not supported")
      assert_simple_error(api_key_id(id, '{"api_key_id":"k"}', { headers = { "Content-Type: application/xml" } }),
        406, "Content-Type header [application/xml] is not supported")
      assert.are.equal(200, api_key_id(id, '{"api_key_id":"k"}',
        { headers = { "Content-Type: application/json; charset=UTF-8" } }).status)
    end)

    it("uses the vendored content type when Accept asks for it", function()
      local vnd = "application/vnd.elasticsearch+json;compatible-with=8"
      local res = api_key_id(id, '{"api_key_id":"k"}', { headers = { "Accept: " .. vnd, "Content-Type: " .. vnd } })
      assert.are.equal(200, res.status)
      assert.are.equal(vnd, header(res, "Content-Type"))
      res = api_key_id(id, "{}", { headers = { "Accept: " .. vnd, "Content-Type: " .. vnd } })
      assert.are.equal(400, res.status)
      assert.matches("^application/json", header(res, "Content-Type"))
      if on_emulator then assert.are.equal("application/json;charset=utf-8", header(res, "Content-Type")) end
    end)

    it("refuses unknown query parameters, after parsing the body", function()
      local path = "/_connector/" .. id .. "/_api_key_id"
      assert_error(req("PUT", path .. "?foo=1", { body = '{"api_key_id":"k"}' }), 400, "illegal_argument_exception",
        "request [" .. path .. "] contains unrecognized parameter: [foo]")
      assert_error(req("PUT", path .. "?foo=1&prety=true", { body = '{"api_key_id":"k"}' }), 400,
        "illegal_argument_exception",
        "request [" .. path .. "] contains unrecognized parameters: [foo], [prety] -> did you mean [pretty]?")
      assert_error(req("PUT", path .. "?foo", { body = "[]" }), 400, "x_content_parse_exception")
      assert_error(req("PUT", path .. "?foo", { body = "{}" }), 400, "illegal_argument_exception")
      assert.are.same({ nil, nil }, { stored() })
      local res = req("PUT", path .. "?pretty&human=true&error_trace=false&filter_path=result",
        { body = '{"api_key_id":"k"}' })
      assert.are.equal(200, res.status, res.body)
      assert.are.equal('{\n  "result" : "updated"\n}\n', res.body)
      res = req("PUT", path .. "?filter_path=result", { body = '{"api_key_id":"k"}' })
      assert.are.equal('{"result":"noop"}', res.body)
    end)

    it("answers 404 document_missing_exception for a missing connector", function()
      local missing = unique("nope")
      local res = api_key_id(missing, '{"api_key_id":"k"}')
      local e = assert_error(res, 404, "document_missing_exception", "[" .. missing .. "]: document missing")
      assert.are.equal("0", e.shard)
      assert.are.equal(INDEX, e.index)
      assert.is_string(e.index_uuid)
      local r = e.root_cause[1]
      assert.are.same({ e.type, e.reason, e.index_uuid, e.shard, e.index }, { r.type, r.reason, r.index_uuid, r.shard,
        r.index })
      assert.matches('"index_uuid":"[^"]+","shard":"0","index":"%.elastic%-connectors%-v1"}', res.body)
      assert.are.equal(404, req("GET", "/_connector/" .. missing .. "?include_deleted").status)
    end)

    it("updates a soft-deleted connector", function()
      assert.are.equal(200, req("DELETE", "/_connector/" .. id).status)
      assert.are.equal("updated", api_key_id(id, '{"api_key_id":"k"}').json.result)
      assert.are.same({ "k", nil }, { stored() })
      assert.are.equal(404, req("GET", "/_connector/" .. id).status)
    end)

    it("keeps an escaped connector id as one path segment", function()
      local raw = "a b/c?d#\195\169" .. RUN
      local enc = "a%20b%2Fc%3Fd%23%C3%A9" .. RUN
      assert.are.equal(201, req("PUT", "/_connector/" .. enc, { body = '{"name":"esc' .. RUN .. '"}' }).status)
      local res = api_key_id(enc, '{"api_key_id":"k-esc"}')
      assert.are.equal(200, res.status, res.body)
      local doc = req("GET", "/_connector/" .. enc).json
      assert.are.equal(raw, doc.id)
      assert.are.equal("k-esc", doc.api_key_id)
      local list = req("GET", "/_connector?connector_name=esc" .. RUN).json
      assert.are.equal(1, list.count)
      assert.are.equal(raw, list.results[1].id)
      res = api_key_id("a%20b%2Fnot-there" .. RUN, '{"api_key_id":"k"}')
      assert_error(res, 404, "document_missing_exception", "[a b/not-there" .. RUN .. "]: document missing")
    end)
  end)

  describe("with --auth", function()
    local dir, abase, creds, pid

    local function areq(method, path, opts)
      opts = opts or {}
      if opts.auth == nil then opts.auth = false end
      return http(abase, method, path, opts)
    end
    local WWW = { 'Basic realm="security", charset="UTF-8"', "ApiKey" }
    local function assert_401(res, reason)
      local e = assert_error(res, 401, "security_exception", reason)
      assert.are.same(WWW, res.headers["www-authenticate"])
      assert.are.same({ ["WWW-Authenticate"] = WWW }, e.header)
      assert.are.same({ ["WWW-Authenticate"] = WWW }, e.root_cause[1].header)
      return e
    end
    local NO_ANON = "unable to authenticate with provided credentials and anonymous access is not allowed for this "
      .. "request"

    lazy_setup(function()
      dir = TMP .. "/auth"
      local out, rc = sh(q(ESEMU) .. " start --auth --dir " .. q(dir))
      assert.are.equal(0, rc, out)
      abase = out:match("^(http://127%.0%.0%.1:%d+)\n")
      assert.is_string(abase, out)
      creds = cjson.decode(read_file(dir .. "/credentials.json"))
      assert.is_truthy(out:find(creds.password, 1, true))
      assert.is_truthy(out:find(creds.encoded, 1, true))
      pid = tonumber(read_file(dir .. "/nginx.pid"):match("%d+"))
    end)

    lazy_teardown(function()
      sh(q(ESEMU) .. " stop --dir " .. q(dir) .. " 2>&1")
    end)

    it("writes the credentials file", function()
      assert.are.equal("-rw-------", (sh("stat -c %A " .. q(dir .. "/credentials.json"))):gsub("%s+$", ""))
      assert.are.equal(abase, creds.url)
      assert.are.equal("elastic", creds.username)
      assert.is_true(#creds.password >= 16)
      assert.are.equal(b64(creds.api_key_id .. ":" .. creds.api_key), creds.encoded)
      local out, rc = sh(q(ESEMU) .. " url --dir " .. q(dir))
      assert.are.equal(0, rc)
      assert.are.equal(abase .. "\n", out)
    end)

    it("answers 401 without credentials", function()
      assert_401(areq("GET", "/"), "missing authentication credentials for REST request [/]")
      local res = areq("PUT", "/_connector/x/_api_key_id?pretty", { body = '{"api_key_id":"k"}' })
      assert_401(res, "missing authentication credentials for REST request [/_connector/x/_api_key_id?pretty]")
      assert_401(areq("GET", "/_connector", { auth = "Bearer abc" }),
        "missing authentication credentials for REST request [/_connector]")
      assert.are.equal('{"error":{"root_cause":[{"type":"security_exception","reason":"missing authentication '
        .. 'credentials for REST request [/]","header":{"WWW-Authenticate":["Basic realm=\\"security\\", '
        .. 'charset=\\"UTF-8\\"","ApiKey"]}}],"type":"security_exception","reason":"missing authentication '
        .. 'credentials for REST request [/]","header":{"WWW-Authenticate":["Basic realm=\\"security\\", '
        .. 'charset=\\"UTF-8\\"","ApiKey"]}},"status":401}', areq("GET", "/").body)
    end)

    it("answers 401 for a wrong user or password", function()
      assert_401(areq("GET", "/_connector", { auth = "Basic " .. b64("elastic:wrong") }),
        "unable to authenticate user [elastic] for REST request [/_connector]")
      assert_401(areq("GET", "/_connector?size=1", { auth = "Basic " .. b64("nobody:" .. creds.password) }),
        "unable to authenticate user [nobody] for REST request [/_connector?size=1]")
      assert_401(areq("GET", "/", { auth = "Basic " .. b64("elastic") }), "invalid basic authentication header value")
      local e = assert_401(areq("GET", "/", { auth = "Basic a_b" }), "invalid basic authentication header encoding")
      assert.are.same({ type = "illegal_argument_exception", reason = "Illegal base64 character 5f" }, e.caused_by)
    end)

    it("answers 401 for an unknown or wrong API key", function()
      local e = assert_401(areq("GET", "/", { auth = "ApiKey " .. b64("nokey:secret") }), NO_ANON)
      assert.are.equal("API key: unable to find apikey with id nokey", e.additional_unsuccessful_credentials)
      assert.are.equal(e.additional_unsuccessful_credentials, e.root_cause[1].additional_unsuccessful_credentials)
      e = assert_401(areq("GET", "/", { auth = "ApiKey " .. b64(creds.api_key_id .. ":wrong") }), NO_ANON)
      assert.are.equal("API key: invalid credentials for API key [" .. creds.api_key_id .. "]",
        e.additional_unsuccessful_credentials)
      e = assert_401(areq("GET", "/", { auth = "ApiKey a_b" }), "error attempting to authenticate request")
      assert.are.same({ type = "illegal_argument_exception", reason = "Illegal base64 character 5f" }, e.caused_by)
      e = assert_401(areq("GET", "/", { auth = "ApiKey " .. b64("nocolon") }),
        "error attempting to authenticate request")
      assert.are.same({ type = "illegal_argument_exception", reason = "invalid ApiKey value" }, e.caused_by)
    end)

    it("lets the superuser and its API key do everything", function()
      local basic = "Basic " .. b64("elastic:" .. creds.password)
      local apikey = "ApiKey " .. creds.encoded
      assert.are.equal(200, areq("GET", "/", { auth = basic }).status)
      assert.are.equal(200, areq("GET", "/", { auth = apikey }).status)
      local id = unique("authz")
      assert.are.equal(201, areq("PUT", "/_connector/" .. id, { auth = apikey, body = "{}" }).status)
      local res = areq("PUT", "/_connector/" .. id .. "/_api_key_id", { auth = apikey, body = '{"api_key_id":"k"}' })
      assert.are.equal(200, res.status)
      assert.are.equal("k", areq("GET", "/_connector/" .. id, { auth = basic }).json.api_key_id)
      assert.are.equal(200, areq("DELETE", "/_connector/" .. id, { auth = basic }).status)
    end)

    it("routes and checks the content type before authenticating", function()
      assert.are.equal(400, areq("GET", "/_nope").status)
      assert.are.equal(405, areq("GET", "/_connector/x/_api_key_id").status)
      assert.are.equal(406, areq("PUT", "/_connector/x/_api_key_id", { body = "{}",
        headers = { "Content-Type: text/plain" } }).status)
      -- and authenticates before parsing the body
      assert.are.equal(401, areq("PUT", "/_connector/x/_api_key_id", { body = "[" }).status)
    end)

    it("stops and leaves no process behind", function()
      local workers = {}
      for w in (sh("pgrep -P " .. pid)):gmatch("%d+") do workers[#workers + 1] = tonumber(w) end
      assert.is_true(#workers >= 1)
      local out, rc = sh(q(ESEMU) .. " stop --dir " .. q(dir) .. " 2>&1")
      assert.are.equal(0, rc, out)
      for _, p in ipairs({ pid, (table.unpack or unpack)(workers) }) do
        assert.is_nil(read_file("/proc/" .. p .. "/stat"), "process " .. p .. " still running")
      end
      assert.are.equal("000", (sh("curl -s -o /dev/null -w '%{http_code}' " .. q(abase .. "/"))):gsub("%s+$", ""))
      out, rc = sh(q(ESEMU) .. " stop --dir " .. q(dir) .. " 2>&1")
      assert.are.equal(0, rc)
      assert.matches("no emulator running", out)
      local _, code = sh(q(ESEMU) .. " url --dir " .. q(dir) .. " 2>/dev/null")
      assert.are.equal(1, code)
    end)
  end)

  it("restarts cleanly in the same dir", function()
    local dir = TMP .. "/restart"
    local out, rc = sh(q(ESEMU) .. " start --dir " .. q(dir))
    assert.are.equal(0, rc, out)
    local first = tonumber(read_file(dir .. "/nginx.pid"):match("%d+"))
    out, rc = sh(q(ESEMU) .. " start --dir " .. q(dir))
    assert.are.equal(0, rc, out)
    local second = tonumber(read_file(dir .. "/nginx.pid"):match("%d+"))
    assert.are_not.equal(first, second)
    assert.is_nil(read_file("/proc/" .. first .. "/stat"))
    local url = out:match("^(%S+)\n")
    assert.are.equal(200, http(url, "GET", "/", { auth = false }).status)
    out, rc = sh(q(ESEMU) .. " stop --dir " .. q(dir) .. " 2>&1")
    assert.are.equal(0, rc, out)
    assert.is_nil(read_file("/proc/" .. second .. "/stat"))
  end)

  it("has a --help", function()
    local out, rc = sh(q(ESEMU) .. " --help")
    assert.are.equal(0, rc)
    assert.matches("esemu start", out, 1, true)
  end)
end)
