-- Where a waiting job stands: how many jobs will start before it, under the pool's policy.
-- KEYS: job, ready
-- ARGV: job_id, user_queue_prefix, job_prefix, policy, max_users
-- Returns {-1} when the job is not waiting, else {jobs ahead of it}.
local info = redis.call('HMGET', KEYS[1], 'status', 'user', 'pool', 'weight', 'cost', 'seq', 'dispatched_at')
if info[1] ~= 'queued' then
  return {-1}
end
-- A job handed to the pool already holds a slot: nothing is ahead of it.
if info[7] then
  return {0}
end
local user, pool = info[2], info[3]
local queue = ARGV[2] .. pool .. ':' .. user
local index = redis.call('LPOS', queue, ARGV[1])
local own_ahead = 0
local length = redis.call('LLEN', queue)
if index then
  own_ahead = length - index - 1
end
-- Jobs already in arq's queue hold slots of their own: only the per-user queues are ahead.
local ahead = own_ahead
local users = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[5]) - 1, 'WITHSCORES')
if ARGV[4] == 'fifo' then
  -- Oldest first: every other user's job with a smaller sequence number goes first.
  local seq = tonumber(info[6] or '0')
  for i = 1, #users, 2 do
    if users[i] ~= user and tonumber(users[i + 1]) < seq then
      local other = ARGV[2] .. pool .. ':' .. users[i]
      for _, other_id in ipairs(redis.call('LRANGE', other, 0, -1)) do
        if tonumber(redis.call('HGET', ARGV[3] .. other_id, 'seq') or '0') < seq then
          ahead = ahead + 1
        end
      end
    end
  end
  return {ahead}
end
-- Fair: this job starts at about own start tag + own jobs ahead x cost / weight; each other user's jobs
-- whose start tags come earlier go first.
local own_tag = tonumber(redis.call('ZSCORE', KEYS[2], user) or '0')
local cost = tonumber(info[5] or '1') or 1
local weight = tonumber(info[4] or '1') or 1
if cost <= 0 then cost = 1 end
if weight <= 0 then weight = 1 end
local tag = own_tag + own_ahead * cost / weight
for i = 1, #users, 2 do
  if users[i] ~= user then
    local start = tonumber(users[i + 1])
    if start <= tag then
      local other = ARGV[2] .. pool .. ':' .. users[i]
      local head = redis.call('LINDEX', other, -1)
      local other_weight = 1
      if head then
        other_weight = tonumber(redis.call('HGET', ARGV[3] .. head, 'weight') or '1') or 1
      end
      local count = math.floor((tag - start) * other_weight / cost) + 1
      ahead = ahead + math.min(count, redis.call('LLEN', other))
    end
  end
end
return {ahead}
