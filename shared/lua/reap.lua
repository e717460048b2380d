-- Take back the slots of jobs whose lease ran out. A job whose worker stopped heartbeating (killed,
-- crashed, cut off) goes back to the pool's arq queue for another worker; a job that already ended
-- just frees its slot; a job whose worker is alive but late keeps running with a fresh lease.
-- KEYS: inflight, arq_queue, worker_wake, stats
-- ARGV: now_ms, lease_ms, max, job_prefix, worker_prefix, events_prefix, arq_in_progress_prefix,
--       arq_job_prefix, arq_function, arq_job_ttl_ms
-- Returns {released, requeued, then the requeued job ids}.
local now, lease, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, max)
local released, requeued, moved = 0, 0, {}
for _, job_id in ipairs(expired) do
  local job = ARGV[4] .. job_id
  local info = redis.call('HMGET', job, 'status', 'worker', 'tries')
  local status, worker = info[1], info[2]
  local locked = redis.call('EXISTS', ARGV[7] .. job_id) == 1
  if not status or (status ~= 'queued' and status ~= 'running') then
    redis.call('ZREM', KEYS[1], job_id)
    released = released + 1
  elseif (worker and status == 'running' and redis.call('EXISTS', ARGV[5] .. worker) == 1)
      or (status == 'queued' and not locked) then
    -- Alive but late, or still waiting for a free worker slot: keep the slot.
    redis.call('ZADD', KEYS[1], now + lease, job_id)
  else
    -- Its worker is gone. arq's in-progress lock would hold the job until arq's own timeout: lift it.
    redis.call('DEL', ARGV[7] .. job_id)
    if not redis.call('ZSCORE', KEYS[2], job_id) then
      redis.call('ZADD', KEYS[2], now, job_id)
    end
    if redis.call('EXISTS', ARGV[8] .. job_id) == 0 then
      local payload = '{"t":1,"f":"' .. ARGV[9] .. '","a":["' .. job_id .. '"],"k":{},"et":' .. now .. '}'
      redis.call('SET', ARGV[8] .. job_id, payload, 'PX', tonumber(ARGV[10]))
    end
    if status == 'running' then
      redis.call('HSET', job, 'status', 'queued')
      redis.call('HDEL', job, 'worker')
      redis.call('XADD', ARGV[6] .. job_id, '*', 'e',
        cjson.encode({type = 'retry', attempt = (tonumber(info[3] or '1') or 1) + 1, reason = 'worker lost'}))
    end
    redis.call('ZADD', KEYS[1], now + lease, job_id)
    redis.call('LPUSH', KEYS[3], job_id)
    redis.call('HINCRBY', KEYS[4], 'requeued', 1)
    requeued = requeued + 1
    moved[#moved + 1] = job_id
  end
end
return {released, requeued, unpack(moved)}
