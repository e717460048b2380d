-- A worker records how a job ended. Idempotent; a job cancelled meanwhile keeps its state but
-- still gets its usage recorded (a cancelled job pays for what it used).
-- The user's quotas settle here too: the token reservation is replaced by the tokens used (a failed job
-- is refunded in full), the GPU-seconds used are charged, and the job's in-flight slot is released.
-- KEYS: job, events, inflight, scheduler_wake, done_channel, user_vtime, ready, costs, service_times,
--       pool_waiting
-- ARGV: job_id, status, finished_at, ttl_s, event_json, gpu_seconds, wall_seconds, policy,
--       used_tokens, rate_prefix, in_flight_prefix, ledger_prefix, stats_key,
--       then field/value pairs (result and usage)
-- Returns 1 when this call ended the job, 0 when it had already ended.
local info = redis.call('HMGET', KEYS[1], 'status', 'user', 'model', 'cost', 'weight', 'usage_recorded',
  'reserved_tokens', 'tok_iv', 'gh_iv', 'gd_iv')
local status = info[1]
redis.call('ZREM', KEYS[3], ARGV[1])
-- A slot is free: the scheduler has something to do only if jobs wait in the pool.
if tonumber(redis.call('GET', KEYS[10]) or '0') > 0 then
  redis.call('LPUSH', KEYS[4], '1')
  redis.call('LTRIM', KEYS[4], 0, 0)
end
if not status then
  return 0
end
local fields = {}
for i = 14, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local ended = status == 'queued' or status == 'running'
if not ended and (status ~= 'cancelled' or info[6]) then
  return 0
end

-- Fair share is charged by what the job really used: correct the estimate made at dispatch.
local used, wall = tonumber(ARGV[6]), tonumber(ARGV[7])
if ARGV[8] == 'fair' and info[2] then
  local weight = tonumber(info[5] or '1') or 1
  if weight <= 0 then weight = 1 end
  local delta = (used - (tonumber(info[4] or '1') or 1)) / weight
  if delta ~= 0 then
    redis.call('HINCRBYFLOAT', KEYS[6], info[2], delta)
    if redis.call('ZSCORE', KEYS[7], info[2]) then
      redis.call('ZINCRBY', KEYS[7], delta, info[2])
    end
  end
end
-- Moving averages per model: expected GPU-seconds (the next jobs' cost) and wall time (queue ETAs).
if info[3] then
  local old_cost = tonumber(redis.call('HGET', KEYS[8], info[3]) or tostring(used))
  redis.call('HSET', KEYS[8], info[3], old_cost * 0.8 + used * 0.2)
  local old_wall = tonumber(redis.call('HGET', KEYS[9], info[3]) or tostring(wall))
  redis.call('HSET', KEYS[9], info[3], old_wall * 0.8 + wall * 0.2)
end

-- Quotas: settle the reservation made at admission.
local user, now = info[2], tonumber(ARGV[3])
if user and info[7] then
  local rate = ARGV[10]
  local used_tokens = tonumber(ARGV[9])
  if ARGV[2] == 'failed' then used_tokens = 0 end
  local delta = used_tokens - tonumber(info[7])
  local function move(key, amount, interval)
    local tat = tonumber(redis.call('GET', key) or '0')
    if tat < now then tat = now end
    tat = math.max(now, tat + amount * interval)
    local ttl_ms = math.ceil(tat - now) + 86400000
    redis.call('SET', key, string.format('%.6f', tat), 'PX', ttl_ms)
  end
  if delta ~= 0 then move(rate .. 'tokens:' .. user, delta, tonumber(info[8])) end
  if used > 0 then
    move(rate .. 'gpu_hour:' .. user, used, tonumber(info[9]))
    move(rate .. 'gpu_day:' .. user, used, tonumber(info[10]))
  end
  redis.call('ZREM', ARGV[11] .. user, ARGV[1])
  redis.call('HINCRBY', ARGV[12] .. user, 'tokens', delta)
  redis.call('HINCRBYFLOAT', ARGV[12] .. user, 'gpu_seconds', used)
end

local ttl = tonumber(ARGV[4])
if not ended then
  redis.call('HSET', KEYS[1], 'usage_recorded', '1', unpack(fields))
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'finished_at', ARGV[3], 'usage_recorded', '1', unpack(fields))
-- Cluster-wide counters for /metrics: outcomes, tokens, GPU-seconds, and a histogram of job durations.
local stats = ARGV[13]
redis.call('HINCRBY', stats, 'jobs_' .. ARGV[2], 1)
redis.call('HINCRBY', stats, 'tokens', tonumber(ARGV[9]))
redis.call('HINCRBYFLOAT', stats, 'gpu_seconds', used)
local wall_ms = wall * 1000
local bucket = 'inf'
for _, bound in ipairs({5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 600000}) do
  if wall_ms <= bound then bucket = tostring(bound) break end
end
redis.call('HINCRBY', stats, 'duration_ms_' .. bucket, 1)
redis.call('HINCRBYFLOAT', stats, 'duration_ms_sum', wall_ms)
-- The prompt is not kept once the job has ended.
redis.call('HDEL', KEYS[1], 'request')
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('XADD', KEYS[2], '*', 'e', ARGV[5])
redis.call('EXPIRE', KEYS[2], ttl)
-- The ended job itself rides on the notification, so a waiting API need not read it back.
local record = redis.call('HGETALL', KEYS[1])
local ended_job = {}
for i = 1, #record, 2 do
  ended_job[record[i]] = record[i + 1]
end
redis.call('PUBLISH', KEYS[5], ARGV[1] .. ' ' .. cjson.encode(ended_job))
return 1
