-- create.lua: one atomic state change of a submission (common/store/submissions.py).
-- KEYS: record, source, history, counts, idempotency ('' for none), pending
-- ARGV: id, idempotency value, idempotency ttl, source, fields (JSON)
-- The server's clock, shared by the web and the workers.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if KEYS[5] ~= '' then
  local existing = redis.call('GET', KEYS[5])
  if existing then return existing end
  redis.call('SET', KEYS[5], ARGV[2], 'EX', tonumber(ARGV[3]))
end
local fields = cjson.decode(ARGV[5])
for k, v in pairs(fields) do redis.call('HSET', KEYS[1], k, v) end
redis.call('HSET', KEYS[1], 'created_at', string.format('%.6f', now))
redis.call('SET', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('ZADD', KEYS[6], now, ARGV[1])
redis.call('HINCRBY', KEYS[4], 'queued', 1)
return ''
