-- ca_fingerprint against a man in the middle: throw-away CAs made here, an
-- `openssl s_server` per chain.  The "evil" CA stands in for a publicly
-- trusted one (the client trusts it through ca_file); the attacker's server
-- presents a leaf from it with the cluster's genuine CA appended to the
-- chain.  The pin must refuse that (the genuine CA is presented but the
-- chain does not lead to it), and still accept the genuine chain.
local curl = require "esconnector.curl"
local socket = require "socket"

local shell = require "spec.support.shell"
local env = require "spec.support.env"
local sh, read_file = shell.sh, shell.read_file

local CERTS = [=[
set -e
cd "$1"
printf '%s\n' '[ req ]' 'distinguished_name = dn' 'prompt = no' '[ dn ]' 'CN = x' \
  '[ ca_ext ]' 'basicConstraints = critical, CA:TRUE' 'keyUsage = critical, keyCertSign, cRLSign' \
  'subjectKeyIdentifier = hash' \
  '[ leaf_ext ]' 'basicConstraints = critical, CA:FALSE' 'keyUsage = critical, digitalSignature' \
  'extendedKeyUsage = serverAuth' 'subjectAltName = IP:127.0.0.1, DNS:localhost' \
  'subjectKeyIdentifier = hash' 'authorityKeyIdentifier = keyid, issuer' > openssl.cnf
for ca in genuine evil; do
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -config openssl.cnf -extensions ca_ext -subj "/CN=$ca CA" -keyout $ca-ca.key -out $ca-ca.pem
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -config openssl.cnf \
    -subj "/CN=localhost" -keyout $ca-leaf.key -out $ca-leaf.csr
  openssl x509 -req -days 2 -in $ca-leaf.csr -CA $ca-ca.pem -CAkey $ca-ca.key \
    -set_serial 0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n') \
    -extfile openssl.cnf -extensions leaf_ext -out $ca-leaf.pem
done
openssl x509 -in genuine-ca.pem -noout -fingerprint -sha256 | sed 's/^[^=]*=//' > genuine.fp
openssl x509 -in evil-ca.pem -noout -fingerprint -sha256 | sed 's/^[^=]*=//' > evil.fp
]=]

describe("ca_fingerprint against a man in the middle", function()
  local dir, servers = nil, {}
  local genuine_fp, evil_fp

  -- Starts s_server with cert (leaf) and extra chain certificates; returns
  -- its https URL.
  local function serve(leaf, key, chain)
    local probe = assert(socket.bind("127.0.0.1", 0))
    local _, port = probe:getsockname()
    probe:close()
    local out = sh(("cd %s && cat %s > chain-%d.pem && (openssl s_server -quiet -www -accept 127.0.0.1:%d "
      .. "-cert %s -key %s -cert_chain chain-%d.pem >s_server-%d.log 2>&1 & echo $!)"):format(
      dir, table.concat(chain, " "), port, port, leaf, key, port, port))
    servers[#servers + 1] = out:match("%d+")
    for _ = 1, 100 do
      local c = socket.tcp()
      c:settimeout(0.1)
      local ok = c:connect("127.0.0.1", port)
      c:close()
      if ok then break end
      socket.sleep(0.05)
    end
    return ("https://127.0.0.1:%d"):format(port)
  end

  local mitm_url, genuine_url

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -m 0700 " .. dir))
    local f = assert(io.open(dir .. "/certs.sh", "w"))
    f:write(CERTS)
    f:close()
    local out, ok = sh("sh " .. dir .. "/certs.sh " .. dir)
    assert(ok, out)
    genuine_fp = read_file(dir .. "/genuine.fp"):match("%S+")
    evil_fp = read_file(dir .. "/evil.fp"):match("%S+")
    -- the attacker: a leaf from the evil CA, the genuine CA appended
    mitm_url = serve("evil-leaf.pem", "evil-leaf.key", { "evil-ca.pem", "genuine-ca.pem" })
    -- the cluster: a leaf from the genuine CA, which it sends along
    genuine_url = serve("genuine-leaf.pem", "genuine-leaf.key", { "genuine-ca.pem" })
  end)

  teardown(function()
    for _, pid in ipairs(servers) do sh("kill " .. pid) end
    if dir then sh("rm -rf " .. dir) end
  end)

  local function info(url, extra)
    local options = { hosts = { url }, max_retries = 0 }
    for k, v in pairs(extra or {}) do options[k] = v end
    return env.info_with(options)
  end

  it("the attacker's chain is trusted through ca_file alone (so the next test means something)", function()
    local _, err = info(mitm_url, { ca_file = dir .. "/evil-ca.pem" })
    -- s_server's status page is no Elasticsearch: the TLS part passed
    assert.are.equal("product", err.kind)
  end)

  it("refuses the attacker's chain although it carries the pinned CA", function()
    assert.is_true(curl.has_ca_fingerprint)
    local _, err = info(mitm_url, { ca_file = dir .. "/evil-ca.pem", ca_fingerprint = genuine_fp })
    assert.are.equal("tls", err.kind)
    assert.matches("does not lead to the ca_fingerprint certificate", err.message, 1, true)
    -- and without ca_file too
    _, err = info(mitm_url, { ca_fingerprint = genuine_fp })
    assert.are.equal("tls", err.kind)
  end)

  it("accepts the genuine chain with the pin, on a fresh and on a kept connection", function()
    local handle = curl.curl_new{ ca_fingerprint = genuine_fp }
    for _ = 1, 2 do
      local res, kind, message = handle:perform{ method = "GET", url = genuine_url .. "/" }
      assert(res, tostring(kind) .. ": " .. tostring(message))
      assert.are.equal(200, res.status)
    end
    handle:close()
    local _, err = info(genuine_url, { ca_fingerprint = genuine_fp })
    assert.are.equal("product", err.kind)
  end)

  it("refuses the genuine chain pinned to another CA, even one the client trusts", function()
    local _, err = info(genuine_url, { ca_fingerprint = evil_fp, ca_file = dir .. "/evil-ca.pem" })
    assert.are.equal("tls", err.kind)
    assert.matches("no certificate the server presented matches ca_fingerprint", err.message, 1, true)
    -- a pinned handle never lets an earlier handle's session through
    local good = curl.curl_new{ ca_fingerprint = genuine_fp }
    assert(good:perform{ method = "GET", url = genuine_url .. "/" })
    local bad = curl.curl_new{ ca_fingerprint = evil_fp }
    local res, kind = bad:perform{ method = "GET", url = genuine_url .. "/" }
    assert.is_nil(res)
    assert.are.equal("tls", kind)
    good:close()
    bad:close()
  end)
end)
