--- Loads YAML REST test files from libyaml's event stream (`yaml.parser`,
-- the C half of lyaml).  lyaml.load cannot be used: it turns `[]` and `{}`
-- into the same empty table, and our bodies must keep `[]`.  So:
--   * every sequence is marked with esconnector.array (an empty one is
--     still sent as `[]`);
--   * nulls are esconnector.null (so a sequence never has holes);
--   * plain scalars resolve as in YAML 1.2's core schema (true/false, not
--     yes/no); integers stay integers on Lua 5.3+;
--   * mapping keys are always strings, and their order is kept (keys()).
-- JSON is YAML flow syntax, so `body: >` JSON strings load the same way.
local yaml = require "yaml"
local esconnector = require "esconnector"

local loader = {}

local null = esconnector.null
local array = esconnector.array

-- Side tables, weak so that loaded values stay plain tables.
local key_order = setmetatable({}, { __mode = "k" })
local line_of = setmetatable({}, { __mode = "k" })

local NULLS = { [""] = true, ["~"] = true, null = true, Null = true, NULL = true }
local BOOLS = {
  ["true"] = true, True = true, TRUE = true,
  ["false"] = false, False = false, FALSE = false,
}
local SPECIAL_FLOATS = {
  [".inf"] = math.huge, [".Inf"] = math.huge, [".INF"] = math.huge,
  ["+.inf"] = math.huge, ["+.Inf"] = math.huge, ["+.INF"] = math.huge,
  ["-.inf"] = -math.huge, ["-.Inf"] = -math.huge, ["-.INF"] = -math.huge,
}

local function is_float_text(s)
  return s:match("^[-+]?%d+%.%d*$") or s:match("^[-+]?%.%d+$")
    or s:match("^[-+]?%d+%.?%d*[eE][-+]?%d+$") or s:match("^[-+]?%.%d+[eE][-+]?%d+$")
end

local function plain_scalar(s)
  if NULLS[s] then return null end
  local b = BOOLS[s]
  if b ~= nil then return b end
  if s:match("^[-+]?%d+$") then
    return tonumber((s:gsub("^%+", ""))) -- an integer on 5.3+ when it fits
  end
  local sign, hex = s:match("^([-+]?)0x(%x+)$")
  if hex then
    local n = tonumber(hex, 16)
    if sign == "-" then n = -n end
    return n
  end
  local oct = s:match("^0o([0-7]+)$")
  if oct then return tonumber(oct, 8) end
  if is_float_text(s) then return tonumber(s) + 0.0 end -- stays a float
  if SPECIAL_FLOATS[s] then return SPECIAL_FLOATS[s] end
  if s == ".nan" or s == ".NaN" or s == ".NAN" then return 0 / 0 end
  return s
end

local TAG = "tag:yaml.org,2002:"

local function scalar_value(ev)
  local tag = ev.tag and (ev.tag:match("^" .. TAG .. "(.*)$") or ev.tag:match("^!!(.*)$"))
  local s = ev.value
  if tag == "str" then return s end
  if tag == "null" then return null end
  if tag == "bool" or tag == "int" or tag == "float" then
    local v = plain_scalar(s)
    if tag == "float" and type(v) == "number" then v = v + 0.0 end
    return v
  end
  if ev.style ~= "PLAIN" then return s end
  return plain_scalar(s)
end

--- The keys of a loaded mapping in file order (sorted for other tables).
function loader.keys(map)
  local order = key_order[map]
  if order then
    local copy = {}
    for i, k in ipairs(order) do copy[i] = k end
    return copy
  end
  local keys = {}
  for k in pairs(map) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

--- The 1-based line a loaded mapping or sequence started on, if known.
function loader.line(t)
  return line_of[t]
end

