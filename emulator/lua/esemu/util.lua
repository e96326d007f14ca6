-- Small helpers that mirror Java/Elasticsearch behaviour: URL decoding as
-- RestUtils.decodeComponent, java.util.Base64 decoding (with its messages),
-- Lucene's Levenshtein similarity for "did you mean" suggestions, ES-style
-- random ids and timestamps.  Pure Lua, so it loads outside nginx too.

local byte, char, sub, fmt, floor = string.byte, string.char, string.sub, string.format, math.floor

local M = {}

function M.utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then
    return char(0xC0 + floor(cp / 0x40), 0x80 + cp % 0x40)
  end
  if cp < 0x10000 then
    return char(0xE0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return char(0xF0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
    0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

-- Lucene LevenshteinDistance.getDistance: 1 - distance / max(length).
function M.similarity(a, b)
  local n, m = #a, #b
  if n == 0 or m == 0 then return n == m and 1 or 0 end
  local prev, cur = {}, {}
  for j = 0, m do prev[j] = j end
  for i = 1, n do
    cur[0] = i
    local ca = byte(a, i)
    for j = 1, m do
      local cost = (ca == byte(b, j)) and 0 or 1
      cur[j] = math.min(cur[j - 1] + 1, prev[j] + 1, prev[j - 1] + cost)
    end
    prev, cur = cur, prev
  end
  return 1 - prev[m] / math.max(n, m)
end

-- suggest(word, candidates, prefix): "" or prefix.."[x]?" / prefix.."any of [x, y]?"
-- Candidates scoring > 0.5, best first, ties by name (SuggestingErrorOnUnknown
-- and BaseRestHandler.unrecognized use the same rule).
function M.suggest(word, candidates, prefix)
  local scored = {}
  for _, c in ipairs(candidates) do
    local d = M.similarity(word, c)
    if d > 0.5 then scored[#scored + 1] = { d, c } end
  end
  if #scored == 0 then return "" end
  table.sort(scored, function(x, y)
    if x[1] ~= y[1] then return x[1] > y[1] end
    return x[2] < y[2]
  end)
  if #scored == 1 then return prefix .. "[" .. scored[1][2] .. "]?" end
  local names = {}
  for i, s in ipairs(scored) do names[i] = s[2] end
  return prefix .. "any of [" .. table.concat(names, ", ") .. "]?"
end

local function hex_nibble(c)
  if c >= 48 and c <= 57 then return c - 48 end
  if c >= 97 and c <= 102 then return c - 87 end
  if c >= 65 and c <= 70 then return c - 55 end
  return nil
end

-- RestUtils.decodeComponent.  Returns the decoded string, or nil and the
-- IllegalArgumentException message.  plus_as_space: query strings only.
function M.url_decode(s, plus_as_space)
  if not s:find("[%%+]") then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = byte(s, i)
    if c == 43 and plus_as_space then
      out[#out + 1] = " "
    elseif c == 37 then
      if i == n then return nil, "unterminated escape sequence at end of string: " .. s end
      i = i + 1
      local c1 = byte(s, i)
      if c1 == 37 then
        out[#out + 1] = "%"
      else
        if i == n then return nil, "partial escape sequence at end of string: " .. s end
        i = i + 1
        local c2 = byte(s, i)
        local h1, h2 = hex_nibble(c1), hex_nibble(c2)
        if not h1 or not h2 then
          return nil, fmt("invalid escape sequence `%%%s' at index %d of: %s", sub(s, i - 1, i), i - 3, s)
        end
        out[#out + 1] = char(h1 * 16 + h2)
      end
    else
      out[#out + 1] = char(c)
    end
    i = i + 1
  end
  return table.concat(out)
end

-- Base64 ---------------------------------------------------------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local b64val = {}
for i = 1, 64 do b64val[byte(B64, i)] = i - 1 end

function M.base64_encode(s, url_safe, no_pad)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local k1, k2 = floor(n / 262144) % 64, floor(n / 4096) % 64
    local k3, k4 = floor(n / 64) % 64, n % 64
    out[#out + 1] = sub(B64, k1 + 1, k1 + 1) .. sub(B64, k2 + 1, k2 + 1)
      .. (b and sub(B64, k3 + 1, k3 + 1) or (no_pad and "" or "="))
      .. (c and sub(B64, k4 + 1, k4 + 1) or (no_pad and "" or "="))
  end
  local r = table.concat(out)
  if url_safe then r = r:gsub("%+", "-"):gsub("/", "_") end
  return r
end

-- java.util.Base64.getDecoder().decode(): returns bytes, or nil and the
-- IllegalArgumentException message Java would give.
function M.base64_decode_java(s)
  local n = #s
  if n == 0 then return "" end
  if n < 2 then return nil, "Input byte[] should at least have 2 bytes for base64 bytes" end
  local out, bits, shift, i = {}, 0, 18, 1
  while i <= n do
    local c = byte(s, i)
    i = i + 1
    local v = b64val[c]
    if v == nil then
      if c == 61 then -- '='
        if (shift == 6 and (i > n or byte(s, i) ~= 61)) or shift == 18 then
          return nil, "Input byte array has wrong 4-byte ending unit"
        end
        if shift == 6 then i = i + 1 end
        break
      end
      local signed = c >= 128 and c - 256 or c
      return nil, "Illegal base64 character " .. (signed < 0 and "-" .. fmt("%x", -signed) or fmt("%x", signed))
    end
    bits = bits + v * 2 ^ shift
    shift = shift - 6
    if shift < 0 then
      out[#out + 1] = char(floor(bits / 65536) % 256, floor(bits / 256) % 256, bits % 256)
      bits, shift = 0, 18
    end
  end
  if shift == 6 then
    out[#out + 1] = char(floor(bits / 65536) % 256)
  elseif shift == 0 then
    out[#out + 1] = char(floor(bits / 65536) % 256, floor(bits / 256) % 256)
  elseif shift == 12 then
    return nil, "Last unit does not have enough valid bits"
  end
  if i <= n then
    return nil, "Input byte array has incorrect ending byte at " .. (i - 1)
  end
  return table.concat(out)
end

-- Random ids and time -------------------------------------------------------

function M.random_bytes(n)
  local f = io.open("/dev/urandom", "rb")
  if f then
    local b = f:read(n)
    f:close()
    if b and #b == n then return b end
  end
  local t = {}
  for i = 1, n do t[i] = char(math.random(0, 255)) end
  return table.concat(t)
end

-- UUIDs.base64UUID(): 20 URL-safe characters (document and API key ids).
function M.base64_uuid()
  return M.base64_encode(M.random_bytes(15), true, true)
end

-- UUIDs.randomBase64UUID(): 22 URL-safe characters (cluster and index uuids,
-- API key secrets).
function M.random_base64_uuid()
  return M.base64_encode(M.random_bytes(16), true, true)
end

-- ISO-8601 UTC with milliseconds, as ES prints an Instant.
function M.iso_now(now)
  local sec = floor(now)
  local ms = floor((now - sec) * 1000 + 0.5)
  if ms >= 1000 then sec, ms = sec + 1, ms - 1000 end
  return os.date("!%Y-%m-%dT%H:%M:%S", sec) .. fmt(".%03dZ", ms)
end

-- Java's String.split("/") semantics on a raw path: leading "" dropped,
-- trailing empty segments dropped, inner empty ones kept.
function M.split_path(path)
  local segs = {}
  for seg in (path .. "/"):gmatch("([^/]*)/") do segs[#segs + 1] = seg end
  if segs[1] == "" then table.remove(segs, 1) end
  while #segs > 0 and segs[#segs] == "" do segs[#segs] = nil end
  return segs
end

return M
