"""The Lua scripts ``RedisRunStore`` runs where a decision and its writes must be one
atomic step: leases, and the claims of step attempts (the rule is
``attempts.decide``; ``InMemoryRunStore`` runs it in Python).

Every script touches only keys of one run (one hash slot), given as KEYS.
"""

from __future__ import annotations

#: Extend a lease held by ARGV[1] to ARGV[2] ms. KEYS: lease.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
#: Drop a lease held by ARGV[1]. KEYS: lease.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
#: The claim rule of ``attempts.decide``, atomically with recording the start (and, on a
#: take-over, ``attempts.lost_note`` of it, built here from the start event in its
#: ``compact`` form).
#: KEYS: steps, claims, beats, events, inputs.
#: ARGV: step, attempt, token, lost_after_s, take_over, start event, want inputs,
#: deaths field. A delivery that runs also gets the attempt's deaths record (``DIED``).
BEGIN = """
local function lost_note(start)
  local text = 'attempt ' .. ARGV[2] .. " of step '" .. ARGV[1] ..
    "' was lost with its worker; running it again on " .. string.match(ARGV[3], '^[^/]*')
  local note = string.gsub(start, '"kind":"[%u_]+"', '"kind":"ENGINE_EVENT"', 1)
  note = string.gsub(note, ',"worker":"[^"]*"', '', 1)
  local message = '{"message":' .. cjson.encode(text) .. ','
  note = string.gsub(note, '^{', function() return message end, 1)
  return note
end
local step, attempt, token = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local status = redis.call('HGET', KEYS[1], step)
if not status or status == 'pending' then return {'undispatched', ''} end
if status == 'success' or status == 'failure' or status == 'skipped'
    or status == 'abandoned' or status == 'canceled' then
  return {'settled', status}
end
local verdict, holder = 'go', ''
local held_now = redis.call('HMGET', KEYS[2], step, ARGV[8])
local claim, deaths = held_now[1], held_now[2]
if claim then
  local sep = string.find(claim, ':', 1, true)
  local held = tonumber(string.sub(claim, 1, sep - 1))
  holder = string.sub(claim, sep + 1)
  if held > attempt then return {'stale', holder} end
  if held == attempt and status == 'up_for_retry' then return {'settled', status} end
  if held == attempt and holder ~= token then
    local beat = tonumber(redis.call('HGET', KEYS[3], step) or '0')
    if holder ~= 'lost' and holder ~= ARGV[5] and beat > now - tonumber(ARGV[4]) then
      return {'busy', holder}
    end
    verdict = 'taken_over'
  end
end
redis.call('HSET', KEYS[2], step, attempt .. ':' .. token)
redis.call('HSET', KEYS[3], step, tostring(now))
redis.call('HSET', KEYS[1], step, 'running')
if verdict == 'taken_over' then redis.call('XADD', KEYS[4], '*', 'e', lost_note(ARGV[6])) end
redis.call('XADD', KEYS[4], '*', 'e', ARGV[6])
local inputs = false
if ARGV[7] == '1' then inputs = redis.call('HGET', KEYS[5], step) end
return {verdict, holder, inputs, deaths or ''}
"""
#: A process died running an attempt: count it in the attempt's deaths record (a record
#: of an earlier attempt starts over) and log the event; nothing once the step is final
#: or a later attempt holds the claim. Returns the deaths so far (0: not counted).
#: KEYS: steps, claims, events. ARGV: step, deaths field, attempt, how it ended, event.
DIED = """
local step, attempt = ARGV[1], tonumber(ARGV[3])
local status = redis.call('HGET', KEYS[1], step)
if status == 'success' or status == 'failure' or status == 'skipped'
    or status == 'abandoned' or status == 'canceled' then
  return 0
end
local held = tonumber(string.match(redis.call('HGET', KEYS[2], step) or '', '^(%d+):'))
if held and held > attempt then return 0 end
local deaths = 0
local record = redis.call('HGET', KEYS[2], ARGV[2])
if record then
  local held, count = string.match(record, '^(%d+):(%d+):')
  if tonumber(held) == attempt then deaths = tonumber(count) end
end
deaths = deaths + 1
redis.call('HSET', KEYS[2], ARGV[2], attempt .. ':' .. deaths .. ':' .. ARGV[4])
redis.call('XADD', KEYS[3], '*', 'e', ARGV[5])
return deaths
"""
#: A heartbeat, only while the claim is still ours; returns the step's status. After the
#: run's end (its claims expire) the beats expire with them.
#: KEYS: claims, beats, steps. ARGV: step, claim.
BEAT = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return false end
local t = redis.call('TIME')
redis.call('HSET', KEYS[2], ARGV[1], tostring(tonumber(t[1]) + tonumber(t[2]) / 1000000))
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return redis.call('HGET', KEYS[3], ARGV[1]) or ''
"""
#: An attempt's end, only while the claim is ours and the step is not final. Its last
#: heartbeat stays (a final step is not watched) until the run ends (``FINISH``).
#: KEYS: steps, claims, beats, events, output keys...
#: ARGV: step, claim, status, ttl ms, number of events, events..., output values...
COMMIT = """
local step, claim, status = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', KEYS[2], step) ~= claim then return 0 end
local current = redis.call('HGET', KEYS[1], step)
if current == status then return 1 end
if current == 'success' or current == 'failure' or current == 'skipped'
    or current == 'abandoned' or current == 'canceled' then
  return 0
