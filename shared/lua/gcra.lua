-- Generic cell rate algorithm: at most `limit` units per `period_ms`, smoothly (no window-edge bursts).
-- KEYS: state
-- ARGV: now_ms, limit, period_ms, cost
-- Returns {allowed (1|0), remaining, retry_after_ms, reset_after_ms}.
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local period, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - period
if allow_at > now then
  local remaining = math.floor((period - (tat - now)) / interval)
  if remaining < 0 then remaining = 0 end
  return {0, remaining, math.ceil(allow_at - now), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now))
local remaining = math.floor((period - (new_tat - now)) / interval)
return {1, remaining, 0, math.ceil(new_tat - now)}
