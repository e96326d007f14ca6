-- The node pool's selection and dead-node bookkeeping (pure; time is given).
local pool = require "esconnector.pool"

local function nodes(n)
  local list = {}
  for i = 1, n do list[i] = { url = "http://n" .. i } end
  return list
end

describe("esconnector.pool", function()
  it("goes round-robin over live nodes", function()
    local p = pool.new(nodes(3))
    local seen = {}
    for i = 1, 6 do seen[i] = p:select(0).url end
    assert.are.same({ "http://n1", "http://n2", "http://n3", "http://n1", "http://n2", "http://n3" }, seen)
  end)

  it("skips a dead node until its time comes, and the wait doubles", function()
    local p = pool.new(nodes(2), { resurrect_ms = 1000, max_resurrect_ms = 3000 })
    local n1 = p.nodes[1]
    p:mark_dead(n1, 0)
    assert.are.equal(1000, n1.dead_until)
    for _ = 1, 3 do assert.are.equal("http://n2", p:select(500).url) end
    assert.are.equal(1, p:alive(500))
    -- resurrected at 1000, fails again: dead for 2000, then capped at 3000
    p:mark_dead(n1, 1000)
    assert.are.equal(3000, n1.dead_until)
    p:mark_dead(n1, 3000)
    assert.are.equal(6000, n1.dead_until)
    p:mark_alive(n1)
    assert.is_nil(n1.dead_until)
    assert.are.equal(2, p:alive(0))
  end)

  it("counts failures of calls in flight together as one", function()
    local p = pool.new(nodes(1), { resurrect_ms = 1000 })
    for _ = 1, 20 do p:mark_dead(p.nodes[1], 5) end
    assert.are.equal(1, p.nodes[1].dead_count)
    assert.are.equal(1005, p.nodes[1].dead_until)
  end)

  it("tries the node dead longest when all are dead", function()
    local p = pool.new(nodes(3))
    p:mark_dead(p.nodes[2], 10)
    p:mark_dead(p.nodes[1], 20)
    p:mark_dead(p.nodes[3], 30)
    assert.are.equal("http://n2", p:select(40).url)
  end)

  it("keeps what it knows of nodes that stay after sniffing", function()
    local p = pool.new(nodes(2))
    p:mark_dead(p.nodes[2], 0)
    p:replace({ { url = "http://n2" }, { url = "http://n3" } })
    assert.is_number(p.nodes[1].dead_until)
    assert.are.equal(2, #p.nodes)
  end)
end)
