#!/bin/bash
# Crash window after_handle: jetway is killed (SIGKILL) at the fail point
# after_handle after 300 hits, mid-run, and restarted without it; see
# fault_failpoint in tests/lib/fault.sh for what is checked.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/fault.sh"

fault_failpoint after_handle 300
