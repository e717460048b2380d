-- Count one use of a scoped token and read its user, in one round trip.
-- KEYS: uses, user
-- ARGV: allowed_uses, ttl_ms
-- Returns {use number or -1 when the allowance is spent, user hash as a flat list}.
local used = redis.call('INCR', KEYS[1])
if used == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
if used > tonumber(ARGV[1]) then
  used = -1
end
return {used, redis.call('HGETALL', KEYS[2])}
