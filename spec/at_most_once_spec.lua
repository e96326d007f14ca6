-- Calls that create (security.create_api_key, connector.secret_post, ...)
-- go out at most once: never retried after a lost answer, and never on a
-- kept-alive connection that may be stale.  Counted in the emulator's
-- request log over real HTTP.
local env = require "spec.support.env"
local emulator = require "spec.support.emulator"
local client_module = require "esconnector.client"

describe("at most once for calls that create", function()
  it("marks the creating APIs as not idempotent, and the rest as idempotent", function()
    local idempotent = client_module.IDEMPOTENT
    for _, api in ipairs({ "security.create_api_key", "security.grant_api_key", "connector.secret_post",
                           "connector.post", "connector.sync_job_post" }) do
      assert.is_false(idempotent[api], api)
    end
    for _, api in ipairs({ "connector.get", "connector.put", "connector.update_api_key_id", "connector.secret_put",
                           "connector.secret_delete", "security.invalidate_api_key", "security.query_api_keys",
                           "security.update_api_key" }) do
      assert.is_true(idempotent[api], api)
    end
  end)

  if not emulator.available() or not (env.username and env.username ~= "") then
    pending("needs the emulator's fault injection and a secured cluster")
    return
  end

  local client
  before_each(function()
    emulator.clear_faults()
    client = env.user_client{ max_retries = 3, retry_backoff_ms = 1 }
  end)
  after_each(function()
    emulator.clear_faults()
    client:close()
  end)

  -- The logged requests matching method and path pattern, since `since`
  -- entries of the log.
  local function logged(method, pattern, since)
    local out = {}
    local log = emulator.requests()
    for i = (since or 0) + 1, #log do
      local r = log[i]
      if r.method == method and r.path:find(pattern) then out[#out + 1] = r end
    end
    return out
  end

  it("sends create_api_key once when its answer is lost after it was applied", function()
    local name = env.unique("once")
    local since = #emulator.requests()
    emulator.fault{ fault = "drop_answer", method = "PUT", path = "^/_security/api_key$", count = 1 }
    local key, err = client.security:create_api_key{ name = name }
    assert.is_nil(key)
    assert.are.equal("connection", err.kind)
    assert.are.equal(1, err.attempts)
    local sent = logged("PUT", "^/_security/api_key$", since)
    assert.are.equal(1, #sent)
    assert.are.equal(444, sent[1].status)
    -- it was applied: exactly one key with that name exists
    local found = assert(client.security:get_api_key{ name = name })
    assert.are.equal(1, #found.api_keys)
  end)

  it("sends secret_post once when its answer is lost after it was applied", function()
    local since = #emulator.requests()
    emulator.fault{ fault = "drop_answer", method = "POST", path = "^/_connector/_secret$", count = 1 }
    local res, err = client.connector:secret_post{ value = "at-most-once-" .. env.unique("v") }
    assert.is_nil(res)
    assert.are.equal(1, err.attempts)
    assert.are.equal(1, #logged("POST", "^/_connector/_secret$", since))
  end)

  it("does not resend a create on a timeout either, while an idempotent call is retried #timing", function()
    local id = env.unique("once-put")
    local since = #emulator.requests()
    emulator.fault{ fault = "drop_answer", method = "PUT", path = "^/_connector/" .. id:gsub("%p", "%%%0") .. "$",
      count = 1 }
    assert(client.connector:put{ connector_id = id, index_name = "search-" .. id })
    assert.are.equal(2, #logged("PUT", "^/_connector/" .. id:gsub("%p", "%%%0") .. "$", since))

    local timed = env.user_client{ max_retries = 3, retry_on_timeout = true, retry_backoff_ms = 1,
      request_timeout_ms = 300 }
    since = #emulator.requests()
    emulator.fault{ fault = "delay_answer", ms = 600, method = "PUT", path = "^/_security/api_key$", count = 1 }
    local key, err = timed.security:create_api_key{ name = env.unique("once-timeout") }
    timed:close()
    assert.is_nil(key)
    assert.are.equal("timeout", err.kind)
    require("esconnector.core").sleep_ms(500) -- the log entry is written once the late answer was
    assert.are.equal(1, #logged("PUT", "^/_security/api_key$", since))
    assert(client.connector:delete{ connector_id = id, hard = true })
  end)

  it("tries a create again, on the next node, only when no connection was made (nothing was sent)", function()
    -- 127.0.0.1:1: nothing listens there, so the connection is refused
    local failures = {}
    local two = env.user_client{ hosts = { "http://127.0.0.1:1", env.url }, max_retries = 3, retry_backoff_ms = 1,
      on_response = function(r) if r.kind then failures[#failures + 1] = r end end }
    local since = #emulator.requests()
    local names = { env.unique("refused"), env.unique("refused") }
    for _, name in ipairs(names) do -- round robin: one of the two starts on the closed port
      assert(two.security:create_api_key{ name = name })
    end
    two:close()
    assert.are.equal(2, #logged("PUT", "^/_security/api_key$", since))
    assert.is_true(#failures >= 1)
    assert.are.equal("connection", failures[1].kind)
    assert.are.equal("http://127.0.0.1:1", failures[1].node)
    -- nowhere to go: every attempt refused, all of them counted
    local dead = env.user_client{ hosts = { "http://127.0.0.1:1" }, max_retries = 2, retry_backoff_ms = 1 }
    local key, err = dead.security:create_api_key{ name = env.unique("refused") }
    dead:close()
    assert.is_nil(key)
    assert.are.equal("connection", err.kind)
    assert.are.equal(3, err.attempts)
  end)

  it("sends a create on a new connection, never on a kept-alive one", function()
    local since = #emulator.requests()
    assert(client:info())
    assert(client:info())
    assert(client.security:create_api_key{ name = env.unique("fresh") })
    assert(client:info())
    local gets = logged("GET", "^/$", since)
    local put = logged("PUT", "^/_security/api_key$", since)[1]
    -- the GETs share a kept-alive connection; the create has one of its own
    assert.are.equal(gets[1].connection, gets[2].connection)
    assert.are.equal(2, gets[2].connection_requests)
    assert.are.equal(1, put.connection_requests)
    assert.are_not.equal(gets[1].connection, put.connection)
  end)
end)
