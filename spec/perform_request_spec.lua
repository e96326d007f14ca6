-- client:perform_request, the escape hatch: any method and path, over real
-- HTTP, through the same nodes, retries, errors and redaction as API calls.
local env = require "spec.support.env"
local emulator = require "spec.support.emulator"
local esconnector = require "esconnector"
local core = require "esconnector.core"

describe("client:perform_request", function()
  local client
  before_each(function() client = env.client() end)
  after_each(function() client:close() end)

  it("creates, lists, updates and reads a connector without the catalog", function()
    local id = env.unique("perform")
    local path = "/_connector/" .. core.escape(id)
    local res, err = client:perform_request("PUT", path, { body = { name = "p", index_name = "search-" .. id } })
    assert(res, err and tostring(err))
    assert.are.equal("created", res.result)
    res = assert(client:perform_request("PUT", path .. "/_api_key_id", { body = { api_key_id = "k-1" } }))
    assert.are.equal("updated", res.result)
    local list = assert(client:perform_request("GET", "/_connector", { query = { from = 0, size = 1000 } }))
    local found
    for _, c in ipairs(list.results) do if c.id == id then found = c end end
    assert.are.equal("k-1", found and found.api_key_id)
    -- the same as the catalog's API reads it back
    local doc = assert(client.connector:get{ connector_id = id })
    assert.are.equal("k-1", doc.api_key_id)
    -- a query string given as text, a list joined by commas
    res = assert(client:perform_request("GET", "/_connector", { query = "size=1000&connector_name=p" }))
    assert.is_table(res.results)
    assert(client:perform_request("DELETE", path, { query = { hard = true } }))
    local _, gone = client.connector:get{ connector_id = id }
    assert.are.equal(404, gone.status)
  end)

  it("returns Elasticsearch's errors as error objects, unvalidated", function()
    local id = env.unique("perform-missing")
    local res, err = client:perform_request("GET", "/_connector/" .. core.escape(id))
    assert.is_nil(res)
    assert.are.equal("http", err.kind)
    assert.are.equal(404, err.status)
    assert.are.equal("resource_not_found_exception", err.type)
    assert.are.equal("perform_request", err.api)
    assert.are.equal(1, err.attempts)
    assert.matches("^esconnector: 404 resource_not_found_exception", "" .. err)
    -- what client-side validation would refuse goes to the server, which answers 400
    res, err = client:perform_request("PUT", "/_connector/" .. core.escape(id) .. "/_api_key_id", { body = {} })
    assert.is_nil(res)
    assert.are.equal("http", err.kind)
    assert.are.equal(400, err.status)
    local _, local_err = client.connector:update_api_key_id{ connector_id = id }
    assert.are.equal("validation", local_err.kind)
  end)

  it("sends its headers, redacts credentials for observers, and raises for programmer errors", function()
    local seen = {}
    local observed = env.client{ on_request = function(e) seen[#seen + 1] = e end }
    local res = assert(observed:perform_request("GET", "/", { headers = { ["X-Probe"] = "1" } },
      { opaque_id = "op-7" }))
    assert.are.equal("You Know, for Search", res.tagline)
    observed:close()
    assert.are.equal(1, #seen)
    assert.are.equal("perform_request", seen[1].api)
    assert.are.equal("GET", seen[1].method)
    local headers = table.concat(seen[1].headers, "\n")
    assert.matches("X%-Probe: 1", headers)
    assert.matches("X%-Opaque%-Id: op%-7", headers)
    assert.matches("Authorization: %[redacted%]", headers)
    if env.api_key and env.api_key ~= "" then assert.is_nil(headers:find(env.api_key, 1, true)) end
    for _, bad in ipairs{
      { "get", "/" }, { "GET", "no-slash" }, { "GET", "/a b" }, { "GET", "/a\r\nX: 1" },
      { "GET", "/", { bogus = 1 } }, { "GET", "/", "x" }, { "GET", "/", { headers = { ["X-A"] = "a\nb" } } },
      { "GET", "/?a=1", { query = { b = 2 } } }, { "GET", "/", nil, { bogus = true } },
    } do
      assert.is_false(pcall(client.perform_request, client, bad[1], bad[2], bad[3], bad[4]))
    end
  end)

  it("sends a string body as it is, with the content type given", function()
    local id = env.unique("perform-raw")
    local sent
    local observed = env.client{ on_request = function(e) sent = e.headers end }
    local res, err = observed:perform_request("PUT", "/_connector/" .. core.escape(id),
      { body = '{"name":"raw","index_name":"search-raw"}',
        headers = { ["content-type"] = "application/vnd.elasticsearch+json;compatible-with=8" } })
    observed:close()
    assert(res, err and tostring(err))
    local types = {}
    for _, h in ipairs(sent) do
      if h:lower():match("^content%-type:") then types[#types + 1] = h end
    end
    assert.are.same({ "content-type: application/vnd.elasticsearch+json;compatible-with=8" }, types)
    assert.are.equal("raw", assert(client.connector:get{ connector_id = id }).name)
    res, err = client:perform_request("PUT", "/_connector/" .. core.escape(id), { body = "{not json" })
    assert.is_nil(res)
    assert.are.equal(400, err.status)
    assert(client.connector:delete{ connector_id = id, hard = true })
  end)

  it("retries a 503 on the next attempt, within the call options", function()
    if not emulator.available() then pending("needs the emulator's fault control") return end
    emulator.clear_faults()
    emulator.fault{ fault = "status", status = 503, path = "^/$", count = 1 }
    local res, err = client:perform_request("GET", "/", nil, { max_retries = 1 })
    emulator.clear_faults()
    assert(res, err and tostring(err))
    assert.are.equal("You Know, for Search", res.tagline)
    emulator.fault{ fault = "status", status = 503, path = "^/$", count = 2 }
    res, err = client:perform_request("GET", "/", nil, { max_retries = 1 })
    emulator.clear_faults()
    assert.is_nil(res)
    assert.are.equal(503, err.status)
    assert.are.equal(2, err.attempts)
  end)

  it("sends a POST at most once: not resent after a lost answer, on a connection of its own", function()
    if not emulator.available() then pending("needs the emulator's fault control") return end
    emulator.clear_faults()
    local retrying = env.client{ max_retries = 3, retry_backoff_ms = 1, retry_on_timeout = true }
    local function count(method, path, since)
      local n, log = 0, emulator.requests()
      for i = since + 1, #log do
        if log[i].method == method and log[i].path == path then n = n + 1 end
      end
      return n
    end
    -- the answer to an applied POST is lost: never sent again
    local since = #emulator.requests()
    emulator.fault{ fault = "drop_answer", method = "POST", path = "^/_connector/_secret$", count = 1 }
    local res, err = retrying:perform_request("POST", "/_connector/_secret", { body = { value = "hatch-secret" } })
    emulator.clear_faults()
    assert.is_nil(res)
    assert.are.equal("connection", err.kind)
    assert.are.equal(1, err.attempts)
    assert.are.equal(1, count("POST", "/_connector/_secret", since))
    -- a PUT is idempotent: retried after the same loss
    local id = env.unique("hatch-put")
    local path = "/_connector/" .. core.escape(id)
    since = #emulator.requests()
    emulator.fault{ fault = "drop_answer", method = "PUT", path = "^" .. path:gsub("%p", "%%%0") .. "$", count = 1 }
    assert(retrying:perform_request("PUT", path, { body = { index_name = "search-" .. id } }))
    emulator.clear_faults()
    assert.are.equal(2, count("PUT", path, since))
    -- and the POST went out on a fresh connection, not the kept-alive one
    since = #emulator.requests()
    assert(retrying:perform_request("GET", "/"))
    assert(retrying:perform_request("POST", "/_connector/_secret", { body = { value = "hatch-secret-2" } }))
    local log = emulator.requests()
    local get, post = log[since + 1], log[since + 2]
    assert.are.equal("POST", post.method)
    assert.are.equal(1, post.connection_requests)
    assert.are_not.equal(get.connection, post.connection)
    assert(retrying:perform_request("DELETE", path, { query = { hard = true } }))
    retrying:close()
  end)

  it("returns a 2xx body that is not a JSON object as its value or text", function()
    -- a transport of our own: the emulator has no _cat endpoint
    local answers = {
      { status = 200, headers = { ["content-type"] = "application/json", ["x-elastic-product"] = "Elasticsearch" },
        body = '[{"index":"a"},{"index":"b"}]' },
      { status = 200, headers = { ["content-type"] = "text/plain", ["x-elastic-product"] = "Elasticsearch" },
        body = "a\nb\n" },
      { status = 200, headers = { ["content-type"] = "text/plain" }, body = "not es" },
    }
    local transport = {
      send = function() return table.remove(answers, 1) end,
      now_ms = function() return core.now_ms() end,
      sleep_ms = function() end,
    }
    local fake = esconnector.new{ hosts = "http://127.0.0.1:1", transport = transport }
    table.insert(answers, 3, { status = 200, body = "false",
      headers = { ["content-type"] = "application/json", ["x-elastic-product"] = "Elasticsearch" } })
    local rows = assert(fake:perform_request("GET", "/_cat/indices", { query = { format = "json" } }))
    assert.are.equal("b", rows[2].index)
    assert.are.equal("a\nb\n", assert(fake:perform_request("GET", "/_cat/indices")))
    assert.are.equal("false", fake:perform_request("GET", "/_x")) -- JSON false: its text, not a raise
    local res, err = fake:perform_request("GET", "/_cat/indices")
    assert.is_nil(res)
    assert.are.equal("product", err.kind)
  end)
end)
