--- The node pool: round-robin over the nodes that are alive.  A node that
-- fails to connect or answers 502/503/504 is dead for a while that doubles
-- with each failure (60 s, 120 s, ... capped at 32 min, as the official
-- clients do); when every node is dead the one dead longest is tried.
-- Pure: the caller passes the time, so both transports share it.
local pool = {}

local Pool = {}
Pool.__index = Pool

--- nodes: list of { url = ... }; options: resurrect_ms, max_resurrect_ms.
function pool.new(nodes, options)
  options = options or {}
  return setmetatable({
    nodes = nodes,
    next = 1,
    resurrect_ms = options.resurrect_ms or 60000,
    max_resurrect_ms = options.max_resurrect_ms or 60000 * 32,
  }, Pool)
end

--- The node to try next.
function Pool:select(now)
  local nodes, n = self.nodes, #self.nodes
  for i = 0, n - 1 do
    local index = (self.next - 1 + i) % n + 1
    local node = nodes[index]
    if not node.dead_until or node.dead_until <= now then
      self.next = index % n + 1
      return node
    end
  end
  local oldest = nodes[1]
  for _, node in ipairs(nodes) do
    if node.dead_since < oldest.dead_since then oldest = node end
  end
  return oldest
end

function Pool:mark_dead(node, now)
  -- Calls in flight together (coroutines in nginx) that fail on the same
  -- node count as one failure, not as many.
  if node.dead_until and node.dead_until > now then return end
  node.dead_count = (node.dead_count or 0) + 1
  node.dead_since = node.dead_since or now
  local wait = self.resurrect_ms * 2 ^ (node.dead_count - 1)
  node.dead_until = now + math.min(wait, self.max_resurrect_ms)
end

function Pool.mark_alive(_, node)
  node.dead_count, node.dead_since, node.dead_until = nil, nil, nil
end

--- How many nodes are alive now.
function Pool:alive(now)
  local count = 0
  for _, node in ipairs(self.nodes) do
    if not node.dead_until or node.dead_until <= now then count = count + 1 end
  end
  return count
end

--- Replaces the node list (after sniffing), keeping what is known of the
-- nodes that stay.
function Pool:replace(nodes)
  local known = {}
  for _, node in ipairs(self.nodes) do known[node.url] = node end
  for i, node in ipairs(nodes) do nodes[i] = known[node.url] or node end
  self.nodes = nodes
  self.next = 1
end

return pool
