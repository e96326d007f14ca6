--- The blocking transport, over libcurl (the esconnector.curl C module).  For scripts, cron
-- jobs and the command-line tool; inside nginx use the resty transport.
--
-- Contract shared by every transport:
--   transport.new(settings [, options]) -> transport
--   transport:send(request) -> response | nil, { kind =, message = }
--   transport:now_ms() -> monotonic milliseconds
--   transport:sleep_ms(ms) -> waits (the resty one yields instead)
--   settings = what a client fixes once: { connect_timeout_ms, timeout_ms
--                (defaults), verify_peer, verify_host, ca_file, ca_path,
--                client_cert, client_key, ca_fingerprint, max_response_bytes }
--   request  = only what belongs to one request: { method, url,
--                headers = { "Name: value" }, body, connect_timeout_ms,
--                timeout_ms, fresh_connect }
--   fresh_connect = true: a new connection, not a kept-alive one (calls that
--   must go out at most once: a stale pooled connection would be resent on)
--   errors: { kind, message [, code] [, not_sent = true when no byte of the
--   request left: the call may be tried elsewhere even if it is a create] }
--   response = { status, headers = { [lower-case name] = value }, body }
--   (this transport also gives head, the raw response head, and makes
--   headers from it when it is first read: core.interpret reads what it
--   needs from head, so a usual answer never makes that table)
-- And, to be driven by esconnector.scheduler (client:batch, concurrently),
-- over one curl_multi handle per client:
--   transport:start(request) -> token | nil, err
--   transport:poll(timeout_ms) -> { { token, response, err }, ... }
local core = require "esconnector.core"
local curl_core = require "esconnector.curl" -- libcurl: loaded with this transport only

local CurlTransport = {}
CurlTransport.__index = CurlTransport

local curl = {}

function curl.new(settings)
  return setmetatable({ handle = curl_core.curl_new(settings) }, CurlTransport)
end

-- libcurl codes that mean no byte of the request left this machine: the
-- name did not resolve, or no connection was made (CURLE_COULDNT_RESOLVE_PROXY,
-- CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT).  Even a call that must
-- go out at most once may then be tried on another node.
local NOT_SENT = { [5] = true, [6] = true, [7] = true }

local function transport_error(kind, message, code)
  return { kind = kind, message = message, code = code, not_sent = NOT_SENT[code] or nil }
end

function CurlTransport:send(request)
  local response, kind, message, code = self.handle:perform(request)
  if not response then
    return nil, transport_error(kind, message, code)
  end
  return response
end

function CurlTransport:start(request)
  local token, kind, message, code = self.handle:start(request)
  if not token then
    return nil, transport_error(kind, message, code)
  end
  return token
end

function CurlTransport:poll(timeout_ms)
  local done = self.handle:poll(timeout_ms)
  for _, entry in ipairs(done) do
    local err = entry[3]
    if err and NOT_SENT[err.code] then err.not_sent = true end
  end
  return done
end

function CurlTransport.now_ms()
  return core.now_ms()
end

function CurlTransport.sleep_ms(_, ms)
  core.sleep_ms(ms)
end

function CurlTransport:close()
  self.handle:close()
end

return curl
