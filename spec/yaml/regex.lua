--- A small backtracking engine for the Java regular expressions that the
-- YAML REST tests use (`match: { f: /re/ }`, `catch: /re/`).  Lua patterns
-- have no alternation or grouped quantifiers, so translating them is not
-- enough.
--
-- Supported: literals; `.`; classes `[a-z_]`, `[^...]` with ranges and
-- `\d \w \s \D \W \S` inside; escapes `\t \n \r \f \a \e \xhh \uhhhh \0oo`
-- and any escaped punctuation; `\Q...\E`; groups `(...)`, `(?:...)`; `|`;
-- quantifiers `* + ? {n} {n,} {n,m}` and their lazy `?` forms; anchors
-- `^ $ \A \z \Z \b \B`.  Matching is by code point (UTF-8) and, like
-- Java's `Matcher.find`, looks for a match anywhere in the subject.
-- With `comments` (Java's Pattern.COMMENTS, which `match` uses) unescaped
-- whitespace and `#` comments in the pattern are ignored.
--
-- Not supported (compile returns nil and the reason, and the runner skips
-- the test rather than guess): look-around, back-references, named groups,
-- inline flags such as `(?i)`, possessive quantifiers, `\p{...}` classes,
-- class unions and intersections.
local regex = {}

local function utf8_chars(s)
  local chars = {}
  for ch in s:gmatch("[^\128-\191][\128-\191]*") do chars[#chars + 1] = ch end
  return chars
end

-- The code point of one UTF-8 sequence (or its first byte when malformed).
local function codepoint(ch)
  local b1 = ch:byte(1)
  local n = #ch
  if n == 1 or b1 < 0xC0 then return b1 end
  local cp
  if n == 2 then cp = b1 % 0x20
  elseif n == 3 then cp = b1 % 0x10
  else cp = b1 % 0x08 end
  for i = 2, n do cp = cp * 64 + ch:byte(i) % 64 end
  return cp
end

local function is_digit(c) return c >= 48 and c <= 57 end
local function is_word(c)
  return is_digit(c) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122) or c == 95
end
local function is_space(c) return c == 32 or (c >= 9 and c <= 13) end
-- Java's line terminators, which `.` does not match.
local function is_newline(c)
  return c == 10 or c == 13 or c == 0x85 or c == 0x2028 or c == 0x2029
end

local CLASS_ESCAPES = {
  d = is_digit,
  w = is_word,
  s = is_space,
  D = function(c) return not is_digit(c) end,
  W = function(c) return not is_word(c) end,
  S = function(c) return not is_space(c) end,
}

local CHAR_ESCAPES = { t = 9, n = 10, r = 13, f = 12, a = 7, e = 27 }

local Unsupported = {}

local function unsupported(what)
  error(setmetatable({ message = what }, Unsupported), 0)
end

-- Parser state: p.chars (pattern code points as strings), p.pos, p.comments.
local function peek(p) return p.chars[p.pos] end

local function skip_ignorable(p)
  if not p.comments then return end
  while true do
    local ch = p.chars[p.pos]
    if ch == nil then return end
    local c = codepoint(ch)
    if is_space(c) then
      p.pos = p.pos + 1
    elseif ch == "#" then
      while p.chars[p.pos] and p.chars[p.pos] ~= "\n" do p.pos = p.pos + 1 end
    else
      return
    end
  end
end

local function hex_digits(p, count)
  local s = ""
  for _ = 1, count do
    local ch = p.chars[p.pos]
    if not ch or not ch:match("^%x$") then unsupported("a malformed hexadecimal escape") end
    s = s .. ch
    p.pos = p.pos + 1
  end
  return tonumber(s, 16)
end

-- Reads the escape after a backslash.  Returns either a code point or a
-- predicate over code points (for \d and friends).
local function read_escape(p, in_class)
  local ch = p.chars[p.pos]
  if ch == nil then unsupported("a trailing backslash") end
  p.pos = p.pos + 1
  if CLASS_ESCAPES[ch] then return nil, CLASS_ESCAPES[ch] end
  if CHAR_ESCAPES[ch] then return CHAR_ESCAPES[ch] end
  if ch == "x" then
    if p.chars[p.pos] == "{" then unsupported("\\x{...} escapes") end
    return hex_digits(p, 2)
  end
  if ch == "u" then return hex_digits(p, 4) end
  if ch == "0" then
    local s = ""
    while #s < 3 and p.chars[p.pos] and p.chars[p.pos]:match("^[0-7]$") do
      s = s .. p.chars[p.pos]
      p.pos = p.pos + 1
    end
    if s == "" then unsupported("a malformed octal escape") end
    return tonumber(s, 8)
  end
  if ch == "b" and in_class then unsupported("\\b inside a class") end
  if ch:match("^%w$") then unsupported("the escape \\" .. ch) end
  return codepoint(ch)
end

local function class_node(p)
  -- p.pos is just after "["
  local negate = false
  if peek(p) == "^" then negate = true; p.pos = p.pos + 1 end
  local items = {} -- { lo, hi } ranges or predicates
  local first = true
  while true do
    skip_ignorable(p)
    local ch = peek(p)
    if ch == nil then unsupported("an unterminated class") end
    if ch == "]" and not first then p.pos = p.pos + 1; break end
    if ch == "[" then unsupported("nested classes") end
    if ch == "&" and p.chars[p.pos + 1] == "&" then unsupported("class intersections") end
    first = false
    p.pos = p.pos + 1
    local lo, pred
    if ch == "\\" then
      lo, pred = read_escape(p, true)
    else
      lo = codepoint(ch)
    end
    if pred then
      items[#items + 1] = pred
    else
      local save = p.pos
      skip_ignorable(p)
      if peek(p) == "-" and p.chars[p.pos + 1] and p.chars[p.pos + 1] ~= "]" then
        p.pos = p.pos + 1
        skip_ignorable(p)
        local hch = peek(p)
        p.pos = p.pos + 1
        local hi, hpred
        if hch == "\\" then hi, hpred = read_escape(p, true) else hi = codepoint(hch) end
        if hpred or hi < lo then unsupported("a malformed class range") end
        items[#items + 1] = { lo, hi }
      else
        p.pos = save
        items[#items + 1] = { lo, lo }
      end
    end
  end
  local test = function(c)
    for _, item in ipairs(items) do
      if type(item) == "function" then
        if item(c) then return true end
      elseif c >= item[1] and c <= item[2] then
        return true
      end
    end
    return false
  end
  if negate then
    return { k = "char", test = function(c) return not test(c) end }
  end
  return { k = "char", test = test }
end

local function literal(c)
  return { k = "char", test = function(x) return x == c end }
end

local parse_alt

local function parse_atom(p)
  local ch = peek(p)
  p.pos = p.pos + 1
  if ch == "." then
    return { k = "char", test = function(c) return not is_newline(c) end }
  elseif ch == "^" then
    return { k = "bol" }
  elseif ch == "$" then
    return { k = "eol" }
  elseif ch == "[" then
    return class_node(p)
  elseif ch == "(" then
    if peek(p) == "?" then
      if p.chars[p.pos + 1] ~= ":" then
        unsupported("(?" .. (p.chars[p.pos + 1] or "") .. " groups (look-around, inline flags, named groups)")
      end
      p.pos = p.pos + 2
    end
    local node = parse_alt(p)
    if peek(p) ~= ")" then unsupported("an unbalanced parenthesis") end
    p.pos = p.pos + 1
    return node
  elseif ch == ")" then
    unsupported("an unbalanced parenthesis")
  elseif ch == "*" or ch == "+" or ch == "?" or ch == "{" then
    unsupported("a quantifier with nothing to repeat")
  elseif ch == "\\" then
    local nxt = peek(p)
    if nxt == "A" then p.pos = p.pos + 1; return { k = "bos" } end
    if nxt == "z" then p.pos = p.pos + 1; return { k = "eos" } end
    if nxt == "Z" then p.pos = p.pos + 1; return { k = "eol" } end
    if nxt == "b" then p.pos = p.pos + 1; return { k = "wordb" } end
    if nxt == "B" then p.pos = p.pos + 1; return { k = "nwordb" } end
    if nxt == "Q" then
      p.pos = p.pos + 1
      local list = {}
      while p.chars[p.pos] and not (p.chars[p.pos] == "\\" and p.chars[p.pos + 1] == "E") do
        list[#list + 1] = literal(codepoint(p.chars[p.pos]))
        p.pos = p.pos + 1
      end
      if p.chars[p.pos] then p.pos = p.pos + 2 end
      return { k = "seq", list = list }
    end
    if nxt and nxt:match("^[1-9]$") then unsupported("back-references") end
    if nxt == "p" or nxt == "P" then unsupported("\\p{...} classes") end
    if nxt == "k" then unsupported("named back-references") end
    local c, pred = read_escape(p, false)
    if pred then return { k = "char", test = pred } end
    return literal(c)
  end
  return literal(codepoint(ch))
end

-- Reads {n}, {n,} or {n,m} after the "{"; nil when it is not a quantifier.
local function read_braces(p)
  local text = {}
  local i = p.pos + 1
  while p.chars[i] and p.chars[i] ~= "}" do
    text[#text + 1] = p.chars[i]
    i = i + 1
  end
  if not p.chars[i] then return nil end
  local s = table.concat(text)
  local lo, comma, hi = s:match("^(%d+)(,?)(%d*)$")
  if not lo then return nil end
  p.pos = i + 1
  lo = tonumber(lo)
  if comma == "" then return lo, lo end
  if hi == "" then return lo, nil end
  hi = tonumber(hi)
  if hi < lo then unsupported("a quantifier {n,m} with m < n") end
  return lo, hi
end

local function parse_quantified(p)
  local atom = parse_atom(p)
  while true do
    skip_ignorable(p)
    local ch = peek(p)
    local min, max
    if ch == "*" then min, max = 0, nil; p.pos = p.pos + 1
    elseif ch == "+" then min, max = 1, nil; p.pos = p.pos + 1
    elseif ch == "?" then min, max = 0, 1; p.pos = p.pos + 1
    elseif ch == "{" then
      min, max = read_braces(p)
      if not min then unsupported("a '{' that is not a quantifier") end
    else
      return atom
    end
    local lazy = false
    if peek(p) == "?" then lazy = true; p.pos = p.pos + 1
    elseif peek(p) == "+" then unsupported("possessive quantifiers") end
    if atom.k ~= "char" and atom.k ~= "seq" and atom.k ~= "alt" and atom.k ~= "rep" then
      unsupported("a quantifier after an anchor")
    end
    atom = { k = "rep", node = atom, min = min, max = max, lazy = lazy }
  end
end

local function parse_seq(p)
  local list = {}
  while true do
    skip_ignorable(p)
    local ch = peek(p)
    if ch == nil or ch == "|" or ch == ")" then break end
    list[#list + 1] = parse_quantified(p)
  end
  if #list == 1 then return list[1] end
  return { k = "seq", list = list }
end

parse_alt = function(p)
  local alts = { parse_seq(p) }
  while peek(p) == "|" do
    p.pos = p.pos + 1
    alts[#alts + 1] = parse_seq(p)
  end
  if #alts == 1 then return alts[1] end
  return { k = "alt", list = alts }
end

--- Compiles a Java regular expression.  Returns a compiled regex, or nil and
-- what in it is not supported.
function regex.compile(pattern, comments)
  local p = { chars = utf8_chars(pattern), pos = 1, comments = comments }
  local ok, node = pcall(function()
    local n = parse_alt(p)
    if p.pos <= #p.chars then unsupported("an unbalanced parenthesis") end
    return n
  end)
  if not ok then
    if getmetatable(node) == Unsupported then return nil, node.message end
    error(node, 0)
  end
  return { root = node, source = pattern }
end

-- Matching: m(node, s, i, k) tries node at code point index i of s (an array
-- of code points with s.n of them) and calls the continuation k with the
-- index after the match; true as soon as one path through succeeds.
local match_node

local function word_at(s, i)
  return i >= 1 and i <= s.n and is_word(s[i])
end

local function match_rep(node, s, i, k)
  local inner, min, max = node.node, node.min, node.max
  if inner.k == "char" then
    -- One code point per repetition: count, then back off, no recursion.
    local count = 0
    while (max == nil or count < max) and i + count <= s.n and inner.test(s[i + count]) do
      count = count + 1
    end
    if count < min then return false end
    if node.lazy then
      for c = min, count do if k(i + c) then return true end end
    else
      for c = count, min, -1 do if k(i + c) then return true end end
    end
    return false
  end
  local function rec(count, at)
    local function again(e)
      -- An empty repetition past the minimum would loop for ever.
      if e == at and count >= min then return false end
      return rec(count + 1, e)
    end
    if node.lazy then
      if count >= min and k(at) then return true end
      return (max == nil or count < max) and match_node(inner, s, at, again)
    end
    if (max == nil or count < max) and match_node(inner, s, at, again) then return true end
    return count >= min and k(at)
  end
  return rec(0, i)
end

match_node = function(node, s, i, k)
  local kind = node.k
  if kind == "char" then
    return i <= s.n and node.test(s[i]) and k(i + 1)
  elseif kind == "seq" then
    local list = node.list
    local function step(j, at)
      if j > #list then return k(at) end
      return match_node(list[j], s, at, function(e) return step(j + 1, e) end)
    end
    return step(1, i)
  elseif kind == "alt" then
    for _, alt in ipairs(node.list) do
      if match_node(alt, s, i, k) then return true end
    end
    return false
  elseif kind == "rep" then
    return match_rep(node, s, i, k)
  elseif kind == "bol" or kind == "bos" then
    return i == 1 and k(i)
  elseif kind == "eos" then
    return i == s.n + 1 and k(i)
  elseif kind == "eol" then
    -- Java's $ without MULTILINE: the end, or before a final line break.
    if i == s.n + 1 then return k(i) end
    if i == s.n and is_newline(s[i]) then return k(i) end
    if i == s.n - 1 and s[i] == 13 and s[i + 1] == 10 then return k(i) end
    return false
  elseif kind == "wordb" or kind == "nwordb" then
    local boundary = word_at(s, i - 1) ~= word_at(s, i)
    if kind == "nwordb" then boundary = not boundary end
    return boundary and k(i)
  end
  error("regex: unknown node " .. tostring(kind))
end

local function accept() return true end

--- True when the compiled regex matches somewhere in subject (Java's find).
function regex.find(compiled, subject)
  local s = {}
  for i, ch in ipairs(utf8_chars(subject)) do s[i] = codepoint(ch) end
  s.n = #s
  for start = 1, s.n + 1 do
    if match_node(compiled.root, s, start, accept) then return true end
  end
  return false
end

return regex
