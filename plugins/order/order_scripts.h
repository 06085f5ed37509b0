/*
 * order_scripts.h -- the Redis Lua scripts of the order plugin, shared with
 * the script test tool (tests/tools/orders_scripts.c) so the tool runs the
 * exact text the plugin runs. Macros, not variables: a translation unit
 * that uses only some of them gets no unused-variable warnings.
 *
 * State of one order: hash ord:<order_id> with
 *   payment   = completed | failed        (first value wins)
 *   inventory = reserved | rejected       (first value wins)
 *   decided   = confirmed | cancelled     (set exactly once)
 *   reason    = payment_declined | out_of_stock | ""  (with decided)
 *   published = 1 once the decision event has a PubAck, or (mark mode,
 *               below) once its publish is issued by a handler whose ACK
 *               waits for that PubAck
 */
#ifndef ORDER_SCRIPTS_H
#define ORDER_SCRIPTS_H

/*
 * Record one outcome and decide.
 * KEYS[1] = ord:<order_id>
 * ARGV[1] = field (payment | inventory), ARGV[2] = value, ARGV[3] = ttl ms (0 = keep)
 * ARGV[4] = "1": mark mode, for a plugin whose host settles the message only
 *           once the decision's publish has its PubAck (ABI 1.1
 *           publish_async): the decision is marked published as it is made,
 *           saving the ORDER_SCRIPT_PUBLISHED round trip. If that publish
 *           fails, the message is redelivered, and then:
 * ARGV[5] = "1": a redelivery (mark mode): an order decided before is
 *           UNPUBLISHED even when marked, so the retry publishes it again
 *           (same message id: the stream drops a copy it holds).
 * Without ARGV[4] and ARGV[5] (a 1.0 host): published only by ORDER_SCRIPT_PUBLISHED.
 * Returns {status, decision, reason}:
 *   WAITING      -- not decidable yet (decision and reason empty)
 *   DECIDED      -- this call made the decision: publish it
 *   UNPUBLISHED  -- decided before, but no PubAck recorded (a crash between
 *                   the two): publish it again under the same message id
 *   DONE         -- decided and published: nothing to do
 * The decision is made once; a repeated or late event never changes it.
 */
#define ORDER_SCRIPT_RECORD                                                         \
    "local k = KEYS[1]\n"                                                           \
    "redis.call('HSETNX', k, ARGV[1], ARGV[2])\n"                                   \
    "if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', k, ARGV[3]) end\n"         \
    "local d = redis.call('HGET', k, 'decided')\n"                                  \
    "if d then\n"                                                                   \
    "  local r = redis.call('HGET', k, 'reason') or ''\n"                           \
    "  if redis.call('HGET', k, 'published') and ARGV[5] ~= '1' then\n"             \
    "    return {'DONE', d, r}\n"                                                   \
    "  end\n"                                                                       \
    "  return {'UNPUBLISHED', d, r}\n"                                              \
    "end\n"                                                                         \
    "local p = redis.call('HGET', k, 'payment')\n"                                  \
    "local i = redis.call('HGET', k, 'inventory')\n"                                \
    "local dec, why\n"                                                              \
    "if p == 'failed' then dec, why = 'cancelled', 'payment_declined'\n"            \
    "elseif i == 'rejected' then dec, why = 'cancelled', 'out_of_stock'\n"          \
    "elseif p == 'completed' and i == 'reserved' then dec, why = 'confirmed', ''\n" \
    "else return {'WAITING', '', ''} end\n"                                         \
    "redis.call('HSET', k, 'decided', dec, 'reason', why)\n"                        \
    "if ARGV[4] == '1' then redis.call('HSET', k, 'published', '1') end\n"          \
    "return {'DECIDED', dec, why}\n"

/*
 * Remember that the decision was published (after its PubAck).
 * KEYS[1] = ord:<order_id>. Returns 1, or 0 if nothing was decided.
 */
#define ORDER_SCRIPT_PUBLISHED                                          \
    "if not redis.call('HGET', KEYS[1], 'decided') then return 0 end\n" \
    "redis.call('HSET', KEYS[1], 'published', '1')\n"                   \
    "return 1\n"

/*
 * The idempotency record of an orders.create key: hash ord:idem:<sha256 of
 * the key> with
 *   oid = the order id (derived from the key)
 *   fp  = the fingerprint of the request it was first used with
 *   st  = P (recorded; orders.created.v1 not known to be published) or
 *         A (orders.created.v1 has its PubAck: the order was accepted)
 *
 * Begin a keyed orders.create.
 * KEYS[1] = ord:idem:<sha256 hex of the key>, KEYS[2] = ord:<order_id>
 * ARGV[1] = order id, ARGV[2] = fingerprint, ARGV[3] = ttl ms (0 = keep)
 * Returns {status, order_id}:
 *   NEW       -- first use of the key: publish orders.created.v1, then
 *                ORDER_SCRIPT_IDEM_ACCEPTED, then answer
 *   PENDING   -- used before, but no PubAck recorded (a crash between the
 *                record and the publish, a publish that failed, or the
 *                first request still in flight): publish again under the
 *                same message id (the stream drops a real duplicate), then
 *                as NEW
 *   DONE      -- the order was accepted: answer it, publish nothing
 *   MISMATCH  -- the key was first used with another request: refuse
 * An order whose state (KEYS[2]) exists had its orders.created.v1 consumed,
 * so it was published even if the PubAck was never recorded: DONE, which
 * also covers a retry after the record expired (state_ttl outlives it).
 */
#define ORDER_SCRIPT_IDEM_BEGIN                                                     \
    "local v = redis.call('HMGET', KEYS[1], 'oid', 'fp', 'st')\n"                   \
    "local known = redis.call('EXISTS', KEYS[2]) == 1\n"                            \
    "if not v[1] then\n"                                                            \
    "  redis.call('HSET', KEYS[1], 'oid', ARGV[1], 'fp', ARGV[2],\n"                \
    "             'st', known and 'A' or 'P')\n"                                    \
    "  if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end\n" \
    "  return {known and 'DONE' or 'NEW', ARGV[1]}\n"                               \
    "end\n"                                                                         \
    "if v[2] ~= ARGV[2] then return {'MISMATCH', v[1]} end\n"                       \
    "if v[3] == 'A' then return {'DONE', v[1]} end\n"                               \
    "if known then\n"                                                               \
    "  redis.call('HSET', KEYS[1], 'st', 'A')\n"                                    \
    "  return {'DONE', v[1]}\n"                                                     \
    "end\n"                                                                         \
    "return {'PENDING', v[1]}\n"

/*
 * Record that orders.created.v1 of a keyed request has its PubAck.
 * KEYS[1] = ord:idem:<sha256 hex of the key>. Returns 1, or 0 when the
 * record is gone (expired: nothing to mark, and no record without a TTL
 * is made).
 */
#define ORDER_SCRIPT_IDEM_ACCEPTED                              \
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n" \
    "redis.call('HSET', KEYS[1], 'st', 'A')\n"                  \
    "return 1\n"

#endif /* ORDER_SCRIPTS_H */
