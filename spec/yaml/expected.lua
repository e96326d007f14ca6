--- Expected failures (YAML_EXPECTED_FAILURES=FILE): tests of a suite that are
-- known to fail, each with the reason and its evidence.  FILE is a YAML list:
--
--   - file: 10_connector_put.yml      # the test file, or its path's tail
--     test: "Create Connector - ..."  # the test's name
--     reason: "..."                   # one line: why, and the evidence
--     fails_with: "..."               # optional: text the failure must contain
--
-- A listed test still runs.  When it fails (as fails_with says, if given) it
-- is an expected failure, neither passed nor failed; when it passes, or fails
-- otherwise, it is a failure; a listed test that the run never met (no such
-- file among the files run, or no such test in it) is a failure too: the
-- list belongs to the suite it names.
local loader = require "spec.yaml.loader"
local values = require "spec.yaml.values"

local expected = {}

local FIELDS = { file = true, test = true, reason = true, fails_with = true }

local function nonempty(v) return type(v) == "string" and v:match("%S") ~= nil end

--- Reads the list; returns it ({ path = FILE, entries = { ... } }), or nil
-- and why.
function expected.load(path)
  local docs, err = loader.load_file(path)
  if not docs then return nil, path .. ": " .. tostring(err) end
  local list = docs[1]
  if #docs > 1 or (list ~= nil and (type(list) ~= "table" or not values.is_array(list))) then
    return nil, path .. ": expected one list of { file, test, reason }"
  end
  local entries, seen = {}, {}
  for i, e in ipairs(list or {}) do
    local where = ("%s: entry %d"):format(path, i)
    if type(e) ~= "table" or values.is_array(e) then return nil, where .. " is not a mapping" end
    for _, key in ipairs(loader.keys(e)) do
      if not FIELDS[key] then return nil, ("%s: unknown field [%s]"):format(where, key) end
    end
    for _, key in ipairs({ "file", "test", "reason" }) do
      if not nonempty(e[key]) then return nil, ("%s: [%s] must be a non-empty string"):format(where, key) end
    end
    if e.fails_with ~= nil and not nonempty(e.fails_with) then
      return nil, where .. ": [fails_with] must be a non-empty string"
    end
    if e.reason:find("[\r\n]") then return nil, where .. ": [reason] must be one line" end
    local key = e.file .. "\0" .. e.test
    if seen[key] then return nil, ("%s lists %s: %s again"):format(where, e.file, e.test) end
    seen[key] = true
    entries[#entries + 1] = { file = e.file, test = e.test, reason = e.reason, fails_with = e.fails_with,
                              file_ran = false, met = false }
  end
  return { path = path, entries = entries }
end

-- Does the run's path name the listed file (the same path, or its tail)?
local function names(path, file)
  return path == file or (#path > #file and path:sub(-#file - 1) == "/" .. file)
end

--- Notes that the run reached a file.
function expected.file_started(list, path)
  for _, e in ipairs(list.entries) do
    if names(path, e.file) then e.file_ran = true end
  end
end

--- The entry for a test of a file, or nil; the run met it.
function expected.find(list, path, test)
  for _, e in ipairs(list.entries) do
    if e.test == test and names(path, e.file) then
      e.met = true
      return e
    end
  end
  return nil
end

--- What a listed test's result means: status ("xfail" or "fail") and the
-- line's detail.
function expected.judge(list, entry, status, detail)
  if status == "pass" then
    return "fail", ("unexpectedly passed: remove it from the list (%s)"):format(list.path)
  end
  if status ~= "fail" then return status, detail end
  detail = tostring(detail)
  if entry.fails_with and not detail:find(entry.fails_with, 1, true) then
    return "fail", ("%s (listed as an expected failure in %s, but its failure lacks %q)")
      :format(detail, list.path, entry.fails_with)
  end
  return "xfail", entry.reason .. " (failed: " .. detail .. ")"
end

--- The entries the run never met: { entry, why } each.
function expected.unmet(list)
  local out = {}
  for _, e in ipairs(list.entries) do
    if not e.met then
      local why = e.file_ran and ("no such test in that file (remove it from %s)"):format(list.path)
        or ("no such file among the files run (%s lists tests of a whole suite)"):format(list.path)
      out[#out + 1] = { entry = e, why = why }
    end
  end
  return out
end

return expected
