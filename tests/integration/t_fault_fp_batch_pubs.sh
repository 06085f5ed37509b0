#!/bin/bash
# kill -9 between the publishes and the commit of a batch: the fail point
# after_batch fires right after handle_batch returned, when its
# publish_async calls are out (some acknowledged, some not) and nothing of
# the batch is committed or ACKed. After the restart every message is
# handled again, its events are republished with the same Nats-Msg-Id and
# the stream keeps one of each; every invariant of fault_failpoint holds.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/fault.sh"

FAULT_PLUGIN=record_batch.so fault_failpoint after_batch 6
