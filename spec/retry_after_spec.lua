-- 429 and Retry-After: retried only when retry_on_status lists 429, after
-- the wait the server asks for, and never past the call's deadline.  Over
-- real HTTP against the emulator's status fault (with its Retry-After).
local env = require "spec.support.env"
local emulator = require "spec.support.emulator"
local client_module = require "esconnector.client"
local core = require "esconnector.core"

describe("Retry-After values", function()
  local retry_after_ms = client_module.retry_after_ms
  it("reads delay-seconds and the three HTTP date forms", function()
    local now = 784111777 -- Sun, 06 Nov 1994 08:49:37 GMT
    assert.are.equal(2000, retry_after_ms("2", now))
    assert.are.equal(0, retry_after_ms(" 0 ", now))
    assert.are.equal(5000, retry_after_ms("Sun, 06 Nov 1994 08:49:42 GMT", now))
    assert.are.equal(5000, retry_after_ms("Sunday, 06-Nov-94 08:49:42 GMT", now))
    assert.are.equal(5000, retry_after_ms("Sun Nov  6 08:49:42 1994", now))
    assert.are.equal(86400000 + 5000, retry_after_ms("Mon, 07 Nov 1994 08:49:42 GMT", now))
    assert.are.equal(0, retry_after_ms("Sat, 05 Nov 1994 08:49:37 GMT", now)) -- in the past
    assert.are.equal(0, retry_after_ms("Thu, 01 Jan 1970 00:00:00 GMT", now))
    assert.are.equal(951782400 - now, retry_after_ms("Tue, 29 Feb 2000 00:00:00 GMT", now) / 1000)
  end)

  it("refuses what is neither", function()
    for _, bad in ipairs{ "", "-1", "1.5", "soon", "Sun, 06 Xyz 1994 08:49:42 GMT", "Sun, 06 Nov 1994 08:49:42",
                          "2 s", false } do
      assert.is_nil(retry_after_ms(bad or nil), tostring(bad))
    end
  end)

  it("and retry_on_status must list error statuses", function()
    local esconnector = require "esconnector"
    for _, bad in ipairs{ { 200 }, { "429" }, { 429.5 }, { 600 } } do
      assert.is_false(pcall(esconnector.new, { hosts = "http://127.0.0.1:1", retry_on_status = bad }))
    end
    assert(esconnector.new{ hosts = "http://127.0.0.1:1", retry_on_status = { 429, 503 } })
  end)
end)

describe("429 with Retry-After over HTTP #timing", function()
  local attempts
  local function client(extra)
    attempts = {}
    extra = extra or {}
    extra.on_response = function(e) attempts[#attempts + 1] = e.status end
    return env.client(extra)
  end
  local function timed(c, ...)
    local started = core.now_ms()
    local res, err = c:info(...)
    local elapsed = core.now_ms() - started
    c:close()
    emulator.clear_faults()
    return res, err, elapsed
  end

  before_each(function()
    if not emulator.available() then pending("needs the emulator's fault control") end
    emulator.clear_faults()
  end)

  it("is not retried by default", function()
    if not emulator.available() then return end
    emulator.fault{ fault = "status", status = 429, path = "^/$", retry_after = "1" }
    local res, err = timed(client())
    assert.is_nil(res)
    assert.are.equal(429, err.status)
    assert.are.equal(1, err.attempts)
  end)

  it("is retried after the seconds Retry-After gives", function()
    if not emulator.available() then return end
    emulator.fault{ fault = "status", status = 429, path = "^/$", retry_after = "1" }
    local res, err, elapsed = timed(client{ retry_on_status = { 429 }, retry_backoff_ms = 1 })
    assert(res, err and tostring(err))
    assert.are.same({ 429, 200 }, attempts)
    assert.is_true(elapsed >= 1000, ("only %.0f ms"):format(elapsed))
    assert.is_true(elapsed < 3000, ("%.0f ms"):format(elapsed))
  end)

  it("is retried at the HTTP date Retry-After gives", function()
    if not emulator.available() then return end
    local at = os.time() + 2
    emulator.fault{ fault = "status", status = 429, path = "^/$",
      retry_after = os.date("!%a, %d %b %Y %H:%M:%S GMT", at) }
    local res, err, elapsed = timed(client{ retry_on_status = { 429 }, retry_backoff_ms = 1 })
    assert(res, err and tostring(err))
    assert.are.same({ 429, 200 }, attempts)
    assert.is_true(os.time() >= at, "retried before the date")
    assert.is_true(elapsed < 3500, ("%.0f ms"):format(elapsed))
  end)

  it("fails at once when Retry-After is past the deadline, never waiting past it", function()
    if not emulator.available() then return end
    emulator.fault{ fault = "status", status = 429, path = "^/$", retry_after = "5" }
    local res, err, elapsed = timed(client{ retry_on_status = { 429 }, deadline_ms = 2000 })
    assert.is_nil(res)
    assert.are.equal(429, err.status)
    assert.are.equal(1, err.attempts)
    assert.are.equal(5000, err.retry_after_ms)
    assert.is_true(elapsed < 1000, ("waited %.0f ms"):format(elapsed))
    -- a per-call deadline counts the same way
    emulator.fault{ fault = "status", status = 429, path = "^/$", retry_after = "3" }
    res, err, elapsed = timed(client{ retry_on_status = { 429 } }, nil, { deadline_ms = 2500 })
    assert.is_nil(res)
    assert.are.equal(3000, err.retry_after_ms)
    assert.is_true(elapsed < 1000, ("waited %.0f ms"):format(elapsed))
  end)

  it("without a deadline, waits no longer than the request timeout", function()
    if not emulator.available() then return end
    emulator.fault{ fault = "status", status = 429, path = "^/$", retry_after = "3" }
    local res, err, elapsed = timed(client{ retry_on_status = { 429 }, request_timeout_ms = 1500 })
    assert.is_nil(res)
    assert.are.equal(429, err.status)
    assert.is_true(elapsed < 1000, ("waited %.0f ms"):format(elapsed))
  end)

  it("keeps retrying within max_retries, each time after the wait asked", function()
    if not emulator.available() then return end
    emulator.fault{ fault = "status", status = 429, path = "^/$", retry_after = "0", count = 3 }
    local res, err = timed(client{ retry_on_status = { 429 }, max_retries = 2, retry_backoff_ms = 1 })
    assert.is_nil(res)
    assert.are.same({ 429, 429, 429 }, attempts)
    assert.are.equal(3, err.attempts)
  end)
end)
