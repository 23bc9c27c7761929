/**
 * The Lua scripts of the fleet-wide limiter. Each runs atomically in Redis and reads the time
 * from Redis `TIME`, so the workers' clocks never matter.
 *
 * State of one key (a recipient domain or the transport), two Redis keys:
 * - hash `lim:h:<key>`: `tokens`, `last` (ms of the last refill), the configured `rate`,
 *   `burst` and `conc` (-1 = unlimited), `paused` (pausedUntil, ms), the throttle
 *   (`trate`, `tconc`, `crate`, `cconc`, `succ`: present only while throttled) and the
 *   observed-rate window (`wstart`, `wcount`, `lrate`) used to throttle an unlimited key;
 * - sorted set `lim:l:<key>`: lease ids scored by their expiry, ms.
 *
 * The semantics are those of the in-process scheduler (src/queue/scheduler.ts and
 * token-bucket.ts): a bucket of `burst` tokens refilled at `rate`; a throttle pauses the key,
 * multiplies the rate in force by `decreaseFactor` (not below `minRatePerSecond`), drops the
 * burst to 1 and the concurrency to 1; every `recoverAfter` successes add `recoverStep` of the
 * pre-throttle rate and one slot back, and the throttle ends when both are back.
 *
 * Numbers go out of Lua as strings where they may be fractional or large (Lua replies truncate
 * numbers to integers).
 *
 * @module
 * @internal
 */

/** Reads Redis time in ms (with the fraction) into `now`. */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
`;

/**
 * acquire: KEYS = hash1, leases1, hash2, leases2, ...;
 * ARGV = leaseId, leaseMs, stateTtlMs, concurrencyRetryMs, then rate, burst, concurrency per key.
 * Takes a token and a lease on every key, or nothing. Returns {1} or
 * {0, waitMs, reason (1 paused, 2 concurrency, 3 rate), index of the key that waits longest}.
 */
export const ACQUIRE = `${NOW}
local leaseId = ARGV[1]
local leaseMs = tonumber(ARGV[2])
local stateTtl = tonumber(ARGV[3])
local retryMs = tonumber(ARGV[4])
local n = #KEYS / 2
local gates = {}
local wait, reason, which = 0, 0, 0
for i = 1, n do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  local rate = tonumber(ARGV[3 * i + 2])
  local burst = tonumber(ARGV[3 * i + 3])
  local conc = tonumber(ARGV[3 * i + 4])
  local f = redis.call('HMGET', h, 'tokens', 'last', 'paused', 'trate', 'tconc', 'wstart', 'wcount', 'lrate')
  local tokens, last, paused = tonumber(f[1]), tonumber(f[2]), tonumber(f[3]) or 0
  local trate, tconc = tonumber(f[4]), tonumber(f[5])
  local erate, eburst, econc = rate, burst, conc
  if trate then
    erate, eburst = trate, 1
    if econc < 0 or tconc < econc then econc = tconc end
  end
  if tokens == nil then tokens, last = eburst, now end
  if erate < 0 then
    tokens = eburst
  elseif now > last then
    tokens = tokens + (now - last) * erate / 1000
  end
  if tokens > eburst then tokens = eburst end
  local w, r = 0, 0
  if paused > now then
    w, r = paused - now, 1
  else
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
    if econc >= 0 and redis.call('ZCARD', z) >= econc then
      local first = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
      w, r = math.min(retryMs, tonumber(first[2]) - now), 2
    elseif erate >= 0 and tokens < 1 then
      w, r = (1 - tokens) * 1000 / erate, 3
    end
  end
  if r > 0 then
    w = math.max(1, math.ceil(w))
    if w > wait then wait, reason, which = w, r, i end
  end
  gates[i] = { h, z, tokens, erate, rate, burst, conc, tonumber(f[6]), tonumber(f[7]), tonumber(f[8]) or 0 }
end
if reason > 0 then return { 0, wait, reason, which } end
for i = 1, n do
  local g = gates[i]
  local h, z, tokens, erate = g[1], g[2], g[3], g[4]
  if erate >= 0 then tokens = tokens - 1 end
  local wstart, wcount, lrate = g[8], g[9], g[10]
  if wstart == nil then wstart, wcount = now, 0 end
  if now - wstart >= 1000 then
    lrate = wcount * 1000 / (now - wstart)
    wstart, wcount = now, 0
  end
  redis.call('HSET', h, 'tokens', tokens, 'last', now, 'rate', g[5], 'burst', g[6], 'conc', g[7], 'wstart', wstart, 'wcount', wcount + 1, 'lrate', lrate)
  redis.call('PEXPIRE', h, stateTtl)
  redis.call('ZADD', z, now + leaseMs, leaseId)
  redis.call('PEXPIRE', z, math.ceil(leaseMs * 2))
