#!/bin/bash
# Crash window after_dead_letter: jetway is killed (SIGKILL) at the fail point
# after_dead_letter after 5 hits, mid-run, and restarted without it; see
# fault_failpoint in tests/lib/fault.sh for what is checked.
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/jetway.sh"
. "$(dirname "$0")/../lib/fault.sh"

fault_failpoint after_dead_letter 5
