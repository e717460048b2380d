-- Accept a job: store it, append it to its user's queue for the pool, mark the user backlogged.
-- KEYS: job, events, user_queue, ready, user_vtime, vclock, scheduler_wake, pool_waiting, pool_seq, costs
-- ARGV: job_id, user, model, max_queued_user, max_queued_pool, job_ttl_s, policy,
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

local seq = redis.call('INCR', KEYS[9])
-- What a job of this model is expected to cost (GPU-seconds, learned from finished jobs).
local cost = redis.call('HGET', KEYS[10], ARGV[3]) or '1'
local fields = {}
for i = 8, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'seq', seq, 'cost', cost, unpack(fields))
-- A queued job that nobody ever runs still disappears eventually.
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
redis.call('LPUSH', KEYS[3], ARGV[1])
redis.call('INCR', KEYS[8])

local user = ARGV[2]
if not redis.call('ZSCORE', KEYS[4], user) then
  local score = seq
  if ARGV[7] == 'fair' then
    -- Start-time fair queueing: a newly backlogged user starts at max(own finish tag, pool clock),
    -- so idling earns no credit and a newcomer is served within one round.
    local own = tonumber(redis.call('HGET', KEYS[5], user) or '0')
    local clock = tonumber(redis.call('GET', KEYS[6]) or '0')
    score = math.max(own, clock)
  end
  redis.call('ZADD', KEYS[4], score, user)
end

local position = queued + 1
redis.call('XADD', KEYS[2], '*', 'e', cjson.encode({type = 'queued', position = position}))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
-- One pending wake-up is enough: the scheduler drains everything it can when it wakes.
redis.call('LPUSH', KEYS[7], '1')
redis.call('LTRIM', KEYS[7], 0, 0)
return {position}
