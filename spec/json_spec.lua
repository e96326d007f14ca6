-- JSON that behaves the same on Debian's lua-cjson and the OpenResty fork.
local json = require "esconnector.json"
local cjson = require "cjson"

describe("esconnector.json", function()
  it("keeps an empty array an array and an empty table an object", function()
    local text = json.encode({ a = json.array(), b = {} })
    assert.are.same({ a = "[]", b = "{}" }, { a = text:match('"a":(%b[])'), b = text:match('"b":(%b{})') })
    assert.are.equal("[[]]", json.encode({ json.array() }))
  end)

  it("does not escape slashes", function()
    assert.are.equal('{"id":"a/b"}', json.encode({ id = "a/b" }))
    assert.are.equal('["a\\\\/b"]', json.encode({ "a\\/b" }))
    assert.are.same({ "a\\/b" }, json.decode(json.encode({ "a\\/b" })))
  end)

  it("does not mutate what it encodes", function()
    local t = { list = json.array() }
    json.encode(t)
    assert.is_true(json.is_array(t.list))
    assert.is_nil(next(t.list))
  end)

  it("decodes integers as integers where Lua has them", function()
    local v = json.decode('{"count":3,"ratio":1.5,"big":1700000000000}')
    assert.are.equal("3", tostring(v.count))
    assert.are.equal("1700000000000", tostring(v.big))
    assert.are.equal(1.5, v.ratio)
  end)

  it("returns nil and a message for bad JSON", function()
    local v, err = json.decode("{nope")
    assert.is_nil(v)
    assert.is_string(err)
  end)

  it("encodes null and leaves the global cjson settings alone", function()
    assert.are.equal('{"a":null}', json.encode({ a = json.null }))
    assert.are.equal('"a\\/b"', cjson.encode("a/b"))
  end)
end)
