--- esconnector: the Elasticsearch Connector API from Lua.
--
--   local esconnector = require "esconnector"
--   local client = esconnector.new{ hosts = { "https://es1:9200" }, api_key = "..." }
--   local res, err = client.connector:update_api_key_id{ connector_id = "c", api_key_id = "k" }
local client = require "esconnector.client"
local json = require "esconnector.json"
local errors = require "esconnector.errors"
local core = require "esconnector.core"

local esconnector = {
  VERSION = core.version,
  --- JSON null, for a body field that must be sent as `null`.
  null = json.null,
  --- Marks a table as a JSON array (an empty one encodes as `[]`).
  array = json.array,
  is_error = errors.is_error,
}

--- Creates a client; raises on a misspelt or ill-typed option.
function esconnector.new(options)
  return client.new(options)
end

return esconnector
