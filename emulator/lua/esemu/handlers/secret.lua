-- Connector secrets: /_connector/_secret (es-behaviour.md §5).  Documents
-- {"value": "..."} in the .connector-secrets system index.

local errors = require "esemu.errors"
local json = require "esemu.json"
local store = require "esemu.store"
local util = require "esemu.util"
local xcontent = require "esemu.xcontent"

local obj = json.obj
local SECRETS = store.SECRETS
local ALIAS = ".connector-secrets"

local M = {}

local EMPTY_ID = "[id] of the connector secret cannot be null or empty."
local PREFIX = "cluster:admin/xpack/connector/secret/"

local function empty(s) return s == nil or s == "" end

local function id_messages(r)
  if empty(r.id) then return { EMPTY_ID } end
  return {}
end

-- A missing secret: before the first write the index itself is missing.
local function missing(id)
  if not store.exists(SECRETS) then return errors.index_not_found(ALIAS) end
  return errors.resource_not_found("No secret with id [" .. id .. "]")
end

-- POST /_connector/_secret -----------------------------------------------------------

local POST_PARSER = xcontent.object_parser("post_secret_request", { { "value", "string" } })

M.post = {
  action = PREFIX .. "post",
  prepare = function(req) return (xcontent.parse_body(req:required_content(), POST_PARSER)) end,
  validate = function(r)
    if empty(r.value) then return { '[value] of the connector secret cannot be [null] or [""]' } end
  end,
  execute = function(r)
    local id = util.base64_uuid()
    store.put(SECRETS, id, obj("value", r.value))
    return 200, obj("id", id)
  end,
}

-- PUT /_connector/_secret/{id} --------------------------------------------------------

local PUT_PARSER = xcontent.object_parser("connector_secret_put_request", { { "value", "string", required = true } })

M.put = {
  action = PREFIX .. "put",
  prepare = function(req)
    local r = xcontent.parse_body(req:required_content(), PUT_PARSER)
    r.id = req:param("id")
    return r
  end,
  validate = function(r)
    local msgs = id_messages(r)
    if empty(r.value) then msgs[#msgs + 1] = '[value] cannot be [null] or [""]' end
    return msgs
  end,
  execute = function(r)
    local result = store.put(SECRETS, r.id, obj("value", r.value))
    return result == "created" and 201 or 200, obj("result", result)
  end,
}

-- GET /_connector/_secret/{id} ---------------------------------------------------------

M.get = {
  action = PREFIX .. "get",
  prepare = function(req) return { id = req:param("id") } end,
  validate = id_messages,
  execute = function(r)
    local source = store.get(SECRETS, r.id)
    if not source then error(missing(r.id), 0) end
    return 200, obj("id", r.id, "value", source.value)
  end,
}

-- DELETE /_connector/_secret/{id} ------------------------------------------------------

M.delete = {
  action = PREFIX .. "delete",
  prepare = function(req) return { id = req:param("id") } end,
  validate = id_messages,
  execute = function(r)
    if not store.delete(SECRETS, r.id) then error(missing(r.id), 0) end
    return 200, obj("deleted", true)
  end,
}

return M
