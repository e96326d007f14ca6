-- The documentation agrees with the code: the README's table of calls is
-- the catalog's, the generated namespace pages list every API, and
-- `make doc` builds the reference from the code's comments.
local core = require "esconnector.core"
local pages = dofile("doc/catalog_pages.lua")

local read_file = require("spec.support.shell").read_file
local function read(path) return assert(read_file(path), "cannot read " .. path) end

-- The rows of the README table headed "| call | HTTP | required |".
local function readme_rows()
  local text = read("README.md")
  local start = assert(text:find("| call | HTTP | required |", 1, true), "the README has no API table")
  local rows = {}
  for line in text:sub(start):gmatch("([^\n]*)\n") do
    if not line:match("^|") then break end
    local call, http, required = line:match("^| (.-) | (.-) | ?(.-) ?|$")
    if call and call ~= "call" and not call:match("^%-") then
      rows[#rows + 1] = { call = call, http = http, required = required }
    end
  end
  return rows
end

local function by_call(rows)
  local t = {}
  for _, row in ipairs(rows) do t[row.call] = row end
  return t
end

-- What differs between the catalog's rows and the README's: a list of lines.
local function differences(want, got)
  local problems = {}
  local want_by, got_by = by_call(want), by_call(got)
  for _, row in ipairs(want) do
    local other = got_by[row.call]
    if not other then
      problems[#problems + 1] = "the README lacks " .. row.call
    elseif other.http ~= row.http or other.required ~= row.required then
      problems[#problems + 1] = ("%s: the README says %s | %s, the catalog %s | %s"):format(row.call, other.http,
        other.required, row.http, row.required)
    end
  end
  for _, row in ipairs(got) do
    if not want_by[row.call] then
      problems[#problems + 1] = "the README lists " .. row.call .. ", not in the catalog"
    end
  end
  return problems
end

describe("the documentation", function()
  it("README's table of calls is the catalog's, row for row", function()
    local problems = differences(pages.readme_rows(core.catalog()), readme_rows())
    assert(#problems == 0, table.concat(problems, "\n"))
    assert.is_true(#readme_rows() >= 50)
  end)

  it("and the check catches a README that drifts", function()
    local got = readme_rows()
    got[2] = { call = got[2].call, http = got[2].http, required = got[2].required .. ", `extra`" }
    table.remove(got, 3)
    got[#got + 1] = { call = "`client.connector:bogus`", http = "`GET /`", required = "" }
    assert.are.equal(3, #differences(pages.readme_rows(core.catalog()), got))
  end)

  it("has one generated page per namespace, listing every API with its parameters", function()
    local names, groups = pages.by_namespace(core.catalog())
    local seen = 0
    for _, ns in ipairs(names) do
      local page = pages.page(ns, groups[ns])
      for _, row in ipairs(groups[ns]) do
        assert.matches("## " .. pages.call(row.name), page, 1, true)
        for _, p in ipairs(row.path_params or {}) do assert.matches("`" .. p.name .. "`", page, 1, true) end
        seen = seen + 1
      end
    end
    assert.is_true(seen >= #core.catalog())
    assert.are.same({ "client", "connector", "connector_secret", "security", "nodes", "indices", "cluster" }, names)
  end)

  it("builds with make doc: modules from the comments, a page per namespace #packaging", function()
    local pipe = assert(io.popen("env -u LD_PRELOAD make -s doc 2>&1; echo \"rc=$?\""))
    local out = pipe:read("*a")
    pipe:close()
    assert.matches("rc=0%s*$", out)
    for _, module in ipairs{ "esconnector", "esconnector.client", "esconnector.errors", "esconnector.rotation",
                             "esconnector.cli", "esconnector.json" } do
      assert(io.open("build/doc/modules/" .. module .. ".html"), module):close()
    end
    local client_page = read("build/doc/modules/esconnector.client.html")
    for _, name in ipairs{ "perform_request", "list_all", "sync_job_list_all", "call_options", "retry_on_status",
                           "derive", "request" } do
      assert.matches(name, client_page, 1, true)
    end
    assert.matches("fields", read("build/doc/modules/esconnector.errors.html"), 1, true)
    for _, ns in ipairs{ "client", "connector", "connector_secret", "security", "nodes", "indices" } do
      assert.matches("update_api_key_id", read("build/doc/topics/connector.md.html"), 1, true)
      assert(io.open("build/doc/topics/" .. ns .. ".md.html"), ns):close()
    end
  end)
end)
