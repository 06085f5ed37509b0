#!/bin/bash
# t_check_layers.sh -- scripts/check-layers passes on the tree and fails on
# each kind of violation injected into a copy of it: an include that points
# up a layer, one sideways, one into another folder's private header, one
# from plugins/, a plugin including core, and a file at the top of core/.
set -u
cd "$(dirname "$0")/../.." || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/jwlayers.XXXXXX")
trap 'rm -rf "$T"' EXIT

out=$(scripts/check-layers .) || fail "the tree itself violates the layer rule:
$out"

# inject FILE LINE EXPECTED-TEXT: a copy of core/ and plugins/ with LINE
# added to FILE must fail, naming FILE and EXPECTED-TEXT.
n=0
inject()
{
    local file=$1 line=$2 expect=$3
    rm -rf "$T/tree" && mkdir -p "$T/tree" && cp -r core plugins "$T/tree/"
    printf '%s\n' "$line" >>"$T/tree/$file"
    local rc=0
    out=$(scripts/check-layers "$T/tree" 2>&1) || rc=$?
    [ $rc = 1 ] || fail "check-layers exited $rc (want 1) with '$line' in $file: $out"
    grep -F "$file" <<<"$out" | grep -qF "$expect" ||
        fail "check-layers did not name $file with '$expect' for '$line': $out"
    n=$((n + 1))
}
inject core/base/log.c '#include "runtime/runtime.h"' "points up"
inject core/config/config.c '#include "plugin/plugin.h"' "points up"
inject core/obs/http.c '#include "dlq/dlq.h"' "points sideways"
inject core/runtime/settle.c '#include "redis/rds_int.h"' "private header"
inject core/cmd/cmd_run.c '#include "runtime/rt_int.h"' "private header"
inject core/runtime/gen.c '#include "../../plugins/audit/audit_format.h"' "reaches out"
inject core/nats/provision.c '#include "plugins/audit/audit_format.h"' "reaches out"
inject plugins/order/order.c '#include "base/base.h"' "plugins see only the ABI"
inject core/include/jetway/plugin.h '#include "base/base.h"' "ABI header"
rm -rf "$T/tree" && mkdir -p "$T/tree" && cp -r core plugins "$T/tree/" && touch "$T/tree/core/stray.c"
scripts/check-layers "$T/tree" >"$T/out" 2>&1 && fail "a file at the top of core/ passed"
grep -q "core/stray.c" "$T/out" || fail "stray file not named: $(cat "$T/out")"
echo "RESULT check_layers clean=1 injected_caught=$((n + 1))"
