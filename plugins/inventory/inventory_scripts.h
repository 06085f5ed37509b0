/*
 * inventory_scripts.h -- the Redis Lua scripts of the inventory plugin,
 * shared with tests/tools/orders_scripts.c (which runs the exact same text).
 *
 * Per SKU: inv:stock:<sku> (available), inv:reserved:<sku>, inv:sold:<sku>
 * and inv:initial:<sku>. Every script keeps, for every SKU,
 *   stock + reserved + sold == initial   and   stock >= 0.
 * Per order: hash inv:res:<order_id> with status = reserved | rejected |
 * released | sold | void, q:<sku> = quantity for each reserved line, and
 * sku = the missing SKU when rejected.
 *
 * release and commit find the SKU keys from the reservation record (their
 * names are built in the script from ARGV[1], the key prefix "inv:"), so
 * they are not declared in KEYS: fine on one Redis, not on Redis Cluster.
 */
#ifndef INVENTORY_SCRIPTS_H
#define INVENTORY_SCRIPTS_H

/*
 * Load one SKU's initial stock unless it exists (or reset is asked).
 * KEYS = {inv:stock:<sku>, inv:reserved:<sku>, inv:sold:<sku>, inv:initial:<sku>}
 * ARGV = {qty, reset ("1" or "0")}. Returns 1 if set, 0 if kept.
 */
#define INVENTORY_SCRIPT_INIT                                                      \
    "if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n" \
    "redis.call('SET', KEYS[1], ARGV[1])\n"                                        \
    "redis.call('SET', KEYS[2], '0')\n"                                            \
    "redis.call('SET', KEYS[3], '0')\n"                                            \
    "redis.call('SET', KEYS[4], ARGV[1])\n"                                        \
    "return 1\n"

/*
 * Reserve every line of an order, or none (all-or-nothing), once.
 * KEYS = {inv:res:<id>, inv:stock:<sku1>, inv:reserved:<sku1>, inv:stock:<sku2>, ...}
 * ARGV = {ttl ms of the record (0 = keep), sku1, qty1, sku2, qty2, ...}
 * (SKUs unique: the plugin merges repeated lines.)
 * Returns {outcome, sku, fresh}: outcome RESERVED | REJECTED (sku = the
 * first short SKU) | VOID (the order was released before it was reserved:
 * reserve nothing); fresh "1" when decided by this call, "0" on a repeat.
 */
#define INVENTORY_SCRIPT_RESERVE                                                      \
    "local st = redis.call('HGET', KEYS[1], 'status')\n"                              \
    "if st == 'rejected' then\n"                                                      \
    "  return {'REJECTED', redis.call('HGET', KEYS[1], 'sku') or '', '0'}\n"          \
    "end\n"                                                                           \
    "if st == 'void' then return {'VOID', '', '0'} end\n"                             \
    "if st then return {'RESERVED', '', '0'} end\n"                                   \
    "local n = (#KEYS - 1) / 2\n"                                                     \
    "for i = 1, n do\n"                                                               \
    "  local avail = tonumber(redis.call('GET', KEYS[2 * i]) or '0')\n"               \
    "  if avail < tonumber(ARGV[2 * i + 1]) then\n"                                   \
    "    redis.call('HSET', KEYS[1], 'status', 'rejected', 'sku', ARGV[2 * i])\n"     \
    "    if tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n" \
    "    return {'REJECTED', ARGV[2 * i], '1'}\n"                                     \
    "  end\n"                                                                         \
    "end\n"                                                                           \
    "for i = 1, n do\n"                                                               \
    "  local q = tonumber(ARGV[2 * i + 1])\n"                                         \
    "  redis.call('DECRBY', KEYS[2 * i], q)\n"                                        \
    "  redis.call('INCRBY', KEYS[2 * i + 1], q)\n"                                    \
    "  redis.call('HSET', KEYS[1], 'q:' .. ARGV[2 * i], q)\n"                         \
    "end\n"                                                                           \
    "redis.call('HSET', KEYS[1], 'status', 'reserved')\n"                             \
    "if tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"     \
    "return {'RESERVED', '', '1'}\n"

/* move(from, to): shift every q:<sku> quantity of the record between two counters. */
#define INVENTORY_LUA_MOVE                                           \
    "local function move(from, to)\n"                                \
    "  local h = redis.call('HGETALL', KEYS[1])\n"                   \
    "  for j = 1, #h, 2 do\n"                                        \
    "    if string.sub(h[j], 1, 2) == 'q:' then\n"                   \
    "      local sku, q = string.sub(h[j], 3), tonumber(h[j + 1])\n" \
    "      redis.call('DECRBY', ARGV[1] .. from .. ':' .. sku, q)\n" \
    "      redis.call('INCRBY', ARGV[1] .. to .. ':' .. sku, q)\n"   \
    "    end\n"                                                      \
    "  end\n"                                                        \
    "end\n"

/*
 * Give a failed order's reservation back to stock, once.
 * KEYS = {inv:res:<id>}, ARGV = {key prefix "inv:", ttl ms (0 = keep)}
 * Returns {outcome, previous status}: RELEASED | NOTHING (rejected, already
 * released, sold) | VOIDED (nothing reserved yet: the record is marked void
 * so a late reservation reserves nothing).
 */
#define INVENTORY_SCRIPT_RELEASE                                                    \
    INVENTORY_LUA_MOVE                                                              \
    "local st = redis.call('HGET', KEYS[1], 'status')\n"                            \
    "if not st then\n"                                                              \
    "  redis.call('HSET', KEYS[1], 'status', 'void')\n"                             \
    "  if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n" \
    "  return {'VOIDED', ''}\n"                                                     \
    "end\n"                                                                         \
    "if st ~= 'reserved' then return {'NOTHING', st} end\n"                         \
    "move('reserved', 'stock')\n"                                                   \
    "redis.call('HSET', KEYS[1], 'status', 'released')\n"                           \
    "return {'RELEASED', st}\n"

/*
 * A confirmed order's reservation becomes sold, once.
 * KEYS = {inv:res:<id>}, ARGV = {key prefix "inv:"}
 * Returns {outcome, previous status}: SOLD | ALREADY (sold before) |
 * NOT_RESERVED (no reservation: an inconsistency, previous status given).
 */
#define INVENTORY_SCRIPT_COMMIT                                        \
    INVENTORY_LUA_MOVE                                                 \
    "local st = redis.call('HGET', KEYS[1], 'status')\n"               \
    "if st == 'sold' then return {'ALREADY', st} end\n"                \
    "if st ~= 'reserved' then return {'NOT_RESERVED', st or ''} end\n" \
    "move('reserved', 'sold')\n"                                       \
    "redis.call('HSET', KEYS[1], 'status', 'sold')\n"                  \
    "return {'SOLD', st}\n"

#endif /* INVENTORY_SCRIPTS_H */
