-- A strict, streaming JSON parser that behaves like Elasticsearch's XContent
-- layer over Jackson (es-behaviour.md §3.1):
--
--   * tokens carry ES token names (START_OBJECT, VALUE_STRING, ...) and the
--     1-based line:column of their first byte (Jackson counts bytes);
--   * Jackson's messages for malformed input, raised as x_content_parse_exception
--     (x_content_e_o_f_exception for truncated input) with the Jackson
--     exception as caused_by;
--   * duplicate keys are errors (ES turns strict duplicate detection on);
--   * comments are allowed (ES enables JsonParser.Feature.ALLOW_COMMENTS);
--   * like Jackson, a field name's value is looked at as soon as the name is
--     read (numbers and literals parsed, the first byte checked), while string
--     contents are only read when asked for or skipped, so errors come out in
--     the same order as from Elasticsearch.
--
-- object_parser() is a small declarative ObjectParser: strict fields, the
-- "doesn't support values of type" and "unknown field ... did you mean" errors.

local errors = require "esemu.errors"
local json = require "esemu.json"
local util = require "esemu.util"

local byte, sub, find, char, fmt = string.byte, string.sub, string.find, string.char, string.format

local M = {}

local MAX_DEPTH = 1000
local VALID_VALUES = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"

local function source(line, col)
  return fmt("[Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: %d, column: %d]",
    line, col)
end

-- x_content_parse_exception "[l:c] msg" with an optional cause.
function M.parse_error(line, col, msg, cause)
  local reason = line and fmt("[%d:%d] %s", line, col, msg) or msg
  return errors.new("x_content_parse_exception", reason, { cause = cause })
end

local P = {}
P.__index = P

function M.parser(s)
  local p = setmetatable({
    s = s, n = #s, pos = 1, line = 1, ls = 1,
    stack = {},
    token = nil, value = nil, tline = 1, tcol = 1,
    lazy = nil,     -- start of an unread string value
    pending = nil,  -- value token read ahead after a field name
  }, P)
  if sub(s, 1, 3) == "\239\187\191" then -- UTF-8 BOM
    p.pos, p.ls = 4, 4
  end
  return p
end

-- Errors -------------------------------------------------------------------

-- Jackson error at the current position (the byte after the offending one).
function P:fail(msg, kind)
  local line, col = self.line, self.pos - self.ls + 1
  local full = msg .. "\n at " .. source(line, col)
  if kind == "eof" then
    error(errors.new("x_content_e_o_f_exception", fmt("[%d:%d] Unexpected end of file", line, col),
      { cause = errors.new("json_e_o_f_exception", full) }), 0)
  end
  error(M.parse_error(line, col, full, errors.new(kind or "json_parse_exception", full)), 0)
end

function P:eof(msg)
  self:fail("Unexpected end-of-input" .. msg, "eof")
end

-- Jackson's _getCharDesc for the byte at i (bytes >= 0x80 are shown as the
-- Latin-1 character Jackson's byte-based parser sees).
local function char_desc(c)
  if c < 32 or (c >= 127 and c < 160) then
    return fmt("(CTRL-CHAR, code %d)", c)
  end
  local ch = c < 128 and char(c) or util.utf8_char(c)
  return fmt("'%s' (code %d)", ch, c)
end

-- Consume the byte at pos and fail with "Unexpected character (...): why".
function P:unexpected(why)
  local c = byte(self.s, self.pos)
  self.pos = self.pos + 1
  self:fail(fmt("Unexpected character (%s): %s", char_desc(c), why))
end

-- Whitespace and comments ------------------------------------------------------

function P:newline(after)
  self.line = self.line + 1
  self.pos = after
  self.ls = after
end

