-- The nodes of the emulated cluster (one per listening port, esemu start
-- --nodes N) and GET /_nodes (RestNodesInfoAction): what a client sniffs.

local cjson = require "cjson.safe"
local errors = require "esemu.errors"
local json = require "esemu.json"
local info = require "esemu.handlers.info"
local util = require "esemu.util"

local obj, arr = json.obj, json.arr

local M = {}

-- Nodes -------------------------------------------------------------------------

local list, by_port -- per process, from esemu_meta "nodes"

-- setup(ports): called by main.init in the master: node i answers on
-- ports[i], is named esemu-i and gets a random 22-character id (as
-- UUIDs.randomBase64UUID makes node ids).  Transport addresses are made up
-- (9300 + i - 1): nothing listens there.
function M.setup(ports)
  local nodes = {}
  for i, port in ipairs(ports) do
    nodes[i] = { index = i, id = util.random_base64_uuid(), name = "esemu-" .. i, port = port,
                 transport_port = 9300 + i - 1 }
  end
  assert(ngx.shared.esemu_meta:set("nodes", cjson.encode(nodes)))
  list, by_port = nil, nil
end

-- all(): the nodes in start order, {index, id, name, port, transport_port}.
function M.all()
  if not list then
    local raw = ngx.shared.esemu_meta:get("nodes")
    list = raw and cjson.decode(raw) or {}
    if type(list) ~= "table" then list = {} end
    by_port = {}
    for _, n in ipairs(list) do by_port[n.port] = n end
  end
  return list
end

-- current(): the node the current request came in on (nil on the control port).
function M.current()
  M.all()
  return by_port[tonumber(ngx.var.server_port)]
end

-- GET /_nodes ---------------------------------------------------------------------

-- NodesInfoMetrics.Metric
local METRICS = { "settings", "os", "process", "jvm", "thread_pool", "transport", "http",
                  "remote_cluster_server", "plugins", "ingest", "aggregations", "indices" }
local KNOWN = {}
for _, m in ipairs(METRICS) do KNOWN[m] = true end

-- DiscoveryNodeRole names of a default node, sorted as ES prints them.
local ROLES = { "data", "data_cold", "data_content", "data_frozen", "data_hot", "data_warm", "ingest", "master",
                "ml", "remote_cluster_client", "transform" }

local MAX_CONTENT_LENGTH = 104857600 -- http.max_content_length (nginx.conf: client_max_body_size)
local INDEXING_BUFFER = 104857600    -- 10% of a 1 GB heap

