/*
 * record_batch.so -- record.so (see record.c) with ABI 1.1's handle_batch:
 * the per-message steps of handle() for each message of the batch, then
 * the commits of the whole batch in one kv_pipeline round trip. Logs
 * "batch <n> <unix_ms>" before each batch's attempts.
 */
#define RECORD_PLUGIN_NAME "record_batch"
#define RECORD_BATCH       1
#include "record.c"
