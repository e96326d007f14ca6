-- The route table: method, path pattern ({name} is a path parameter),
-- handler.  Adding an endpoint is adding a row here and a handler table.

local info = require "esemu.handlers.info"
local connector = require "esemu.handlers.connector"

return {
  { "GET", "/", info.main },
  { "HEAD", "/", info.main },

  { "PUT", "/_connector/{connector_id}", connector.put },
  { "PUT", "/_connector", connector.put },
  { "POST", "/_connector", connector.post },
  { "GET", "/_connector/{connector_id}", connector.get },
  { "GET", "/_connector", connector.list },
  { "DELETE", "/_connector/{connector_id}", connector.delete },
  { "PUT", "/_connector/{connector_id}/_api_key_id", connector.update_api_key_id },
}
