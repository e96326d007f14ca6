-- esconnector.new: options, namespaces, and what the client never shows.
local esconnector = require "esconnector"

describe("esconnector.new", function()
  it("raises on a misspelt option, naming it", function()
    assert.has_error(function() esconnector.new{ hostz = { "http://x:9200" } } end)
    local ok, msg = pcall(esconnector.new, { hostz = { "http://x:9200" } })
    assert.is_false(ok)
    assert.matches("unknown option 'hostz'", msg)
  end)

  it("raises on an option of the wrong type", function()
    local ok, msg = pcall(esconnector.new, { request_timeout_ms = "10" })
    assert.is_false(ok)
    assert.matches("request_timeout_ms' must be a number", msg)
  end)

  it("raises on numbers out of range, naming the option", function()
    for _, options in ipairs({ { request_timeout_ms = 0 }, { connect_timeout_ms = -5 }, { max_retries = -1 },
                               { max_response_bytes = 0 }, { compatible_with = 7 } }) do
      local ok, msg = pcall(esconnector.new, options)
      assert.is_false(ok)
      assert.matches(next(options), msg, 1, true)
    end
    local client = esconnector.new{ hosts = "http://127.0.0.1:1", max_retries = 0 }
    local ok, msg = pcall(client.info, client, nil, { deadline_ms = 0 })
    assert.is_false(ok)
    assert.matches("deadline_ms' must be at least 1", msg, 1, true)
    client:close()
  end)

  it("raises on a host that is not an http(s) URL", function()
    assert.is_false(pcall(esconnector.new, { hosts = { "es1:9200" } }))
    assert.is_false(pcall(esconnector.new, { hosts = { "ftp://es1" } }))
    assert.is_false(pcall(esconnector.new, { hosts = {} }))
  end)

  it("raises on headers with CR or LF", function()
    assert.is_false(pcall(esconnector.new, { hosts = "http://x", headers = { ["X-A"] = "a\r\nX-B: b" } }))
  end)

  it("decodes a cloud_id to its Elasticsearch URL as the official clients do", function()
    local core = require "esconnector.core"
    local function url_of(host_part)
      return tostring(esconnector.new{ cloud_id = "my-deployment:" .. core.base64(host_part) })
    end
    assert.are.equal("esconnector.client (https://abc123.us-east-1.aws.found.io)",
      url_of("us-east-1.aws.found.io$abc123$kib456"))
    assert.are.equal("esconnector.client (https://abc123.us-east-1.aws.found.io)",
      url_of("us-east-1.aws.found.io:443$abc123$kib456"))
    assert.are.equal("esconnector.client (https://abc123.example.com:9243)",
      url_of("example.com:9243$abc123"))
    -- and, as theirs, compresses by default there; derive() keeps it
    local cloud_id = "d:" .. core.base64("example.com$abc123")
    local cloud = esconnector.new{ cloud_id = cloud_id }
    assert.is_true(cloud.http_compress)
    assert.is_true(cloud:derive{ api_key = "k" }.http_compress)
    assert.is_false(esconnector.new{ cloud_id = cloud_id, http_compress = false }.http_compress)
    assert.is_false(esconnector.new{ hosts = "http://a:9200" }.http_compress)
    assert.is_false(pcall(esconnector.new, { cloud_id = "nonsense" }))
    assert.is_false(pcall(esconnector.new, { cloud_id = "x:" .. core.base64("only-host") }))
    assert.is_false(pcall(esconnector.new, { cloud_id = "x:" .. core.base64("h$i"), hosts = "http://a:9200" }))
  end)

  it("sends its headers, per-call headers and the opaque id, and shows them to observers", function()
    local seen
    local client = esconnector.new{ hosts = "http://127.0.0.1:1", max_retries = 0, api_key = "SECRET",
      headers = { ["X-Team"] = "search" }, on_request = function(e) seen = e.headers end }
    client:info(nil, { opaque_id = "job-42", headers = { ["X-Call"] = "1" } })
    local all = table.concat(seen, "\n")
    assert.matches("X%-Team: search", all)
    assert.matches("X%-Call: 1", all)
    assert.matches("X%-Opaque%-Id: job%-42", all)
    assert.matches("Accept: application/vnd.elasticsearch%+json; compatible%-with=8", all)
    assert.matches("User%-Agent: esconnector/", all)
    assert.matches("Authorization: %[redacted%]", all)
    assert.is_false(pcall(client.info, client, nil, { opaque_id = "a\r\nX-Evil: 1" }))
    client:close()
  end)

  it("builds namespaces from the catalog", function()
    local client = esconnector.new{ hosts = "http://127.0.0.1:9200" }
    assert.is_function(client.connector.update_api_key_id)
    assert.is_function(client.connector.get)
    assert.is_function(client.info)
    client:close()
  end)

  it("accepts the older connector_secret names as aliases", function()
    local client = esconnector.new{ hosts = "http://127.0.0.1:1" }
    assert.are.equal(client.connector.secret_get, client.connector_secret.get)
    assert.are.equal(client.connector.secret_post, client.connector_secret.post)
    local _, err = client.connector_secret:get{ id = "" }
    assert.are.equal("connector.secret_get", err.api)
    assert.are.equal("Validation Failed: 1: [id] of the connector secret cannot be null or empty.;", err.reason)
    client:close()
  end)

  it("accepts the older connector_sync_job names as aliases, as methods and as API names", function()
    local client = esconnector.new{ hosts = "http://127.0.0.1:1" }
    assert.are.equal(client.connector.sync_job_post, client.connector_sync_job.post)
    assert.are.equal(client.connector.sync_job_get, client.connector_sync_job.get)
    assert.is_nil(client.connector_sync_job.put)
    local _, err = client.connector_sync_job:get{ connector_sync_job_id = "" }
    assert.are.equal("connector.sync_job_get", err.api)
    _, err = client:request("connector_sync_job.cancel", { connector_sync_job_id = "" })
    assert.are.equal("connector.sync_job_cancel", err.api)
    assert.are.equal("Validation Failed: 1: [connector_sync_job_id] of the connector sync job cannot be null "
      .. "or empty.;", err.reason)
    client:close()
  end)

  it("raises when params is not a table", function()
    local client = esconnector.new{ hosts = "http://127.0.0.1:9200" }
    assert.has_error(function() client.connector:get("my-connector") end)
    assert.has_error(function() client.connector:get({}, { nope = true }) end)
  end)

  it("returns validation errors as nil, err with the ES wording", function()
    local client = esconnector.new{ hosts = "http://127.0.0.1:1" }
    local res, err = client.connector:update_api_key_id{ connector_id = "" , api_key_id = "k" }
    assert.is_nil(res)
    assert.is_true(esconnector.is_error(err))
    assert.are.equal("validation", err.kind)
    assert.are.equal("connector.update_api_key_id", err.api)
    assert.are.equal('esconnector: validation action_request_validation_exception: '
      .. 'Validation Failed: 1: [connector_id] cannot be [null] or [""].;', tostring(err))
  end)

  it("never shows credentials in tostring or in its fields", function()
    local sentinel = "SENTINEL-s3cr3t"
    local clients = {
      esconnector.new{ hosts = "http://127.0.0.1:1", api_key = sentinel, max_retries = 0 },
      esconnector.new{ hosts = "http://127.0.0.1:1", api_key = { id = "id", api_key = sentinel }, max_retries = 0 },
      esconnector.new{ hosts = "http://127.0.0.1:1", basic_auth = { "elastic", sentinel }, max_retries = 0 },
      esconnector.new{ hosts = "http://elastic:" .. sentinel .. "@127.0.0.1:1", max_retries = 0 },
    }
    local function contains_sentinel(v, seen)
      seen = seen or {}
      if type(v) == "string" then return v:find(sentinel, 1, true) ~= nil end
      if type(v) ~= "table" or seen[v] then return false end
      seen[v] = true
      for k, child in pairs(v) do
        if contains_sentinel(k, seen) or contains_sentinel(child, seen) then return true end
      end
      return false
    end
    for _, client in ipairs(clients) do
      assert.is_nil(tostring(client):find(sentinel, 1, true))
      assert.is_false(contains_sentinel(client))
      local _, err = client.connector:get{ connector_id = "c" }
      assert.are.equal("connection", err.kind)
      assert.is_nil(tostring(err):find(sentinel, 1, true))
      assert.is_false(contains_sentinel(err))
    end
    assert.are.equal("esconnector.client (http://127.0.0.1:1)", tostring(clients[4]))
  end)
end)