end
redis.call('HSET', KEYS[1], step, status)
local n = tonumber(ARGV[5])
for i = 1, n do redis.call('XADD', KEYS[4], '*', 'e', ARGV[5 + i]) end
for i = 5, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1 + n + i], 'PX', ARGV[4])
end
return 1
"""
#: The coordinator takes an attempt from its worker, if the step's status is expected.
#: KEYS: steps, claims, beats, events. ARGV: step, lost claim, new status or "",
#: expected statuses (space-separated), events...
DECLARE_LOST = """
local step = ARGV[1]
local current = redis.call('HGET', KEYS[1], step) or ''
local expected = false
for want in string.gmatch(ARGV[4], '%S+') do
  if want == current then expected = true end
end
if not expected then return 0 end
redis.call('HSET', KEYS[2], step, ARGV[2])
redis.call('HDEL', KEYS[3], step)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], step, ARGV[3]) end
for i = 5, #ARGV do redis.call('XADD', KEYS[4], '*', 'e', ARGV[i]) end
return 1
"""
#: ``context.log`` lines of a running attempt, only while its claim holds (a step that was
#: canceled keeps its claim; one taken over does not). KEYS: claims, events.
#: ARGV: step, claim, events...
APPEND_LOGS = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
for i = 3, #ARGV do redis.call('XADD', KEYS[2], '*', 'e', ARGV[i]) end
return 1
"""
#: What an attempt printed, only while its claim holds; the hash lives the run's TTL from
#: this write (and from the run's end). KEYS: claims, captured.
#: ARGV: step, claim, field, CapturedOutput JSON, ttl ms.
SAVE_CAPTURED = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
"""
#: Redis's clock and the heartbeats of steps ARGV, read on the node that keeps them (a
#: cluster's nodes have clocks of their own). KEYS: beats.
BEATS = """
local beats = {}
for i = 1, #ARGV do beats[i] = redis.call('HGET', KEYS[1], ARGV[i]) or false end
return {redis.call('TIME'), beats}
"""
#: HSET of n (field, value) pairs of ARGV from ``first`` on, a few thousand values at a
#: time (``unpack`` takes no more).
_HSET_PAIRS = """
local function hset_pairs(key, first, n)
  local last = first + 2 * n - 1
  while first <= last do
    local upto = math.min(first + 1999, last)
    redis.call('HSET', key, unpack(ARGV, first, upto))
    first = upto + 1
  end
end
"""
#: A coordinator's progress on one run (``turns.ProgressWrite``): the record when it
#: changed, step statuses, input refs of dispatched steps, its events.
#: KEYS: run, steps, inputs, events.
#: ARGV: record or "", number of statuses, (step, status)..., number of inputs,
#: (step, inputs)..., events...
PROGRESS = (
    _HSET_PAIRS
    + """
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'record', ARGV[1]) end
local i = 2
local n = tonumber(ARGV[i])
hset_pairs(KEYS[2], i + 1, n)
i = i + 2 * n + 1
n = tonumber(ARGV[i])
hset_pairs(KEYS[3], i + 1, n)
for j = i + 2 * n + 1, #ARGV do redis.call('XADD', KEYS[4], '*', 'e', ARGV[j]) end
return 1
"""
)
#: A run's end (``turns.FinishWrite``): final record and summary, step statuses, final
#: events, the end signal; the steps' heartbeats go, every fixed key starts to expire.
#: Returns whether the run's log is archived already and its first ARGV[1] stream
#: entries, to archive.
#: KEYS: run, steps, events, ended, archive, beats, then every fixed key of the run.
#: ARGV: entries to return, ttl ms, record, summary or "", final status,
#: number of statuses, (step, status)..., events...
FINISH = (
    _HSET_PAIRS
    + """
redis.call('HSET', KEYS[1], 'record', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'summary', ARGV[4]) end
local n = tonumber(ARGV[6])
hset_pairs(KEYS[2], 7, n)
for j = 7 + 2 * n, #ARGV do redis.call('XADD', KEYS[3], '*', 'e', ARGV[j]) end
redis.call('XADD', KEYS[4], '*', 'status', ARGV[5])
redis.call('DEL', KEYS[6])
for j = 7, #KEYS do redis.call('PEXPIRE', KEYS[j], ARGV[2]) end
if redis.call('EXISTS', KEYS[5]) == 1 then return {1, {}} end
return {0, redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', ARGV[1])}
"""
)
