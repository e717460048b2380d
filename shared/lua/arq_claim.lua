-- arq's start of a job in one round trip instead of four (WATCH, EXISTS, ZSCORE, MULTI/PSETEX/EXEC):
-- take the job's in-progress lock unless another worker holds it or the job left the queue.
-- KEYS: in_progress, queue
-- ARGV: job_id, now_ms, lock_ms
-- Returns the job's queue score, or false when this worker must not start it.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return false
end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then
  return false
end
redis.call('SET', KEYS[1], '1', 'PX', tonumber(ARGV[3]))
return score