end
return { 1 }
`;

/**
 * release: KEYS = hash, leases; ARGV = leaseId, outcome ('success' | 'throttled' | 'paused' |
 * 'other'), hintMs ('' for none), pauseMs, maxPauseMs, decreaseFactor, minRatePerSecond,
 * recoverAfter, recoverStep, stateTtlMs.
 * Returns {lease removed (0/1), change (0 none, 1 throttled or paused now, 2 pause extended,
 * 3 recovery step, 4 recovered fully), pausedUntil as a string ('0' when not paused)}.
 */
export const RELEASE = `${NOW}
local h, z = KEYS[1], KEYS[2]
local removed = redis.call('ZREM', z, ARGV[1])
local outcome = ARGV[2]
if outcome == 'other' or redis.call('EXISTS', h) == 0 then return { removed, 0, '0' } end
local f = redis.call('HMGET', h, 'tokens', 'last', 'paused', 'trate', 'tconc', 'crate', 'cconc', 'succ', 'rate', 'burst', 'conc', 'wstart', 'wcount', 'lrate')
local tokens, last, paused = tonumber(f[1]), tonumber(f[2]), tonumber(f[3]) or 0
local trate, tconc, crate, cconc = tonumber(f[4]), tonumber(f[5]), tonumber(f[6]), tonumber(f[7])
local rate, burst, conc = tonumber(f[9]), tonumber(f[10]), tonumber(f[11])
local stateTtl = tonumber(ARGV[10])
-- Tops the bucket up to now at the rate in force before a change (TokenBucket.setRate).
local function refill()
  local erate, eburst = rate, burst
  if trate then erate, eburst = trate, 1 end
  if erate < 0 then tokens = eburst elseif now > last then tokens = tokens + (now - last) * erate / 1000 end
  if tokens > eburst then tokens = eburst end
end
if outcome == 'throttled' or outcome == 'paused' then
  local pauseMs, maxPauseMs = tonumber(ARGV[4]), tonumber(ARGV[5])
  local hint = tonumber(ARGV[3])
  local untilT = now + math.min(hint or pauseMs, maxPauseMs)
  if paused > now then
    -- Already paused by an earlier response of the same burst: only the pause may grow.
    if untilT > paused then
      redis.call('HSET', h, 'paused', untilT)
      redis.call('PEXPIRE', h, math.ceil(math.max(stateTtl, untilT - now + 60000)))
      return { removed, 2, tostring(math.ceil(untilT)) }
    end
    return { removed, 0, tostring(math.ceil(paused)) }
  end
  redis.call('HSET', h, 'paused', untilT)
  if outcome == 'throttled' then
    local factor, minRate = tonumber(ARGV[6]), tonumber(ARGV[7])
    refill()
    local observed = 0
    if f[12] then observed = math.max(tonumber(f[14]) or 0, tonumber(f[13]) * 1000 / math.max(250, now - tonumber(f[12]))) end
    local current = trate
    if not current then
      if rate >= 0 then current = rate else current = math.max(observed, minRate) end
    end
    local inflight = redis.call('ZCOUNT', z, '(' .. now, '+inf') + removed
    if not crate then crate = current end
    if not cconc then
      if conc >= 0 then cconc = conc else cconc = math.max(1, inflight) end
    end
    redis.call('HSET', h, 'trate', math.max(minRate, current * factor), 'tconc', 1, 'crate', crate, 'cconc', cconc, 'succ', 0, 'tokens', math.min(tokens, 1), 'last', now)
  end
  redis.call('PEXPIRE', h, math.ceil(math.max(stateTtl, untilT - now + 60000)))
  return { removed, 1, tostring(math.ceil(untilT)) }
end
-- success: additive increase while throttled
local pausedOut = '0'
if paused > now then pausedOut = tostring(math.ceil(paused)) end
if not trate then return { removed, 0, pausedOut } end
local succ = (tonumber(f[8]) or 0) + 1
if succ < tonumber(ARGV[8]) then
  redis.call('HSET', h, 'succ', succ)
  return { removed, 0, pausedOut }
end
refill()
local nrate = math.min(crate, trate + crate * tonumber(ARGV[9]))
local nconc = math.min(cconc, tconc + 1)
if nrate >= crate and nconc >= cconc then
  redis.call('HDEL', h, 'trate', 'tconc', 'crate', 'cconc', 'succ')
  redis.call('HSET', h, 'tokens', tokens, 'last', now)
  return { removed, 4, pausedOut }
end
redis.call('HSET', h, 'trate', nrate, 'tconc', nconc, 'succ', 0, 'tokens', tokens, 'last', now)
return { removed, 3, pausedOut }
`;

/**
 * state: KEYS = hash, leases. Returns strings: tokens now, rate in force, concurrency in force,
 * leases held, pausedUntil (0 when not paused), throttled (0/1), configured rate, Redis now.
 * Reads only.
 */
export const STATE = `${NOW}
local f = redis.call('HMGET', KEYS[1], 'tokens', 'last', 'paused', 'trate', 'tconc', 'rate', 'burst', 'conc')
local inflight = redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
if not f[6] then return { '', '', '', tostring(inflight), '0', '0', '', tostring(now) } end
local tokens, last, paused = tonumber(f[1]), tonumber(f[2]), tonumber(f[3]) or 0
local trate, tconc = tonumber(f[4]), tonumber(f[5])
local rate, burst, conc = tonumber(f[6]), tonumber(f[7]), tonumber(f[8])
local erate, eburst, econc = rate, burst, conc
if trate then
  erate, eburst = trate, 1
  if econc < 0 or tconc < econc then econc = tconc end
end
if erate < 0 then tokens = eburst elseif now > last then tokens = tokens + (now - last) * erate / 1000 end
if tokens > eburst then tokens = eburst end
if paused <= now then paused = 0 end
local throttled = 0
if trate then throttled = 1 end
return { tostring(tokens), tostring(erate), tostring(econc), tostring(inflight), tostring(math.ceil(paused)), tostring(throttled), tostring(rate), tostring(now) }
`;
