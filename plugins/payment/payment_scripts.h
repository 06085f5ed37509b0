/*
 * payment_scripts.h -- the Redis Lua scripts of the payment plugin, shared
 * with tests/tools/orders_scripts.c (which runs the exact same text).
 *
 * Record of one order's payment: hash pay:charge:<order_id> with
 *   status   = charged | declined | cancelled (cancelled before any charge)
 *   amount, currency
 * Refund record: hash pay:refund:<order_id> {amount, currency, reason}.
 * Counters for the demo's checks: pay:charges_total, pay:refunds_total and
 * pay:charge_count:<order_id> (must never exceed 1).
 *
 * Fence: KEYS[1] is the host's dedup key of the message being handled and
 * ARGV[1] its claim token. The host writes "P|<token>" when it claims and
 * "D|..." when it commits after our ACK; the scripts only read it: a "D|"
 * means another delivery already finished (DUP), anything but our "P|" means
 * the lease passed to someone else (LEASE_LOST). ARGV[1] == "" (dedup off)
 * skips the fence and KEYS[1] is not read.
 */
#ifndef PAYMENT_SCRIPTS_H
#define PAYMENT_SCRIPTS_H

#define PAYMENT_LUA_FENCE                                                          \
    "if ARGV[1] ~= '' then\n"                                                      \
    "  local v = redis.call('GET', KEYS[1])\n"                                     \
    "  if v and string.sub(v, 1, 2) == 'D|' then return {'DUP', '', '', ''} end\n" \
    "  if v ~= 'P|' .. ARGV[1] then return {'LEASE_LOST', '', '', ''} end\n"       \
    "end\n"

/*
 * Record a charge or a decline of one order, once.
 * KEYS = {dedup key, pay:charge:<id>, pay:charges_total, pay:charge_count:<id>}
 * ARGV = {claim token or "", outcome (charged | declined), amount, currency}
 * Returns {status, outcome, amount, currency}:
 *   OK          -- recorded now (charged: both counters incremented)
 *   ALREADY     -- recorded before: outcome/amount/currency of that record
 *   CANCELLED   -- the order was cancelled before it was charged: no charge
 *   DUP, LEASE_LOST -- the fence refused; nothing written
 */
#define PAYMENT_SCRIPT_CHARGE                                                                  \
    PAYMENT_LUA_FENCE                                                                          \
    "local st = redis.call('HGET', KEYS[2], 'status')\n"                                       \
    "if st == 'cancelled' then return {'CANCELLED', st, '', ''} end\n"                         \
    "if st then\n"                                                                             \
    "  return {'ALREADY', st, redis.call('HGET', KEYS[2], 'amount') or '',\n"                  \
    "          redis.call('HGET', KEYS[2], 'currency') or ''}\n"                               \
    "end\n"                                                                                    \
    "redis.call('HSET', KEYS[2], 'status', ARGV[2], 'amount', ARGV[3], 'currency', ARGV[4])\n" \
    "if ARGV[2] == 'charged' then\n"                                                           \
    "  redis.call('INCR', KEYS[3])\n"                                                          \
    "  redis.call('INCR', KEYS[4])\n"                                                          \
    "end\n"                                                                                    \
    "return {'OK', ARGV[2], ARGV[3], ARGV[4]}\n"

/*
 * Refund a cancelled order's charge, once.
 * KEYS = {dedup key, pay:charge:<id>, pay:refund:<id>, pay:refunds_total}
 * ARGV = {claim token or "", cancel reason}
 * Returns {status, amount, currency, ""}:
 *   REFUNDED    -- refund recorded now
 *   ALREADY     -- refunded before (publish the event again, same id)
 *   NO_CHARGE   -- declined (or already voided): nothing to refund
 *   VOIDED      -- no payment yet: marked cancelled so a late charge is refused
 *   DUP, LEASE_LOST -- the fence refused; nothing written
 */
#define PAYMENT_SCRIPT_REFUND                                                           \
    PAYMENT_LUA_FENCE                                                                   \
    "local st = redis.call('HGET', KEYS[2], 'status')\n"                                \
    "if not st then\n"                                                                  \
    "  redis.call('HSET', KEYS[2], 'status', 'cancelled')\n"                            \
    "  return {'VOIDED', '', '', ''}\n"                                                 \
    "end\n"                                                                             \
    "if st ~= 'charged' then return {'NO_CHARGE', '', '', ''} end\n"                    \
    "local amt = redis.call('HGET', KEYS[2], 'amount') or ''\n"                         \
    "local cur = redis.call('HGET', KEYS[2], 'currency') or ''\n"                       \
    "if redis.call('EXISTS', KEYS[3]) == 1 then return {'ALREADY', amt, cur, ''} end\n" \
    "redis.call('HSET', KEYS[3], 'amount', amt, 'currency', cur, 'reason', ARGV[2])\n"  \
    "redis.call('INCR', KEYS[4])\n"                                                     \
    "return {'REFUNDED', amt, cur, ''}\n"

#endif /* PAYMENT_SCRIPTS_H */
