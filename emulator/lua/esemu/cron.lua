-- Cron expressions as Elasticsearch's x-pack Cron (Quartz syntax) accepts
-- them: "sec min hour day-of-month month day-of-week [year]", with `*`,
-- `?`, lists, ranges, increments, names (JAN..DEC, SUN..SAT), `L`, `W` and
-- `#`; exactly one of day-of-month and day-of-week is `?`.

local M = {}

local MONTHS = { JAN = 1, FEB = 2, MAR = 3, APR = 4, MAY = 5, JUN = 6, JUL = 7, AUG = 8, SEP = 9, OCT = 10,
                 NOV = 11, DEC = 12 }
local DAYS = { SUN = 1, MON = 2, TUE = 3, WED = 4, THU = 5, FRI = 6, SAT = 7 }

-- name, low, high, names
local FIELDS = {
  { "second", 0, 59 }, { "minute", 0, 59 }, { "hour", 0, 23 }, { "day of month", 1, 31 },
  { "month", 1, 12, MONTHS }, { "day of week", 1, 7, DAYS }, { "year", 1970, 2199 },
}
local DOM, DOW = 4, 6

local function value(text, field)
  local n = tonumber(text:match("^%d+$") or "")
  if not n and field[4] then n = field[4][text] end
  if not n or n < field[2] or n > field[3] then return nil end
  return n
end

-- One comma-separated item of field i: true, or nil.
local function item_ok(item, i)
  local field = FIELDS[i]
  if i == DOM then
    if item == "L" or item == "LW" or item:match("^L%-%d+$") then return true end
    local d = item:match("^(%d+)W$")
    if d then return value(d, field) ~= nil end
  elseif i == DOW then
    local d, nth = item:match("^(%w+)#(%d)$")
    if d then return value(d, field) ~= nil and tonumber(nth) >= 1 and tonumber(nth) <= 5 end
    d = item:match("^(%w+)L$")
    if d then return value(d, field) ~= nil end
    if item == "L" then return true end
  end
  local range, step = item:match("^([^/]+)/(%d+)$")
  if range then
    if tonumber(step) < 1 then return nil end
    item = range
  end
  if item == "*" then return true end
  local lo, hi = item:match("^(%w+)%-(%w+)$")
  if lo then return value(lo, field) ~= nil and value(hi, field) ~= nil end
  return value(item, field) ~= nil
end

--- true when expr is a valid cron expression, else false.
function M.valid(expr)
  if type(expr) ~= "string" then return false end
  local parts = {}
  for part in expr:upper():gmatch("%S+") do parts[#parts + 1] = part end
  if #parts ~= 6 and #parts ~= 7 then return false end
  local questions = 0
  for i, part in ipairs(parts) do
    if part == "?" then
      if i ~= DOM and i ~= DOW then return false end
      questions = questions + 1
    else
      for item in (part .. ","):gmatch("([^,]*),") do
        if item == "" or not item_ok(item, i) then return false end
      end
    end
  end
  return questions == 1
end

return M
