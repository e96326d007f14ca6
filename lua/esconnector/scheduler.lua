--- Runs functions concurrently, at most N at a time: the mechanism under
-- client:concurrently and client:batch.
--
-- Outside nginx at most N worker coroutines run the functions, each taking
-- the next function not yet taken until none is left (N coroutines for a
-- batch of any size, not one per function).  A function that raises ends
-- its worker (no pcall in a worker: PUC 5.1 cannot yield across one); its
-- error is recorded and a fresh worker goes on with the functions left.
-- A client call made in a worker hands its request to the scheduler
-- (scheduler.send), which starts it on the transport and resumes the worker
-- when the transport reports it finished; a backoff sleep
-- (scheduler.sleep_ms) waits the same way.  Anywhere else (the main
-- program, a coroutine of the caller's own) calls block, as they always have.
--
-- The contract a transport meets to be driven this way (the curl transport
-- does, over one curl_multi handle per client):
--   transport:start(request) -> token | nil, err
--       begins a transfer without waiting for it (request as for send)
--   transport:poll(timeout_ms) -> { { token, response, err }, ... }
--       drives every transfer started, waiting up to timeout_ms for at
--       least one to finish, and returns those that finished (each once)
-- A transport without start is called with send, which blocks: the
-- functions then take turns instead of overlapping, with the same results.
--
-- Inside nginx (a phase with cosockets) the functions run in ngx.thread
-- light threads instead: a cosocket yields to nginx by itself.
local core = require "esconnector.core"

local scheduler = {}

-- Markers a task coroutine yields to its scheduler.
local AWAIT, SLEEP, JOIN = {}, {}, {}

-- The scheduler of every task coroutine running now (weak: a coroutine
-- abandoned by an error does not stay).
local owner = setmetatable({}, { __mode = "k" })

-- Where a finished transfer goes: routes[transport][token] = the task
-- waiting for it (task.scheduler its scheduler).  Kept per transport, so
-- that whichever scheduler polls a transport hands every transfer to the
-- task that waits for it.
local routes = setmetatable({}, { __mode = "k" })

local function pack(...)
  return { n = select("#", ...), ... }
end

-- PUC Lua 5.1 cannot yield across a pcall or a generic-for iterator call
-- (LuaJIT and 5.2+ can): tasks that run through either make their client
-- calls block there instead (scheduler.without_yield).
local CANNOT_YIELD_IN_CALLS = _VERSION == "Lua 5.1" and rawget(_G, "jit") == nil
local blocking = setmetatable({}, { __mode = "k" }) -- tasks inside without_yield

--- The scheduler running the current coroutine, or nil.
function scheduler.current()
  local co = coroutine.running()
  return co and not blocking[co] and owner[co] or nil
end

--- fn(...), with its client calls blocking instead of yielding where the
-- Lua cannot yield across the pcall or iterator fn runs under (PUC 5.1);
-- elsewhere simply fn(...).  The results (or the error) are fn's.
function scheduler.without_yield(fn, ...)
  local co = coroutine.running()
  if not (CANNOT_YIELD_IN_CALLS and co and owner[co]) or blocking[co] then return fn(...) end
  blocking[co] = true
  local r = pack(pcall(fn, ...))
  blocking[co] = nil
  if not r[1] then error(r[2], 0) end
  return (rawget(table, "unpack") or rawget(_G, "unpack"))(r, 2, r.n)
end

--- transport:send(request), yielding to the scheduler when called from one
-- of its tasks and the transport can start a transfer without waiting.
function scheduler.send(transport, request)
  if transport.start and scheduler.current() then
    return coroutine.yield(AWAIT, transport, request)
  end
  return transport:send(request)
end

--- transport:sleep_ms(ms), yielding to the scheduler when called from one of
-- its tasks (the other tasks go on meanwhile).
function scheduler.sleep_ms(transport, ms)
  if scheduler.current() then
    coroutine.yield(SLEEP, ms)
    return
  end
  transport:sleep_ms(ms)
end

local Scheduler = {}
Scheduler.__index = Scheduler

-- A group is one run's functions: { functions (scheduler.run) or call and
-- state (scheduler.each), n, next (the first not yet taken), active (its
-- workers), concurrency, results, waiter }.  A run started inside a task (a
-- batch in a function of concurrently) joins the scheduler of that task as
-- a group of its own, with its own bound and workers, and the task waits
-- for the group: its calls overlap with everything else the scheduler runs.
local function new_group(functions, call, state, n, concurrency)
  return { functions = functions, call = call, state = state, n = n, next = 1, active = 0,
    concurrency = concurrency, results = {} }
