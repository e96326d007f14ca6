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

-- cjson writes numbers with 14 significant digits: 123456789012345 would
-- go out as 1.2345678901234e+14, a 5.3+ integer beyond 2^53 rounded.  Such
-- numbers travel as marked strings holding their exact text, put back as
-- numbers after encoding (the mark carries a per-process nonce, so no string
-- a caller sends can pass for one).
local NUMBER_MARK = ("\2esconnector:number:%s:"):format(tostring({}):match("%x+$") or "0")
local math_type = math.type

-- The exact JSON text of n, or nil when cjson writes it exactly already
-- (and for NaN and inf, which cjson refuses).
local function exact_number(n)
  if n ~= n or n == math.huge or n == -math.huge then return nil end
  local exact
  if math_type and math_type(n) == "integer" then
    exact = ("%d"):format(n)
  elseif n == math.floor(n) and n > -2 ^ 53 and n < 2 ^ 53 then
    exact = ("%.0f"):format(n)
  else
    exact = ("%.17g"):format(n)
  end
  local short = ("%.14g"):format(n)
  if short == exact or (tonumber(short) == n and not (math_type and math_type(n) == "integer")) then
    return nil
  end
  return exact
end

local function needs_substitute(v)
  if type(v) == "number" then return exact_number(v) ~= nil end
  if type(v) ~= "table" then return false end
  if json.is_array(v) and next(v) == nil then return true end
  for _, child in pairs(v) do
    if needs_substitute(child) then return true end
  end
  return false
end

local function substitute(v)
  if type(v) == "number" then
    local exact = exact_number(v)
    return exact and NUMBER_MARK .. exact .. "\2" or v
  end
  if type(v) ~= "table" then return v end
  if json.is_array(v) and next(v) == nil then return EMPTY_ARRAY end
  local copy = setmetatable({}, getmetatable(v))
  for k, child in pairs(v) do copy[k] = substitute(child) end
  return copy
end

--- Encodes v; returns the JSON text, or nil and a message.
function json.encode(v)
  local marked = needs_substitute(v)
  local ok, text = pcall(codec.encode, marked and substitute(v) or v)
  if not ok then return nil, text end
  if marked then
    text = text:gsub('"\\u0001esconnector:empty%-array\\u0001"', "[]")
    text = text:gsub('"\\u0002esconnector:number:%x+:([-+.%deE]+)\\u0002"', "%1")
  end
  if not fork_slash and text:find("\\/", 1, true) then
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
  -- (a text without a digit holds no number to make an integer of)
  if tointeger and text:find("%d") then v = integers(v) end
  return v
end

return json
