-- wrk script: load.lua's requests at a fixed rate instead of as fast as the server answers.
-- Arguments after `--`: load.lua's four, then <requests per second> (this wrk thread's share).
--
-- wrk 4.1 has no rate option, but asks the script's delay() for a pause (in ms) before each
-- request on a connection. delay() hands out slots of one schedule (slot n at start + n/rate)
-- to whichever connection asks next, so the offered rate holds while the server keeps up, and a
-- slot missed is sent late at once. Caveat (coordinated omission): wrk times a request from when
-- it is sent, not from its slot, so if all connections are busy past their slots the latency of
-- the wait is not counted; bench/ checks the achieved rate against the asked one.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "load.lua")

local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *now);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local load_init = init
local interval_ms = 0
local slot = 0
local start_ms = nil

function init(args)
  load_init(args)
  interval_ms = 1000 / tonumber(args[5])
end

function delay()
  local now = now_ms()
  start_ms = start_ms or now
  local due = start_ms + slot * interval_ms
  slot = slot + 1
  return math.max(0, math.floor(due - now + 0.5))
end
