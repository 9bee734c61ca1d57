// The Lua scripts the Redis store runs (with EVAL, inside its MULTI/EXEC batches). Each one makes a
// decision Redis must take atomically: a check and a write with nothing in between, so a value
// another node wrote a moment ago is never removed by mistake.
//
// They read the fixed header of message values (redis-codec.ts): byte 1 (Lua is 1-based) is the
// tag, bytes 2-7 the expiry as a 48-bit big-endian number of epoch ms, 0 = never.

const EXPIRES_AT = `
local function expires_at(v)
  local a, b, c, d, e, f = string.byte(v, 2, 7)
  if not f then return 0 end
  return ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f
end`;

/**
 * Publishes one change notice: INCR the version counter and PUBLISH "{version}:{body}", so every
 * notice carries its place in Redis order and a listener can tell when it missed one.
 * KEYS[1] version; ARGV[1] channel, ARGV[2] body (redis-codec.ts encodeNoticeBody).
 */
export const NOTIFY = `
local v = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], string.format('%d:', v) .. ARGV[2])
return v`;

/**
 * Deletes a retained message if the one stored now has expired, and publishes a notice stating
 * the topic's value after the decision either way (deleted, or the message that is there), so the
 * node that asked always hears back. ARGV[4] is the notice body up to and including the topic
 * (origin, batch, count 1, kind, key); the script appends the value part: 0, or 1 + varint
 * length + value.
 * KEYS[1] retained hash, KEYS[2] version; ARGV[1] topic, ARGV[2] now (ms), ARGV[3] channel,
 * ARGV[4] notice head.
 */
export const EXPIRE_RETAINED = `${EXPIRES_AT}
local function varint(n)
  local s = ''
  while n >= 128 do
    s = s .. string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  return s .. string.char(n)
end
local v = redis.call('HGET', KEYS[1], ARGV[1])
local deleted = 0
if v then
  local e = expires_at(v)
  if e ~= 0 and e <= tonumber(ARGV[2]) then
    redis.call('HDEL', KEYS[1], ARGV[1])
    v = false
    deleted = 1
  end
end
local tail
if v then tail = string.char(1) .. varint(string.len(v)) .. v else tail = string.char(0) end
local n = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[3], string.format('%d:', n) .. ARGV[4] .. tail)
return deleted`;

/**
 * Removes a session and everything it owns if its expiry has passed: it is disconnected
 * (disconnectedAt set) and disconnectedAt + expirySeconds * 1000 < now. A connected session
 * (empty disconnectedAt) is kept whatever its interval.
 * KEYS[1..6] the session's keys (RedisKeys.sessionKeys, the row first), KEYS[7] the sessions set;
 * ARGV[1] client ID, ARGV[2] now (ms).
 */
export const PURGE_SESSION = `
local row = redis.call('GET', KEYS[1])
if not row then return 0 end
local _, e, d = string.match(row, '^(%d+)|(%d+)|(%d*)$')
if not e or d == '' then return 0 end
if tonumber(d) + tonumber(e) * 1000 >= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
redis.call('SREM', KEYS[7], ARGV[1])
return 1`;

/**
 * Deletes the named queued or in-flight messages whose Message Expiry Interval has passed
 * [MQTT-3.3.2-5], unless an in-flight entry is in PUBREL state (tag 4): that QoS 2 exchange must
 * complete whatever its message's expiry.
 * KEYS[1] the queue or in-flight hash, KEYS[2] (in-flight only) the order set;
 * ARGV[1] now (ms), ARGV[2..] fields.
 */
export const PURGE_MESSAGES = `${EXPIRES_AT}
local now = tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and string.byte(v, 1) ~= 4 then
    local e = expires_at(v)
    if e ~= 0 and e <= now then
      redis.call('HDEL', KEYS[1], ARGV[i])
      if KEYS[2] then redis.call('ZREM', KEYS[2], ARGV[i]) end
      n = n + 1
    end
  end
end
return n`;
