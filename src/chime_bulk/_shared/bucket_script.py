"""The shared quota's Lua script: one token bucket and one adaptive estimate per scope.

It is `AdaptivePacer` (`_policy/pacing.py`) moved into Redis, so that every process and host
draws on one bucket and learns from every throttle: run atomically by Redis, one run books
one slot (after folding in the accepts and the throttle the caller saw since its last call).
Time is Redis's own `TIME`, the one clock every caller shares. The demand and first-estimate
windows are two one-second buckets instead of deques. One rule is its own: the opening
overshoot (below), which across processes is common.

KEYS[1]: the scope's hash. ARGV: throttled (0/1), accepted since the last call, then the
settings: initial_rate, burst, max_rate (-1: none), min_rate, growth, regrowth,
probe_growth, margin, interval_max_s, react_gap_s, ttl_ms, probe_full_rate, first_window_s.
Returns {delay_s, rate, now, epoch} as strings (Lua numbers would come back truncated to
integers); `epoch` moves on whenever a throttle voids the slots booked before it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BUCKET_SCRIPT"]

BUCKET_SCRIPT: Final = r"""
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local key = KEYS[1]
local throttled = tonumber(ARGV[1]) == 1
local accepted_delta = tonumber(ARGV[2])
local initial_rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local max_rate = tonumber(ARGV[5])
local min_rate = tonumber(ARGV[6])
local growth = tonumber(ARGV[7])
local regrowth = tonumber(ARGV[8])
local probe_growth = tonumber(ARGV[9])
local margin = tonumber(ARGV[10])
local interval_max = tonumber(ARGV[11])
local react_gap = tonumber(ARGV[12])
local ttl_ms = tonumber(ARGV[13])
local probe_full_rate = tonumber(ARGV[14])
local first_window = tonumber(ARGV[15])
local min_measured = 10  -- requests a measurement needs (_MIN_MEASURED in _policy/pacing.py)

local function clamp(r)
  if r < min_rate then r = min_rate end
  if max_rate >= 0 and r > max_rate then r = max_rate end
  return r
end
-- A cap on the rate caps the burst too.
if max_rate >= 0 then burst = math.min(burst, math.max(max_rate, 1)) end
if burst < 1 then burst = 1 end

local f = {'rate', 'tokens', 'updated', 'adjusted', 'last_throttle', 'measured', 'accepted',
  'accepted_at', 'full', 'full_at', 'win', 'acc_cur', 'acc_prev', 'slot_cur', 'slot_prev',
  'started', 'epoch', 'reacted', 'overshoot_at'}
local v = redis.call('HMGET', key, unpack(f))
local s = {}
if v[1] then
  for i, name in ipairs(f) do s[name] = tonumber(v[i]) end
else
  s = {rate = clamp(initial_rate), tokens = burst, updated = now, adjusted = now,
    last_throttle = -1, measured = 0, accepted = 0, accepted_at = 0, full = 0, full_at = 0,
    win = math.floor(now), acc_cur = 0, acc_prev = 0, slot_cur = 0, slot_prev = 0,
    started = now, epoch = 0, reacted = 0, overshoot_at = 0}
end

-- Two one-second windows stand in for "the last second".
local w = math.floor(now)
if w ~= s.win then
  if w == s.win + 1 then
    s.acc_prev = s.acc_cur
    s.slot_prev = s.slot_cur
  else
    s.acc_prev = 0
    s.slot_prev = 0
  end
  s.acc_cur = 0
  s.slot_cur = 0
  s.win = w
end
local function last_second(cur, prev) return cur + prev * (1 - (now - w)) end
-- Accepted over the last second, less the opening burst while the start is that recent.
local function accepted_last_second()
  local count = last_second(s.acc_cur, s.acc_prev)
  if now - s.started <= first_window then count = math.max(count - burst, 0) end
  return count / first_window
end

-- Refill, counting the time the bucket spent full (nobody drew on it: not measured).
local function refill()
  local elapsed = now - s.updated
  if elapsed > 0 then
    local to_full = math.max((burst - s.tokens) / s.rate, 0)
    if elapsed > to_full then s.full = s.full + elapsed - to_full end
    s.tokens = math.min(burst, s.tokens + elapsed * s.rate)
    s.updated = now
  end