function P:skip_comment()
  local s = self.s
  local c = byte(s, self.pos + 1)
  if c == 42 then -- /* ... */
    local i = self.pos + 2
    while true do
      local j = find(s, "[\r\n*]", i)
      if not j then
        self.pos = self.n + 1
        self:eof(" in a comment")
      end
      local d = byte(s, j)
      if d == 42 then
        if byte(s, j + 1) == 47 then
          self.pos = j + 2
          return
        end
        i = j + 1
      elseif d == 13 and byte(s, j + 1) == 10 then
        self:newline(j + 2)
        i = j + 2
      else
        self:newline(j + 1)
        i = j + 1
      end
    end
  elseif c == 47 then -- // to end of line
    local j = find(s, "[\r\n]", self.pos + 2)
    self.pos = j or self.n + 1
  elseif c == nil then
    self.pos = self.pos + 1
    self:eof(" in a comment")
  else
    self.pos = self.pos + 1
    self:unexpected("was expecting either '*' or '/' for a comment")
  end
end

-- Returns the next significant byte (not consumed), or nil at end of input.
function P:skip_ws()
  local s = self.s
  while true do
    local c = byte(s, self.pos)
    if c == nil then return nil end
    if c == 32 or c == 9 then
      self.pos = self.pos + 1
    elseif c == 10 then
      self:newline(self.pos + 1)
    elseif c == 13 then
      self:newline(byte(s, self.pos + 1) == 10 and self.pos + 2 or self.pos + 1)
    elseif c == 47 then
      self:skip_comment()
    elseif c < 32 then
      self.pos = self.pos + 1
      self:fail(fmt("Illegal character (%s): only regular white space (\\r, \\n, \\t) is allowed between tokens",
        char_desc(c)))
    else
      return c
    end
  end
end

-- Strings --------------------------------------------------------------------

