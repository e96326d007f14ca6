/* Endpoint rows.  Names, paths and parameters follow the REST spec used by
 * the official clients (reference/connector-api.md); messages are
 * Elasticsearch's own wording where it is known (reference/es-behaviour.md). */
#include <string.h>
#include <lua.h>
#include "catalog.h"

/* Extra validate() rules, in rules.c. */
typedef void esc_add_fn(lua_State *L);
static void esc_rule_create_api_key(lua_State *L, esc_add_fn *add);
static void esc_rule_invalidate_api_key(lua_State *L, esc_add_fn *add);

#define END { NULL, ESC_ANY, 0, NULL, NULL, NULL }
#define OPT(name, type) { name, type, 0, NULL, NULL, NULL }
#define REQ(name, type) { name, type, ESC_REQUIRED, NULL, NULL, NULL }
#define ENUM(name, choices) { name, ESC_STRING, 0, choices, NULL, NULL }
#define ENUM_REQ(name, choices) { name, ESC_STRING, ESC_REQUIRED, choices, NULL, NULL }

static const char *const esc_connector_statuses[] = {
  "created", "needs_configuration", "configured", "connected", "error", NULL
};
static const char *const esc_sync_statuses[] = {
  "canceling", "canceled", "completed", "error", "in_progress", "pending",
  "suspended", NULL
};
static const char *const esc_job_types[] = {
  "full", "incremental", "access_control", NULL
};
/* "" means true to Elasticsearch (?refresh) */
static const char *const esc_refresh_values[] = { "true", "false", "wait_for", "", NULL };

/* Query parameters every endpoint accepts. */
static const struct esc_param esc_common_query[] = {
  OPT("error_trace", ESC_BOOLEAN),
  OPT("filter_path", ESC_LIST),
  OPT("human", ESC_BOOLEAN),
  OPT("pretty", ESC_BOOLEAN),
  END
};

static const struct esc_param esc_none[] = { END };

#define CONNECTOR_ID_MESSAGE "[connector_id] cannot be [null] or [\"\"]."
static const struct esc_param esc_connector_id[] = {
  { "connector_id", ESC_ID, ESC_REQUIRED | ESC_NOT_EMPTY, NULL,
    CONNECTOR_ID_MESSAGE, NULL },
  END
};
static const struct esc_param esc_connector_id_optional[] = {
  { "connector_id", ESC_ID, ESC_NOT_EMPTY, NULL, CONNECTOR_ID_MESSAGE, NULL },
  END
};
static const struct esc_param esc_sync_job_id[] = {
  { "connector_sync_job_id", ESC_ID, ESC_REQUIRED | ESC_NOT_EMPTY, NULL,
    "[connector_sync_job_id] of the connector sync job cannot be null or empty.", NULL },
  END
};
static const struct esc_param esc_secret_id[] = {
  { "id", ESC_ID, ESC_REQUIRED | ESC_NOT_EMPTY, NULL,
    "[id] of the connector secret cannot be null or empty.", NULL },
  END
};
static const struct esc_param esc_api_key_path_id[] = {
  { "id", ESC_ID, ESC_REQUIRED | ESC_NOT_EMPTY, NULL, "api key id is required", NULL },
  END
};
static const struct esc_param esc_api_key_ids_path[] = {
  { "ids", ESC_LIST, ESC_REQUIRED | ESC_NOT_EMPTY, NULL, "[ids] is required", NULL },
  END
};
static const struct esc_param esc_role_name[] = {
  { "name", ESC_ID, ESC_REQUIRED | ESC_NOT_EMPTY, NULL, "role name is missing", NULL },
  END
};
static const struct esc_param esc_username[] = {
  { "username", ESC_ID, ESC_REQUIRED | ESC_NOT_EMPTY, NULL, "user is missing", NULL },
  END
};
static const struct esc_param esc_index_path[] = {
  { "index", ESC_LIST, ESC_REQUIRED | ESC_NOT_EMPTY, NULL, "index is missing", NULL },
  END
};

static const struct esc_param esc_nodes_info_path[] = {
  { "node_id", ESC_LIST, ESC_REQUIRED | ESC_NOT_EMPTY, NULL, "[node_id] is required", NULL },
  { "metric", ESC_LIST, ESC_REQUIRED | ESC_NOT_EMPTY, NULL, "[metric] is required", NULL },
  END
};

