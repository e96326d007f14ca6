--- Pages of the API reference made from the endpoint catalog
-- (`require("esconnector.core").catalog()`): one Markdown topic per
-- namespace for LDoc, and the README's table of calls.
--
--   lua doc/catalog_pages.lua OUTDIR   writes OUTDIR/<namespace>.md
--   require-able too (spec/docs_spec.lua compares readme_rows with README.md).
local pages = {}

local ORDER = { "client", "connector", "connector_secret", "security", "nodes", "indices" }

local INTRO = {
  client = "Calls on the client itself: `client:<name>(params [, call_options])`.",
  connector = "Connectors, their secrets and sync jobs: `client.connector:<name>(params [, call_options])`. "
    .. "The paging helpers `list_all` and `sync_job_list_all` are in the client's reference.",
  connector_secret = "The older names of the connector secret APIs: `client.connector_secret:get{...}` "
    .. "is `client.connector:secret_get{...}`.",
  security = "API keys, users and roles: `client.security:<name>(params [, call_options])`.",
  nodes = "Cluster nodes (what sniffing reads): `client.nodes:<name>(params [, call_options])`.",
  indices = "Indices: `client.indices:<name>(params [, call_options])`.",
}

-- The namespace and method of a catalog name ("info" is on the client).
local function split(name)
  local ns, method = name:match("^([%w_]+)%.([%w_]+)$")
  if ns then return ns, method end
  return "client", name
end

--- How a call is written: "client:info" or "client.connector:get".
function pages.call(name)
  local ns, method = split(name)
  if ns == "client" then return "client:" .. method end
  return "client." .. ns .. ":" .. method
end

local function list(t)
  local out = {}
  for i, v in ipairs(t or {}) do out[i] = v end
  return out
end

--- Names of the parameters a row requires (path, query, body), in that order.
function pages.required(row)
  local names = {}
  for _, group in ipairs{ row.path_params, row.query, row.body } do
    for _, p in ipairs(list(group)) do
      if p.required then names[#names + 1] = p.name end
    end
  end
  return names
end

--- The README's rows: { call = , http = , required = "a, b" } in catalog order.
function pages.readme_rows(catalog)
  local rows = {}
  for _, row in ipairs(catalog) do
    local required = {}
    for i, name in ipairs(pages.required(row)) do required[i] = "`" .. name .. "`" end
    rows[#rows + 1] = { call = "`" .. pages.call(row.name) .. "`", http = "`" .. row.method .. " " .. row.path .. "`",
      required = table.concat(required, ", ") }
  end
  return rows
end

local function param_table(out, title, params)
  params = list(params)
  if #params == 0 then return end
  out[#out + 1] = ("%s:\n\n| name | type | required |\n|---|---|---|"):format(title)
  for _, p in ipairs(params) do
    out[#out + 1] = ("| `%s` | %s | %s |"):format(p.name, p.type, p.required and "yes" or "")
  end
  out[#out + 1] = ""
end

local BODY_RULES = {
  none = "no body",
  optional = "the body is optional",
  required = "the body is required",
}

--- The Markdown page of one namespace.
function pages.page(ns, rows)
  local out = { "# Namespace " .. ns, "", INTRO[ns] or "", "",
    "Every call returns the decoded response body, or `nil` and an error object "
      .. "(see `esconnector.errors`). Parameters go in one table: path, query and body "
      .. "parameters alike; every call also takes `filter_path`, `pretty`, `human` and `error_trace`.", "" }
  for _, row in ipairs(rows) do
    out[#out + 1] = "## " .. pages.call(row.name)
    out[#out + 1] = ""
    out[#out + 1] = ("`%s %s` (%s; catalog name `%s`)"):format(row.method, row.path,
      BODY_RULES[row.body_rule] or tostring(row.body_rule), row.name)
    out[#out + 1] = ""
    param_table(out, "Path parameters", row.path_params)
    param_table(out, "Query parameters", row.query)
    param_table(out, "Body fields", row.body)
  end
  return table.concat(out, "\n") .. "\n"
end

--- Rows grouped by namespace, in ORDER then by name; connector_secret lists
-- the connector.secret_* rows under their short names.
function pages.by_namespace(catalog)
  local groups = {}
  for _, row in ipairs(catalog) do
    local ns = split(row.name)
    groups[ns] = groups[ns] or {}
    table.insert(groups[ns], row)
    local short = row.name:match("^connector%.secret_(.+)$")
    if short then
      local alias = {}
      for k, v in pairs(row) do alias[k] = v end
      alias.name = "connector_secret." .. short
      groups.connector_secret = groups.connector_secret or {}
      table.insert(groups.connector_secret, alias)
    end
  end
  local names = {}
  for _, ns in ipairs(ORDER) do if groups[ns] then names[#names + 1] = ns end end
  local known = {}
  for _, ns in ipairs(ORDER) do known[ns] = true end
  local extra = {}
  for ns in pairs(groups) do if not known[ns] then extra[#extra + 1] = ns end end
  table.sort(extra)
  for _, ns in ipairs(extra) do names[#names + 1] = ns end
  for _, rows in pairs(groups) do table.sort(rows, function(a, b) return a.name < b.name end) end
  return names, groups
end

--- Writes every page into dir; returns the namespaces.
function pages.write(dir, catalog)
  local names, groups = pages.by_namespace(catalog)
  for _, ns in ipairs(names) do
    local f = assert(io.open(dir .. "/" .. ns .. ".md", "w"))
    f:write(pages.page(ns, groups[ns]))
    f:close()
  end
  return names
end

-- Run as a script (`...` is OUTDIR), not required (`...` is the module name) or loaded by dofile (empty).
local first = ...
if type(first) == "string" and not first:match("catalog_pages") then
  local dir = first
  local written = pages.write(dir, require("esconnector.core").catalog())
  print(("%d namespace pages in %s"):format(#written, dir))
end

return pages
