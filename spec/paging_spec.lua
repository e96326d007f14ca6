-- connector:list_all and connector:sync_job_list_all: iterators over every
-- page, on an emulator of their own (exact counts), over real HTTP.
local emulator = require "spec.support.emulator"
local esconnector = require "esconnector"

describe("paging iterators", function()
  local own, admin, requests

  setup(function()
    own = emulator.start{ auth = true }
  end)
  teardown(function() if own then own.stop() end end)

  before_each(function()
    requests = {}
    admin = esconnector.new{ hosts = { own.url }, max_retries = 0,
      basic_auth = { own.credentials.username, own.credentials.password },
      on_request = function(e) requests[#requests + 1] = e.url end }
    for c in admin.connector:list_all{ include_deleted = true } do
      assert(admin.connector:delete{ connector_id = c.id, hard = true })
    end
    requests = {}
  end)
  after_each(function()
    emulator.clear_faults(own)
    admin:close()
  end)

  local function put(n)
    for i = 1, n do
      assert(admin.connector:put{ connector_id = ("page-%02d"):format(i), name = "n" .. i,
        index_name = ("search-page-%02d"):format(i), service_type = "google_drive" })
    end
    requests = {}
  end

  local function collect(iterator)
    local got, errs = {}, {}
    for c, err in iterator do
      if not c then errs[#errs + 1] = err else got[#got + 1] = c.id end
    end
    table.sort(got)
    return got, errs
  end

  it("yields every connector, one request per page, stopping on a short page or the count", function()
    put(5)
    local got, errs = collect(admin.connector:list_all{ size = 2 })
    assert.are.same({ "page-01", "page-02", "page-03", "page-04", "page-05" }, got)
    assert.are.same({}, errs)
    assert.are.equal(3, #requests) -- 2 + 2 + 1
    assert.matches("from=0", requests[1])
    assert.matches("from=4", requests[3])
    requests = {}
    assert(admin.connector:delete{ connector_id = "page-05", hard = true })
    requests = {}
    got = collect(admin.connector:list_all{ size = 2 })
    assert.are.equal(4, #got)
    assert.are.equal(2, #requests) -- the count says the second page was the last
    requests = {}
    got = collect(admin.connector:list_all())
    assert.are.equal(4, #got)
    assert.are.equal(1, #requests)
    assert.matches("size=100", requests[1])
  end)

  it("pages inside client:concurrently too, on every Lua (PUC 5.1 cannot yield in a for loop: it blocks)", function()
    put(5)
    local on_key_called
    local done = admin:concurrently({
      function() return (collect(admin.connector:list_all{ size = 2 })) end,
      function() return (collect(admin.connector:list_all{ size = 3 })) end,
      -- a user's own pcall around a call, as rotation's on_key runs under
      function()
        local scheduler = require "esconnector.scheduler"
        local ok, res = pcall(scheduler.without_yield, admin.info, admin)
        on_key_called = ok and res.tagline
        return ok
      end,
    }, { concurrency = 3 })
    for i = 1, 2 do
      assert.is_nil(done[i].err, done[i].err and tostring(done[i].err))
      assert.are.same({ "page-01", "page-02", "page-03", "page-04", "page-05" }, done[i].result)
    end
    assert.is_true(done[3].result)
    assert.are.equal("You Know, for Search", on_key_called)
  end)

  it("passes the other parameters through and starts at from", function()
    put(3)
    assert(admin.connector:delete{ connector_id = "page-03" }) -- soft
    requests = {}
    assert.are.same({ "page-01", "page-02" }, (collect(admin.connector:list_all{ size = 1 })))
    assert.are.equal(3, (#collect(admin.connector:list_all{ size = 1, include_deleted = true })))
    assert.are.same({ "page-02" }, (collect(admin.connector:list_all{ connector_name = "n2" })))
    assert.are.equal(1, (#collect(admin.connector:list_all{ from = 1 })))
    assert.is_false(pcall(admin.connector.list_all, admin.connector, "x"))
  end)

  it("ends with false and the error when a page fails", function()
    put(3)
    emulator.fault({ fault = "status", status = 500, method = "GET", path = "^/_connector$", after = 1 }, own)
    local seen = {}
    local last_err
    for c, err in admin.connector:list_all{ size = 2 } do
      seen[#seen + 1] = c
      last_err = err
    end
    assert.are.equal(3, #seen)
    assert.is_table(seen[1])
    assert.is_table(seen[2])
    assert.is_false(seen[3])
    assert.are.equal(500, last_err.status)
    assert.are.equal("connector.list", last_err.api)
    -- the first page failing: one iteration, the error
    emulator.clear_faults(own)
    emulator.fault({ fault = "status", status = 503, method = "GET", path = "^/_connector$" }, own)
    local got, errs = collect(admin.connector:list_all{})
    assert.are.same({}, got)
    assert.are.equal(1, #errs)
    assert.are.equal(503, errs[1].status)
  end)

  it("yields every sync job of a connector", function()
    put(1)
    for _ = 1, 3 do assert(admin.connector:sync_job_post{ id = "page-01" }) end
    requests = {}
    local n = 0
    for job in admin.connector:sync_job_list_all{ connector_id = "page-01", size = 2 } do
      assert.are.equal("page-01", job.connector.id)
      n = n + 1
    end
    assert.are.equal(3, n)
    assert.are.equal(2, #requests)
    for job in admin.connector:sync_job_list_all{ connector_id = "page-01" } do
      assert(admin.connector:sync_job_delete{ connector_sync_job_id = job.id })
    end
  end)
end)
