-- A worker claims a job it took from the arq queue: queued -> running, unless it was cancelled.
-- KEYS: job, events, inflight, stats
-- ARGV: job_id, worker_id, started_at, lease_deadline_ms, job_try
-- Returns {user, model, request, request_id} or false when the job must not run.
local info = redis.call('HMGET', KEYS[1], 'status', 'user', 'model', 'request', 'request_id', 'created_at')
local status = info[1]
local retry = tonumber(ARGV[5]) > 1
if status ~= 'queued' and not (retry and status == 'running') then
  return false
end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[3], 'worker', ARGV[2], 'tries', ARGV[5])
redis.call('ZADD', KEYS[3], tonumber(ARGV[4]), ARGV[1])
redis.call('XADD', KEYS[2], '*', 'e', cjson.encode({type = 'started'}))
-- How long the job waited between being accepted and starting (a histogram for /metrics).
if info[6] and tonumber(ARGV[5]) == 1 then
  local waited = tonumber(ARGV[3]) - tonumber(info[6])
  local bucket = 'inf'
  for _, bound in ipairs({5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 600000}) do
    if waited <= bound then bucket = tostring(bound) break end
  end
  redis.call('HINCRBY', KEYS[4], 'wait_ms_' .. bucket, 1)
  redis.call('HINCRBYFLOAT', KEYS[4], 'wait_ms_sum', waited)
end
return {info[2], info[3], info[4], info[5] or ''}
