--- The blocking transport, over libcurl in the C core.  For scripts, cron
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
--   response = { status, headers = { [lower-case name] = value }, body }
-- And, to be driven by esconnector.scheduler (client:batch, concurrently),
-- over one curl_multi handle per client:
--   transport:start(request) -> token | nil, err
--   transport:poll(timeout_ms) -> { { token, response, err }, ... }
local core = require "esconnector.core"

local CurlTransport = {}
CurlTransport.__index = CurlTransport

local curl = {}

function curl.new(settings)
  return setmetatable({ handle = core.curl_new(settings) }, CurlTransport)
end

function CurlTransport:send(request)
  local response, kind, message = self.handle:perform(request)
  if not response then
    return nil, { kind = kind, message = message }
  end
  return response
end

function CurlTransport:start(request)
  local token, kind, message = self.handle:start(request)
  if not token then
    return nil, { kind = kind, message = message }
  end
  return token
end

function CurlTransport:poll(timeout_ms)
  return self.handle:poll(timeout_ms)
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
