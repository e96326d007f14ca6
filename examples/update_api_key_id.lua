-- The reference example: point a connector at an API key and its secret.
--   ES_URL=https://host:9200 ES_API_KEY=... lua5.4 examples/update_api_key_id.lua
local esconnector = require "esconnector"

local client = esconnector.new{ hosts = { os.getenv "ES_URL" }, api_key = os.getenv "ES_API_KEY" }
local res, err = client.connector:update_api_key_id{
  connector_id = "my-connector",
  api_key_id = "my-api-key-id",
  api_key_secret_id = "my-connector-secret-id",
}
print(res and res.result or tostring(err))   --> updated
if not res then os.exit(1) end
print("response: " .. require("esconnector.json").encode(res))   --> {"result":"updated"}

-- What the connector now holds.
local doc = assert(client.connector:get{ connector_id = "my-connector" })
print("api_key_id:        " .. tostring(doc.api_key_id))
print("api_key_secret_id: " .. tostring(doc.api_key_secret_id))
