-- Accept a job: store it, append it to its user's queue for the pool, mark the user backlogged.
-- KEYS: job, events, user_queue, ready, user_vtime, vclock, scheduler_wake
-- ARGV: job_id, user, max_queued, job_ttl_s, then field/value pairs of the job hash
-- Returns {position} or {-1, queued} when the user's queue is full.
local queued = redis.call('LLEN', KEYS[3])
if queued >= tonumber(ARGV[3]) then
  return {-1, queued}
end

local fields = {}
for i = 5, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], 'status', 'queued', unpack(fields))
-- A queued job that nobody ever runs still disappears eventually.
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('LPUSH', KEYS[3], ARGV[1])

local user = ARGV[2]
if not redis.call('ZSCORE', KEYS[4], user) then
  -- Start-time fair queueing: a newly backlogged user starts at max(own finish tag, pool clock),
  -- so idling earns no credit and a newcomer is served within one round.
  local own = tonumber(redis.call('HGET', KEYS[5], user) or '0')
  local clock = tonumber(redis.call('GET', KEYS[6]) or '0')
  redis.call('ZADD', KEYS[4], math.max(own, clock), user)
end

local position = queued + 1
redis.call('XADD', KEYS[2], '*', 'e', cjson.encode({type = 'queued', position = position}))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
-- One pending wake-up is enough: the scheduler drains everything it can when it wakes.
redis.call('LPUSH', KEYS[7], '1')
redis.call('LTRIM', KEYS[7], 0, 0)
return {position}
