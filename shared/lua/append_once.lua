-- Appends a batch of token text to a job's stream unless an earlier try of the same append got there.
-- A worker calls this only after an append whose outcome it does not know (the reply was lost): the
-- batch carries a mark unique to it, and a stream entry with that mark means Redis took it the first time.
-- KEYS: events
-- ARGV: mark, event (JSON), lookback (how many of the latest entries to search)
-- Returns the id of the entry holding the batch.
local recent = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', tonumber(ARGV[3]))
for _, entry in ipairs(recent) do
  local fields = entry[2]
  for i = 1, #fields - 1, 2 do
    if fields[i] == 'm' and fields[i + 1] == ARGV[1] then
      return entry[1]
    end
  end
end
return redis.call('XADD', KEYS[1], '*', 'e', ARGV[2], 'm', ARGV[1])
