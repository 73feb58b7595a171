/**
 * The Lua scripts the Redis backend runs. Each runs atomically on the server (Redis runs one script at a time), takes
 * the time from Redis's own `TIME` (one clock for every replica), and touches only keys passed in KEYS, all carrying
 * the principal's hash tag, so they run unchanged on Redis Cluster.
 *
 * A counter is one hash per (scope, metric, period): `w` = start of the window it counts, `settled` = real usage
 * settled in that window, `held` = sum of live reservations, `r:<id>` = each reservation's amount; beside it a
 * sorted set of reservation ids scored by their expiry (epoch ms). A counter whose `w` is not the current window
 * starts again from zero; a reservation past its expiry is dropped from `held` by the next script that reads the
 * counter, so a replica that died mid-request leaves no charge past the reservation TTL.
 */

/**
 * Integers as Redis replies carry them, and the time on Redis's own clock (epoch ms): one clock for every replica.
 * Every script of the gateway that needs the time starts with it.
 */
export const CLOCK_LUA = `
local function num(x) return string.format('%.0f', x) end
local function redis_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/** Window start and end (epoch ms) for a period at `now`; UTC calendar months via Hinnant's days/civil algorithms. */
const WINDOW_LUA = `${CLOCK_LUA}
local DAY = 86400000
local function days_from_civil(y, m)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m > 2) and (m - 3) or (m + 9)
  local doy = math.floor((153 * mp + 2) / 5)
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end
local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = (mp < 10) and (mp + 3) or (mp - 9)
  if m <= 2 then y = y + 1 end
  return y, m
end
local function window(period, now)
  if period == 'hour' then local s = now - (now % 3600000) return s, s + 3600000 end
  if period == 'day' then local s = now - (now % DAY) return s, s + DAY end
  if period == 'month' then
    local y, m = civil_from_days(math.floor(now / DAY))
    local ny, nm = y, m + 1
    if nm > 12 then ny, nm = y + 1, 1 end
    return days_from_civil(y, m) * DAY, days_from_civil(ny, nm) * DAY
  end
  return 0, -1
end
-- The counter's live use in window ws: drops expired reservations, restarts a counter of an earlier window.
local function live_use(c, z, ws, now)
  local w = redis.call('HGET', c, 'w')
  if w ~= num(ws) then
    -- Nothing yet, or an earlier window's: the reserve writes w (so a read leaves no key behind).
    if w then redis.call('DEL', c, z) end
    return 0
  end
  local expired = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  for _, id in ipairs(expired) do
    local amount = redis.call('HGET', c, 'r:' .. id)
    if amount then
      redis.call('HINCRBY', c, 'held', -tonumber(amount))
      redis.call('HDEL', c, 'r:' .. id)
    end
  end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now) end
  return tonumber(redis.call('HGET', c, 'settled') or '0') + tonumber(redis.call('HGET', c, 'held') or '0')
end
`;

/**
 * Check-and-reserve, all or nothing. KEYS: counter and expiry set of each charge, then the principal's revocation
 * key. ARGV: reservation id, TTL ms, charge count, then per charge: period, limit, amount, retain-until (epoch ms,
 * 0 = none). Returns {'ok', now, windowStart1, used1, …}, {'refused', now, index, used}, {'revoked', now} or
 * {'duplicate', now} (the id holds a reservation already: refused, so one id never holds two amounts).
 */
export const RESERVE_LUA = `${WINDOW_LUA}
local id, ttl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = redis_now()
if redis.call('EXISTS', KEYS[2 * n + 1]) == 1 then return {'revoked', num(now)} end
local starts, used = {}, {}
for i = 1, n do
  local a = 3 + (i - 1) * 4
  local ws = window(ARGV[a + 1], now)
  local limit, amount = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local u = live_use(KEYS[2 * i - 1], KEYS[2 * i], ws, now)
  if redis.call('HEXISTS', KEYS[2 * i - 1], 'r:' .. id) == 1 then return {'duplicate', num(now)} end
  if not (u < limit and u + amount <= limit) then return {'refused', num(now), num(i), num(u)} end
  starts[i], used[i] = ws, u
end
local out = {'ok', num(now)}
for i = 1, n do
  local a = 3 + (i - 1) * 4
  local c, z = KEYS[2 * i - 1], KEYS[2 * i]
  local _, we = window(ARGV[a + 1], now)
  local amount, retain = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  redis.call('HSET', c, 'w', num(starts[i]))
  redis.call('HINCRBY', c, 'held', amount)
  redis.call('HSET', c, 'r:' .. id, amount)
  redis.call('ZADD', z, now + ttl, id)
  -- Kept while its window lasts and its reservations may still settle; a lifetime counter while its token lives.
  local keep = -1
  if we > 0 then keep = math.max(we, now + ttl) + 3600000 elseif retain > 0 then keep = math.max(retain, now + ttl) end
  if keep > 0 then redis.call('PEXPIREAT', c, keep) redis.call('PEXPIREAT', z, keep) end
  table.insert(out, num(starts[i]))
  table.insert(out, num(used[i] + amount))
