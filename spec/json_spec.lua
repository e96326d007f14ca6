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

  describe("integers past 2^53 in what it decodes", function()
    local exact = math.type ~= nil -- Lua 5.3+: integers of their own

    it("reads them exactly where Lua has integers, and as the nearest double elsewhere", function()
      local v = assert(json.decode('{"a":9007199254740993,"min":-9223372036854775808,'
        .. '"max":9223372036854775807,"list":[12345678901234567,1,-1234567890123456],"small":3}'))
      if exact then
        assert.are.equal("9007199254740993", tostring(v.a))
        assert.are.equal(math.mininteger, v.min)
        assert.are.equal(math.maxinteger, v.max)
        assert.are.equal("integer", math.type(v.list[1]))
        assert.are.equal("12345678901234567", tostring(v.list[1]))
        assert.are.equal("-1234567890123456", tostring(v.list[3]))
        assert.are.equal("3", tostring(v.small))
        -- and they go back out as they came
        assert.matches('"a":9007199254740993', json.encode(v), 1, true)
      else
        assert.are.equal(9007199254740992, v.a)
        assert.are.equal(12345678901234567, v.list[1])
      end
    end)

    it("leaves integers beyond 64 bits, fractions, exponents and leading zeros to cjson (doubles)", function()
      local text = '[18446744073709551616,1234567890123456789.5,12345678901234567e2,-12345678901234567E-2,'
        .. '01234567890123456789]' -- (cjson takes a leading zero)
      local v = assert(json.decode(text))
      assert.are.same(cjson.decode(text), v)
      for i = 1, 5 do assert.are.equal("number", type(v[i])) end
    end)

    it("leaves digits inside strings alone, escaped quotes and all", function()
      local text = '{"id":"12345678901234567890","esc":"a\\"12345678901234567890\\\\",'
        .. '"12345678901234567890":"key","mark":"esconnector:integer:00:12345678901234567"}'
      assert.are.same(cjson.decode(text), assert(json.decode(text)))
    end)

    it("keeps a server's string that looks like its mark, reading that answer as cjson does", function()
      local text = '{"s":"esconnector:integer:12345678901234567","n":9007199254740993,"t":"esconnector:integer:"}'
      local v = assert(json.decode(text))
      assert.are.equal("esconnector:integer:12345678901234567", v.s)
      assert.are.equal("esconnector:integer:", v.t)
      assert.are.equal(cjson.decode(text).n, v.n) -- the nearest double, as before
    end)

    it("refuses what is not JSON, as cjson does", function()
      for _, text in ipairs{ '["never closed 12345678901234567',
                             "[12345678901234567", "[12345678901234567-1]", "x12345678901234567",
                             "{12345678901234567:1}" } do -- (a number for a key: marked, it would pass)
        local v, err = json.decode(text)
        assert.is_nil(v, text)
        assert.is_string(err)
      end
    end)

    it("gives back what it encoded, for random documents (strings full of digits, quotes, escapes)", function()
      local seed = os.time()
      math.randomseed(seed)
      local ALPHABET = { "0", "1", "9", '"', "\\", "/", "e", "-", ".", ":", "\n", "\0", "\1", "\255", "a" }
      local function random_string()
        local t = {}
        for i = 1, math.random(0, 40) do t[i] = ALPHABET[math.random(#ALPHABET)] end
        return table.concat(t)
      end
      local function random_integer()
        local digits = math.random(1, exact and 19 or 15)
        local t = { tostring(math.random(1, 9)) }
        for i = 2, digits do t[i] = tostring(math.random(0, 9)) end
        local v = math.tointeger and math.tointeger(tonumber(table.concat(t)))
          or tonumber(table.concat(t))
        if not v then v = 42 end -- (19 digits past the 64-bit range)
        return math.random(2) == 1 and -v or v
      end
      local function random_value(depth)
        local pick = math.random(depth > 4 and 3 or 5)
        if pick == 1 then return random_integer() end
        if pick == 2 then return random_string() end
        if pick == 3 then return math.random(2) == 1 end
        local t = {}
        if pick == 4 then
          -- (not empty: an empty array comes back as a plain table)
          for i = 1, math.random(1, 6) do t[i] = random_value(depth + 1) end
          return json.array(t)
        end
        for _ = 1, math.random(0, 6) do t[random_string() .. random_integer()] = random_value(depth + 1) end
        return t
      end
      for round = 1, 300 do
        local doc = { random_value(0), random_value(0) }
        local text = assert(json.encode(doc))
        local back = assert(json.decode(text))
        -- (5.3+ compares an integer with a float exactly: a rounded one fails)
        assert.are.same(doc, back, ("seed %d, round %d: %s"):format(seed, round, text))
      end
    end)

    it("reads thousands of them, nested deep", function()
      local parts = {}
      for i = 1, 5000 do parts[i] = tostring(9007199254740993 + i) end
      local text = ("["):rep(200) .. "[" .. table.concat(parts, ",") .. "]" .. ("]"):rep(200)
      local v = assert(json.decode(text))
      for _ = 1, 200 do v = v[1] end
      assert.are.equal(5000, #v)
      if exact then
        assert.are.equal("9007199254740994", tostring(v[1]))
        assert.are.equal("9007199254745993", tostring(v[5000]))
      end
    end)
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
