/* validate() rules that do not fit a catalog column.  Each pushes a message
 * and calls add(L) for every failure, in Elasticsearch's order and words. */
#include <string.h>
#include "compat.h"

static int esc_rule_present(lua_State *L, const char *name)
{
  int present;
  esc_get_param(L, name, 1);
  present = !esc_is_null(L, -1);
  lua_pop(L, 1);
  return present;
}

/* CreateApiKeyRequest.validate */
static void esc_rule_create_api_key(lua_State *L, esc_add_fn *add)
{
  esc_get_param(L, "name", 1);
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t len;
    const char *n = lua_tolstring(L, -1, &len);
    if (len > 256) {
      lua_pushliteral(L, "api key name may not be more than 256 characters long");
      add(L);
    }
    if (len > 0 && (strchr(" \t\r\n", n[0]) || strchr(" \t\r\n", n[len - 1]))) {
      lua_pushliteral(L, "api key name may not begin or end with whitespace");
      add(L);
    }
    if (len > 0 && n[0] == '_') {
      lua_pushliteral(L, "api key name may not begin with an underscore");
      add(L);
    }
  }
  lua_pop(L, 1);
  esc_get_param(L, "metadata", 1);
  if (lua_istable(L, -1)) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) == LUA_TSTRING && lua_tostring(L, -1)[0] == '_') {
        lua_pushliteral(L, "API key metadata keys may not start with [_]");
        add(L);
        lua_pop(L, 1);
        break;
      }
    }
  }
  lua_pop(L, 1);
}

/* InvalidateApiKeyRequest.validate */
static void esc_rule_invalidate_api_key(lua_State *L, esc_add_fn *add)
{
  int ids = esc_rule_present(L, "id") || esc_rule_present(L, "ids");
  int name = esc_rule_present(L, "name");
  int user_or_realm = esc_rule_present(L, "username") || esc_rule_present(L, "realm_name");
  int owner;
  esc_get_param(L, "owner", 1);
  owner = lua_toboolean(L, -1) && !esc_is_null(L, -1);
  lua_pop(L, 1);
  if (!owner && !ids && !name && !user_or_realm) {
    lua_pushliteral(L, "One of [api key id(s), api key name, username, realm name] must be "
                       "specified if [owner] flag is false");
    add(L);
  }
  if (ids && name) {
    lua_pushliteral(L, "only one of [api key id(s), api key name] can be specified");
    add(L);
  }
  if ((ids || name) && user_or_realm) {
    lua_pushliteral(L, "username or realm name must not be specified when the api key id(s) "
                       "or api key name are specified");
    add(L);
  }
}
