-- ?filter_path=... on successful responses (ES FilterPath): a comma list of
-- dotted paths; '*' matches within a field name, '**' any number of levels,
-- a leading '-' excludes.  Arrays are transparent: a path applies to each
-- element.  Objects and arrays left empty by an inclusion are dropped.

local json = require "esemu.json"

local M = {}

local function glob(pattern, s)
  if pattern == "*" then return true end
  if not pattern:find("*", 1, true) then return pattern == s end
  local lua = "^" .. pattern:gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", ".*") .. "$"
  return s:find(lua) ~= nil
end

local function compile(spec)
  local includes, excludes = {}, {}
  for expr in (spec .. ","):gmatch("([^,]*),") do
    expr = expr:match("^%s*(.-)%s*$")
    local list = includes
    if expr:sub(1, 1) == "-" then
      list, expr = excludes, expr:sub(2)
    end
    if expr ~= "" then
      local segs = {}
      for seg in (expr .. "."):gmatch("([^.]*)%.") do segs[#segs + 1] = seg end
      list[#list + 1] = { segs = segs, i = 1 }
    end
  end
  return includes, excludes
end

-- step(filters, key): the filters that continue below key, and whether one
-- of them ends exactly at key.
local function step(filters, key)
  local nexts, full = {}, false
  for _, f in ipairs(filters) do
    local seg, last = f.segs[f.i], f.i == #f.segs
    if seg == "**" then
      if last then
        full = true
      else
        nexts[#nexts + 1] = f -- ** still consuming levels
        if glob(f.segs[f.i + 1], key) then
          if f.i + 1 == #f.segs then full = true
          else nexts[#nexts + 1] = { segs = f.segs, i = f.i + 2 } end
        end
      end
    elseif glob(seg, key) then
      if last then full = true
      else nexts[#nexts + 1] = { segs = f.segs, i = f.i + 1 } end
    end
  end
  return nexts, full
end

local include

local function include_container(v, filters)
  if json.is_arr(v) then
    local out = json.arr()
    for _, x in ipairs(v) do
      if type(x) == "table" and x ~= json.null then
        local r = include(x, filters)
        if r ~= nil then out[#out + 1] = r end
      end
    end
    return #out > 0 and out or nil
  end
  return include(v, filters)
end

include = function(v, filters)
  if json.is_arr(v) then return include_container(v, filters) end
  local out, any = json.obj(), false
  for k, x in json.opairs(v) do
    local nexts, full = step(filters, k)
    if full then
      out[k], any = x, true
    elseif #nexts > 0 and type(x) == "table" and x ~= json.null then
      local r = include_container(x, nexts)
      if r ~= nil then out[k], any = r, true end
    end
  end
  return any and out or nil
end

local function exclude(v, filters)
  if json.is_arr(v) then
    local out = json.arr()
    for i, x in ipairs(v) do
      out[i] = (type(x) == "table" and x ~= json.null) and exclude(x, filters) or x
    end
    return out
  end
  local out = json.obj()
  for k, x in json.opairs(v) do
    local nexts, full = step(filters, k)
    if not full then
      if #nexts > 0 and type(x) == "table" and x ~= json.null then
        out[k] = exclude(x, nexts)
      else
        out[k] = x
      end
    end
  end
  return out
end

-- apply(body, spec): the filtered body (an empty object when nothing matches).
function M.apply(body, spec)
  if spec == nil or spec == "" or not json.is_obj(body) then return body end
  local includes, excludes = compile(spec)
  if #includes > 0 then
    body = include(body, includes) or json.obj()
  end
  if #excludes > 0 then
    body = exclude(body, excludes)
  end
  return body
end

return M
