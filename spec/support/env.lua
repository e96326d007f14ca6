--- What the integration specs share: a client for the cluster under test
-- (the emulator the test runner started, or ES_URL with its credentials),
-- and unique ids so that runs never collide.
local esconnector = require "esconnector"

local env = {}

env.url = os.getenv("ES_URL")
env.username = os.getenv("ES_USERNAME")
env.password = os.getenv("ES_PASSWORD")
env.api_key = os.getenv("ES_API_KEY")
env.ca_file = os.getenv("ES_CA_FILE")
env.is_emulator = os.getenv("ES_EMULATOR") == "1"

--- Options for a client of the cluster under test, merged with extra.
function env.options(extra)
  local options = { hosts = { env.url }, ca_file = env.ca_file }
  if env.api_key and env.api_key ~= "" then
    options.api_key = env.api_key
  elseif env.username and env.username ~= "" then
    options.basic_auth = { env.username, env.password }
  end
  for k, v in pairs(extra or {}) do options[k] = v end
  return options
end

--- A client authenticated as the user (ES_USERNAME): creating API keys
-- needs one, since keys made with an API key are restricted derived keys.
function env.user_client(extra)
  assert(env.url, "ES_URL is not set: run the specs through `make test`")
  local options = env.options(extra)
  options.api_key = nil
  options.basic_auth = { env.username, env.password }
  return esconnector.new(options)
end

function env.client(extra)
  assert(env.url, "ES_URL is not set: run the specs through `make test`")
  return esconnector.new(env.options(extra))
end

local counter = 0
math.randomseed(os.time() + math.floor(os.clock() * 1e6))

--- A fresh id with a readable prefix.
function env.unique(prefix)
  counter = counter + 1
  return ("%s-%d-%d-%d"):format(prefix, os.time(), math.random(1, 1e9), counter)
end

--- GET / through a client made with options, closed afterwards: the
-- result or nil and the error object.
function env.info_with(options)
  local client = esconnector.new(options)
  local res, err = client:info()
  client:close()
  return res, err
end

--- The host:port of ES_URL, for specs that reach the same server by
-- another scheme.
function env.host_port()
  return env.url:match("^%a+://([^/]+)")
end

return env
