#!/bin/bash
# Crash window after_handle inside a batch: record_batch.so (handle_batch,
# kv_pipeline, publish_async) handles batches of up to 64; jetway is killed
# (SIGKILL) while applying the verdicts of a batch, after 300 messages, so
# part of a batch has its verdicts (dead letters published) and none of it
# is committed. The restart must leave every invariant of fault_failpoint
# true (nothing lost, nothing committed twice outside the crash window) and
# one event per message in OUT.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/fault.sh"

FAULT_PLUGIN=record_batch.so fault_failpoint after_handle 300
