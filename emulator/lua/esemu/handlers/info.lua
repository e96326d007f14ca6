-- GET / (RestMainAction): cluster and version information.  Pretty-printed
-- unless ?pretty=false, as Elasticsearch does for this one endpoint.

local json = require "esemu.json"

local M = {}

-- What a 9.1.0 node reports (Lucene and compatibility versions of that release).
M.VERSION = {
  number = "9.1.0",
  build_flavor = "default",
  build_type = "tar",
  build_hash = "5ed5e9e8b1f8c9bf2eb7e0c2ba2e9e1e4c5b7a93",
  build_date = "2025-07-22T12:00:00.000000000Z",
  lucene_version = "10.2.2",
  minimum_wire_compatibility_version = "8.19.0",
  minimum_index_compatibility_version = "8.0.0",
}

M.main = {
  action = "cluster:monitor/main",
  prepare = function(req)
    if not req.pretty_given then req.pretty = true end
    return {}
  end,
  execute = function()
    local meta = ngx.shared.esemu_meta
    local v = M.VERSION
    return 200, json.obj(
      "name", meta:get("node_name"),
      "cluster_name", meta:get("cluster_name"),
      "cluster_uuid", meta:get("cluster_uuid"),
      "version", json.obj(
        "number", v.number,
        "build_flavor", v.build_flavor,
        "build_type", v.build_type,
        "build_hash", v.build_hash,
        "build_date", v.build_date,
        "build_snapshot", false,
        "lucene_version", v.lucene_version,
        "minimum_wire_compatibility_version", v.minimum_wire_compatibility_version,
        "minimum_index_compatibility_version", v.minimum_index_compatibility_version),
      "tagline", "You Know, for Search")
  end,
}

return M
