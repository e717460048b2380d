-- Accept a job. When nobody waits in the pool and a slot is free, hand it to the pool at once (what the
-- fair scheduler would do anyway, without its round trips); otherwise append it to its user's queue for
-- the pool and mark the user backlogged for the scheduler.
-- KEYS: job, events, user_queue, ready, user_vtime, vclock, scheduler_wake, pool_waiting, pool_seq, costs,
--       inflight, arq_queue, worker_wake
-- ARGV: job_id, user, model, max_queued_user, max_queued_pool, job_ttl_s, policy,
--       capacity, now_ms, lease_ms, arq_job_ttl_ms, arq_job_prefix, arq_function,
--       then field/value pairs of the job hash
-- Returns {position}, {-1, waiting} when the user's queue is full, {-2, waiting} when the pool's is.
local queued = redis.call('LLEN', KEYS[3])
if queued >= tonumber(ARGV[4]) then
  return {-1, queued}
end
local pool_waiting = tonumber(redis.call('GET', KEYS[8]) or '0')
if pool_waiting >= tonumber(ARGV[5]) then
  return {-2, pool_waiting}
end

local job_id, user, ttl = ARGV[1], ARGV[2], tonumber(ARGV[6])
local seq = redis.call('INCR', KEYS[9])
-- What a job of this model is expected to cost (GPU-seconds, learned from finished jobs).
local cost = redis.call('HGET', KEYS[10], ARGV[3]) or '1'
local fields = {}
for i = 14, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'seq', seq, 'cost', cost, unpack(fields))
-- A queued job that nobody ever runs still disappears eventually.
redis.call('EXPIRE', KEYS[1], ttl)

local fair = ARGV[7] == 'fair'
local capacity = tonumber(ARGV[8])
local position = queued + 1
if redis.call('ZCARD', KEYS[4]) == 0 and redis.call('ZCARD', KEYS[11]) < capacity then
  -- Nobody is backlogged and a slot is free: dispatch now, charged as dispatch.lua would charge it.
  local now = tonumber(ARGV[9])
  if fair then
    local own = tonumber(redis.call('HGET', KEYS[5], user) or '0')
    local start_tag = math.max(own, tonumber(redis.call('GET', KEYS[6]) or '0'))
    local weight = tonumber(redis.call('HGET', KEYS[1], 'weight') or '1') or 1
    if weight <= 0 then weight = 1 end
    redis.call('SET', KEYS[6], start_tag)
    redis.call('HSET', KEYS[5], user, start_tag + tonumber(cost) / weight)
  end
  local payload = '{"t":1,"f":"' .. ARGV[13] .. '","a":["' .. job_id .. '"],"k":{},"et":' .. ARGV[9] .. '}'
  redis.call('SET', ARGV[12] .. job_id, payload, 'PX', tonumber(ARGV[11]))
  redis.call('ZADD', KEYS[12], now, job_id)
  redis.call('ZADD', KEYS[11], now + tonumber(ARGV[10]), job_id)
  redis.call('HSET', KEYS[1], 'dispatched_at', ARGV[9])
  redis.call('LPUSH', KEYS[13], job_id)
  redis.call('LTRIM', KEYS[13], 0, capacity)
  position = 1
else
  redis.call('LPUSH', KEYS[3], job_id)
  redis.call('INCR', KEYS[8])
  if not redis.call('ZSCORE', KEYS[4], user) then
    local score = seq
    if fair then
      -- Start-time fair queueing: a newly backlogged user starts at max(own finish tag, pool clock),
      -- so idling earns no credit and a newcomer is served within one round.
      local own = tonumber(redis.call('HGET', KEYS[5], user) or '0')
      local clock = tonumber(redis.call('GET', KEYS[6]) or '0')
      score = math.max(own, clock)
    end
    redis.call('ZADD', KEYS[4], score, user)
  end
  -- One pending wake-up is enough: the scheduler drains everything it can when it wakes.
  redis.call('LPUSH', KEYS[7], '1')
  redis.call('LTRIM', KEYS[7], 0, 0)
end

redis.call('XADD', KEYS[2], '*', 'e', cjson.encode({type = 'queued', position = position}))
redis.call('EXPIRE', KEYS[2], ttl)
return {position}
