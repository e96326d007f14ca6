--- JSON through a private lua-cjson instance (the global cjson settings are
-- never touched), behaving the same on Debian's lua-cjson 2.1.0 and on the
-- OpenResty fork: `[]` stays an array, `/` is not escaped, and on Lua 5.3+
-- integers decode as integers, exactly even past 2^53.
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

-- cjson reads every number as a double: 9007199254740993 would come back as
-- ...992.  On Lua 5.3+ an integer of 16 digits or more (the ones at risk)
-- is taken out of the text as a marked string before cjson reads it, and
-- put back after as the integer its digits make (beyond the 64-bit range a
-- float, as tonumber makes it).  Every mark put in must come back out: if
-- more strings carry the mark, some were the server's own, and the text is
-- read again as it came (doubles, as before).
local LONG_RUN = ("%d"):rep(16)
local INTEGER_MARK = "esconnector:integer:"

-- text with its long integer literals (outside strings) turned into marked
-- strings and their count, or nil when it has none.  Text that is not JSON
-- is left for cjson to refuse: a string never closed ends the scan, and a
-- run of digits with a leading zero (not a JSON number) is not touched.
local function mark_long_integers(text)
  local parts, n, from, pos = {}, 0, 1, 1
  while true do
    local at = text:find('["%d]', pos)
    if not at then break end
    if text:byte(at) == 34 then -- a string: skipped, escapes and all
      local i = at + 1
      while true do
        local q = text:find('["\\]', i)
        if not q then return nil end
        if text:byte(q) == 92 then
          i = q + 2
        else
          pos = q + 1
          break
        end
      end
    else
      local _, last = text:find("^%d+", at)
      local _, token_end = text:find("^%.?%d*[eE]?[-+]?%d*", last + 1) -- a fraction or exponent
      if token_end == last and last - at >= 15 and text:byte(at) ~= 48 then
        local start = text:byte(at - 1) == 45 and at - 1 or at -- with its minus sign
        parts[n + 1] = text:sub(from, start - 1)
        parts[n + 2] = '"' .. INTEGER_MARK .. text:sub(start, last) .. '"'
        n, from = n + 2, last + 1
      end
      pos = token_end + 1
    end
  end
  if n == 0 then return nil end
  parts[n + 1] = text:sub(from)
  return table.concat(parts), n / 2
end

-- Makes whole floats integers, and marked strings the integers they hold
-- (counted in marks.found).
local function integers(v, marks)
  if type(v) == "table" then
    for k, child in pairs(v) do v[k] = integers(child, marks) end
    return v
  end
  if type(v) == "number" and math.type(v) == "float" then
    return tointeger(v) or v
  end
  if marks and type(v) == "string" and v:sub(1, #INTEGER_MARK) == INTEGER_MARK then
    marks.found = marks.found + 1
    return tonumber(v:sub(#INTEGER_MARK + 1))
  end
  return v
end

--- Decodes text; returns the value, or nil and a message.
function json.decode(text)
  -- (a text without a digit holds no number to make an integer of)
  local digit = tointeger and type(text) == "string" and text:find("%d")
  local marked, count
  if digit and text:find(LONG_RUN, digit) then marked, count = mark_long_integers(text) end
  local ok, v = pcall(codec.decode, marked or text)
  if ok and marked then
    local marks = { found = 0 }
    v = integers(v, marks)
    if marks.found == count then return v end
    ok, v = pcall(codec.decode, text) -- a string of the server's own carries the mark
  end
  if not ok then return nil, (tostring(v):gsub("^.-:%d+: ", "")) end
  if digit then v = integers(v) end
  return v
end

return json
