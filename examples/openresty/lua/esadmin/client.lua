--- The esconnector client of this nginx worker, made on first use.  One
-- client serves every request and timer of the worker at once: each call
-- keeps its state in its own coroutine, and connections go back to
-- nginx's keepalive pool.
local esconnector = require "esconnector"

local M = {}

local client

function M.get()
  if not client then
    client = esconnector.new{
      hosts = { os.getenv("ES_URL") or "http://localhost:9200" },
      api_key = os.getenv("ES_API_KEY"),   -- needs `env ES_API_KEY;` in nginx.conf
      request_timeout_ms = 10000,
      max_retries = 2,
    }
  end
  return client
end

return M
