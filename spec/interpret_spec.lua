-- The C core's response interpretation (no I/O).
local core = require "esconnector.core"
local json = require "esconnector.json"

local ES = { ["x-elastic-product"] = "Elasticsearch", ["content-type"] = "application/json" }

local function response(status, body, headers)
  return { status = status, body = body, headers = headers or ES }
end

describe("core.interpret", function()
  it("returns the decoded body of a 2xx", function()
    local res = core.interpret(response(200, '{"result":"updated"}'), json.decode)
    assert.are.same({ result = "updated" }, res)
  end)

  it("accepts the vendored media type", function()
    local res = core.interpret(response(200, '{"result":"noop"}', {
      ["x-elastic-product"] = "Elasticsearch",
      ["content-type"] = "application/vnd.elasticsearch+json;compatible-with=8" }), json.decode)
    assert.are.same({ result = "noop" }, res)
  end)

  it("refuses a 2xx without the product header", function()
    local res, err = core.interpret(response(200, '{"result":"updated"}',
      { ["content-type"] = "application/json" }), json.decode)
    assert.is_nil(res)
    assert.are.equal("product", err.kind)
    assert.are.equal(200, err.status)
    assert.matches("not Elasticsearch", err.message)
  end)

  it("does not ask a non-2xx for the product header", function()
    local _, err = core.interpret(response(502, "bad gateway", { ["content-type"] = "text/html" }),
      json.decode)
    assert.are.equal("http", err.kind)
    assert.are.equal(502, err.status)
    assert.are.equal("bad gateway", err.body)
  end)

  it("maps an error object to type, reason and root_cause", function()
    local body = '{"error":{"root_cause":[{"type":"document_missing_exception","reason":"[x]: document missing"}],'
      .. '"type":"document_missing_exception","reason":"[x]: document missing","index":".elastic-connectors-v1"},'
      .. '"status":404}'
    local _, err = core.interpret(response(404, body), json.decode)
    assert.are.equal("http", err.kind)
    assert.are.equal(404, err.status)
    assert.are.equal("document_missing_exception", err.type)
    assert.are.equal("[x]: document missing", err.reason)
    assert.are.equal("document_missing_exception", err.root_cause[1].type)
    assert.are.equal(".elastic-connectors-v1", err.body.error.index)
  end)

  it("maps a plain string error to reason", function()
    local _, err = core.interpret(response(405,
      '{"error":"Incorrect HTTP method for uri [/_connector/x/_api_key_id] and method [GET], allowed: [PUT]",'
      .. '"status":405}'), json.decode)
    assert.are.equal(405, err.status)
    assert.is_nil(err.type)
    assert.matches("^Incorrect HTTP method", err.reason)
  end)

  it("reports an undecodable body as a decode error", function()
    local _, err = core.interpret(response(200, '{"result":'), json.decode)
    assert.are.equal("decode", err.kind)
    assert.are.equal(200, err.status)
    assert.are.equal('{"result":', err.body)
    assert.matches("cannot decode", err.message)
  end)

  it("reports a 2xx that is not JSON as a decode error", function()
    local _, err = core.interpret(response(200, "<html>", {
      ["x-elastic-product"] = "Elasticsearch", ["content-type"] = "text/html" }), json.decode)
    assert.are.equal("decode", err.kind)
    assert.matches("text/html", err.message)
  end)

  it("gives an empty table for an empty 2xx", function()
    assert.are.same({}, core.interpret(response(200, ""), json.decode))
  end)
end)

-- The curl transport hands interpret the raw head (response.head) and makes
-- response.headers only when something reads it: interpret must read the
-- same values from the raw head as from the table the head parses into.
describe("core.interpret on a raw head", function()
  local function both(head, status, body)
    local raw = { status = status, head = head, body = body }
    local parsed = { status = status, headers = core.parse_headers(head), body = body }
    local r1, e1 = core.interpret(raw, json.decode)
    local r2, e2 = core.interpret(parsed, json.decode)
    return r1, e1, r2, e2
  end

  it("answers as from the parsed table, whatever the shape of the two headers it reads", function()
    local heads = {
      "HTTP/1.1 200 OK\r\nX-Elastic-Product: Elasticsearch\r\nContent-Type: application/json\r\n\r\n",
      "HTTP/1.1 200 OK\r\nx-elastic-product:Elasticsearch  \r\ncontent-type:\tapplication/json\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", -- no product
      "HTTP/1.1 200 OK\r\nX-Elastic-Product: Elasticsearch\r\nX-Elastic-Product: Elasticsearch\r\n"
        .. "Content-Type: application/json\r\n\r\n", -- repeated: "Elasticsearch, Elasticsearch"
      "HTTP/1.1 200 OK\r\nX-Elastic-Product: Elastic\r\n search\r\nContent-Type: application/json\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Elastic-Product: Elasticsearch\r\nContent-Type: text/plain\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Elastic-Product: Elasticsearch\r\nContent-Type: application/json\r\n\r\n"
        .. "X-Elastic-Product: Other\r\n", -- a trailer is not a header
      "HTTP/1.1 200 OK\r\nX-Elastic-Product : Elasticsearch\r\nContent-Type: application/json\r\n\r\n",
      "HTTP/1.1 200 OK\r\n",
      "",
    }
    for i, head in ipairs(heads) do
      for _, status in ipairs{ 200, 404 } do
        local r1, e1, r2, e2 = both(head, status, '{"result":"updated"}')
        assert.are.same(r2, r1, "head " .. i)
        assert.are.same(e2, e1, "head " .. i)
      end
    end
  end)

  it("prefers a headers table the response has", function()
    local res = core.interpret({ status = 200, body = "{}", head = "HTTP/1.1 200 OK\r\n\r\n",
      headers = ES }, json.decode)
    assert.are.same({}, res)
  end)
end)
