--- Error objects: every runtime failure is returned as `nil, err`.
--
-- An error reads like a table of fields and works wherever a string is
-- expected: `tostring(err)`, `"failed: " .. err`, `err .. "!"`, and in
-- OpenResty `ngx.say("failed: ", err)`, `ngx.print(err)` and
-- `ngx.log(ngx.ERR, "failed: ", err)`.
--
-- Why it is built the way it is: `ngx.say` and `ngx.print` accept a table
-- only as an array of strings and raise "non-array table found" for any
-- other key.  So an error's own keys are only `[1]`, its message; its fields
-- live behind the metatable (`__index`) and assignments go there too
-- (`__newindex`, which also renders `[1]` again).  Reading `err.kind` and
-- setting `err.step = "x"` work as on a plain table; `pairs(err)` does not
-- see the fields: use @{errors.fields} for a copy (to encode as JSON, to
-- copy into a new error).
--
-- Stable fields:
--
--   - `kind`: `"validation"`, `"connection"`, `"timeout"`, `"tls"`, `"http"`,
--     `"product"`, `"decode"`, or `"lua"` (a function given to concurrently
--     or batch raised)
--   - `status`: the HTTP status (http, product and decode errors)
--   - `type`, `reason`, `root_cause`, `caused_by`: Elasticsearch's error fields
--   - `body`: the decoded response body (or its raw text)
--   - `message`: what went wrong, for errors that are not Elasticsearch's
--   - `api`: the API called (`"connector.update_api_key_id"`, or
--     `"perform_request"`)
--   - `node`: the node's URL, never with credentials
--   - `attempts`: how many requests were sent; `history`: one record each
--
-- No field ever holds a credential.
-- @module esconnector.errors
local errors = {}

-- Marks the metatables of errors (each error has its own: it holds the
-- error's fields).
local MARK = {}

local function render(f)
  local head = f.status and tostring(f.status) or tostring(f.kind)
  local text
  if f.type and f.reason then
    text = head .. " " .. tostring(f.type) .. ": " .. tostring(f.reason)
  elseif f.reason or f.message then
    text = head .. ": " .. tostring(f.reason or f.message)
  else
    text = head
  end
  if f.node and f.kind ~= "http" then
    text = text .. " (" .. tostring(f.node) .. ")"
  end
  return "esconnector: " .. text
end

local function to_string(self)
  return rawget(self, 1)
end

local function concat(a, b)
  return tostring(a) .. tostring(b)
end

--- Turns the table t of fields into an error, in place, and returns it.
-- An error given again is returned as it is.
-- @tparam table t the fields (kind, status, message, ...)
-- @treturn table the error
-- @usage return nil, errors.new{ kind = "validation", message = "no connector_id" }
function errors.new(t)
  if errors.is_error(t) then return t end
  local fields = {}
  for k, v in pairs(t) do fields[k] = v end
  for k in pairs(fields) do t[k] = nil end
  local mt = {
    [MARK] = true,
    __index = fields,
    __newindex = function(self, key, value)
      fields[key] = value
      rawset(self, 1, render(fields))
    end,
    __tostring = to_string,
    __concat = concat,
  }
  t[1] = render(fields)
  return setmetatable(t, mt)
end

--- True when v is an esconnector error.
-- @param v any value
-- @treturn boolean
function errors.is_error(v)
  local mt = type(v) == "table" and getmetatable(v)
  return type(mt) == "table" and rawget(mt, MARK) == true
end

--- A copy of an error's fields, as a plain table (for `pairs`, JSON, or
-- building another error from this one).
-- @tparam table err an error (or a plain table of fields)
-- @treturn table its fields (a new table; changing it does not change err)
function errors.fields(err)
  local copy = {}
  local source = errors.is_error(err) and getmetatable(err).__index or err
  for k, v in pairs(source) do copy[k] = v end
  return copy
end

return errors
