-- Per-user quotas, all dimensions in one atomic step: every dimension admits and all are charged, or
-- nothing is charged. Rates use GCRA (a theoretical arrival time per dimension: smooth, no window-edge
-- bursts); jobs in flight are a sorted set of job ids with deadlines, so a lost job cannot leak a slot.
-- KEYS: requests, tokens, gpu_hour, gpu_day, in_flight, ledger
-- ARGV: mode ('admit' | 'release'), now_ms, job_id, job_deadline_ms,
--       requests_limit, requests_period_ms, tokens_limit, tokens_period_ms, tokens_cost,
--       gpu_hour_limit, gpu_day_limit, in_flight_limit
-- admit returns {allowed (1|0), binding dimension or '', retry_after_ms,
--                then limit and remaining for requests, tokens, gpu_hour, gpu_day, in_flight}
-- release (a refusal after admission) returns the reservation and the in-flight slot, keeps the request.
local now = tonumber(ARGV[2])
local job_id = ARGV[3]
-- Half a microsecond of slack keeps binary rounding from refusing a reservation that fits exactly.
local SLACK = 0.0005

local function tat_of(key)
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  return tat
end

local function store(key, tat, period)
  redis.call('SET', key, string.format('%.6f', tat), 'PX', math.ceil(tat - now + period) + 1000)
end

local req_limit, req_period = tonumber(ARGV[5]), tonumber(ARGV[6])
local tok_limit, tok_period, tok_cost = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local gh_limit, gd_limit, flight_limit = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local HOUR, DAY = 3600000, 86400000

if ARGV[1] == 'release' then
  local tat = tonumber(redis.call('GET', KEYS[2]) or '0')
  if tat > now then
    store(KEYS[2], math.max(now, tat - tok_cost * tok_period / tok_limit), tok_period)
  end
  redis.call('ZREM', KEYS[5], job_id)
  redis.call('HINCRBY', KEYS[6], 'tokens', -tok_cost)
  return 1
end

local refusals = {}
local function refuse(dimension, wait_ms)
  refusals[#refusals + 1] = {dimension, math.max(1, math.ceil(wait_ms))}
end

-- requests and tokens: charged now, so admit only if the charge fits the window.
local req_iv = req_period / req_limit
local req_tat = tat_of(KEYS[1]) + req_iv
if req_tat - now > req_period + SLACK then refuse('requests', req_tat - now - req_period) end
local tok_iv = tok_period / tok_limit
local tok_tat = tat_of(KEYS[2]) + tok_iv * tok_cost
if tok_cost > tok_limit then
  refuse('tokens', tok_period)
elseif tok_tat - now > tok_period + SLACK then
  refuse('tokens', tok_tat - now - tok_period)
end
-- GPU-seconds: charged when jobs end; admit while some of the window's budget is left.
local gh_tat, gd_tat = tat_of(KEYS[3]), tat_of(KEYS[4])
if gh_tat - now >= HOUR - SLACK then refuse('gpu_seconds_hour', gh_tat - now - HOUR + HOUR / gh_limit) end
if gd_tat - now >= DAY - SLACK then refuse('gpu_seconds_day', gd_tat - now - DAY + DAY / gd_limit) end
-- Jobs in flight (queued or running).
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
local flying = redis.call('ZCARD', KEYS[5])
if flying >= flight_limit then
  -- When a job ends is unknown here; a second is a fair first guess.
  refuse('jobs_in_flight', 1000)
end

local function remaining(tat, period, iv)
  return math.max(0, math.floor((period - (tat - now)) / iv + SLACK))
end

local allowed, binding, wait = 1, '', 0
if #refusals > 0 then
  allowed = 0
  for _, r in ipairs(refusals) do
    if r[2] > wait then binding, wait = r[1], r[2] end
  end
  req_tat = req_tat - req_iv
  tok_tat = tok_tat - tok_iv * tok_cost
else
  store(KEYS[1], req_tat, req_period)
  store(KEYS[2], tok_tat, tok_period)
  redis.call('ZADD', KEYS[5], tonumber(ARGV[4]), job_id)
  flying = flying + 1
  redis.call('HINCRBY', KEYS[6], 'requests', 1)
  redis.call('HINCRBY', KEYS[6], 'tokens', tok_cost)
end
return {
  allowed, binding, wait,
  req_limit, remaining(req_tat, req_period, req_iv),
  tok_limit, remaining(tok_tat, tok_period, tok_iv),
  tostring(gh_limit), tostring(math.max(0, (HOUR - (gh_tat - now)) * gh_limit / HOUR)),
  tostring(gd_limit), tostring(math.max(0, (DAY - (gd_tat - now)) * gd_limit / DAY)),
  flight_limit, math.max(0, flight_limit - flying),
}
