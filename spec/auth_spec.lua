-- Authentication as the server sees it: api_key (encoded or { id, api_key }),
-- basic auth, credentials in the host URL, and 401s.
local env = require "spec.support.env"
local esconnector = require "esconnector"

local secured = env.username ~= nil and env.username ~= ""

describe("authentication", function()
  if not secured then
    pending("needs a secured cluster (ES_USERNAME / ES_PASSWORD)")
    return
  end

  local info_with = env.info_with

  it("works with basic_auth", function()
    assert(info_with{ hosts = { env.url }, basic_auth = { env.username, env.password }, ca_file = env.ca_file })
  end)

  it("works with credentials in the host URL, which never show", function()
    local url = env.url:gsub("^(%a+://)", "%1" .. env.username .. ":" .. env.password .. "@")
    local client = esconnector.new{ hosts = { url }, ca_file = env.ca_file }
    assert(client:info())
    assert.is_nil(tostring(client):find(env.password, 1, true))
    client:close()
  end)

  it("works with the encoded API key", function()
    assert(info_with{ hosts = { env.url }, api_key = env.api_key, ca_file = env.ca_file })
  end)

  it("works with the API key as { id, api_key }", function()
    local decoded = require("esconnector.core").base64_decode(env.api_key)
    local id, key = decoded:match("^([^:]+):(.+)$")
    assert(info_with{ hosts = { env.url }, api_key = { id = id, api_key = key }, ca_file = env.ca_file })
  end)

  it("answers 401 without credentials", function()
    local _, err = info_with{ hosts = { env.url }, ca_file = env.ca_file }
    assert.are.equal("http", err.kind)
    assert.are.equal(401, err.status)
    assert.are.equal("security_exception", err.type)
    assert.are.equal("missing authentication credentials for REST request [/]", err.reason)
  end)

  it("answers 401 for a wrong password, naming the user but not the password", function()
    local sentinel = "SENTINEL-wrong-password"
    local _, err = info_with{ hosts = { env.url }, basic_auth = { env.username, sentinel }, ca_file = env.ca_file }
    assert.are.equal(401, err.status)
    assert.are.equal("unable to authenticate user [" .. env.username .. "] for REST request [/]", err.reason)
    assert.is_nil(tostring(err):find(sentinel, 1, true))
  end)

  it("answers 401 for an unknown API key", function()
    local _, err = info_with{ hosts = { env.url }, api_key = { id = "no-such-key", api_key = "SENTINEL" },
      ca_file = env.ca_file }
    assert.are.equal(401, err.status)
    assert.are.equal("unable to authenticate with provided credentials and anonymous access is not allowed "
      .. "for this request", err.reason)
    assert.are.equal("API key: unable to find apikey with id no-such-key",
      err.body.error.additional_unsuccessful_credentials)
  end)
end)