-- Strings.tokenizeByCommaToSet: trimmed, empty tokens dropped, unique.
local function tokens(s)
  local out, seen = {}, {}
  for t in (s or ""):gmatch("[^,]+") do
    t = t:match("^%s*(.-)%s*$")
    if t ~= "" and not seen[t] then
      seen[t] = true
      out[#out + 1] = t
    end
  end
  return out
end

-- TimeValue.parseTimeValue, for ?timeout.
local UNITS = { nanos = true, micros = true, ms = true, s = true, m = true, h = true, d = true }
local function check_time(name, v)
  if v == nil or v == "-1" or v == "0" then return end
  local n, unit = v:lower():match("^%s*(%d+%.?%d*)%s*(%a+)%s*$")
  if not n or not UNITS[unit] then
    error(errors.new("parse_exception", ("failed to parse setting [%s] with value [%s] as a time value: unit is "
      .. "missing or unrecognized"):format(name, v), { es = true }), 0)
  end
end

-- Regex.simpleMatch with '*' wildcards.
local function simple_match(pattern, s)
  if not pattern:find("*", 1, true) then return pattern == s end
  local lua = "^" .. pattern:gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", ".*") .. "$"
  return s:find(lua) ~= nil
end

-- DiscoveryNodes.resolveNodes: ids, names, addresses, wildcards, _all,
-- _local, _master, role:true|false.
local function resolve(ids, nodes, here)
  if #ids == 0 then return nodes end
  local chosen = {}
  for _, id in ipairs(ids) do
    for _, n in ipairs(nodes) do
      local hit
      if id == "_all" then
        hit = true
      elseif id == "_local" then
        hit = here ~= nil and n.index == here.index
      elseif id == "_master" then
        hit = n.index == 1
      elseif id:find(":", 1, true) then
        local k, v = id:match("^([^:]*):(.*)$")
        local has_role = k == "role" or k == "master" or k == "data" or k == "ingest" or k == "ml"
          or k == "remote_cluster_client" or k == "transform" or k == "voting_only" or k == "coordinating_only"
        if has_role then
          local is = k ~= "voting_only" and k ~= "coordinating_only"
          hit = (v == "true") == is
        end
      else
        hit = simple_match(id, n.id) or simple_match(id, n.name) or simple_match(id, "127.0.0.1")
      end
      if hit then chosen[n.index] = true end
    end
  end
  local out = {}
  for _, n in ipairs(nodes) do
    if chosen[n.index] then out[#out + 1] = n end
  end
  return out
end

local function address(port) return "127.0.0.1:" .. port end

local function bound(port)
  local a = arr()
  a[1] = address(port)
  return a
end

local function settings(n, flat)
  local cluster_name = ngx.shared.esemu_meta:get("cluster_name")
  local pairs_ = {
    { "cluster.name", cluster_name },
    { "http.port", tostring(n.port) },
    { "network.host", "127.0.0.1" },
    { "node.name", n.name },
    { "path.home", "/usr/share/elasticsearch" },
    { "path.logs", "/var/log/elasticsearch" },
    { "transport.port", tostring(n.transport_port) },
  }
  local o = obj()
  for _, kv in ipairs(pairs_) do
    if flat then
      o[kv[1]] = kv[2]
    else
      local cur = o
      local parts = {}
      for p in kv[1]:gmatch("[^.]+") do parts[#parts + 1] = p end
      for i = 1, #parts - 1 do
        cur[parts[i]] = cur[parts[i]] or obj()
        cur = cur[parts[i]]
      end
      cur[parts[#parts]] = kv[2]
    end
  end
  return o
end

local function node_info(n, want, human, flat)
  local v = info.VERSION
  local roles = arr()
  for i, r in ipairs(ROLES) do roles[i] = r end
  local o = obj(
    "name", n.name,
    "transport_address", address(n.transport_port),
    "host", "127.0.0.1",
    "ip", "127.0.0.1",
    "version", v.number,
    "build_flavor", v.build_flavor,
    "build_type", v.build_type,
    "build_hash", v.build_hash)
  if want.indices then
    if human then o.total_indexing_buffer = "100mb" end
    o.total_indexing_buffer_in_bytes = INDEXING_BUFFER
  end
  o.roles = roles
  o.attributes = obj()
  if want.settings then o.settings = settings(n, flat) end
  if want.os then
    o.os = obj("refresh_interval_in_millis", 1000, "name", "Linux", "pretty_name", "Linux", "arch", "amd64",
      "available_processors", 1, "allocated_processors", 1)
  end
  if want.process then
    o.process = obj("refresh_interval_in_millis", 1000, "id", ngx.worker.pid(), "mlockall", false)
  end
  if want.jvm then
    o.jvm = obj("pid", ngx.worker.pid(), "version", "24", "vm_name", "OpenJDK 64-Bit Server VM",
      "vm_vendor", "Oracle Corporation", "bundled_jdk", true, "using_bundled_jdk", true)
  end
  if want.thread_pool then o.thread_pool = obj() end
  if want.transport then
    o.transport = obj("bound_address", bound(n.transport_port), "publish_address", address(n.transport_port),
      "profiles", obj())
  end
  if want.http then
    local h = obj("bound_address", bound(n.port), "publish_address", address(n.port))
    if human then h.max_content_length = "100mb" end
    h.max_content_length_in_bytes = MAX_CONTENT_LENGTH
    o.http = h
  end
  if want.plugins then
    o.plugins = arr()
    o.modules = arr()
  end
  if want.ingest then o.ingest = obj("processors", arr()) end
  if want.aggregations then o.aggregations = obj() end
  return o
end

M.info = {
  action = "cluster:monitor/nodes/info",
  prepare = function(req)
    local node_id, metric = req:param("node_id"), req:param("metric")
    check_time("timeout", req:param("timeout"))
    local r = { human = req:param_bool("human", false), flat = req:param_bool("flat_settings", false) }
    local ids, metrics
    if node_id ~= nil and metric == nil then
      -- /_nodes/http: metrics, unless one of them is not a metric name
      local t = tokens(node_id)
      local only_metrics = true
      for _, x in ipairs(t) do
        if not KNOWN[x] then only_metrics = false end
      end
      if only_metrics then
        ids, metrics = {}, t
      else
        ids, metrics = tokens(node_id), { "_all" }
      end
    else
      ids, metrics = tokens(node_id or "_all"), tokens(metric or "_all")
    end
    r.ids = ids
    r.want = {}
    if #metrics == 1 and metrics[1] == "_all" then
      for _, m in ipairs(METRICS) do r.want[m] = true end
    else
      local bad = {}
      for _, m in ipairs(metrics) do
        if KNOWN[m] then r.want[m] = true else bad[#bad + 1] = m end
      end
      if #bad > 0 then
        table.sort(bad)
        error(errors.new("illegal_state_exception", ("Used illegal metric%s: [%s]")
          :format(#bad == 1 and "" or "s", table.concat(bad, ", ")), { status = 500 }), 0)
      end
    end
    return r
  end,
  execute = function(r)
    local chosen = resolve(r.ids, M.all(), M.current())
    local nodes = obj()
    for _, n in ipairs(chosen) do nodes[n.id] = node_info(n, r.want, r.human, r.flat) end
    return 200, obj(
      "_nodes", obj("total", #chosen, "successful", #chosen, "failed", 0),
      "cluster_name", ngx.shared.esemu_meta:get("cluster_name"),
      "nodes", nodes)
  end,
}

return M