end
local function set_rate(r)
  refill()
  s.rate = r
end
-- The service's bucket is empty: void every slot booked ahead (the callers that hold one
-- book again: epoch), skip one as slack against uneven arrivals, and start the next interval.
local function void_and_mark()
  refill()
  s.tokens = -1
  s.epoch = s.epoch + 1
  s.last_throttle = now
  s.accepted_at = s.accepted
  s.full_at = s.full
end

s.accepted = s.accepted + accepted_delta
s.acc_cur = s.acc_cur + accepted_delta

-- A first throttle before the service has accepted `min_measured` beyond its burst cannot
-- measure its rate: it says only that the opening burst overshot the service's bucket, which
-- here is common (a slot's send can lag its booking by its process's start-up, so slots booked
-- over a while go out together). It keeps the rate, holds it for one reaction gap (no growth,
-- and the 429s meanwhile are the same event), then the slow start goes on; the service's
-- bucket is empty now, so the next throttle measures the interval since this one, or the
-- last second when that is more (it ends a climb: see below).
if throttled and s.last_throttle < 0 and s.accepted - burst < min_measured then
  void_and_mark()
  s.overshoot_at = now
  s.adjusted = now + react_gap
elseif throttled then
  local gap = math.max(react_gap, min_measured / s.rate)
  if not (s.last_throttle >= 0 and now - s.last_throttle < gap) then
    refill()
    local measured
    local limited = now - s.last_throttle - (s.full - s.full_at)
    local since_start = now - s.started
    local was_measured = s.measured == 1
    local sending_at = s.rate
    if s.last_throttle >= 0 and limited > 0 and limited <= interval_max then
      s.measured = 1
      measured = (s.accepted - s.accepted_at) / limited
    elseif s.last_throttle < 0 and since_start > 0 and since_start <= first_window then
      -- The burst the service began with plus its quota since: all it accepted.
      measured = math.max((s.accepted - burst) / since_start,
        0.5 * math.min(s.rate, initial_rate))
    else
      measured = math.max(accepted_last_second(), 0.5 * math.min(s.rate, initial_rate))
    end
    if s.last_throttle >= 0 and not was_measured and sending_at > s.reacted then
      -- This throttle ends a climb (from the first, rough estimate, or the slow start that
      -- went on after an overshoot): the service was saturated only near its end, so the
      -- last second tells, not the climb's average. Measured as the average, a climb after
      -- an overshoot at 0.2 s read 50/s as about 40/s, and probing took 30 s to climb back.
      measured = math.max(measured, math.min(accepted_last_second(), sending_at))
    end
    s.reacted = clamp(margin * measured)
    set_rate(s.reacted)
    void_and_mark()
    s.adjusted = now
  end
end

-- Book one slot; grow first if the bucket is what limits the senders.
s.slot_cur = s.slot_cur + 1
local elapsed = now - s.adjusted
if elapsed > 0 then
  s.adjusted = now
  if last_second(s.slot_cur, s.slot_prev) >= 0.5 * s.rate then
    local g
    if s.last_throttle < 0 or s.last_throttle == s.overshoot_at then
      g = growth
    elseif s.measured == 0 then
      g = regrowth
    else
      g = math.min(growth, probe_growth * (1 + (now - s.last_throttle) / interval_max)
        * math.min(1, s.rate / probe_full_rate))
    end
    set_rate(clamp(s.rate * math.exp(g * elapsed)))
  end
end
refill()
s.tokens = s.tokens - 1
local delay = 0
if s.tokens < 0 then delay = -s.tokens / s.rate end

local out = {}
for _, name in ipairs(f) do
  out[#out + 1] = name
  out[#out + 1] = string.format('%.17g', s[name])
end
redis.call('HSET', key, unpack(out))
redis.call('PEXPIRE', key, ttl_ms)
return {string.format('%.17g', delay), string.format('%.17g', s.rate),
  string.format('%.17g', now), string.format('%d', s.epoch)}
"""
