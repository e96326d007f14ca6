-- Failures below HTTP: each comes back as nil, err with its kind, curl's
-- message and the node, and the client keeps working afterwards.
local env = require "spec.support.env"
local esconnector = require "esconnector"

describe("transport errors", function()
  it("reports a refused connection as a connection error", function()
    local client = esconnector.new{ hosts = { "http://127.0.0.1:1" }, connect_timeout_ms = 2000, max_retries = 0 }
    local res, err = client:info()
    assert.is_nil(res)
    assert.are.equal("connection", err.kind)
    assert.matches("127.0.0.1", err.message)
    assert.are.equal("http://127.0.0.1:1", err.node)
    assert.are.equal(1, err.attempts)
    assert.matches("^esconnector: connection: .+%(http://127.0.0.1:1%)$", tostring(err))
    client:close()
  end)

  it("reports TLS spoken to a plain HTTP port as a tls error, then works again", function()
    local client = esconnector.new(env.options{ hosts = { "https://" .. env.host_port() }, max_retries = 0 })
    local _, err = client:info()
    assert.are.equal("tls", err.kind)
    assert.is_string(err.message)
    client:close()
    client = env.client()
    assert(client:info())
    client:close()
  end)

  it("retries a refused connection max_retries times, backing off, and records each attempt", function()
    local requests, responses = {}, {}
    local client = esconnector.new{ hosts = { "http://127.0.0.1:1" }, max_retries = 2, retry_backoff_ms = 10,
      max_retry_backoff_ms = 20,
      on_request = function(e) requests[#requests + 1] = e end,
      on_response = function(e) responses[#responses + 1] = e end }
    local _, err = client:info()
    assert.are.equal("connection", err.kind)
    assert.are.equal(3, err.attempts)
    assert.are.equal(3, #err.history)
    assert.are.equal(3, #requests)
    assert.are.same({ 1, 2, 3 }, { requests[1].attempt, requests[2].attempt, requests[3].attempt })
    assert.are.equal("http://127.0.0.1:1/", requests[1].url)
    assert.are.equal("connection", responses[3].kind)
    client:close()
  end)

  it("refuses to use a closed client", function()
    local client = esconnector.new{ hosts = { "http://127.0.0.1:1" } }
    client:close()
    assert.has_error(function() client:info() end, "esconnector: the curl transport is closed")
  end)
end)