local escapes = { [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f",
                  [110] = "\n", [114] = "\r", [116] = "\t" }

local function hexval(c)
  if c == nil then return nil end
  if c >= 48 and c <= 57 then return c - 48 end
  if c >= 65 and c <= 70 then return c - 55 end
  if c >= 97 and c <= 102 then return c - 87 end
  return nil
end

-- Reads a string whose opening quote is just before `start`; leaves pos after
-- the closing quote and returns its value.
function P:read_string(start, is_name)
  local s = self.s
  local buf, i = {}, start
  local eof_msg = is_name and " in field name" or ": was expecting closing quote for a string value"
  while true do
    local j = find(s, '[%z\1-\31"\\\128-\255]', i)
    if not j then
      self.pos = self.n + 1
      self:eof(eof_msg)
    end
    if j > i then buf[#buf + 1] = sub(s, i, j - 1) end
    local c = byte(s, j)
    if c == 34 then
      self.pos = j + 1
      return table.concat(buf)
    elseif c == 92 then
      local e = byte(s, j + 1)
      if e == nil then
        self.pos = j + 1
        self:eof(eof_msg)
      end
      if escapes[e] then
        buf[#buf + 1] = escapes[e]
        i = j + 2
      elseif e == 117 then -- \uXXXX
        local cp = 0
        for k = 1, 4 do
          local h = byte(s, j + 1 + k)
          if h == nil then
            self.pos = self.n + 1
            self:eof(eof_msg)
          end
          local v = hexval(h)
          if not v then
            self.pos = j + 2 + k
            self:fail(fmt("Unexpected character (%s): expected a hex-digit for character escape sequence",
              char_desc(h)))
          end
          cp = cp * 16 + v
        end
        i = j + 6
        -- a surrogate pair written as two escapes is one character
        if cp >= 0xD800 and cp <= 0xDBFF and sub(s, i, i + 1) == "\\u" then
          local lo = tonumber(sub(s, i + 2, i + 5), 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF and #sub(s, i + 2, i + 5) == 4 then
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            i = i + 6
          end
        end
        buf[#buf + 1] = util.utf8_char(cp)
      else
        self.pos = j + 2
        self:fail("Unrecognized character escape " .. char_desc(e))
      end
    elseif c < 32 then
      self.pos = j + 1
      self:fail(fmt("Illegal unquoted character (%s): has to be escaped using backslash to be included in %s",
        char_desc(c), is_name and "name" or "string value"))
    else -- UTF-8 sequence, checked like Jackson does
      local len
      if c >= 0xC0 and c < 0xE0 then len = 2
      elseif c >= 0xE0 and c < 0xF0 then len = 3
      elseif c >= 0xF0 and c < 0xF8 then len = 4
      else
        self.pos = j + 1
        self:fail(fmt("Invalid UTF-8 start byte 0x%x", c))
      end
      for k = 1, len - 1 do
        local d = byte(s, j + k)
        if d == nil then
          self.pos = self.n + 1
          self:eof(eof_msg)
        end
        if d < 0x80 or d >= 0xC0 then
          self.pos = j + k + 1
          self:fail(fmt("Invalid UTF-8 middle byte 0x%x", d))
        end
      end
      buf[#buf + 1] = sub(s, j, j + len - 1)
      i = j + len
    end
  end
end

-- Values -----------------------------------------------------------------

local function is_digit(c) return c ~= nil and c >= 48 and c <= 57 end

local function is_ident(c)
  return c ~= nil and ((c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122)
    or c == 95 or c == 36 or c >= 128)
end

function P:read_number()
  local s, start = self.s, self.pos
  local i = start
  local function need_digit(why)
    local c = byte(s, i)
    if c == nil then
      self.pos = i
      self:eof(" in a Number value")
    end
    if not is_digit(c) then
      self.pos = i + 1
      self:fail(fmt("Unexpected character (%s) in numeric value: %s", char_desc(c), why))
    end
  end
  if byte(s, i) == 45 then
    i = i + 1
    need_digit("expected digit (0-9) to follow minus sign, for valid numeric value")
  end
  if byte(s, i) == 48 and is_digit(byte(s, i + 1)) then
    self.pos = i + 2
    self:fail("Invalid numeric value: Leading zeroes not allowed")
  end
  while is_digit(byte(s, i)) do i = i + 1 end
  if byte(s, i) == 46 then
    i = i + 1
    need_digit("Decimal point not followed by a digit")
    while is_digit(byte(s, i)) do i = i + 1 end
  end
  local e = byte(s, i)
  if e == 101 or e == 69 then
    i = i + 1
    local sign = byte(s, i)
    if sign == 43 or sign == 45 then i = i + 1 end
    need_digit("Exponent indicator not followed by a digit")
    while is_digit(byte(s, i)) do i = i + 1 end
  end
  self.pos = i
  local text = sub(s, start, i - 1)
  -- Jackson insists on white space after a root-level number
  if #self.stack == 0 then
    local c = byte(s, i)
    if c ~= nil and c ~= 32 and c ~= 9 and c ~= 10 and c ~= 13 then
      self:unexpected("Expected space separating root-level values")
    end
  end
  return tonumber(text), text
end

-- Reads the start of a value at the current byte c.  Returns a token record
-- {tok, value, line, col, lazy}; containers are not entered yet.
function P:read_value_start(c)
  local line, col = self.line, self.pos - self.ls + 1
  local top = self.stack[#self.stack]
  if c == 123 then
    self.pos = self.pos + 1
    return { "START_OBJECT", nil, line, col }
  elseif c == 91 then
    self.pos = self.pos + 1
    return { "START_ARRAY", nil, line, col }
  elseif c == 34 then
    self.pos = self.pos + 1
    return { "VALUE_STRING", nil, line, col, self.pos }
  elseif c == 45 or is_digit(c) then
    local v = self:read_number()
    return { "VALUE_NUMBER", v, line, col }
  elseif is_ident(c) then
    local s, i = self.s, self.pos
    while is_ident(byte(s, i)) do i = i + 1 end
    local word = sub(s, self.pos, i - 1)
    self.pos = i
    if word == "true" then return { "VALUE_BOOLEAN", true, line, col } end
    if word == "false" then return { "VALUE_BOOLEAN", false, line, col } end
    if word == "null" then return { "VALUE_NULL", json.null, line, col } end
    self:fail(fmt("Unrecognized token '%s': was expecting %s", word, VALID_VALUES))
  elseif c == 125 or c == 44 or (c == 93 and top and top.kind == "Array") then
    self:unexpected("expected a value")
  end
  self:unexpected("expected a valid value " .. VALID_VALUES)
end

function P:emit(t)
  local tok = t[1]
  self.token, self.value, self.tline, self.tcol = tok, t[2], t[3], t[4]
  if tok == "START_OBJECT" or tok == "START_ARRAY" then
    local depth = #self.stack + 1
    if depth > MAX_DEPTH then
      self:fail(fmt("Document nesting depth (%d) exceeds the maximum allowed (%d, from "
        .. "`StreamReadConstraints.getMaxNestingDepth()`)", depth, MAX_DEPTH), "stream_constraints_exception")
    end
    self.stack[depth] = { kind = tok == "START_OBJECT" and "Object" or "Array", names = {}, count = 0,
                          line = t[3], col = t[4] }
  elseif tok == "VALUE_STRING" then
    self.lazy = t[5]
  end
  return tok
end

function P:close(c)
  local top = self.stack[#self.stack]
  local want = top.kind == "Object" and 125 or 93
  self.pos = self.pos + 1
  if c ~= want then
    self:fail(fmt("Unexpected close marker '%s': expected '%s' (for %s starting at %s)",
      char(c), char(want), top.kind, source(top.line, top.col)))
  end
  local line, col = self.line, self.pos - 1 - self.ls + 1
  self.stack[#self.stack] = nil
  return self:emit({ top.kind == "Object" and "END_OBJECT" or "END_ARRAY", nil, line, col })
end

-- next_token(): the next token name, or nil at the end of the input.
function P:next_token()
  if self.lazy then
    self:read_string(self.lazy, false)
    self.lazy = nil
  end
  if self.pending then
    local t = self.pending
    self.pending = nil
    return self:emit(t)
  end
  local top = self.stack[#self.stack]
  local c = self:skip_ws()
  if not top then
    if c == nil then
      self.token, self.value = nil, nil
      return nil
    end
    return self:emit(self:read_value_start(c))
  end
  local close_eof = fmt(": expected close marker for %s (start marker at %s)", top.kind,
    source(top.line, top.col))
  if c == nil then self:eof(close_eof) end
  if c == 125 or c == 93 then
    -- right after the opener or after a value (Jackson checks these first)
    return self:close(c)
  end
  if top.count > 0 then
    if c ~= 44 then
      self:unexpected("was expecting comma to separate " .. top.kind .. " entries")
    end
    self.pos = self.pos + 1
    c = self:skip_ws()
    if c == nil then self:eof(close_eof) end
  end
  top.count = top.count + 1
  if top.kind == "Array" then
    return self:emit(self:read_value_start(c))
  end
  -- object member: name, colon, then a look at the value
  if c ~= 34 then
    self:unexpected("was expecting double-quote to start field name")
  end
  local line, col = self.line, self.pos - self.ls + 1
  local name = self:read_string(self.pos + 1, true)
  if top.names[name] then
    self:fail("Duplicate field '" .. name .. "'")
  end
  top.names[name] = true
  c = self:skip_ws()
  if c == nil then self:eof(" within/between Object entries") end
  if c ~= 58 then
    self:unexpected("was expecting a colon to separate field name and value")
  end
  self.pos = self.pos + 1
  c = self:skip_ws()
  if c == nil then self:eof(" within/between Object entries") end
  self.pending = self:read_value_start(c)
  return self:emit({ "FIELD_NAME", name, line, col })
end

-- text(): the current string value (reads it now if it was deferred).
function P:text()
  if self.lazy then
    self.value = self:read_string(self.lazy, false)
    self.lazy = nil
  end
  return self.value
end

-- read_value(): the current token's whole value as json.lua values.
function P:read_value()
  local t = self.token
  if t == "START_OBJECT" then
    local o = json.obj()
    while self:next_token() ~= "END_OBJECT" do
      local name = self.value
      self:next_token()
      o[name] = self:read_value()
    end
    return o
  elseif t == "START_ARRAY" then
    local a = json.arr()
    while self:next_token() ~= "END_ARRAY" do
      a[#a + 1] = self:read_value()
    end
    return a
  elseif t == "VALUE_STRING" then
    return self:text()
  end
  return self.value
end

-- decode(s): parse a whole trusted document (stored sources).
function M.decode(s)
  local p = M.parser(s)
  p:next_token()
  return p:read_value()
end

-- ObjectParser --------------------------------------------------------------

local supported = {
  string = { VALUE_STRING = true },
  string_or_null = { VALUE_STRING = true, VALUE_NULL = true },
  boolean = { VALUE_BOOLEAN = true, VALUE_STRING = true },
  boolean_or_null = { VALUE_BOOLEAN = true, VALUE_STRING = true, VALUE_NULL = true },
  int = { VALUE_NUMBER = true, VALUE_STRING = true },
  long = { VALUE_NUMBER = true, VALUE_STRING = true },
  object = { START_OBJECT = true },
  -- declareObjectArray: a single object counts as an array of one
  object_array = { START_OBJECT = true, START_ARRAY = true },
  object_or_string = { START_OBJECT = true, VALUE_STRING = true },
  value = { VALUE_STRING = true, VALUE_NUMBER = true, VALUE_BOOLEAN = true },
  value_object_array = { START_OBJECT = true, START_ARRAY = true, VALUE_STRING = true, VALUE_NUMBER = true,
                         VALUE_BOOLEAN = true },
  object_or_null = { START_OBJECT = true, VALUE_NULL = true },
  string_array = { START_ARRAY = true, VALUE_STRING = true },
  any = { START_OBJECT = true, START_ARRAY = true, VALUE_STRING = true, VALUE_NUMBER = true,
          VALUE_BOOLEAN = true, VALUE_NULL = true },
}
M.value_types = supported

-- Booleans.parseBoolean
function M.parse_boolean(text)
  if text == "true" then return true end
  if text == "false" then return false end
  error(errors.illegal_argument("Failed to parse value [" .. text .. "] as only [true] or [false] are allowed."), 0)
end

local readers = {}
function readers.string(p) return p:text() end
readers.string_or_null = function(p)
  if p.token == "VALUE_NULL" then return nil end
  return p:text()
end
function readers.boolean(p)
  if p.token == "VALUE_BOOLEAN" then return p.value end
  return M.parse_boolean(p:text())
end
readers.boolean_or_null = function(p)
  if p.token == "VALUE_NULL" then return nil end
  return readers.boolean(p)
end
function readers.int(p)
  local v = p.token == "VALUE_NUMBER" and p.value or tonumber(p:text())
  if not v then
    error(errors.new("number_format_exception", "For input string: \"" .. p:text() .. "\""), 0)
  end
  return v >= 0 and math.floor(v) or math.ceil(v)
end
readers.long = readers.int
readers.value = function(p) return p:read_value() end
readers.object_or_string = function(p) return p:read_value() end
readers.value_object_array = function(p) return p:read_value() end
-- Elements must be objects (ObjectParser parses each with the object's parser).
function readers.object_array(p)
  if p.token == "START_OBJECT" then return json.arr({ p:read_value() }) end
  local a = json.arr()
  while p:next_token() ~= "END_ARRAY" do
    if p.token ~= "START_OBJECT" then
      error(M.parse_error(p.tline, p.tcol, "Expected START_OBJECT but was " .. p.token), 0)
    end
    a[#a + 1] = p:read_value()
  end
  return a
end
function readers.object(p) return p:read_value() end
readers.object_or_null = function(p)
  if p.token == "VALUE_NULL" then return nil end
  return p:read_value()
end
readers.string_array = function(p)
  if p.token == "VALUE_STRING" then return json.arr({ p:text() }) end
  local a = json.arr()
  while p:next_token() ~= "END_ARRAY" do
    a[#a + 1] = p.token == "VALUE_STRING" and p:text() or tostring(p:read_value())
  end
  return a
end
function readers.any(p)
  local v = p:read_value()
  if v == json.null then return nil end
  return v
end

local OP = {}
OP.__index = OP

-- object_parser(name, fields): fields is a list of {name, type[, reader],
-- required = true}; reader(p) replaces the default reader of the type.
-- Required fields make it a ConstructingObjectParser: once the object is
-- read, missing ones give "Required [a, b]" (a null value counts as given).
-- options.build(out): a ConstructingObjectParser's builder over all the
-- fields; an error it raises becomes "Failed to build [name] after last
-- required field arrived", wrapped in "[l:c] [name] failed to parse field
-- [f]" when the last field f completed the arguments, as ES does.
function M.object_parser(name, fields, options)
  local by_name, names, required = {}, {}, {}
  for _, f in ipairs(fields) do
    by_name[f[1]] = f
    names[#names + 1] = f[1]
    if f.required then required[#required + 1] = f[1] end
  end
  return setmetatable({ name = name, by_name = by_name, names = names, required = required,
                        build = options and options.build }, OP)
end

-- Runs the builder; its error as ConstructingObjectParser.buildTarget reports it.
local function build(self, out)
  local ok, err = pcall(self.build, out)
  if ok then return end
  if not errors.is(err) then error(err, 0) end
  error(M.parse_error(nil, nil, fmt("Failed to build [%s] after last required field arrived", self.name), err), 0)
end

-- nested(op): a reader that parses the current object with another parser
-- (an error inside becomes "[outer] failed to parse field [f]", as in ES).
function M.nested(op)
  return function(p) return (op:parse(p)) end
end

-- parse(p): reads one object; returns a table of the fields present (null
-- values read as nil) and a set of the names that were present.
function OP:parse(p)
  local t = p.token
  if t ~= "START_OBJECT" then
    t = p:next_token()
    if t ~= "START_OBJECT" then
      error(M.parse_error(p.tline, p.tcol, fmt("[%s] Expected START_OBJECT but was: %s", self.name,
        t or "null")), 0)
    end
  end
  local out, present = {}, {}
  local fname, fline, fcol
  local built, count = false, 0
  while true do
    t = p:next_token()
    if t == "END_OBJECT" then break end
    if t == "FIELD_NAME" then
      fname, fline, fcol = p.value, p.tline, p.tcol
    else
      local f = self.by_name[fname]
      if not f then
        error(M.parse_error(fline, fcol, fmt("[%s] unknown field [%s]%s", self.name, fname,
          util.suggest(fname, self.names, " did you mean "))), 0)
      end
      if not supported[f[2]][t] then
        error(M.parse_error(p.tline, p.tcol, fmt("[%s] %s doesn't support values of type: %s",
          self.name, fname, t)), 0)
      end
      local ok, v = pcall(f[3] or readers[f[2]], p)
      if not ok then
        if not errors.is(v) then error(v, 0) end
        error(M.parse_error(p.tline, p.tcol, fmt("[%s] failed to parse field [%s]", self.name, fname), v), 0)
      end
      out[fname] = v
      if not present[fname] then count = count + 1 end
      present[fname] = true
      if self.build and not built and count == #self.names then
        built = true
        local bok, berr = pcall(build, self, out)
        if not bok then
          error(M.parse_error(p.tline, p.tcol, fmt("[%s] failed to parse field [%s]", self.name, fname), berr), 0)
        end
      end
    end
  end
  local missing = {}
  for _, name in ipairs(self.required) do
    if not present[name] then missing[#missing + 1] = name end
  end
  if #missing > 0 then
    error(errors.illegal_argument("Required [" .. table.concat(missing, ", ") .. "]"), 0)
  end
  if self.build and not built then build(self, out) end
  return out, present
end

-- parse_body(body, op): parse a request body with an object parser.
function M.parse_body(body, op)
  return op:parse(M.parser(body))
end

return M
