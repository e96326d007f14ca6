--- POST /admin/connectors/<connector_id>/api-key-id with a JSON body
-- {"api_key_id": ..., "api_key_secret_id": ...}: calls
-- connector.update_api_key_id and answers its result, or its error, as JSON.
local cjson = require "cjson.safe"
local es = require "esadmin.client"

local M = {}

-- The status for each error kind; an http error keeps Elasticsearch's 4xx.
local STATUS = { validation = 400, timeout = 504, connection = 502, tls = 502, product = 502, decode = 502 }

local function reply(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(value))
  return ngx.exit(status)
end

local function fail(status, reason)
  return reply(status, { error = { kind = "request", reason = reason } })
end

function M.handle()
  -- the raw URI, so that an id with an escaped "/" stays one id
  local raw_id = ngx.var.request_uri:match("^/admin/connectors/([^/?]+)/api%-key%-id/?$")
  if not raw_id then return fail(404, "not found: POST /admin/connectors/<connector_id>/api-key-id") end
  if ngx.req.get_method() ~= "POST" then
    ngx.header["Allow"] = "POST"
    return fail(405, "use POST")
  end
  ngx.req.read_body()
  local params = cjson.decode(ngx.req.get_body_data() or "")
  if type(params) ~= "table" or params[1] ~= nil then
    return fail(400, 'the body must be a JSON object like {"api_key_id": "...", "api_key_secret_id": "..."}')
  end
  -- Other fields go through as given: the client's validation names them
  -- the way Elasticsearch would.
  params.connector_id = ngx.unescape_uri(raw_id)

  local res, err = es.get().connector:update_api_key_id(params)
  if res then return reply(200, res) end
  -- tostring(err) never holds a credential
  ngx.log(ngx.WARN, "update_api_key_id of ", params.connector_id, " failed: ", tostring(err))
  local status = STATUS[err.kind] or 500
  if err.kind == "http" then status = err.status < 500 and err.status or 502 end
  return reply(status, { error = { kind = err.kind, status = err.status, type = err.type,
    reason = err.reason, message = err.message } })
end

return M
