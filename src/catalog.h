/* The endpoint catalog: one row per API, pure data.  Adding an endpoint is
 * adding a row in catalog.c; request.c validates and builds from the row. */
#ifndef ESCONNECTOR_CATALOG_H
#define ESCONNECTOR_CATALOG_H

#include <stddef.h>

enum esc_type {
  ESC_ID,             /* path segment: string or integral number */
  ESC_STRING,
  ESC_STRING_OR_NULL, /* string, or esconnector.null meaning "not provided" */
  ESC_BOOLEAN,
  ESC_INTEGER,
  ESC_NUMBER,
  ESC_OBJECT,
  ESC_ARRAY,
  ESC_ANY,
  ESC_LIST            /* query: a string or an array of strings, comma-joined */
};

enum esc_body_rule {
  ESC_BODY_NONE,      /* the endpoint takes no body */
  ESC_BODY_OPTIONAL,
  ESC_BODY_REQUIRED   /* Elasticsearch answers "request body is required" */
};

#define ESC_REQUIRED        1u /* validate(): absent or null is refused */
#define ESC_NOT_EMPTY       2u /* validate(): "" is refused */
#define ESC_PARSER_REQUIRED 4u /* the body parser itself wants it: "Required [x]" */

struct esc_param {
  const char *name;
  enum esc_type type;
  unsigned flags;
  const char *const *choices; /* NULL, or a NULL-terminated enumeration */
  const char *missing;        /* ES's message when required and absent */
  const char *empty;          /* ES's message for ""; NULL: as missing */
};

struct lua_State;

struct esc_endpoint {
  const char *name;                   /* "connector.update_api_key_id" */
  const char *method;
  const char *path;                   /* template: "/_connector/{connector_id}" */
  const char *path_without_params;    /* when optional path params are absent */
  const struct esc_param *path_params; /* each list ends with a NULL name */
  const struct esc_param *query;
  const struct esc_param *body;
  enum esc_body_rule body_rule;
  const char *parser;                 /* ES's body parser name, for its messages */
  const char *const *one_of;          /* at least one of these must be non-null */
  const char *one_of_message;
  /* Extra validate() rules: pushes each failure message and calls
   * add(L) for it.  May be NULL. */
  void (*check)(struct lua_State *L, void (*add)(struct lua_State *L));
};

#endif
