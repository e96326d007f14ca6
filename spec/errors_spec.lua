-- Error objects in string contexts (concatenation, tostring, arrays of
-- strings as ngx.say takes them) and as tables of fields.  The real-nginx
-- side (ngx.say, ngx.print, ngx.log) is in scripts/openresty-tests.
local env = require "spec.support.env"
local errors = require "esconnector.errors"
local esconnector = require "esconnector"

describe("error objects", function()
  it("concatenate on either side, with strings, numbers and each other", function()
    local err = errors.new{ kind = "timeout", message = "too slow", node = "http://n:9200" }
    local text = "esconnector: timeout: too slow (http://n:9200)"
    assert.are.equal(text, tostring(err))
    assert.are.equal("failed: " .. text, "failed: " .. err)
    assert.are.equal(text .. "!", err .. "!")
    assert.are.equal("1" .. text, 1 .. err)
    assert.are.equal(text .. text, err .. err)
    assert.are.equal("a " .. text .. " b", "a " .. err .. " b")
  end)

  it("have only array items as own keys, as ngx.say requires", function()
    local err = errors.new{ kind = "http", status = 404, type = "resource_not_found_exception", reason = "gone" }
    local keys = {}
    for k in pairs(err) do keys[#keys + 1] = k end
    assert.are.same({ 1 }, keys)
    assert.are.equal("esconnector: 404 resource_not_found_exception: gone", err[1])
    assert.are.equal("esconnector: 404 resource_not_found_exception: gone", table.concat(err))
  end)

  it("read and write fields like a table; a write renders the message again", function()
    local err = errors.new{ kind = "http", status = 500, reason = "boom" }
    assert.are.equal("http", err.kind)
    assert.are.equal(500, err.status)
    assert.is_nil(err.step)
    err.step = "deliver"
    err.reason = "bang"
    assert.are.equal("deliver", err.step)
    assert.are.equal("esconnector: 500: bang", tostring(err))
    assert.are.same({ kind = "http", status = 500, reason = "bang", step = "deliver" }, errors.fields(err))
    -- fields() is a copy
    errors.fields(err).kind = "other"
    assert.are.equal("http", err.kind)
  end)

  it("are recognised, and new() of an error returns it unchanged", function()
    local err = errors.new{ kind = "decode", message = "x" }
    assert.is_true(errors.is_error(err))
    assert.is_true(esconnector.is_error(err))
    assert.is_false(errors.is_error({ kind = "decode" }))
    assert.is_false(errors.is_error("esconnector: decode"))
    assert.is_false(errors.is_error(setmetatable({}, {})))
    assert.are.equal(err, errors.new(err))
  end)

  it("returned over HTTP concatenate and keep their fields", function()
    if not env.url then pending("ES_URL is not set") return end
    local client = env.client()
    local id = env.unique("errors-missing")
    local res, err = client.connector:get{ connector_id = id }
    client:close()
    assert.is_nil(res)
    assert.are.equal(404, err.status)
    assert.are.equal("resource_not_found_exception", err.type)
    assert.are.equal(1, err.attempts)
    assert.matches("^failed: esconnector: 404 resource_not_found_exception: connector %[", "failed: " .. err)
    local keys = 0
    for _ in pairs(err) do keys = keys + 1 end
    assert.are.equal(1, keys)
  end)
end)
