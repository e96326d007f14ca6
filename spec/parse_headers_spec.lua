-- core.parse_headers: the response head parser the curl transport uses (a
-- pure unit, also fuzzed), on empty, huge, odd and hostile heads; and
-- core.interpret on statuses that are not ones.
local core = require "esconnector.core"

describe("core.parse_headers", function()
  it("reads an empty or status-only head as no headers", function()
    assert.are.same({}, core.parse_headers(""))
    assert.are.same({}, core.parse_headers("HTTP/1.1 200 OK\r\n\r\n"))
    assert.are.same({}, core.parse_headers("HTTP/1.1 200 x-elastic-product: Elasticsearch\r\n"))
  end)

  it("lower-cases names, trims values, joins repeats with ', '", function()
    assert.are.same({ ["www-authenticate"] = "Basic realm=\"x\", ApiKey", ["x-a"] = "1" },
      core.parse_headers("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate:  Basic realm=\"x\" \r\n"
        .. "X-A:1\r\nwww-authenticate: ApiKey\r\n\r\n"))
  end)

  it("skips lines that are not 'token: value' and stops at the blank line", function()
    assert.are.same({ ok = "yes" }, core.parse_headers("HTTP/1.1 200 OK\r\nBad Name: x\r\n: empty\r\nno colon\r\n"
      .. "ok: yes\r\n\r\nX-elastic-product: Other\r\n"))
  end)

  it("joins folded lines to the header above, and drops a fold with none above", function()
    assert.are.same({ a = "1 2 3" }, core.parse_headers(" stray\r\nA: 1\r\n 2\r\n\t3\r\n"))
  end)

  it("keeps NUL and CR bytes inside a value, never LF", function()
    local h = core.parse_headers("A: x\0y\rz\r\nB: 2\n\n")
    assert.are.equal("x\0y\rz", h.a)
    assert.are.equal("2", h.b)
  end)

  it("lower-cases names of any length, short or past 64 bytes, folded or not", function()
    local name64, name65, huge = ("N"):rep(64), ("N"):rep(65), ("Long-Name-"):rep(10000)
    local h = core.parse_headers(name64 .. ":  a \r\n" .. name65 .. ": b\r\n" .. huge .. ": c\r\n d\r\n"
      .. "Empty:\r\n\r\n")
    assert.are.equal("a", h[name64:lower()])
    assert.are.equal("b", h[name65:lower()])
    assert.are.equal("c d", h[huge:lower()])
    assert.are.equal("", h.empty)
  end)

  it("reads 100000 headers and a 1 MB value", function()
    local lines = { "HTTP/1.1 200 OK" }
    for i = 1, 100000 do lines[#lines + 1] = "X-" .. i .. ": " .. i end
    lines[#lines + 1] = "Big: " .. ("v"):rep(1024 * 1024)
    local h = core.parse_headers(table.concat(lines, "\r\n") .. "\r\n\r\n")
    assert.are.equal("77777", h["x-77777"])
    assert.are.equal(1024 * 1024, #h.big)
  end)
end)

describe("core.interpret with a status that is not one", function()
  it("reads NaN, huge, negative, fractional and non-numbers as no status", function()
    for _, status in ipairs{ 0 / 0, 1e300, -1, -1e300, math.huge, "200", 200.5 } do
      local res, err = core.interpret({ status = status, headers = { ["x-elastic-product"] = "Elasticsearch" },
        body = "" }, function() return {} end)
      assert.is_nil(res)
      assert.are.equal("http", err.kind)
      assert.is_nil(err.status)
    end
  end)
end)
