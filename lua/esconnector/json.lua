--- JSON through a private lua-cjson instance (the global cjson settings are
-- never touched), behaving the same on Debian's lua-cjson 2.1.0 and on the
-- OpenResty fork: `[]` stays an array, `/` is not escaped, and on Lua 5.3+
-- integers decode as integers.
-- @module esconnector.json
local cjson = require "cjson"

local json = {}

local codec = cjson.new()
local fork_slash = codec.encode_escape_forward_slash
if fork_slash then fork_slash(false) end

json.null = cjson.null

local array_mt = { __jsontype = "array" }

--- Marks t (default: a new table) as a JSON array, so that an empty one
-- encodes as `[]` rather than `{}`.
function json.array(t)
  return setmetatable(t or {}, array_mt)
end

function json.is_array(t)
  local mt = getmetatable(t)
  return mt ~= nil and mt.__jsontype == "array"
end

-- Debian's cjson has no empty-array marker: such arrays travel as this
-- string and are put back as `[]` after encoding.
local EMPTY_ARRAY = "\1esconnector:empty-array\1"

local function has_empty_array(v)
  if type(v) ~= "table" then return false end
  if json.is_array(v) and next(v) == nil then return true end
  for _, child in pairs(v) do
    if has_empty_array(child) then return true end
  end
  return false
end

local function substitute(v)
  if type(v) ~= "table" then return v end
  if json.is_array(v) and next(v) == nil then return EMPTY_ARRAY end
  local copy = {}
  for k, child in pairs(v) do copy[k] = substitute(child) end
  return copy
end

--- Encodes v; returns the JSON text, or nil and a message.
function json.encode(v)
  local marked = has_empty_array(v)
  local ok, text = pcall(codec.encode, marked and substitute(v) or v)
  if not ok then return nil, text end
  if marked then
    text = text:gsub('"\\u0001esconnector:empty%-array\\u0001"', "[]")
  end
  if not fork_slash then
    -- Debian's cjson writes "\/"; a lone "\" is always written "\\", so
    -- every "\/" left is an escaped slash.
    text = text:gsub("\\/", "/")
  end
  return text
end

local tointeger = math.tointeger

local function integers(v)
  if type(v) == "table" then
    for k, child in pairs(v) do v[k] = integers(child) end
    return v
  end
  if type(v) == "number" and math.type(v) == "float" then
    return tointeger(v) or v
  end
  return v
end

--- Decodes text; returns the value, or nil and a message.
function json.decode(text)
  local ok, v = pcall(codec.decode, text)
  if not ok then return nil, (tostring(v):gsub("^.-:%d+: ", "")) end
  if tointeger then v = integers(v) end
  return v
end

return json
