-- JSON values as Elasticsearch renders them.
--
-- Objects keep their key order (ES renders _source maps in insertion order),
-- arrays are marked so that an empty one encodes as [] and not {}, and null is
-- a sentinel.  The encoder writes what Jackson writes: compact by default, the
-- ES pretty printer for ?pretty, '/' never escaped, non-ASCII passed through.

local M = {}

local concat, fmt, byte, floor = table.concat, string.format, string.byte, math.floor
local huge = math.huge

-- null: a unique table, so it can be stored in tables and compared with ==.
local null = setmetatable({}, { __tostring = function() return "null" end })
M.null = null

-- Objects: values live in the table itself; the key order lives in a weak side
-- table so that o.key reads stay natural in handlers.
local order = setmetatable({}, { __mode = "k" })
local obj_mt = {}
obj_mt.__newindex = function(t, k, v)
  local keys = order[t]
  keys[#keys + 1] = k
  rawset(t, k, v)
end
local arr_mt = {}

-- obj(k1, v1, k2, v2, ...) builds an ordered object; nil values are skipped
-- (ES omits null fields from most toXContent methods).
function M.obj(...)
  local t = setmetatable({}, obj_mt)
  order[t] = {}
  local n = select("#", ...)
  for i = 1, n, 2 do
    local k, v = select(i, ...)
    if v ~= nil then t[k] = v end
  end
  return t
end

function M.arr(t)
  return setmetatable(t or {}, arr_mt)
end

function M.is_obj(v) return type(v) == "table" and getmetatable(v) == obj_mt end
function M.is_arr(v) return type(v) == "table" and getmetatable(v) == arr_mt end

-- keys(o): the present keys of an ordered object, in order.
-- A key removed (set to nil) and set again moves to the end, as in a Java
-- LinkedHashMap, so the last occurrence in the order list counts.
function M.keys(o)
  local list, last, out = order[o], {}, {}
  for i, k in ipairs(list) do last[k] = i end
  for i, k in ipairs(list) do
    if last[k] == i and rawget(o, k) ~= nil then out[#out + 1] = k end
  end
  return out
end

-- pairs in key order.
function M.opairs(o)
  local ks, i = M.keys(o), 0
  return function()
    i = i + 1
    local k = ks[i]
    if k ~= nil then return k, o[k] end
  end
end

-- Deep copy (documents are mutated by updates; copies keep stored ones safe).
function M.copy(v)
  if M.is_obj(v) then
    local o = M.obj()
    for k, x in M.opairs(v) do o[k] = M.copy(x) end
    return o
  elseif M.is_arr(v) then
    local a = M.arr()
    for i, x in ipairs(v) do a[i] = M.copy(x) end
    return a
  end
  return v
end

function M.equal(a, b)
  if a == b then return true end
  if M.is_obj(a) and M.is_obj(b) then
    local ka, kb = M.keys(a), M.keys(b)
    if #ka ~= #kb then return false end
    for _, k in ipairs(ka) do
      if b[k] == nil or not M.equal(a[k], b[k]) then return false end
    end
    return true
  elseif M.is_arr(a) and M.is_arr(b) then
    if #a ~= #b then return false end
    for i = 1, #a do
      if not M.equal(a[i], b[i]) then return false end
    end
    return true
  end
  return false
end

-- Strings: escape like Jackson (short escapes, \u00XX for other controls).
local short = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function esc(c)
  return short[c] or fmt("\\u%04X", byte(c))
end
local function quote(s)
  return '"' .. s:gsub('[%z\1-\31"\\]', esc) .. '"'
end
M.quote = quote

local function number(n)
  if n ~= n or n == huge or n == -huge then
    return "null" -- JSON has no NaN/Infinity; never produced by handlers
  end
  if floor(n) == n and n > -2^63 and n < 2^63 then
    return fmt("%d", n)
  end
  for p = 15, 17 do
    local s = fmt("%." .. p .. "g", n)
    if tonumber(s) == n then return s end
  end
  return fmt("%.17g", n)
end

local encode_value

-- Plain Lua tables (no marker) are accepted for convenience: a sequence is an
-- array, anything else an object with sorted keys.
local function plain_is_array(t)
  local n = #t
  if n == 0 then return false end
  local c = 0
  for _ in pairs(t) do c = c + 1 end
  return c == n
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  table.sort(ks)
  return ks
end

local function encode_table(v, buf, pretty, indent)
  local is_array = M.is_arr(v) or (not M.is_obj(v) and plain_is_array(v))
  local nl, ind, ind2, sep
  if pretty then
    ind = ("  "):rep(indent)
    ind2 = ("  "):rep(indent + 1)
    nl = "\n"
    sep = " : "
  end
  if is_array then
    if #v == 0 then
      buf[#buf + 1] = pretty and "[ ]" or "[]"
      return
    end
    buf[#buf + 1] = "["
    for i = 1, #v do
      if i > 1 then buf[#buf + 1] = "," end
      if pretty then buf[#buf + 1] = nl .. ind2 end
      encode_value(v[i], buf, pretty, indent + 1)
    end
    if pretty then buf[#buf + 1] = nl .. ind end
    buf[#buf + 1] = "]"
    return
  end
  local ks = M.is_obj(v) and M.keys(v) or sorted_keys(v)
  if #ks == 0 then
    buf[#buf + 1] = pretty and "{ }" or "{}"
    return
  end
  buf[#buf + 1] = "{"
  for i, k in ipairs(ks) do
    if i > 1 then buf[#buf + 1] = "," end
    if pretty then buf[#buf + 1] = nl .. ind2 end
    buf[#buf + 1] = quote(k)
    buf[#buf + 1] = pretty and sep or ":"
    encode_value(v[k], buf, pretty, indent + 1)
  end
  if pretty then buf[#buf + 1] = nl .. ind end
  buf[#buf + 1] = "}"
end

encode_value = function(v, buf, pretty, indent)
  local t = type(v)
  if v == null or v == nil then
    buf[#buf + 1] = "null"
  elseif t == "string" then
    buf[#buf + 1] = quote(v)
  elseif t == "number" then
    buf[#buf + 1] = number(v)
  elseif t == "boolean" then
    buf[#buf + 1] = v and "true" or "false"
  elseif t == "table" then
    encode_table(v, buf, pretty, indent)
  else
    error("cannot encode a " .. t .. " as JSON")
  end
end

-- encode(v[, pretty]): pretty output ends with a newline, as ES's lfAtEnd().
function M.encode(v, pretty)
  local buf = {}
  encode_value(v, buf, pretty, 0)
  if pretty then buf[#buf + 1] = "\n" end
  return concat(buf)
end

return M
