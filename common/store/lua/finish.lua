-- finish.lua: one atomic state change of a submission (common/store/submissions.py).
-- KEYS: record, result, counts, stats, scores, gradebook, latency, pending
-- ARGV: status, result JSON ('' for none), fields (JSON), checks (JSON name -> passed),
--       score bucket (-1 for none), gradebook field, score, latency bounds (JSON),
--       events channel
-- The server's clock, shared by the web and the workers.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status == 'graded' or status == 'failed' then return 0 end
redis.call('ZREM', KEYS[8], KEYS[1]:match('([^:]+)$'))
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished_at', string.format('%.6f', now))
for k, v in pairs(cjson.decode(ARGV[3])) do redis.call('HSET', KEYS[1], k, v) end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
redis.call('HINCRBY', KEYS[3], status, -1)
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
if ARGV[1] == 'graded' then
  redis.call('HINCRBY', KEYS[4], 'graded', 1)
  for name, passed in pairs(cjson.decode(ARGV[4])) do
    redis.call('HINCRBY', KEYS[4], 'check:' .. name .. ':total', 1)
    if passed then redis.call('HINCRBY', KEYS[4], 'check:' .. name .. ':passed', 1) end
  end
  redis.call('HINCRBY', KEYS[5], ARGV[5], 1)
  local best = redis.call('HGET', KEYS[6], ARGV[6])
  if (not best) or tonumber(ARGV[7]) > tonumber(best) then
    redis.call('HSET', KEYS[6], ARGV[6], ARGV[7])
  end
end
local created = tonumber(redis.call('HGET', KEYS[1], 'created_at') or now)
local latency = math.max(now - created, 0)
local bucket = '+Inf'
for _, bound in ipairs(cjson.decode(ARGV[8])) do
  if latency <= bound then bucket = tostring(bound) break end
end
redis.call('HINCRBY', KEYS[7], bucket, 1)
redis.call('HINCRBY', KEYS[7], 'count', 1)
redis.call('HINCRBYFLOAT', KEYS[7], 'sum', latency)
-- Wakes the web's long polls (grader/waiting.py), which would otherwise poll the record.
redis.call('PUBLISH', ARGV[9], KEYS[1]:match('([^:]+)$') .. ' ' .. ARGV[1])
return 1
