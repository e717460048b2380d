-- Move jobs from the per-user queues of one pool into the pool's arq queue, fairest user first,
-- while the pool has free slots. Atomic: a crash before or after loses and duplicates nothing.
-- KEYS: ready, user_vtime, vclock, inflight, arq_queue, worker_wake, pool_waiting
-- ARGV: pool, now_ms, capacity, max_moves, lease_ms, arq_job_ttl_ms,
--       job_prefix, user_queue_prefix, arq_job_prefix, arq_function, policy
-- policy 'fair': start-time fair queueing charged by each job's expected cost over the user's weight;
-- policy 'fifo': oldest job first, whoever sent it (the baseline the fairness benchmark compares to).
-- Returns the number of jobs moved.
local pool, now = ARGV[1], tonumber(ARGV[2])
local capacity, max_moves = tonumber(ARGV[3]), tonumber(ARGV[4])
local lease, arq_ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local job_prefix, queue_prefix, arq_prefix, arq_function = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local fair = ARGV[11] == 'fair'

local busy = redis.call('ZCARD', KEYS[4])
local moved, examined = 0, 0
while moved < max_moves and busy < capacity and examined < max_moves * 4 do
  examined = examined + 1
  local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #head == 0 then break end
  local user, start_tag = head[1], tonumber(head[2])
  local queue = queue_prefix .. pool .. ':' .. user
  local job_id = redis.call('RPOP', queue)
  if not job_id then
    redis.call('ZREM', KEYS[1], user)
  else
    redis.call('DECR', KEYS[7])
    local job = job_prefix .. job_id
    local info = redis.call('HMGET', job, 'status', 'cost', 'weight')
    local next_tag = start_tag
    if info[1] == 'queued' then
      if fair then
        local cost = tonumber(info[2] or '1') or 1
        local weight = tonumber(info[3] or '1') or 1
        if weight <= 0 then weight = 1 end
        next_tag = start_tag + cost / weight
        redis.call('SET', KEYS[3], start_tag)
        redis.call('HSET', KEYS[2], user, next_tag)
      end
      local payload = '{"t":1,"f":"' .. arq_function .. '","a":["' .. job_id .. '"],"k":{},"et":' .. now .. '}'
      redis.call('SET', arq_prefix .. job_id, payload, 'PX', arq_ttl)
      redis.call('ZADD', KEYS[5], now, job_id)
      redis.call('ZADD', KEYS[4], now + lease, job_id)
      redis.call('HSET', job, 'dispatched_at', ARGV[2])
      redis.call('LPUSH', KEYS[6], job_id)
      busy = busy + 1
      moved = moved + 1
    end
    -- Jobs cancelled or expired while waiting are simply dropped from the queue here.
    local remaining = redis.call('LINDEX', queue, -1)
    if not remaining then
      redis.call('ZREM', KEYS[1], user)
    elseif fair then
      redis.call('ZADD', KEYS[1], next_tag, user)
    else
      redis.call('ZADD', KEYS[1], tonumber(redis.call('HGET', job_prefix .. remaining, 'seq') or '0'), user)
    end
  end
end
if moved > 0 then
  redis.call('LTRIM', KEYS[6], 0, capacity)
end
return moved
