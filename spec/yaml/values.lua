--- Values in YAML REST tests: rendering for messages, deep comparison as
-- the Elasticsearch runner's `match` does it, response paths
-- (`a.b.0.c`, `\.` for a literal dot) and the `$var` stash.
local esconnector = require "esconnector"
local loader = require "spec.yaml.loader"

local values = {}

local null = esconnector.null
local ARRAY_MT = getmetatable(esconnector.array())

values.null = null

--- Raises a test failure (caught by the runner and reported `not ok`).
function values.fail(message)
  error({ yaml_test_failure = message }, 0)
end

--- The failure message of an error raised by values.fail, or nil.
function values.failure(err)
  return type(err) == "table" and err.yaml_test_failure or nil
end

--- True for a table loaded from a YAML/JSON sequence.
function values.is_array(t)
  return type(t) == "table" and getmetatable(t) == ARRAY_MT
end

-- Responses are decoded without array marks: a table whose keys are exactly
-- 1..n is a list (an empty table is both a list and an object).
local function is_list(t)
  if values.is_array(t) then return true end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end
values.is_list = is_list

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end
values.count = count

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    if c == '"' or c == "\\" then return "\\" .. c end
    return ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function render_into(v, out, depth)
  local tv = type(v)
  if v == nil then
    out[#out + 1] = "(missing)"
  elseif v == null then
    out[#out + 1] = "null"
  elseif tv == "string" then
    out[#out + 1] = quote(v)
  elseif tv == "table" then
    if depth > 8 then out[#out + 1] = "{...}"; return end
    if is_list(v) and (#v > 0 or values.is_array(v)) then
      out[#out + 1] = "["
      for i, x in ipairs(v) do
        if i > 1 then out[#out + 1] = ", " end
        render_into(x, out, depth + 1)
      end
      out[#out + 1] = "]"
    else
      out[#out + 1] = "{"
      for i, k in ipairs(loader.keys(v)) do
        if i > 1 then out[#out + 1] = ", " end
        out[#out + 1] = quote(tostring(k)) .. ": "
        render_into(v[k], out, depth + 1)
      end
      out[#out + 1] = "}"
    end
  else
    out[#out + 1] = tostring(v)
  end
end

--- A compact JSON-like text of v for messages (at most max characters).
function values.render(v, max)
  local out = {}
  render_into(v, out, 0)
  local text = table.concat(out)
  max = max or 300
  if #text > max then text = text:sub(1, max) .. "..." end
  return text
end

local function join(path, key)
  if path == "" then return tostring(key) end
  return path .. "." .. tostring(key)
end

--- Deep equality as the Elasticsearch runner's match: numbers by value (1
-- equals 1.0), arrays in order, objects with exactly the same keys, and a
-- null equal to a missing value at the top.  Returns true, or false and
-- where and how they differ.
function values.equal(expected, actual, path)
  path = path or ""
  local where = path == "" and "" or ("at " .. path .. ": ")
  local te, ta = type(expected), type(actual)
  if expected == null then
    if actual == nil or actual == null then return true end
    return false, where .. "expected null, got " .. values.render(actual)
  end
  if te ~= "table" then
    if te == ta and expected == actual then return true end
    return false, ("%sexpected %s, got %s"):format(where, values.render(expected), values.render(actual))
  end
  if ta ~= "table" then
    return false, ("%sexpected %s, got %s"):format(where, values.render(expected), values.render(actual))
  end
  if values.is_array(expected) then
    if not is_list(actual) then
      return false, ("%sexpected an array %s, got %s"):format(where, values.render(expected),
        values.render(actual))
    end
    if #expected ~= #actual then
      return false, ("%sexpected %d elements %s, got %d %s"):format(where, #expected,
        values.render(expected), #actual, values.render(actual))
    end
    for i = 1, #expected do
      local ok, why = values.equal(expected[i], actual[i], join(path, i - 1))
      if not ok then return false, why end
    end
    return true
  end
  if #actual > 0 and is_list(actual) and next(expected) ~= nil then
    return false, ("%sexpected an object %s, got an array %s"):format(where, values.render(expected),
      values.render(actual))
  end
  for _, k in ipairs(loader.keys(expected)) do
    if actual[k] == nil then
      return false, ("%smissing key %s (expected %s)"):format(where, quote(tostring(k)),
        values.render(expected[k]))
    end
    local ok, why = values.equal(expected[k], actual[k], join(path, k))
    if not ok then return false, why end
  end
  for k in pairs(actual) do
    if expected[k] == nil then
      return false, ("%sunexpected key %s: %s"):format(where, quote(tostring(k)), values.render(actual[k]))
    end
  end
  return true
end

--- Splits a path on the dots that are not escaped as `\.`.
function values.split_path(path)
  local parts, current = {}, {}
  local i = 1
  while i <= #path do
    local c = path:sub(i, i)
    if c == "\\" and path:sub(i + 1, i + 1) == "." then
      current[#current + 1] = "."
      i = i + 2
    else
      if c == "." then
        parts[#parts + 1] = table.concat(current)
        current = {}
      else
        current[#current + 1] = c
      end
      i = i + 1
    end
  end
  parts[#parts + 1] = table.concat(current)
  return parts
end

-- One step down: a key of an object, else a 0-based index of a list.
local function child(value, key)
  if type(value) ~= "table" then return nil end
  local v = value[key]
  if v ~= nil then return v end
  if key:match("^%d+$") then return value[tonumber(key) + 1] end
  return nil
end

--- The stash of one test: `set` stores into it, `$name` and `${name}` read
-- from it.  `body` always holds the last response.
local Stash = {}
Stash.__index = Stash

function values.new_stash()
  return setmetatable({ vars = {} }, Stash)
end

function Stash:set(name, value)
  self.vars[name] = value
end

--- The stashed value of name (a path into a stashed value works too).
function Stash:get(name)
  local v = self.vars[name]
  if v ~= nil then return v end
  local parts = values.split_path(name)
  if #parts > 1 and self.vars[parts[1]] ~= nil then
    v = self.vars[parts[1]]
    for i = 2, #parts do v = child(v, parts[i]) end
    if v ~= nil then return v end
  end
  values.fail(("stashed value not found for key [%s]"):format(name))
end

local function as_text(v)
  if type(v) == "string" then return v end
  if type(v) == "table" then return values.render(v, math.huge) end
  return tostring(v)
end

--- Replaces `$name` (the whole string: the value keeps its type) and
-- `${name}` (inside a string; `\${` stays literal) in a string.
function Stash:resolve_string(s)
  if s:sub(1, 1) == "$" and s:sub(2, 2) ~= "{" and #s > 1 then
    return self:get(s:sub(2))
  end
  if not s:find("${", 1, true) then return s end
  return (s:gsub("(\\?)%${([^}]+)}", function(escape, name)
    if escape ~= "" then return "${" .. name .. "}" end
    return as_text(self:get(name))
  end))
end

--- A copy of v with every stash reference replaced, in keys too; arrays
-- stay arrays.
function Stash:resolve(v)
  if type(v) == "string" then return self:resolve_string(v) end
  if type(v) ~= "table" then return v end
  if values.is_array(v) then
    local copy = esconnector.array()
    for i, x in ipairs(v) do copy[i] = self:resolve(x) end
    return copy
  end
  local copy = {}
  for _, k in ipairs(loader.keys(v)) do
    local key = k
    if type(k) == "string" and k:find("$", 1, true) then key = as_text(self:resolve_string(k)) end
    loader.set(copy, key, self:resolve(v[k]))
  end
  return copy
end

--- Evaluates a response path: "" or "$body" is the whole response, `$name`
-- parts come from the stash, `_arbitrary_key_` picks any key of an object.
function Stash:evaluate(response, path)
  if path == "" or path == "$body" then return response end
  if path:sub(1, 1) == "$" and not path:find("[.\\]") then
    return self:resolve_string(path)
  end
  local parts = values.split_path(path)
  local v = response
  for i, part in ipairs(parts) do
    if i == 1 and part == "$body" then
      v = response
    else
      if part:find("$", 1, true) then part = as_text(self:resolve_string(part)) end
      if part == "_arbitrary_key_" and type(v) == "table" then
        local keys = loader.keys(v)
        part = keys[1] and tostring(keys[1])
        if not part then return nil end
        v = v[part]
      else
        v = child(v, part)
      end
      if v == nil then return nil end
    end
  end
  return v
end

return values
