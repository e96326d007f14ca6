/* Endpoint rows.  Names, paths and parameters follow the REST spec used by
 * the official clients; messages are Elasticsearch's own wording. */
#include <string.h>
#include "catalog.h"

#define END { NULL, ESC_ANY, 0, NULL, NULL }


/* Query parameters every endpoint accepts. */
static const struct esc_param esc_common_query[] = {
  { "error_trace", ESC_BOOLEAN, 0, NULL, NULL },
  { "filter_path", ESC_LIST, 0, NULL, NULL },
  { "human", ESC_BOOLEAN, 0, NULL, NULL },
  { "pretty", ESC_BOOLEAN, 0, NULL, NULL },
  END
};

static const struct esc_param esc_no_params[] = { END };

static const struct esc_param esc_connector_id_required[] = {
  { "connector_id", ESC_ID, ESC_REQUIRED | ESC_NOT_EMPTY, NULL,
    "[connector_id] cannot be [null] or [\"\"]." },
  END
};

static const struct esc_param esc_connector_id_optional[] = {
  { "connector_id", ESC_ID, ESC_NOT_EMPTY, NULL,
    "[connector_id] cannot be [null] or [\"\"]." },
  END
};

static const struct esc_param esc_api_key_id_body[] = {
  { "api_key_id", ESC_STRING_OR_NULL, 0, NULL, NULL },
  { "api_key_secret_id", ESC_STRING_OR_NULL, 0, NULL, NULL },
  END
};

static const char *const esc_api_key_id_one_of[] = {
  "api_key_id", "api_key_secret_id", NULL
};

static const struct esc_param esc_connector_put_body[] = {
  { "description", ESC_STRING_OR_NULL, 0, NULL, NULL },
  { "index_name", ESC_STRING_OR_NULL, 0, NULL, NULL },
  { "is_native", ESC_BOOLEAN, 0, NULL, NULL },
  { "language", ESC_STRING_OR_NULL, 0, NULL, NULL },
  { "name", ESC_STRING_OR_NULL, 0, NULL, NULL },
  { "service_type", ESC_STRING_OR_NULL, 0, NULL, NULL },
  END
};

static const struct esc_param esc_connector_get_query[] = {
  { "include_deleted", ESC_BOOLEAN, 0, NULL, NULL },
  END
};

static const struct esc_param esc_connector_delete_query[] = {
  { "delete_sync_jobs", ESC_BOOLEAN, 0, NULL, NULL },
  { "hard", ESC_BOOLEAN, 0, NULL, NULL },
  END
};

static const struct esc_endpoint esc_endpoints[] = {
  { "info", "GET", "/", NULL,
    esc_no_params, esc_no_params, NULL, ESC_BODY_NONE, NULL, NULL, NULL },
  { "connector.delete", "DELETE", "/_connector/{connector_id}", NULL,
    esc_connector_id_required, esc_connector_delete_query, NULL,
    ESC_BODY_NONE, NULL, NULL, NULL },
  { "connector.get", "GET", "/_connector/{connector_id}", NULL,
    esc_connector_id_required, esc_connector_get_query, NULL,
    ESC_BODY_NONE, NULL, NULL, NULL },
  { "connector.put", "PUT", "/_connector/{connector_id}", "/_connector",
    esc_connector_id_optional, esc_no_params, esc_connector_put_body,
    ESC_BODY_OPTIONAL, "connector_put_request", NULL, NULL },
  { "connector.update_api_key_id", "PUT", "/_connector/{connector_id}/_api_key_id",
    NULL, esc_connector_id_required, esc_no_params, esc_api_key_id_body,
    ESC_BODY_REQUIRED, "connector_update_api_key_id_request",
    esc_api_key_id_one_of,
    "[api_key_id] and [api_key_secret_id] cannot both be [null]. "
    "Please provide a value for at least one of them." },
};

#define ESC_ENDPOINT_COUNT (sizeof esc_endpoints / sizeof esc_endpoints[0])

static const struct esc_endpoint *esc_catalog_at(size_t i)
{
  return i < ESC_ENDPOINT_COUNT ? &esc_endpoints[i] : NULL;
}

static const struct esc_endpoint *esc_catalog_find(const char *name)
{
  size_t i;
  for (i = 0; i < ESC_ENDPOINT_COUNT; i++)
    if (strcmp(esc_endpoints[i].name, name) == 0)
      return &esc_endpoints[i];
  return NULL;
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
