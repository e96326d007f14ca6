--- A periodic job: logs how many connectors there are.  Started from
-- init_worker_by_lua, where cosockets do not exist, so every call runs in
-- a timer; only worker 0 starts it, so it runs once per nginx instance.
-- (Across several nginx hosts, take a lock in the cluster or a shared
-- store instead.)
local es = require "esadmin.client"

local M = {}

local running = false

local function run(premature)
  if premature or running then return end -- exiting, or the last run is still going
  running = true
  local ok, res, err = pcall(function()
    return es.get().connector:list{ size = 0 }
  end)
  running = false
  if not ok then
    ngx.log(ngx.ERR, "esconnector job raised: ", res)
  elseif res then
    ngx.log(ngx.NOTICE, "esconnector job: ", res.count, " connectors")
  else
    ngx.log(ngx.ERR, "esconnector job failed: ", tostring(err))
  end
end

--- Runs the job now, then every interval seconds.
function M.start(interval)
  if ngx.worker.id() ~= 0 then return end
  local ok, err = ngx.timer.at(0, run)
  if ok then ok, err = ngx.timer.every(interval or 60, run) end
  if not ok then ngx.log(ngx.ERR, "esconnector job not started: ", err) end
end

return M
