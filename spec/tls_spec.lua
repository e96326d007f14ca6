-- TLS against the emulator's HTTPS (a CA and certificate made at start):
-- refused by default, accepted with ca_file or the right ca_fingerprint,
-- refused with a wrong one.
local esconnector = require "esconnector"
local env = require "spec.support.env"
local emulator = require "spec.support.emulator"

describe("TLS", function()
  local cluster

  setup(function() cluster = emulator.start{ tls = true } end)
  teardown(function() if cluster then cluster.stop() end end)

  local function info(extra)
    local options = { hosts = { cluster.url }, max_retries = 0 }
    for k, v in pairs(extra or {}) do options[k] = v end
    return env.info_with(options)
  end

  it("serves HTTPS with a CA file and its fingerprint", function()
    assert.matches("^https://", cluster.url)
    assert.is_string(cluster.ca_file)
    assert.matches("^%x%x:", cluster.ca_fingerprint)
  end)

  it("refuses the certificate by default", function()
    local _, err = info()
    assert.are.equal("tls", err.kind)
    assert.is_string(err.message)
  end)

  it("accepts it with ca_file", function()
    assert(info{ ca_file = cluster.ca_file })
  end)

  it("accepts it with the right ca_fingerprint, however it is written", function()
    assert(info{ ca_fingerprint = cluster.ca_fingerprint })
    assert(info{ ca_fingerprint = cluster.ca_fingerprint:gsub(":", ""):lower() })
  end)

  it("refuses it with a wrong ca_fingerprint", function()
    local wrong = ("AB:"):rep(31) .. "AB"
    local _, err = info{ ca_fingerprint = wrong }
    assert.are.equal("tls", err.kind)
    assert.matches("ca_fingerprint", err.message)
  end)

  it("accepts anything only when verify_tls is false", function()
    assert(info{ verify_tls = false })
  end)

  it("refuses a ca_fingerprint for an http host (a programmer error)", function()
    assert.has_error(function()
      esconnector.new{ hosts = { "http://127.0.0.1:9200" }, ca_fingerprint = cluster.ca_fingerprint }
    end)
  end)
end)
