-- The route table: method, path pattern ({name} is a path parameter),
-- handler.  Adding an endpoint is adding a row here and a handler table.

local info = require "esemu.handlers.info"
local connector = require "esemu.handlers.connector"
local update = require "esemu.handlers.connector_update"
local secret = require "esemu.handlers.secret"
local sync_job = require "esemu.handlers.sync_job"
local security = require "esemu.handlers.security"
local indices = require "esemu.handlers.indices"
local cluster = require "esemu.handlers.cluster"

return {
  { "GET", "/", info.main },
  { "HEAD", "/", info.main },
  { "GET", "/_cluster/health", cluster.health },
  { "GET", "/_cluster/health/{index}", cluster.health },

  -- nodes info (sniffing): handlers/nodes.lua
  { "GET", "/_nodes", require("esemu.handlers.nodes").info },
  { "GET", "/_nodes/{node_id}", require("esemu.handlers.nodes").info },
  { "GET", "/_nodes/{node_id}/{metric}", require("esemu.handlers.nodes").info },
  { "GET", "/_nodes/{node_id}/info/{metric}", require("esemu.handlers.nodes").info },

  { "PUT", "/_connector/{connector_id}", connector.put },
  { "PUT", "/_connector", connector.put },
  { "POST", "/_connector", connector.post },
  { "GET", "/_connector/{connector_id}", connector.get },
  { "GET", "/_connector", connector.list },
  { "DELETE", "/_connector/{connector_id}", connector.delete },
  { "PUT", "/_connector/{connector_id}/_api_key_id", connector.update_api_key_id },

  -- connector updates: handlers/connector_update.lua
  { "PUT", "/_connector/{connector_id}/_check_in", update.check_in },
  { "PUT", "/_connector/{connector_id}/_last_sync", update.last_sync },
  { "PUT", "/_connector/{connector_id}/_configuration", update.update_configuration },
  { "PUT", "/_connector/{connector_id}/_error", update.update_error },
  { "PUT", "/_connector/{connector_id}/_features", update.update_features },
  { "PUT", "/_connector/{connector_id}/_filtering", update.update_filtering },
  { "PUT", "/_connector/{connector_id}/_filtering/_activate", update.update_active_filtering },
  { "PUT", "/_connector/{connector_id}/_filtering/_validation", update.update_filtering_validation },
  { "PUT", "/_connector/{connector_id}/_index_name", update.update_index_name },
  { "PUT", "/_connector/{connector_id}/_name", update.update_name },
  { "PUT", "/_connector/{connector_id}/_native", update.update_native },
  { "PUT", "/_connector/{connector_id}/_pipeline", update.update_pipeline },
  { "PUT", "/_connector/{connector_id}/_scheduling", update.update_scheduling },
  { "PUT", "/_connector/{connector_id}/_service_type", update.update_service_type },
  { "PUT", "/_connector/{connector_id}/_status", update.update_status },

  -- connector secrets: handlers/secret.lua
  { "POST", "/_connector/_secret", secret.post },
  { "PUT", "/_connector/_secret/{id}", secret.put },
  { "GET", "/_connector/_secret/{id}", secret.get },
  { "DELETE", "/_connector/_secret/{id}", secret.delete },

  -- sync jobs: handlers/sync_job.lua
  { "POST", "/_connector/_sync_job", sync_job.post },
  { "GET", "/_connector/_sync_job", sync_job.list },
  { "GET", "/_connector/_sync_job/{connector_sync_job_id}", sync_job.get },
  { "DELETE", "/_connector/_sync_job/{connector_sync_job_id}", sync_job.delete },
  { "PUT", "/_connector/_sync_job/{connector_sync_job_id}/_check_in", sync_job.check_in },
  { "PUT", "/_connector/_sync_job/{connector_sync_job_id}/_cancel", sync_job.cancel },
  { "PUT", "/_connector/_sync_job/{connector_sync_job_id}/_claim", sync_job.claim },
  { "PUT", "/_connector/_sync_job/{connector_sync_job_id}/_error", sync_job.error },
  { "PUT", "/_connector/_sync_job/{connector_sync_job_id}/_stats", sync_job.update_stats },

  -- security: handlers/security.lua
  { "GET", "/_security/_authenticate", security.authenticate },
  { "PUT", "/_security/api_key", security.create_api_key },
  { "POST", "/_security/api_key", security.create_api_key },
  { "GET", "/_security/api_key", security.get_api_key },
  { "DELETE", "/_security/api_key", security.invalidate_api_key },
  { "PUT", "/_security/api_key/{id}", security.update_api_key },
  { "POST", "/_security/api_key/_bulk_update", security.bulk_update_api_keys },
  { "POST", "/_security/api_key/grant", security.grant_api_key },
  { "POST", "/_security/api_key/{ids}/_clear_cache", security.clear_api_key_cache },
  { "GET", "/_security/_query/api_key", security.query_api_keys },
  { "POST", "/_security/_query/api_key", security.query_api_keys },
  { "PUT", "/_security/role/{name}", security.put_role },
  { "POST", "/_security/role/{name}", security.put_role },
  { "DELETE", "/_security/role/{name}", security.delete_role },
  { "PUT", "/_security/user/{username}", security.put_user },
  { "POST", "/_security/user/{username}", security.put_user },
  { "DELETE", "/_security/user/{username}", security.delete_user },

  -- indices.delete: only DELETE, so other methods on /x stay "no handler"
  { "DELETE", "/", indices.delete },
  { "DELETE", "/{index}", indices.delete, fallback = true },
}