--- Records that key was set in map (for tables built outside the loader).
function loader.set(map, key, value)
  local order = key_order[map]
  if not order then
    order = {}
    key_order[map] = order
  end
  if map[key] == nil then order[#order + 1] = key end
  map[key] = value
end

local function fail(ev, message)
  local line = ev and ev.start_mark and ev.start_mark.line + 1 or 0
  local column = ev and ev.start_mark and ev.start_mark.column + 1 or 0
  error({ message = ("line %d, column %d: %s"):format(line, column, message) }, 0)
end

local function build(text)
  local docs = {}
  local stack = {}
  local anchors = {}
  local root
  local has_root = false

  -- Puts a finished value into the container on top of the stack.
  local function add(value, ev)
    local top = stack[#stack]
    if not top then
      root, has_root = value, true
    elseif top.kind == "seq" then
      top.value[#top.value + 1] = value
    elseif top.key == nil then
      -- A key: keys are strings (JSON's object keys are).
      if type(value) == "table" then fail(ev, "complex mapping keys are not supported") end
      if value == null then value = "" end
      top.key = tostring(value)
    elseif top.key == "<<" and top.merge and type(value) == "table" then
      -- A merge key: copy the keys the mapping does not have yet.
      local sources = esconnector.array()
      if getmetatable(value) == getmetatable(sources) then sources = value else sources[1] = value end
      for _, source in ipairs(sources) do
        for _, k in ipairs(loader.keys(source)) do
          if top.value[k] == nil then loader.set(top.value, k, source[k]) end
        end
      end
      top.key = nil
    else
      loader.set(top.value, top.key, value)
      top.key = nil
    end
  end

  for ev in yaml.parser(text) do
    local kind = ev.type
    if kind == "DOCUMENT_START" then
      anchors, root, has_root = {}, nil, false
    elseif kind == "DOCUMENT_END" then
      if has_root and root ~= null then docs[#docs + 1] = root end
    elseif kind == "MAPPING_START" or kind == "SEQUENCE_START" then
      local t = kind == "SEQUENCE_START" and array() or {}
      if kind == "MAPPING_START" then key_order[t] = {} end
      line_of[t] = ev.start_mark.line + 1
      if ev.anchor then anchors[ev.anchor] = t end
      stack[#stack + 1] = { kind = kind == "SEQUENCE_START" and "seq" or "map", value = t, ev = ev }
    elseif kind == "MAPPING_END" or kind == "SEQUENCE_END" then
      local frame = table.remove(stack)
      add(frame.value, frame.ev)
    elseif kind == "SCALAR" then
      local top = stack[#stack]
      local value
      if top and top.kind == "map" and top.key == nil then
        value = ev.value -- a key: never resolved
        top.merge = value == "<<" and ev.style == "PLAIN"
      else
        value = scalar_value(ev)
      end
      if ev.anchor then anchors[ev.anchor] = value end
      add(value, ev)
    elseif kind == "ALIAS" then
      local value = anchors[ev.anchor]
      if value == nil then fail(ev, "unknown alias *" .. tostring(ev.anchor)) end
      add(value, ev)
    end
  end
  return docs
end

--- Loads every document of a YAML stream.  Returns the list of documents
-- (empty documents left out), or nil and a message.
function loader.load_string(text)
  local ok, docs = pcall(build, text)
  if not ok then
    local message = type(docs) == "table" and docs.message or tostring(docs)
    -- libyaml says "... at document: 1, line: 2, column: 1"
    return nil, (message:gsub("\n", " "):gsub("%s+$", ""))
  end
  return docs
end

--- Loads a file; returns the list of documents or nil and a message.
function loader.load_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("*a")
  f:close()
  return loader.load_string(text)
end

--- Parses a JSON (or YAML) text holding one value, such as a `body: >`.
function loader.load_value(text)
  local docs, err = loader.load_string(text)
  if not docs then return nil, err end
  if #docs ~= 1 then return nil, ("expected one value, found %d"):format(#docs) end
  return docs[1]
end

return loader
