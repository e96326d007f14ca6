-- The emulator as a cluster (esemu start --nodes N, --tls) and its control
-- endpoint (faults, request log, reset), checked with the curl and openssl
-- command lines: what a client sees of each fault, the nodes info a client
-- sniffs, compressed request bodies, the TLS chain.  Always starts
-- emulators of its own.

local cjson = require("cjson").new()

local support = require "spec.support.curl"
local ESEMU, q, read_file, sh = support.ESEMU, support.q, support.read_file, support.sh
local curl, header = support.curl, support.header
local TMP = support.tmpdir()

-- An emulator of the spec's own: {dir, out, url, urls, control}.
local function start(name, flags)
  local dir = TMP .. "/" .. name
  local out, rc = sh(q(ESEMU) .. " start --dir " .. q(dir) .. " " .. flags .. " 2>&1")
  assert.are.equal(0, rc, out)
  local e = { dir = dir, out = out, url = out:match("^(%S+)") }
  e.urls = {}
  for u in (read_file(dir .. "/nodes") or ""):gmatch("%S+") do e.urls[#e.urls + 1] = u end
  e.control = (read_file(dir .. "/control_url") or ""):match("%S+")
  return e
end

local function stop(e)
  if e then sh(q(ESEMU) .. " stop --dir " .. q(e.dir) .. " 2>&1") end
end

-- control(e, method, path, body): the decoded answer and the status.
local function control(e, method, path, body)
  local res = curl(e.control .. path, { method = method, body = body and cjson.encode(body) or nil })
  assert.are.equal(0, res.rc)
  return res.json, res.status
end

local function port_of(url) return url:match(":(%d+)$") end

describe("emulator cluster #subprocess", function()
  lazy_teardown(function() sh("rm -rf " .. q(TMP)) end)

  describe("on three nodes", function()
    local cluster

    lazy_setup(function() cluster = start("cluster", "--nodes 3") end)
    lazy_teardown(function() stop(cluster) end)
    after_each(function()
      if cluster then control(cluster, "DELETE", "/faults") end
    end)

    local function fault(spec) return assert(control(cluster, "POST", "/faults", spec).id) end

    describe("nodes", function()
      it("lists every node URL in DIR/nodes, the first one on stdout, and a control URL", function()
        assert.are.equal(3, #cluster.urls)
        assert.are.equal(cluster.urls[1], cluster.url)
        for _, u in ipairs(cluster.urls) do assert.matches("^http://127%.0%.0%.1:%d+$", u) end
        assert.matches("^http://127%.0%.0%.1:%d+$", cluster.control)
        local seen = {}
        for _, u in ipairs(cluster.urls) do seen[port_of(u)] = true end
        seen[port_of(cluster.control)] = true
        local n = 0
        for _ in pairs(seen) do n = n + 1 end
        assert.are.equal(4, n, "the ports are all different")
        local c = control(cluster, "GET", "/")
        assert.are.same(cluster.urls, c.nodes)
      end)

      it("answers GET / with each node's name, one cluster", function()
        local uuid
        for i, u in ipairs(cluster.urls) do
          local res = curl(u .. "/")
          assert.are.equal(200, res.status)
          assert.are.equal("esemu-" .. i, res.json.name)
          assert.are.equal("esemu", res.json.cluster_name)
          uuid = uuid or res.json.cluster_uuid
          assert.are.equal(uuid, res.json.cluster_uuid)
        end
      end)

      it("shares state between the nodes", function()
        local res = curl(cluster.urls[1] .. "/_connector/shared-state", { method = "PUT", body = '{"name":"one"}' })
        assert.are.equal(201, res.status, res.body)
        res = curl(cluster.urls[3] .. "/_connector/shared-state")
        assert.are.equal(200, res.status)
        assert.are.equal("one", res.json.name)
      end)

      it("lists every port in /_nodes/_all/http, as Elasticsearch does", function()
        local res = curl(cluster.urls[2] .. "/_nodes/_all/http")
        assert.are.equal(200, res.status)
        assert.are.equal("Elasticsearch", header(res, "X-elastic-product"))
        assert.are.same({ total = 3, successful = 3, failed = 0 }, res.json._nodes)
        assert.are.equal("esemu", res.json.cluster_name)
        local ports, names = {}, {}
        for id, n in pairs(res.json.nodes) do
          assert.matches("^[%w_-]+$", id)
          assert.are.equal(22, #id)
          local port = n.http.publish_address:match("^127%.0%.0%.1:(%d+)$")
          assert.is_string(port)
          assert.are.same({ "127.0.0.1:" .. port }, n.http.bound_address)
          assert.are.equal(104857600, n.http.max_content_length_in_bytes)
          assert.are.equal("9.1.0", n.version)
          assert.are.equal("127.0.0.1", n.ip)
          assert.are.equal("127.0.0.1", n.host)
          assert.matches("^127%.0%.0%.1:%d+$", n.transport_address)
          assert.is_table(n.roles)
          assert.is_nil(n.settings) -- only the metric asked for
          ports[#ports + 1] = port
          names[#names + 1] = n.name
        end
        table.sort(ports)
        table.sort(names)
        local want = {}
        for i, u in ipairs(cluster.urls) do want[i] = port_of(u) end
        table.sort(want)
        assert.are.same(want, ports)
        assert.are.same({ "esemu-1", "esemu-2", "esemu-3" }, names)
      end)

      it("takes /_nodes, /_nodes/http, node ids, names and _local", function()
        local all = curl(cluster.urls[1] .. "/_nodes")
        assert.are.equal(200, all.status)
        local id2
        for id, n in pairs(all.json.nodes) do
          assert.is_table(n.http)
          assert.is_table(n.settings)
          if n.name == "esemu-2" then id2 = id end
        end
        local res = curl(cluster.urls[1] .. "/_nodes/http")
        assert.are.equal(3, res.json._nodes.total)
        res = curl(cluster.urls[3] .. "/_nodes/_local/http")
        assert.are.equal(1, res.json._nodes.total)
        local _, only = next(res.json.nodes)
        assert.are.equal("esemu-3", only.name)
        res = curl(cluster.urls[1] .. "/_nodes/" .. id2 .. "/http")
        assert.are.equal(1, res.json._nodes.total)
        assert.is_table(res.json.nodes[id2])
        res = curl(cluster.urls[1] .. "/_nodes/esemu-1,esemu-2/info/http")
        assert.are.equal(2, res.json._nodes.total)
        res = curl(cluster.urls[1] .. "/_nodes/nosuchnode")
        assert.are.same({ total = 0, successful = 0, failed = 0 }, res.json._nodes)
        assert.are.same({}, res.json.nodes)
        res = curl(cluster.urls[1] .. "/_nodes/_all/nosuchmetric")
        assert.are.equal(500, res.status)
        assert.are.equal("illegal_state_exception", res.json.error.type)
        assert.are.equal("Used illegal metric: [nosuchmetric]", res.json.error.reason)
      end)
    end)

    describe("faults as curl sees them", function()
      it("close: the connection closes without a response", function()
        fault{ fault = "close", node = 1 }
        local res = curl(cluster.urls[1] .. "/")
        assert.are.equal(52, res.rc) -- CURLE_GOT_NOTHING
        assert.are.equal(200, curl(cluster.urls[1] .. "/").status)
      end)

      it("reset: the body is cut short after full headers", function()
        fault{ fault = "reset" }
        local res = curl(cluster.urls[2] .. "/")
        assert.are.equal(18, res.rc) -- CURLE_PARTIAL_FILE
        assert.are.equal(200, res.status)
        local length = tonumber(header(res, "Content-Length"))
        assert.is_true(#res.body > 0 and #res.body < length)
      end)

      it("delay: answers normally, late", function()
        fault{ fault = "delay", ms = 600 }
        local res = curl(cluster.urls[1] .. "/")
        assert.are.equal(200, res.status)
        assert.is_true(res.time >= 0.55, "took " .. res.time)
        res = curl(cluster.urls[1] .. "/")
        assert.is_true(res.time < 0.5, "took " .. res.time)
      end)

      it("status: that status with an Elasticsearch error body", function()
        fault{ fault = "status", status = 503 }
        local res = curl(cluster.urls[1] .. "/_connector/whatever")
        assert.are.equal(503, res.status)
        assert.are.equal("Elasticsearch", header(res, "X-elastic-product"))
        assert.are.equal("application/json", header(res, "Content-Type"))
        assert.are.equal(503, res.json.status)
        assert.are.equal("esemu_injected_fault_exception", res.json.error.type)
        assert.matches("injected", res.json.error.reason)
        assert.are.equal("esemu_injected_fault_exception", res.json.error.root_cause[1].type)
      end)

      it("malformed: a 200 JSON response that is not JSON", function()
        fault{ fault = "malformed" }
        local res = curl(cluster.urls[1] .. "/")
        assert.are.equal(200, res.status)
        assert.are.equal("application/json", header(res, "Content-Type"))
        assert.are.equal("Elasticsearch", header(res, "X-elastic-product"))
        assert.is_nil(res.json)
        assert.is_true(#res.body > 0)
      end)

      it("no_product: the normal answer without X-elastic-product", function()
        fault{ fault = "no_product" }
        local res = curl(cluster.urls[1] .. "/")
        assert.are.equal(200, res.status)
        assert.is_nil(header(res, "X-elastic-product"))
        assert.are.equal("You Know, for Search", res.json.tagline)
        assert.are.equal("Elasticsearch", header(curl(cluster.urls[1] .. "/"), "X-elastic-product"))
      end)

      it("oversize: a valid JSON body of at least 1 MiB", function()
        fault{ fault = "oversize" }
        local res = curl(cluster.urls[1] .. "/")
        assert.are.equal(200, res.status)
        assert.is_true(#res.body >= 1024 * 1024)
        assert.is_table(res.json)
        assert.are.equal(#res.body, tonumber(header(res, "Content-Length")))
      end)

      it("applies before authentication and routing", function()
        fault{ fault = "status", status = 502, method = "PATCH" }
        local res = curl(cluster.urls[1] .. "/no/such/route", { method = "PATCH" })
        assert.are.equal(502, res.status)
      end)
    end)

    describe("fault matching", function()
      local function statuses(url, n, opts)
        local out = {}
        for i = 1, n do out[i] = curl(url, opts).status end
        return out
      end

      it("defaults to one request; count applies it to that many; 0 until cleared", function()
        fault{ fault = "status", status = 500 }
        assert.are.same({ 500, 200 }, statuses(cluster.urls[1] .. "/", 2))
        fault{ fault = "status", status = 500, count = 2 }
        assert.are.same({ 500, 500, 200 }, statuses(cluster.urls[1] .. "/", 3))
        fault{ fault = "status", status = 500, count = 0 }
        assert.are.same({ 500, 500, 500, 500 }, statuses(cluster.urls[1] .. "/", 4))
        control(cluster, "DELETE", "/faults")
        assert.are.same({ 200 }, statuses(cluster.urls[1] .. "/", 1))
      end)

      it("lets the first `after` matching requests through", function()
        fault{ fault = "status", status = 500, after = 2, count = 2 }
        assert.are.same({ 200, 200, 500, 500, 200 }, statuses(cluster.urls[1] .. "/", 5))
      end)

      it("matches node, method and path (a Lua pattern, without the query)", function()
        fault{ fault = "status", status = 503, node = 2, count = 0 }
        assert.are.equal(200, curl(cluster.urls[1] .. "/").status)
        assert.are.equal(503, curl(cluster.urls[2] .. "/").status)
        assert.are.equal(200, curl(cluster.urls[3] .. "/").status)
        control(cluster, "DELETE", "/faults")

        fault{ fault = "status", status = 500, method = "put", path = "^/_connector/[^/]+$", count = 0 }
        assert.are.equal(500, curl(cluster.urls[1] .. "/_connector/m1?pretty", { method = "PUT", body = "{}" }).status)
        assert.are.equal(404, curl(cluster.urls[1] .. "/_connector/m1").status)
        assert.are.equal(400, curl(cluster.urls[1] .. "/_connector/m1/_api_key_id", { method = "PUT", body = "{}" })
          .status)
      end)

      it("applies the first active fault in creation order, and counts each", function()
        local a = fault{ fault = "status", status = 501, path = "^/$", count = 1 }
        local b = fault{ fault = "status", status = 502, count = 2 }
        assert.are.same({ 501, 502, 502, 200 }, statuses(cluster.urls[1] .. "/", 4))
        local list = control(cluster, "GET", "/faults")
        assert.are.equal(a, list[1].id)
        assert.are.equal(1, list[1].applied)
        assert.are.equal(b, list[2].id)
        assert.are.equal(2, list[2].applied)
        -- b never saw the request a took, nor the one after it was spent
        assert.are.equal(2, list[2].seen)
      end)

      it("refuses bad fault specs with a 400", function()
        local function refused(spec)
          local body, status = control(cluster, "POST", "/faults", spec)
          assert.are.equal(400, status)
          assert.is_string(body.error)
        end
        refused{ fault = "explode" }
        refused{ fault = "status" }
        refused{ fault = "delay" }
        refused{ fault = "close", node = 4 }
        refused{ fault = "close", path = "[" }
        refused{ fault = "close", count = -1 }
        refused{ fault = "close", colour = "red" }
      end)
    end)

    describe("clock", function()
      it("PUT /clock shifts what the nodes stamp from then on; 0 puts it back; bad offsets are refused", function()
        local ten_days_ms = 10 * 86400 * 1000
        assert.are.same({ offset_ms = 0 }, control(cluster, "GET", "/clock"))
        local url = cluster.urls[2] .. "/_connector/clocked"
        assert.are.equal(201, curl(url, { method = "PUT", body = '{"index_name":"search-clocked"}' }).status)
        local function last_seen_day()
          assert.are.equal(200, curl(url .. "/_check_in", { method = "PUT" }).status)
          return curl(url).json.last_seen:sub(1, 10)
        end
        local function day(offset_s) return os.date("!%Y-%m-%d", os.time() + offset_s) end
        assert.are.same({ offset_ms = -ten_days_ms }, control(cluster, "PUT", "/clock", { offset_ms = -ten_days_ms }))
        local seen = last_seen_day() -- (either side of a midnight passing meanwhile)
        assert.is_true(seen == day(-864000) or seen == day(-864000 - 60), seen)
        assert.are.same({ offset_ms = 0 }, control(cluster, "PUT", "/clock", { offset_ms = 0 }))
        seen = last_seen_day()
        assert.is_true(seen == day(0) or seen == day(-60), seen)
        for _, bad in ipairs{ { offset_ms = 1.5 }, { offset_ms = "1h" }, {}, { offset_ms = 1e300 } } do
          local _, status = control(cluster, "PUT", "/clock", bad)
          assert.are.equal(400, status)
        end
        local _, status = control(cluster, "POST", "/clock", { offset_ms = 0 })
        assert.are.equal(405, status)
        assert.are.same({ offset_ms = 0 }, control(cluster, "GET", "/clock"))
      end)
    end)

    describe("request log", function()
      it("lists the requests of the node ports since the last DELETE /requests", function()
        control(cluster, "DELETE", "/requests")
        assert.are.same({}, control(cluster, "GET", "/requests"))
        curl(cluster.urls[2] .. "/?pretty")
        curl(cluster.urls[3] .. "/_connector/nope", { method = "DELETE" })
        local id = fault{ fault = "close" }
        curl(cluster.urls[1] .. "/_nodes/http")
        control(cluster, "GET", "/") -- the control port is not logged
        local log = control(cluster, "GET", "/requests")
        for _, entry in ipairs(log) do
          -- each curl run opens a connection of its own
          assert.is_number(entry.connection)
          assert.are.equal(1, entry.connection_requests)
          entry.connection, entry.connection_requests = nil, nil
        end
        assert.are.same({
          { node = 2, method = "GET", path = "/", status = 200 },
          { node = 3, method = "DELETE", path = "/_connector/nope", status = 404 },
          { node = 1, method = "GET", path = "/_nodes/http", status = 444, fault = id },
        }, log)
        control(cluster, "DELETE", "/requests")
        assert.are.same({}, control(cluster, "GET", "/requests"))
      end)
    end)

    describe("compressed request bodies", function()
      it("inflates gzip bodies before parsing them", function()
        local res = curl(cluster.urls[1] .. "/_connector/gzipped",
          { method = "PUT", body = '{"name":"inflated","service_type":"s"}', gzip = true })
        assert.are.equal(201, res.status, res.body)
        res = curl(cluster.urls[2] .. "/_connector/gzipped")
        assert.are.equal("inflated", res.json.name)
        assert.are.equal("s", res.json.service_type)
      end)

      it("parses the inflated body strictly, like any other", function()
        local res = curl(cluster.urls[1] .. "/_connector/gzipped2",
          { method = "PUT", body = '{"name":"x","nope":1}', gzip = true })
        assert.are.equal(400, res.status)
        assert.are.equal("x_content_parse_exception", res.json.error.type)
      end)

      it("compresses responses only for a client that accepts gzip, as ES does", function()
        local res = curl(cluster.urls[1] .. "/", { headers = { "Accept-Encoding: gzip" } })
        assert.are.equal("gzip", support.header(res, "content-encoding"))
        res = curl(cluster.urls[1] .. "/")
        assert.is_nil(support.header(res, "content-encoding"))
        assert.are.equal("esemu", res.json.cluster_name)
      end)

      it("closes the connection on a body that does not inflate", function()
        local res = curl(cluster.urls[1] .. "/_connector/bad-gzip",
          { method = "PUT", body = "{}", headers = { "Content-Encoding: gzip" } })
        assert.are.equal(52, res.rc)
      end)
    end)

    describe("reset", function()
      it("wipes the data", function()
        assert.are.equal(201, curl(cluster.urls[1] .. "/_connector/doomed", { method = "PUT", body = "{}" }).status)
        local body, status = control(cluster, "POST", "/reset")
        assert.are.equal(200, status, cjson.encode(body))
        assert.are.equal(404, curl(cluster.urls[1] .. "/_connector/doomed").status)
        assert.are.equal(404, curl(cluster.urls[1] .. "/_connector/shared-state").status)
      end)
    end)
  end)

  describe("with --tls --auth", function()
    local e, ca, auth

    lazy_setup(function()
      e = start("tls", "--tls --auth --nodes 2")
      ca = e.dir .. "/ca.pem"
      local creds = cjson.decode(read_file(e.dir .. "/credentials.json"))
      auth = "Authorization: ApiKey " .. creds.encoded
    end)
    lazy_teardown(function() stop(e) end)

    it("serves HTTPS on every node with a certificate for 127.0.0.1 and localhost", function()
      assert.are.equal(2, #e.urls)
      for _, u in ipairs(e.urls) do
        assert.matches("^https://127%.0%.0%.1:%d+$", u)
        local res = curl(u .. "/", { cacert = ca, headers = { auth } })
        assert.are.equal(200, res.status)
        res = curl("https://localhost:" .. port_of(u) .. "/", { cacert = ca, headers = { auth } })
        assert.are.equal(200, res.status)
      end
      assert.are.equal(60, curl(e.url .. "/").rc) -- CURLE_PEER_FAILED_VERIFICATION without the CA
      assert.matches("^http://", e.control) -- the control endpoint stays plain HTTP
    end)

    it("writes and prints the CA file and its SHA-256 fingerprint", function()
      local fp = (read_file(e.dir .. "/ca_fingerprint") or ""):match("%S+")
      assert.matches("^%x%x" .. (":%x%x"):rep(31) .. "$", fp)
      assert.are.equal(fp:upper(), fp)
      local out = sh("openssl x509 -in " .. q(ca) .. " -noout -fingerprint -sha256")
      assert.are.equal(fp, out:match("=(%S+)"))
      assert.is_truthy(e.out:find(fp, 1, true))
      assert.is_truthy(e.out:find(ca, 1, true))
      local perms = sh("stat -c '%a' " .. q(ca) .. " " .. q(e.dir .. "/tls") .. " " .. q(e.dir .. "/tls/server.key"))
      assert.are.same({ "644", "700", "600" }, { perms:match("(%d+)%s+(%d+)%s+(%d+)") })
    end)

    it("sends the server certificate and the CA in its chain", function()
      local out = sh("echo | openssl s_client -connect 127.0.0.1:" .. port_of(e.url) .. " -showcerts 2>/dev/null")
      local n = 0
      for _ in out:gmatch("BEGIN CERTIFICATE") do n = n + 1 end
      assert.are.equal(2, n)
      assert.matches("CN ?= ?localhost", out)
      assert.matches("Elasticsearch security auto%-configuration HTTP CA", out)
      out = sh("echo | openssl s_client -connect 127.0.0.1:" .. port_of(e.url) .. " -CAfile " .. q(ca)
        .. " -verify_ip 127.0.0.1 2>/dev/null")
      assert.matches("Verify return code: 0 %(ok%)", out)
    end)

    it("closes plain HTTP on an HTTPS port without answering", function()
      local res = curl("http://127.0.0.1:" .. port_of(e.url) .. "/")
      assert.are.equal(52, res.rc)
    end)

    it("keeps the bootstrap credentials across a reset", function()
      local res = curl(e.url .. "/_connector/kept", { method = "PUT", body = "{}", cacert = ca, headers = { auth } })
      assert.are.equal(201, res.status, res.body)
      local _, status = control(e, "POST", "/reset")
      assert.are.equal(200, status)
      res = curl(e.url .. "/_connector/kept", { cacert = ca, headers = { auth } })
      assert.are.equal(404, res.status)
      res = curl(e.url .. "/", { cacert = ca })
      assert.are.equal(401, res.status)
    end)

    it("leaves no process behind when stopped", function()
      local pid = (read_file(e.dir .. "/nginx.pid") or ""):match("%d+")
      assert.is_string(pid)
      local workers = sh("pgrep -P " .. pid)
      assert.matches("%d", workers)
      local out, rc = sh(q(ESEMU) .. " stop --dir " .. q(e.dir) .. " 2>&1")
      assert.are.equal(0, rc, out)
      for p in (pid .. "\n" .. workers):gmatch("%d+") do
        local _, alive = sh("kill -0 " .. p .. " 2>/dev/null")
        assert.are_not.equal(0, alive, "process " .. p .. " is still there")
      end
      for _, f in ipairs({ "nginx.pid", "url", "nodes", "control_url" }) do
        assert.is_nil(read_file(e.dir .. "/" .. f), f)
      end
    end)
  end)
end)
