--- esconnector: the Elasticsearch Connector API from Lua.
--
--   local esconnector = require "esconnector"
--   local client = esconnector.new{ hosts = { "https://es1:9200" }, api_key = "..." }
--   local res, err = client.connector:update_api_key_id{ connector_id = "c", api_key_id = "k" }
--
-- The client's methods and options: `esconnector.client`; errors:
-- `esconnector.errors`; one page per namespace in the topics.
-- @module esconnector
local client = require "esconnector.client"
local json = require "esconnector.json"
local errors = require "esconnector.errors"
local core = require "esconnector.core"

local esconnector = {
  --- The version ("0.2.0"): the core's, the rockspec's and `esconnector --version`'s.
  VERSION = core.version,
  --- JSON null, for a body field that must be sent as `null`.
  null = json.null,
  --- Marks a table as a JSON array (an empty one encodes as `[]`).
  array = json.array,
  is_error = errors.is_error,
}

--- Creates a client; raises on a misspelt or ill-typed option.
-- @tparam[opt] table options see `esconnector.client.options`
-- @treturn table the client (`esconnector.client.Client`)
-- @raise for an unknown option, a value of the wrong type or out of range
-- @usage local client = esconnector.new{ hosts = { "https://es1:9200" }, api_key = os.getenv "ES_API_KEY" }
function esconnector.new(options)
  return client.new(options)
end

return esconnector
