-- GET /_cluster/health[/{index}] (RestClusterHealthAction).  The emulator
-- holds no indices, so the cluster itself is always green; health for
-- named indices is red and timed out (they never appear), as ES answers
-- once its timeout has passed (the emulator does not wait).
-- luacheck: globals ngx

local json = require "esemu.json"
local nodes = require "esemu.handlers.nodes"

local M = {}

local STATUSES = { green = true, yellow = true, red = true }
local LEVELS = { cluster = true, indices = true, shards = true }

M.health = {
  action = "cluster:monitor/health",
  prepare = function(req)
    local r = { index = req:param("index") }
    r.level = req:param("level")
    r.wait_for_status = req:param("wait_for_status")
    req:param_bool("local", false)
    req:param_bool("wait_for_no_initializing_shards", false)
    req:param_bool("wait_for_no_relocating_shards", false)
    for _, name in ipairs({ "expand_wildcards", "master_timeout", "timeout", "wait_for_active_shards",
                            "wait_for_nodes", "wait_for_events" }) do
      req:param(name)
    end
    return r
  end,
  validate = function(r)
    if r.wait_for_status and not STATUSES[r.wait_for_status:lower()] then
      return { "unknown cluster health status [" .. r.wait_for_status .. "]" }
    end
    if r.level and not LEVELS[r.level] then
      return { "level must be one of [cluster, indices, shards] but was [" .. r.level .. "]" }
    end
  end,
  execute = function(r)
    local named = r.index ~= nil and r.index ~= "" and r.index ~= "_all" and r.index ~= "*"
    local n = #nodes.all()
    local body = json.obj(
      "cluster_name", ngx.shared.esemu_meta:get("cluster_name"),
      "status", named and "red" or "green",
      "timed_out", named,
      "number_of_nodes", n,
      "number_of_data_nodes", n,
      "active_primary_shards", 0,
      "active_shards", 0,
      "relocating_shards", 0,
      "initializing_shards", 0,
      "unassigned_shards", 0,
      "unassigned_primary_shards", 0,
      "delayed_unassigned_shards", 0,
      "number_of_pending_tasks", 0,
      "number_of_in_flight_fetch", 0,
      "task_max_waiting_in_queue_millis", 0,
      "active_shards_percent_as_number", 100.0)
    if r.level == "indices" or r.level == "shards" then body.indices = json.obj() end
    return named and 408 or 200, body
  end,
}

return M
