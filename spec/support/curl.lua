--- Helpers for the specs that drive the emulator with the curl command line
-- (emulator_spec, emulator_surface_spec, emulator_cluster_spec): shell
-- quoting, files, sh(), a temporary directory, base64, unique ids, and two
-- curl wrappers: http() for Elasticsearch requests, curl() for raw ones.
local cjson = require("cjson").new()

local M = {}

local function script_dir()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  return src:match("^(.*)/[^/]*$") or "."
end

-- The repository's root, and the emulator's command line.
M.ROOT = script_dir() .. "/../.."
M.ESEMU = M.ROOT .. "/emulator/esemu"

local shell = require "spec.support.shell"
M.q = shell.quote -- shell quoting
local q = M.q
M.read_file = shell.read_file
local read_file = M.read_file

function M.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end
local write_file = M.write_file

-- sh(cmd): stdout and exit code (io.popen's close gives no code on 5.1).
function M.sh(cmd)
  local p = assert(io.popen("(" .. cmd .. "); echo \"<rc=$?>\""))
  local out = p:read("*a")
  p:close()
  local body, rc = out:match("^(.*)<rc=(%d+)>%s*$")
  return body, tonumber(rc)
end
local sh = M.sh

-- tmpdir(): a new temporary directory (mktemp -d), which http() and curl()
-- then use for their request and response files.  The caller removes it.
local TMP
function M.tmpdir()
  TMP = (sh("mktemp -d")):gsub("%s+$", "")
  return TMP
end

local function files()
  assert(TMP, "call tmpdir() first")
  return TMP .. "/headers", TMP .. "/request-body", TMP .. "/response-body"
end

-- Base64 for Authorization values: the C core's, tested in prepare_spec.
M.b64 = require("esconnector.core").base64

local counter = 0
math.randomseed(os.time())
local RUN = ("%d%d"):format(os.time() % 100000, math.random(1000, 9999))
M.RUN = RUN -- this run's id, in every unique() name
function M.unique(prefix)
  counter = counter + 1
  return ("%s-%s-%d"):format(prefix, RUN, counter)
end

-- The "Name: value" lines of text into headers (lower-case name -> list of
-- values).
local function parse_headers(text, headers)
  for line in text:gmatch("[^\n]+") do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      name = name:lower()
      headers[name] = headers[name] or {}
      table.insert(headers[name], value)
    end
  end
end

-- set_default_auth(auth): the Authorization value http() sends when opts.auth
-- is nil (nil: none).
local default_auth
function M.set_default_auth(auth)
  default_auth = auth
end

-- http(base, method, path, opts) -> {status, headers (lower-case name ->
-- list of values), body, json}.  opts: body (a string, or a table encoded as
-- JSON), headers (list of "Name: value"; with a body and no Content-Type,
-- application/json is sent), auth (an Authorization value, false for none;
-- default: set_default_auth's).
function M.http(base, method, path, opts)
  opts = opts or {}
  local hfile, bfile, ofile = files()
  os.remove(hfile)
  os.remove(ofile)
  local args = { "curl", "-s", "-g", "--path-as-is", "-D", q(hfile), "-o", q(ofile), "-w", q("%{http_code}") }
  if method == "HEAD" then
    args[#args + 1] = "--head"
  else
    args[#args + 1] = "-X " .. q(method)
  end
  local headers = opts.headers or {}
  local has_ct = false
  for _, h in ipairs(headers) do
    if h:lower():match("^content%-type:") then has_ct = true end
    args[#args + 1] = "-H " .. q(h)
  end
  local body = opts.body
  if type(body) == "table" then body = cjson.encode(body) end
  if body then
    write_file(bfile, body)
    args[#args + 1] = "--data-binary @" .. q(bfile)
    if not has_ct then args[#args + 1] = "-H " .. q("Content-Type: application/json") end
  end
  local auth = opts.auth
  if auth == nil then auth = default_auth end
  if auth then args[#args + 1] = "-H " .. q("Authorization: " .. auth) end
  args[#args + 1] = q(base .. path)
  local out = sh(table.concat(args, " "))
  local res = { status = tonumber(out:match("(%d+)%s*$")), headers = {}, body = read_file(ofile) or "" }
  -- the last header block (after any 100 Continue)
  local raw = (read_file(hfile) or ""):gsub("\r", "")
  local block = ""
  for b in (raw .. "\n\n"):gmatch("(.-)\n\n") do
    if b:match("^HTTP/") then block = b end
  end
  parse_headers(block, res.headers)
  local ok, decoded = pcall(cjson.decode, res.body)
  if ok then res.json = decoded end
  if method == "HEAD" then res.body = "" end -- curl --head writes the headers there
  return res
end

-- curl(url, opts) -> {rc (curl's exit code), status, headers (lower-case
-- name -> list), body, json, time (s)}.  opts: method, body, headers (list
-- of "Name: value"), cacert, args (extra curl arguments), gzip (send the
-- body gzip-compressed).
function M.curl(url, opts)
  opts = opts or {}
  local hfile, bfile, ofile = files()
  os.remove(hfile)
  os.remove(ofile)
  local args = { "curl", "-s", "-g", "--max-time", "10", "-D", q(hfile), "-o", q(ofile),
                 "-w", q("%{http_code} %{time_total}") }
  if opts.method then args[#args + 1] = "-X " .. q(opts.method) end
  for _, h in ipairs(opts.headers or {}) do args[#args + 1] = "-H " .. q(h) end
  if opts.body then
    write_file(bfile, opts.body)
    if opts.gzip then
      assert(os.execute("gzip -c " .. q(bfile) .. " > " .. q(bfile .. ".gz")))
      bfile = bfile .. ".gz"
      args[#args + 1] = "-H 'Content-Encoding: gzip'"
    end
    args[#args + 1] = "--data-binary @" .. q(bfile)
    args[#args + 1] = "-H 'Content-Type: application/json'"
  end
  if opts.cacert then args[#args + 1] = "--cacert " .. q(opts.cacert) end
  if opts.args then args[#args + 1] = opts.args end
  args[#args + 1] = q(url)
  local out, rc = sh(table.concat(args, " "))
  local code, time = out:match("(%d+) ([%d.]+)%s*$")
  local res = { rc = rc, status = tonumber(code), time = tonumber(time), headers = {},
                body = read_file(ofile) or "" }
  parse_headers((read_file(hfile) or ""):gsub("\r", ""), res.headers)
  local ok, decoded = pcall(cjson.decode, res.body)
  if ok then res.json = decoded end
  return res
end

-- header(res, name): the first value of that response header, or nil.
function M.header(res, name)
  local v = res.headers[name:lower()]
  return v and v[1]
end

return M
