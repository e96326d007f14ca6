--- Error objects: every runtime failure is returned as `nil, err`, where err
-- is one of these tables.  Stable fields:
--   kind      "validation" | "connection" | "timeout" | "tls" | "http" |
--             "product" | "decode"
--   status    HTTP status (http, product, decode errors)
--   type, reason, root_cause, caused_by   Elasticsearch's error fields
--   body      the decoded response body (or its raw text)
--   message   what went wrong, for errors that are not Elasticsearch's
--   api       the API called ("connector.update_api_key_id")
--   node      the node's URL, never with credentials
--   attempts  how many requests were sent
-- No field ever holds a credential.
local errors = {}

local Error = {}
Error.__index = Error

function Error:__tostring()
  local head = self.status and tostring(self.status) or self.kind
  local text
  if self.type and self.reason then
    text = head .. " " .. self.type .. ": " .. tostring(self.reason)
  elseif self.reason or self.message then
    text = head .. ": " .. tostring(self.reason or self.message)
  else
    text = head
  end
  if self.node and self.kind ~= "http" then
    text = text .. " (" .. self.node .. ")"
  end
  return "esconnector: " .. text
end

--- Gives t the error metatable and returns it.
function errors.new(t)
  return setmetatable(t, Error)
end

--- True when v is an esconnector error.
function errors.is_error(v)
  return getmetatable(v) == Error
end

return errors