/* --- connector bodies and queries --- */

static const struct esc_param esc_connector_create_body[] = {
  OPT("description", ESC_STRING_OR_NULL),
  OPT("index_name", ESC_STRING_OR_NULL),
  OPT("is_native", ESC_BOOLEAN),
  OPT("language", ESC_STRING_OR_NULL),
  OPT("name", ESC_STRING_OR_NULL),
  OPT("service_type", ESC_STRING_OR_NULL),
  END
};
static const struct esc_param esc_connector_get_query[] = {
  OPT("include_deleted", ESC_BOOLEAN),
  END
};
static const struct esc_param esc_connector_delete_query[] = {
  OPT("delete_sync_jobs", ESC_BOOLEAN),
  OPT("hard", ESC_BOOLEAN),
  END
};
static const struct esc_param esc_connector_list_query[] = {
  OPT("from", ESC_INTEGER),
  OPT("size", ESC_INTEGER),
  OPT("index_name", ESC_LIST),
  OPT("connector_name", ESC_LIST),
  OPT("service_type", ESC_LIST),
  OPT("include_deleted", ESC_BOOLEAN),
  OPT("query", ESC_STRING),
  END
};
static const struct esc_param esc_api_key_id_body[] = {
  OPT("api_key_id", ESC_STRING_OR_NULL),
  OPT("api_key_secret_id", ESC_STRING_OR_NULL),
  END
};
static const char *const esc_api_key_id_one_of[] = {
  "api_key_id", "api_key_secret_id", NULL
};
static const struct esc_param esc_last_sync_body[] = {
  { "last_access_control_sync_error", ESC_STRING_OR_NULL, 0, NULL, NULL, NULL },
  OPT("last_access_control_sync_scheduled_at", ESC_ANY),
  { "last_access_control_sync_status", ESC_STRING_OR_NULL, 0, esc_sync_statuses, NULL, NULL },
  OPT("last_deleted_document_count", ESC_INTEGER),
  OPT("last_incremental_sync_scheduled_at", ESC_ANY),
  OPT("last_indexed_document_count", ESC_INTEGER),
  { "last_sync_error", ESC_STRING_OR_NULL, 0, NULL, NULL, NULL },
  OPT("last_sync_scheduled_at", ESC_ANY),
  { "last_sync_status", ESC_STRING_OR_NULL, 0, esc_sync_statuses, NULL, NULL },
  OPT("last_synced", ESC_ANY),
  OPT("sync_cursor", ESC_ANY),
  END
};
static const struct esc_param esc_configuration_body[] = {
  OPT("configuration", ESC_OBJECT),
  OPT("values", ESC_OBJECT),
  END
};
static const struct esc_param esc_error_body[] = {
  { "error", ESC_STRING_OR_NULL, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  END
};
static const struct esc_param esc_features_body[] = {
  OPT("features", ESC_OBJECT), /* optional for ES's parser too */
  END
};
static const struct esc_param esc_filtering_body[] = {
  OPT("filtering", ESC_ARRAY),
  OPT("rules", ESC_ARRAY),
  OPT("advanced_snippet", ESC_OBJECT),
  END
};
static const struct esc_param esc_filtering_validation_body[] = {
  { "validation", ESC_OBJECT, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  END
};
static const struct esc_param esc_index_name_body[] = {
  { "index_name", ESC_STRING_OR_NULL, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  END
};
static const struct esc_param esc_name_body[] = {
  OPT("name", ESC_STRING_OR_NULL),
  OPT("description", ESC_STRING_OR_NULL),
  END
};
static const struct esc_param esc_native_body[] = {
  { "is_native", ESC_BOOLEAN, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  END
};
static const struct esc_param esc_pipeline_body[] = {
  { "pipeline", ESC_OBJECT, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  END
};
static const struct esc_param esc_scheduling_body[] = {
  { "scheduling", ESC_OBJECT, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  END
};
static const struct esc_param esc_service_type_body[] = {
  { "service_type", ESC_STRING, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  END
};
static const struct esc_param esc_status_body[] = {
  { "status", ESC_STRING, ESC_PARSER_REQUIRED, esc_connector_statuses, NULL, NULL },
  END
};

/* --- secrets --- */

static const struct esc_param esc_secret_post_body[] = {
  { "value", ESC_STRING, ESC_REQUIRED | ESC_NOT_EMPTY, NULL,
    "[value] of the connector secret cannot be [null] or [\"\"]", NULL },
  END
};
static const struct esc_param esc_secret_put_body[] = {
  { "value", ESC_STRING, ESC_PARSER_REQUIRED | ESC_NOT_EMPTY, NULL, NULL,
    "[value] cannot be [null] or [\"\"]" },
  END
};

/* --- sync jobs --- */

static const struct esc_param esc_sync_job_claim_body[] = {
  OPT("sync_cursor", ESC_ANY),
  { "worker_hostname", ESC_STRING, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  END
};
static const struct esc_param esc_sync_job_error_body[] = {
  { "error", ESC_STRING, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  END
};
static const struct esc_param esc_sync_job_list_query[] = {
  OPT("from", ESC_INTEGER),
  OPT("size", ESC_INTEGER),
  ENUM("status", esc_sync_statuses),
  OPT("connector_id", ESC_STRING),
  { "job_type", ESC_LIST, 0, esc_job_types, NULL, NULL },
  END
};
static const struct esc_param esc_sync_job_post_body[] = {
  { "id", ESC_STRING, ESC_PARSER_REQUIRED | ESC_NOT_EMPTY, NULL, NULL,
    "[id] of the connector cannot be null or empty" },
  /* no local enumeration: the server names an unknown value in its parse error */
  OPT("job_type", ESC_STRING),
  OPT("trigger_method", ESC_STRING),
  END
};
static const struct esc_param esc_sync_job_stats_body[] = {
  { "deleted_document_count", ESC_INTEGER, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  { "indexed_document_count", ESC_INTEGER, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  { "indexed_document_volume", ESC_INTEGER, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  OPT("last_seen", ESC_ANY),
  OPT("metadata", ESC_OBJECT),
  OPT("total_document_count", ESC_INTEGER),
  END
};

/* --- security --- */

static const struct esc_param esc_refresh_query[] = {
  { "refresh", ESC_STRING, 0, esc_refresh_values, NULL, NULL },
  END
};
static const struct esc_param esc_create_api_key_body[] = {
  OPT("name", ESC_STRING),
  OPT("expiration", ESC_STRING),
  OPT("role_descriptors", ESC_OBJECT),
  OPT("metadata", ESC_OBJECT),
  END
};
static const struct esc_param esc_invalidate_api_key_body[] = {
  OPT("id", ESC_STRING),
  OPT("ids", ESC_ARRAY),
  OPT("name", ESC_STRING),
  OPT("owner", ESC_BOOLEAN),
  OPT("realm_name", ESC_STRING),
  OPT("username", ESC_STRING),
  END
};
static const struct esc_param esc_get_api_key_query[] = {
  OPT("id", ESC_STRING),
  OPT("name", ESC_STRING),
  OPT("owner", ESC_BOOLEAN),
  OPT("realm_name", ESC_STRING),
  OPT("username", ESC_STRING),
  OPT("with_limited_by", ESC_BOOLEAN),
  OPT("active_only", ESC_BOOLEAN),
  OPT("with_profile_uid", ESC_BOOLEAN),
  END
};
static const struct esc_param esc_query_api_keys_query[] = {
  OPT("with_limited_by", ESC_BOOLEAN),
  OPT("with_profile_uid", ESC_BOOLEAN),
  OPT("typed_keys", ESC_BOOLEAN),
  END
};
static const struct esc_param esc_query_api_keys_body[] = {
  OPT("query", ESC_OBJECT),
  OPT("from", ESC_INTEGER),
  OPT("size", ESC_INTEGER),
  OPT("sort", ESC_ANY),
  OPT("search_after", ESC_ARRAY),
  OPT("aggs", ESC_OBJECT),
  OPT("aggregations", ESC_OBJECT),
  END
};
static const struct esc_param esc_update_api_key_body[] = {
  OPT("role_descriptors", ESC_OBJECT),
  OPT("metadata", ESC_OBJECT),
  OPT("expiration", ESC_STRING),
  END
};
static const struct esc_param esc_bulk_update_api_keys_body[] = {
  { "ids", ESC_ARRAY, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  OPT("role_descriptors", ESC_OBJECT),
  OPT("metadata", ESC_OBJECT),
  OPT("expiration", ESC_STRING),
  END
};
static const struct esc_param esc_grant_api_key_body[] = {
  { "api_key", ESC_OBJECT, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  { "grant_type", ESC_STRING, ESC_PARSER_REQUIRED, NULL, NULL, NULL },
  OPT("access_token", ESC_STRING),
  OPT("username", ESC_STRING),
  OPT("password", ESC_STRING),
  OPT("run_as", ESC_STRING),
  END
};
static const struct esc_param esc_put_role_body[] = {
  OPT("cluster", ESC_ARRAY),
  OPT("indices", ESC_ARRAY),
  OPT("applications", ESC_ARRAY),
  OPT("run_as", ESC_ARRAY),
  OPT("metadata", ESC_OBJECT),
  OPT("global", ESC_OBJECT),
  OPT("description", ESC_STRING),
  OPT("remote_indices", ESC_ARRAY),
  OPT("remote_cluster", ESC_ARRAY),
  OPT("transient_metadata", ESC_OBJECT),
  END
};
static const struct esc_param esc_put_user_body[] = {
  OPT("username", ESC_STRING),
  OPT("password", ESC_STRING),
  OPT("password_hash", ESC_STRING),
  OPT("roles", ESC_ARRAY),
  OPT("full_name", ESC_STRING_OR_NULL),
  OPT("email", ESC_STRING_OR_NULL),
  OPT("metadata", ESC_OBJECT),
  OPT("enabled", ESC_BOOLEAN),
  END
};
static const struct esc_param esc_indices_delete_query[] = {
  OPT("allow_no_indices", ESC_BOOLEAN),
  OPT("expand_wildcards", ESC_LIST),
  OPT("ignore_unavailable", ESC_BOOLEAN),
  OPT("master_timeout", ESC_STRING),
  OPT("timeout", ESC_STRING),
  END
};

static const char *const esc_health_statuses[] = { "green", "yellow", "red", NULL };
static const char *const esc_health_levels[] = { "cluster", "indices", "shards", NULL };
static const struct esc_param esc_health_index[] = { OPT("index", ESC_LIST), END };
static const struct esc_param esc_health_query[] = {
  OPT("expand_wildcards", ESC_LIST),
  ENUM("level", esc_health_levels),
  OPT("local", ESC_BOOLEAN),
  OPT("master_timeout", ESC_STRING),
  OPT("timeout", ESC_STRING),
  OPT("wait_for_active_shards", ESC_ANY),
  OPT("wait_for_nodes", ESC_ANY),
  OPT("wait_for_no_initializing_shards", ESC_BOOLEAN),
  OPT("wait_for_no_relocating_shards", ESC_BOOLEAN),
  ENUM("wait_for_status", esc_health_statuses),
  END
};

/* Row builders: a bodiless call, and a call whose body has a parser. */
#define NOBODY(name, method, path, pp, q) \
  { name, method, path, NULL, pp, q, NULL, ESC_BODY_NONE, NULL, NULL, NULL, NULL }
#define BODY(name, method, path, pp, q, b, rule, parser) \
  { name, method, path, NULL, pp, q, b, rule, parser, NULL, NULL, NULL }
#define CONNECTOR_UPDATE(api, suffix, b) \
  BODY("connector.update_" api, "PUT", "/_connector/{connector_id}/" suffix, \
       esc_connector_id, esc_none, b, ESC_BODY_REQUIRED, "connector_update_" api "_request")
#define SYNC_JOB(api, method, suffix) \
  NOBODY("connector.sync_job_" api, method, "/_connector/_sync_job/{connector_sync_job_id}" suffix, \
         esc_sync_job_id, esc_none)

static const struct esc_endpoint esc_endpoints[] = {
  NOBODY("info", "GET", "/", esc_none, esc_none),
  { "cluster.health", "GET", "/_cluster/health/{index}", "/_cluster/health",
    esc_health_index, esc_health_query, NULL, ESC_BODY_NONE, NULL, NULL, NULL, NULL },

  /* connectors */
  NOBODY("connector.check_in", "PUT", "/_connector/{connector_id}/_check_in",
         esc_connector_id, esc_none),
  NOBODY("connector.delete", "DELETE", "/_connector/{connector_id}",
         esc_connector_id, esc_connector_delete_query),
  NOBODY("connector.get", "GET", "/_connector/{connector_id}",
         esc_connector_id, esc_connector_get_query),
  BODY("connector.last_sync", "PUT", "/_connector/{connector_id}/_last_sync",
       esc_connector_id, esc_none, esc_last_sync_body, ESC_BODY_REQUIRED,
       "connector_update_last_sync_stats_request"),
  NOBODY("connector.list", "GET", "/_connector", esc_none, esc_connector_list_query),
  BODY("connector.post", "POST", "/_connector", esc_none, esc_none,
       esc_connector_create_body, ESC_BODY_OPTIONAL, "connector_put_request"),
  { "connector.put", "PUT", "/_connector/{connector_id}", "/_connector",
    esc_connector_id_optional, esc_none, esc_connector_create_body,
    ESC_BODY_OPTIONAL, "connector_put_request", NULL, NULL, NULL },
  NOBODY("connector.secret_delete", "DELETE", "/_connector/_secret/{id}", esc_secret_id, esc_none),
  NOBODY("connector.secret_get", "GET", "/_connector/_secret/{id}", esc_secret_id, esc_none),
  BODY("connector.secret_post", "POST", "/_connector/_secret", esc_none, esc_none,
       esc_secret_post_body, ESC_BODY_REQUIRED, "post_secret_request"),
  BODY("connector.secret_put", "PUT", "/_connector/_secret/{id}", esc_secret_id, esc_none,
       esc_secret_put_body, ESC_BODY_REQUIRED, "connector_secret_put_request"),
  SYNC_JOB("cancel", "PUT", "/_cancel"),
  SYNC_JOB("check_in", "PUT", "/_check_in"),
  BODY("connector.sync_job_claim", "PUT", "/_connector/_sync_job/{connector_sync_job_id}/_claim",
       esc_sync_job_id, esc_none, esc_sync_job_claim_body, ESC_BODY_REQUIRED,
       "connector_sync_job_claim_request"),
  SYNC_JOB("delete", "DELETE", ""),
  BODY("connector.sync_job_error", "PUT", "/_connector/_sync_job/{connector_sync_job_id}/_error",
       esc_sync_job_id, esc_none, esc_sync_job_error_body, ESC_BODY_REQUIRED,
       "connector_sync_job_error_request"),
  SYNC_JOB("get", "GET", ""),
  NOBODY("connector.sync_job_list", "GET", "/_connector/_sync_job", esc_none,
         esc_sync_job_list_query),
  BODY("connector.sync_job_post", "POST", "/_connector/_sync_job", esc_none, esc_none,
       esc_sync_job_post_body, ESC_BODY_REQUIRED, "connector_sync_job_post_request"),
  BODY("connector.sync_job_update_stats", "PUT", "/_connector/_sync_job/{connector_sync_job_id}/_stats",
       esc_sync_job_id, esc_none, esc_sync_job_stats_body, ESC_BODY_REQUIRED,
       "connector_sync_job_update_ingestion_stats"),
  NOBODY("connector.update_active_filtering", "PUT", "/_connector/{connector_id}/_filtering/_activate",
         esc_connector_id, esc_none),
  { "connector.update_api_key_id", "PUT", "/_connector/{connector_id}/_api_key_id", NULL,
    esc_connector_id, esc_none, esc_api_key_id_body, ESC_BODY_REQUIRED,
    "connector_update_api_key_id_request", esc_api_key_id_one_of,
    "[api_key_id] and [api_key_secret_id] cannot both be [null]. "
    "Please provide a value for at least one of them.", NULL },
  CONNECTOR_UPDATE("configuration", "_configuration", esc_configuration_body),
  CONNECTOR_UPDATE("error", "_error", esc_error_body),
  CONNECTOR_UPDATE("features", "_features", esc_features_body),
  CONNECTOR_UPDATE("filtering", "_filtering", esc_filtering_body),
  CONNECTOR_UPDATE("filtering_validation", "_filtering/_validation", esc_filtering_validation_body),
  CONNECTOR_UPDATE("index_name", "_index_name", esc_index_name_body),
  CONNECTOR_UPDATE("name", "_name", esc_name_body),
  CONNECTOR_UPDATE("native", "_native", esc_native_body),
  CONNECTOR_UPDATE("pipeline", "_pipeline", esc_pipeline_body),
  CONNECTOR_UPDATE("scheduling", "_scheduling", esc_scheduling_body),
  CONNECTOR_UPDATE("service_type", "_service_type", esc_service_type_body),
  CONNECTOR_UPDATE("status", "_status", esc_status_body),

  /* security: what a key rotation needs, and what the clients' tests use */
  NOBODY("security.authenticate", "GET", "/_security/_authenticate", esc_none, esc_none),
  NOBODY("security.clear_api_key_cache", "POST", "/_security/api_key/{ids}/_clear_cache",
         esc_api_key_ids_path, esc_none),
  BODY("security.bulk_update_api_keys", "POST", "/_security/api_key/_bulk_update", esc_none, esc_none,
       esc_bulk_update_api_keys_body, ESC_BODY_REQUIRED, "bulk_update_api_key_request"),
  { "security.create_api_key", "PUT", "/_security/api_key", NULL, esc_none, esc_refresh_query,
    esc_create_api_key_body, ESC_BODY_REQUIRED, "api_key_request", NULL, NULL,
    esc_rule_create_api_key },
  NOBODY("security.delete_role", "DELETE", "/_security/role/{name}", esc_role_name, esc_refresh_query),
  NOBODY("security.delete_user", "DELETE", "/_security/user/{username}", esc_username, esc_refresh_query),
  NOBODY("security.get_api_key", "GET", "/_security/api_key", esc_none, esc_get_api_key_query),
  BODY("security.grant_api_key", "POST", "/_security/api_key/grant", esc_none, esc_refresh_query,
       esc_grant_api_key_body, ESC_BODY_REQUIRED, "grant_api_key_request"),
  { "security.invalidate_api_key", "DELETE", "/_security/api_key", NULL, esc_none, esc_none,
    esc_invalidate_api_key_body, ESC_BODY_REQUIRED, "invalidate_api_key", NULL, NULL,
    esc_rule_invalidate_api_key },
  BODY("security.put_role", "PUT", "/_security/role/{name}", esc_role_name, esc_refresh_query,
       esc_put_role_body, ESC_BODY_REQUIRED, "role_descriptor"),
  BODY("security.put_user", "PUT", "/_security/user/{username}", esc_username, esc_refresh_query,
       esc_put_user_body, ESC_BODY_REQUIRED, "put_user_request"),
  BODY("security.query_api_keys", "POST", "/_security/_query/api_key", esc_none,
       esc_query_api_keys_query, esc_query_api_keys_body, ESC_BODY_OPTIONAL, "query_api_key_request"),
  BODY("security.update_api_key", "PUT", "/_security/api_key/{id}", esc_api_key_path_id, esc_none,
       esc_update_api_key_body, ESC_BODY_OPTIONAL, "update_api_key_request_payload"),

  /* nodes: for sniffing (GET /_nodes/_all/http) */
  NOBODY("nodes.info", "GET", "/_nodes/{node_id}/{metric}", esc_nodes_info_path, esc_none),

  /* indices: only what the clients' tests clean up with */
  NOBODY("indices.delete", "DELETE", "/{index}", esc_index_path, esc_indices_delete_query),
};

#define ESC_ENDPOINT_COUNT (sizeof esc_endpoints / sizeof esc_endpoints[0])

static const struct esc_endpoint *esc_catalog_at(size_t i)
{
  return i < ESC_ENDPOINT_COUNT ? &esc_endpoints[i] : NULL;
}

static const char *esc_type_name(enum esc_type type)
{
  switch (type) {
  case ESC_ID: return "id";
  case ESC_STRING: return "string";
  case ESC_STRING_OR_NULL: return "string_or_null";
  case ESC_BOOLEAN: return "boolean";
  case ESC_INTEGER: return "integer";
  case ESC_NUMBER: return "number";
  case ESC_OBJECT: return "object";
  case ESC_ARRAY: return "array";
  case ESC_LIST: return "list";
  case ESC_ANY: break;
  }
  return "any";
}
