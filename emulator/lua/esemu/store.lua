-- Documents, per index, in the esemu_docs shared dict: one key per document
-- ("<index>/<id>"; index names cannot contain '/'), the value is
-- "<seq>\n<source JSON>" where seq is a global write counter used to break
-- sort ties the way Lucene doc order does in a single-shard index.
--
-- The handlers run read-modify-write sequences without yielding, and nginx
-- runs one worker, so each request sees and leaves a consistent state.

local json = require "esemu.json"
local xcontent = require "esemu.xcontent"

local M = {}

-- Index names as Elasticsearch calls them.
M.CONNECTORS = ".elastic-connectors-v1"
M.SYNC_JOBS = ".elastic-connectors-sync-jobs-v1"
M.SECRETS = ".connector-secrets-1"

local function dict() return ngx.shared.esemu_docs end

local function key(index, id) return index .. "/" .. id end

local function decode(raw)
  local nl = raw:find("\n", 1, true)
  return xcontent.decode(raw:sub(nl + 1)), tonumber(raw:sub(1, nl - 1))
end

-- get(index, id): source (a json object) and its seq, or nil.
function M.get(index, id)
  local raw = dict():get(key(index, id))
  if not raw then return nil end
  return decode(raw)
end

-- put(index, id, source): "created" or "updated".  Every write takes a new
-- seq: Lucene re-adds an updated document at the end, which is where it then
-- sorts among equal sort values.
function M.put(index, id, source)
  local k = key(index, id)
  local existed = dict():get(k) ~= nil
  local seq = assert(ngx.shared.esemu_meta:incr("seq", 1, 0))
  assert(dict():set(k, seq .. "\n" .. json.encode(source)))
  ngx.shared.esemu_meta:set("index_exists:" .. index, true)
  return existed and "updated" or "created"
end

-- delete(index, id): true when a document was removed.
function M.delete(index, id)
  local k = key(index, id)
  if dict():get(k) == nil then return false end
  dict():delete(k)
  return true
end

-- all(index): every document as {id = ..., source = ..., seq = ...}, in
-- write order.
function M.all(index)
  local prefix = index .. "/"
  local out = {}
  for _, k in ipairs(dict():get_keys(0)) do
    if k:sub(1, #prefix) == prefix then
      local raw = dict():get(k)
      if raw then
        local source, seq = decode(raw)
        out[#out + 1] = { id = k:sub(#prefix + 1), source = source, seq = seq }
      end
    end
  end
  table.sort(out, function(a, b) return a.seq < b.seq end)
  return out
end

-- exists(index): ES creates an index on its first write; until then some
-- APIs answer index_not_found_exception instead of a missing document.
function M.exists(index)
  return ngx.shared.esemu_meta:get("index_exists:" .. index) == true
end

-- Index uuids are made up once per start (init) and stay stable.
function M.index_uuid(index)
  return ngx.shared.esemu_meta:get("index_uuid:" .. index) or "_na_"
end

return M