end
return out
`;

/**
 * Settle (or release, with every amount 0), once per reservation id. KEYS: counter and expiry set of each charge,
 * then the reservation's done marker. ARGV: reservation id, done-marker TTL ms, charge count, then per charge: the
 * window start it was reserved in, the real amount. The reserved amount leaves `held` (unless it expired already) and
 * the real amount joins `settled` if the counter still counts that window. Returns 1, or 0 when already settled.
 */
export const SETTLE_LUA = `
local id, doneTtl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if not redis.call('SET', KEYS[2 * n + 1], '1', 'NX', 'PX', doneTtl) then return 0 end
for i = 1, n do
  local c, z = KEYS[2 * i - 1], KEYS[2 * i]
  local a = 3 + (i - 1) * 2
  local amount = redis.call('HGET', c, 'r:' .. id)
  if amount then
    redis.call('HINCRBY', c, 'held', -tonumber(amount))
    redis.call('HDEL', c, 'r:' .. id)
    redis.call('ZREM', z, id)
  end
  local actual = tonumber(ARGV[a + 2])
  if actual > 0 and redis.call('HGET', c, 'w') == ARGV[a + 1] then redis.call('HINCRBY', c, 'settled', actual) end
end
return 1
`;

/** A counter's live use without reserving. KEYS: counter, expiry set. ARGV: period. Returns {now, used}. */
export const PEEK_LUA = `${WINDOW_LUA}
local now = redis_now()
local ws = window(ARGV[1], now)
return {num(now), num(live_use(KEYS[1], KEYS[2], ws, now))}
`;

/** For tests of the window arithmetic: ARGV period, now → {start, end}. */
export const WINDOW_TEST_LUA = `${WINDOW_LUA}
local s, e = window(ARGV[1], tonumber(ARGV[2]))
return {num(s), num(e)}
`;

/** A circuit's fields as the scripts below return them: state, failures, cool-down ms, ms left of it (or of a probe lease). */
const CIRCUIT_READ_LUA = `${CLOCK_LUA}
local function circuit(key, base)
  local v = redis.call('HMGET', key, 's', 'f', 'c', 'u')
  return v[1] or 'closed', tonumber(v[2] or '0'), tonumber(v[3] or base), tonumber(v[4] or '0')
end
`;

/**
 * One event on a provider's shared circuit breaker, the same state machine as `CircuitBreaker` on Redis's clock.
 * KEYS: the circuit hash. ARGV: event (failure | success | probe | neutral), failure threshold, base cool-down ms, max
 * cool-down ms, the change channel, the provider id. Hash fields: `s` state, `f` consecutive failures, `c` current
 * cool-down, `u` when the cool-down ends (open) or the probe lease lapses (half_open), epoch ms.
 * - failure: counted while closed (the threshold opens it for `c`); a failed probe (half_open) re-opens it with the
 *   cool-down doubled up to the cap; a failure while open came from an attempt admitted before it opened: no change.
 * - success: closed, failures and cool-down back to their start.
 * - probe: granted when closed, or when the cool-down (or another replica's probe lease) is over: half_open with a
 *   lease of one cool-down, so a replica that died probing holds the probe no longer than that.
 * - neutral: the probe ended without a verdict: the next request may probe at once.
 * A change is published on the channel. A closed circuit without failures is deleted; any other kept a day.
 * Returns {state, failures, cooldown, remaining ms, granted 0|1}.
 */
export const CIRCUIT_EVENT_LUA = `${CIRCUIT_READ_LUA}
local key, event = KEYS[1], ARGV[1]
local threshold, base, maxc = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = redis_now()
local s, f, c, u = circuit(key, base)
local before = s .. '|' .. f .. '|' .. c .. '|' .. u
local granted = 0
if event == 'failure' then
  if s == 'half_open' then
    c = math.min(c * 2, maxc)
    s, u = 'open', now + c
  elseif s == 'closed' then
    f = f + 1
    if f >= threshold then s, u = 'open', now + c end
  end
elseif event == 'success' then
  s, f, c, u = 'closed', 0, base, 0
elseif event == 'probe' then
  if s == 'closed' then
    granted = 1
  elseif now >= u then
    s, u, granted = 'half_open', now + c, 1
  end
elseif event == 'neutral' then
  if s == 'half_open' then s, u = 'open', now end
end
if before ~= (s .. '|' .. f .. '|' .. c .. '|' .. u) then
  if s == 'closed' and f == 0 then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 's', s, 'f', num(f), 'c', num(c), 'u', num(u))
    redis.call('PEXPIRE', key, 86400000)
  end
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
return {s, num(f), num(c), num(math.max(0, u - now)), num(granted)}
`;

/** A circuit without changing it. KEYS: the circuit hash. ARGV: base cool-down ms. Returns {state, failures, cooldown, remaining ms}. */
export const CIRCUIT_PEEK_LUA = `${CIRCUIT_READ_LUA}
local s, f, c, u = circuit(KEYS[1], ARGV[1])
return {s, num(f), num(c), num(math.max(0, u - redis_now()))}
`;

