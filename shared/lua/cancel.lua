-- The owner cancels a job. A waiting job is pulled out of its queue; a running one is flagged and its
-- worker told to stop (the worker records what it used when it does).
-- A waiting job never ran: its token reservation is refunded and its in-flight slot freed here.
-- KEYS: job, events, done_channel, cancel_channel, scheduler_wake
-- ARGV: job_id, user, finished_at, ttl_s, event_json, user_queue_prefix, inflight_prefix, arq_queue_prefix,
--       arq_job_prefix, pool_waiting_prefix, rate_prefix, in_flight_prefix, ledger_prefix
-- Returns {'missing'}, {'cancelled', previous_status} or {'final', status}.
local info = redis.call('HMGET', KEYS[1], 'status', 'user', 'pool', 'reserved_tokens', 'tok_iv')
local status, owner, pool = info[1], info[2], info[3]
if not status or owner ~= ARGV[2] then
  return {'missing'}
end
if status ~= 'queued' and status ~= 'running' then
  return {'final', status}
end
local job_id = ARGV[1]
if status == 'queued' then
  if redis.call('LREM', ARGV[6] .. pool .. ':' .. owner, 0, job_id) > 0 then
    redis.call('DECR', ARGV[10] .. pool)
  end
  if redis.call('ZREM', ARGV[8] .. pool, job_id) == 1 then
    redis.call('DEL', ARGV[9] .. job_id)
  end
  redis.call('ZREM', ARGV[7] .. pool, job_id)
  redis.call('HDEL', KEYS[1], 'request')
  redis.call('LPUSH', KEYS[5], '1')
  redis.call('LTRIM', KEYS[5], 0, 0)
  if info[4] then
    local now, reserved = tonumber(ARGV[3]), tonumber(info[4])
    local key = ARGV[11] .. 'tokens:' .. owner
    local tat = tonumber(redis.call('GET', key) or '0')
    if tat > now then
      tat = math.max(now, tat - reserved * tonumber(info[5]))
      redis.call('SET', key, string.format('%.6f', tat), 'PX', math.ceil(tat - now) + 86400000)
    end
    redis.call('ZREM', ARGV[12] .. owner, job_id)
    redis.call('HINCRBY', ARGV[13] .. owner, 'tokens', -reserved)
    redis.call('HSET', KEYS[1], 'usage_recorded', '1')
  end
end
local ttl = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[3],
  'error_code', 'cancelled', 'error_message', 'cancelled by its owner')
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('XADD', KEYS[2], '*', 'e', ARGV[5])
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('PUBLISH', KEYS[3], job_id)
if status == 'running' then
  redis.call('PUBLISH', KEYS[4], job_id)
end
return {'cancelled', status}