end

-- The body of a worker coroutine: takes the next function of its group
-- until none is left (functions[i](), its values kept; or call(state, i),
-- its values dropped).  No pcall here (PUC 5.1 cannot yield across one): a
-- function that raises kills its worker, and Scheduler:after records the
-- error for task.index, the function the worker was running.
local function work(task)
  local group = task.group
  local functions, call, state, results = group.functions, group.call, group.state, group.results
  local i = group.next
  while i <= group.n do
    group.next = i + 1
    task.index = i
    if functions then
      results[i] = pack(true, functions[i]())
    else
      call(state, i)
    end
    i = group.next
  end
end

-- A task is one worker: { co =, group =, index = } (index: the function it
-- runs now; plus the values it is resumed with, v1 and v2, while it sits in
-- ready).  What a resume returned is handled without packing it.
function Scheduler:after(task, ok, what, a, b)
  local co = task.co
  if coroutine.status(co) == "dead" then
    owner[co] = nil
    self.active = self.active - 1
    local group = task.group
    group.active = group.active - 1
    if not ok then -- its function raised: fill() starts another worker if functions remain
      group.results[task.index] = { false, what, n = 2 }
    end
    if group.waiter and group.active == 0 and group.next > group.n then
      self:leave(group)
    end
    return
  end
  if what == JOIN then
    local group = a
    group.waiter = task
    self.groups[#self.groups + 1] = group
  elseif what == AWAIT then
    local transport, request = a, b
    local token, err = transport:start(request)
    if token == nil then
      task.v1, task.v2 = nil, err
      self.ready[#self.ready + 1] = task
      return
    end
    local by_token = routes[transport]
    if not by_token then
      by_token = {}
      routes[transport] = by_token
    end
    by_token[token] = task
    task.scheduler = self
    local waiting = self.waiting[transport]
    if not waiting then self.transports = self.transports + 1 end
    self.waiting[transport] = (waiting or 0) + 1
    self.in_flight = self.in_flight + 1
  elseif what == SLEEP then
    self.sleepers[#self.sleepers + 1] = { at = core.now_ms() + a, task = task }
  else -- the function yielded on its own: it goes on at the next round
    task.v1, task.v2 = nil, nil
    self.ready[#self.ready + 1] = task
  end
end

function Scheduler:resume(task, ...)
  return self:after(task, coroutine.resume(task.co, ...))
end

-- A joined group is done: its waiting task goes on with the results.
function Scheduler:leave(group)
  for i, g in ipairs(self.groups) do
    if g == group then
      table.remove(self.groups, i)
      break
    end
  end
  group.waiter.v1, group.waiter.v2 = group.results, nil
  self.ready[#self.ready + 1] = group.waiter
end

-- Starts the workers each group has room for: at most concurrency at a
-- time, and none while every function of the group has been taken (a
-- worker takes its first at once, in its first resume).
function Scheduler:fill()
  for _, group in ipairs(self.groups) do
    while group.active < group.concurrency and group.next <= group.n do
      local co = coroutine.create(work)
      owner[co] = self
      local task = { co = co, group = group }
      group.active = group.active + 1
      self.active = self.active + 1
      self:resume(task, task)
    end
  end
end

-- Moves the sleepers whose time has come to ready; returns the ms until
-- the next one wakes (nil when none sleeps).
function Scheduler:wake(now)
  local next_at
  local sleepers, kept = self.sleepers, {}
  for _, s in ipairs(sleepers) do
    if s.at <= now then
      s.task.v1, s.task.v2 = nil, nil
      self.ready[#self.ready + 1] = s.task
    else
      kept[#kept + 1] = s
      if not next_at or s.at < next_at then next_at = s.at end
    end
  end
  self.sleepers = kept
  return next_at and next_at - now
end

-- Hands finished transfers to the scheduler that waits for each.
local function deliver(transport, finished)
  local by_token = routes[transport]
  for i = 1, #finished do
    local f = finished[i]
    local task = by_token and by_token[f[1]]
    if task then
      by_token[f[1]] = nil
      local s = task.scheduler
      local waiting = s.waiting[transport] - 1
      if waiting == 0 then
        s.waiting[transport] = nil
        s.transports = s.transports - 1
      else
        s.waiting[transport] = waiting
      end
      s.in_flight = s.in_flight - 1
      task.v1, task.v2 = f[2], f[3]
      s.ready[#s.ready + 1] = task
    end
  end
end

-- Waits for a transfer to finish or a sleeper to wake, up to wait_ms.
function Scheduler:wait(wait_ms)
  if self.in_flight == 0 then
    if wait_ms and wait_ms > 0 then core.sleep_ms(wait_ms) end
    return
  end
  -- an idle poll may not outlast a sleeper; 1 s bounds it otherwise
  local timeout = math.max(0, math.min(wait_ms or 1000, 1000))
  if self.transports == 1 then
    local transport = next(self.waiting)
    deliver(transport, transport:poll(timeout))
    return
  end
  -- several transports (several clients): none may block the others long
  local before = #self.ready
  local transports = {}
  for transport in pairs(self.waiting) do transports[#transports + 1] = transport end
  for _, transport in ipairs(transports) do deliver(transport, transport:poll(0)) end
  if #self.ready == before then
    deliver(transports[1], transports[1]:poll(math.min(timeout, 1)))
  end
end

local function run_coroutines(group)
  if group.n == 0 then return group.results end
  if scheduler.current() then -- inside a task: join its scheduler
    return coroutine.yield(JOIN, group)
  end
  local self = setmetatable({ groups = { group }, ready = {}, sleepers = {}, waiting = {}, transports = 0,
    active = 0, in_flight = 0 }, Scheduler)
  local spare = {} -- the list ready becomes for the next round (not a new one each round)
  while true do
    self:fill()
    if #self.ready > 0 then
      local ready = self.ready
      self.ready, spare = spare, ready
      for i = 1, #ready do
        local task = ready[i]
        ready[i] = nil
        self:resume(task, task.v1, task.v2)
      end
    elseif self.active == 0 then
      break
    else
      local wait_ms = #self.sleepers > 0 and self:wake(core.now_ms()) or nil
      if #self.ready == 0 then self:wait(wait_ms) end
    end
  end
  return group.results
end

-- The body of an nginx light thread: takes the next index of the run until
-- none is left.  One function for every run, its state in a table (not a
-- closure per run, which a LuaJIT trace may keep alive with a whole run's
-- results).  run = { functions | call and state, n, next, results }.
local function ngx_worker(run)
  local functions, call, state, results = run.functions, run.call, run.state, run.results
  while run.next <= run.n do
    local i = run.next
    run.next = i + 1
    if functions then
      results[i] = pack(pcall(functions[i]))
    else
      local ok, err = pcall(call, state, i)
      if not ok then results[i] = { false, err, n = 2 } end
    end
  end
end

-- nginx: N light threads, each taking the next function until none is left.
local function run_ngx_threads(ngx, functions, call, state, n, concurrency)
  local run = { functions = functions, call = call, state = state, n = n, next = 1, results = {} }
  local threads = {}
  for w = 1, math.min(concurrency, n) do threads[w] = ngx.thread.spawn(ngx_worker, run) end
  for _, thread in ipairs(threads) do ngx.thread.wait(thread) end
  return run.results
end

-- ngx, inside nginx in a phase where light threads and cosockets work.
local function nginx_with_light_threads()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.thread) ~= "table" or type(ngx.get_phase) ~= "function" then
    return nil
  end
  return require("esconnector.transport.auto").cosocket_phase(ngx.get_phase()) and ngx or nil
end

--- Calls every function of the list, at most concurrency at a time.
-- Returns a list in the same order: for each, { true, returned values... }
-- or { false, raised error } (with n = the number of values).
function scheduler.run(functions, concurrency)
  local ngx = nginx_with_light_threads()
  if ngx then return run_ngx_threads(ngx, functions, nil, nil, #functions, concurrency) end
  return run_coroutines(new_group(functions, nil, nil, #functions, concurrency))
end

--- Calls call(state, i) for i = 1 to n, at most concurrency at a time,
-- keeping none of its values (call stores what it needs in state): no list
-- of n functions and no n tables of results, for client:batch.  call is
-- best one function for every run, not a closure made per run: a LuaJIT
-- trace may specialise on a closure and keep it, with its upvalues (a
-- whole run's state), alive.  Returns the calls that raised:
-- { [i] = { false, raised error, n = 2 } } (empty when none did).
function scheduler.each(call, state, n, concurrency)
  local ngx = nginx_with_light_threads()
  if ngx then return run_ngx_threads(ngx, nil, call, state, n, concurrency) end
  return run_coroutines(new_group(nil, call, state, n, concurrency))
end

return scheduler
