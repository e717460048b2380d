-- A worker records how a job ended. Idempotent; a job cancelled meanwhile keeps its state but
-- still gets its usage recorded (a cancelled job pays for what it used).
-- KEYS: job, events, inflight, scheduler_wake, done_channel
-- ARGV: job_id, status, finished_at, ttl_s, event_json, then field/value pairs (result and usage)
-- Returns 1 when this call ended the job, 0 when it had already ended.
local status = redis.call('HGET', KEYS[1], 'status')
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('LPUSH', KEYS[4], '1')
redis.call('LTRIM', KEYS[4], 0, 0)
if not status then
  return 0
end
local fields = {}
for i = 6, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local ttl = tonumber(ARGV[4])
if status ~= 'queued' and status ~= 'running' then
  if #fields > 0 then
    redis.call('HSET', KEYS[1], unpack(fields))
  end
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'finished_at', ARGV[3], unpack(fields))
-- The prompt is not kept once the job has ended.
redis.call('HDEL', KEYS[1], 'request')
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('XADD', KEYS[2], '*', 'e', ARGV[5])
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('PUBLISH', KEYS[5], ARGV[1])
return 1
