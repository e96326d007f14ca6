-- DELETE /{index} and DELETE / (RestDeleteIndexAction).  Nothing in the
-- emulator is an index a client may delete, so a concrete name is always
-- missing; wildcards are refused as action.destructive_requires_name (true
-- by default since 8.0) refuses them.

local errors = require "esemu.errors"
local json = require "esemu.json"

local M = {}

local function split(s)
  local out = {}
  for part in ((s or "") .. ","):gmatch("([^,]*),") do
    if part ~= "" then out[#out + 1] = part end
  end
  return out
end

M.delete = {
  action = "indices:admin/delete",
  prepare = function(req)
    local r = {
      indices = split(req:param("index")),
      ignore_unavailable = req:param_bool("ignore_unavailable", false),
      allow_no_indices = req:param_bool("allow_no_indices", true),
    }
    req:param("expand_wildcards")
    req:param("master_timeout")
    req:param("timeout")
    return r
  end,
  validate = function(r)
    if #r.indices == 0 then return { "index / indices is missing" } end
  end,
  authz = function(r) return { indices = r.indices } end,
  execute = function(r)
    for _, name in ipairs(r.indices) do
      if name == "_all" or name:find("*", 1, true) then
        error(errors.illegal_argument("Wildcard expressions or all indices are not allowed"), 0)
      end
    end
    if not r.ignore_unavailable then error(errors.index_not_found(r.indices[1]), 0) end
    return 200, json.obj("acknowledged", true)
  end,
}

return M
