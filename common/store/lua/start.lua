-- start.lua: one atomic state change of a submission (common/store/submissions.py).
-- KEYS: record, counts.  ARGV: max attempts, worker name, events channel
-- The server's clock, shared by the web and the workers.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'graded' or status == 'failed' then return 'done' end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts > tonumber(ARGV[1]) then return 'exhausted' end
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'running')
  redis.call('HINCRBY', KEYS[2], 'queued', -1)
  redis.call('HINCRBY', KEYS[2], 'running', 1)
  -- Wakes the web's waiters (grader/waiting.py): the pages show "running".
  redis.call('PUBLISH', ARGV[3], KEYS[1]:match('([^:]+)$') .. ' running')
end
redis.call('HSET', KEYS[1], 'started_at', string.format('%.6f', now), 'worker', ARGV[2])
return 'run'
