#!/bin/bash
# t_deploy_install.sh -- `make install DESTDIR=...` puts exactly the
# expected files there (binary, header, pkg-config file, plugins, the man
# page generated from --help, config/*.yaml as examples, the systemd unit
# jetway@.service with the PREFIX's paths), and `make uninstall` takes all
# of them away again and nothing else (a foreign file in the same tree
# stays).
#   - the man page renders (man -l, and groff -ww without a warning), has
#     NAME/SYNOPSIS-style sections, every command of `jetway --help` with its
#     own options (e.g. run's --pid-file), SIGNALS and FILES;
#   - the installed binary checks every installed example config against
#     the installed plugins;
#   - the unit has the directives operators rely on, and `systemd-analyze
#     verify` (no running systemd needed) passes on an instance of it, with
#     ExecStart pointed at the DESTDIR binary and MANPATH at the DESTDIR man
#     page, without a single warning; verify does catch a misspelt
#     directive and a missing binary, so its silence means something.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/harness.sh

for c in help2man man groff systemd-analyze; do
    command -v $c >/dev/null || fail "$c missing (scripts/deps installs help2man, man-db, groff-base, systemd)"
done
[ -x "$JW" ] || fail "no $JW (build first)"
D="$T/dest"
P=/usr/local
mkdir -p "$D$P/bin" && echo keep >"$D$P/bin/other-tool"
make -s install BUILD="$JW_BUILD" DESTDIR="$D" PREFIX="$P" >"$T/install.log" 2>&1 ||
    fail "make install: $(tail -n 5 "$T/install.log")"

# Exactly these files.
{
    echo "$P/bin/other-tool"
    echo "$P/bin/jetway"
    echo "$P/include/jetway/plugin.h"
    echo "$P/include/jetway/plugin_util.h"
    for f in shipping.c Makefile shipping.yaml shipping.scheduled.v1.json; do
        echo "$P/share/jetway/examples/shipping/$f"
    done
    for f in plugins/*/schemas/*.json; do echo "$P/share/jetway/schemas/$(basename "$f")"; done
    echo "$P/lib/pkgconfig/jetway-plugin.pc"
    for so in "$JW_BUILD"/plugins/*.so; do echo "$P/lib/jetway/plugins/$(basename "$so")"; done
    echo "$P/share/man/man1/jetway.1"
    for c in config/*.yaml; do echo "$P/share/jetway/config/$(basename "$c")"; done
    echo "$P/lib/systemd/system/jetway@.service"
} | sort >"$T/want"
(cd "$D" && find . ! -type d | sed 's|^\.||' | sort) >"$T/got"
diff "$T/want" "$T/got" >"$T/diff" || fail "installed files differ (< wanted, > found): $(cat "$T/diff")"
nfiles=$(($(wc -l <"$T/got") - 1))
for c in config/*.yaml; do
    cmp -s "$c" "$D$P/share/jetway/config/$(basename "$c")" || fail "$c installed altered"
done
[ "$(stat -c %a "$D$P/share/man/man1/jetway.1")" = 644 ] || fail "man page mode"
[ "$(stat -c %a "$D$P/lib/systemd/system/jetway@.service")" = 644 ] || fail "unit mode"
[ "$(stat -c %a "$D$P/bin/jetway")" = 755 ] || fail "binary mode"

# The installed binary checks the installed examples with the installed plugins.
for c in "$D$P"/share/jetway/config/*.yaml; do
    JETWAY_PLUGIN_DIR="$D$P/lib/jetway/plugins" "$D$P/bin/jetway" check -q -c "$c" >"$T/check.out" 2>&1 ||
        fail "installed jetway check $(basename "$c"): $(cat "$T/check.out")"
done

# The man page renders, without groff warnings, and documents every command.
MAN="$D$P/share/man/man1/jetway.1"
groff -man -Tutf8 -ww -z "$MAN" 2>"$T/groff.err" || fail "groff failed: $(cat "$T/groff.err")"
[ -s "$T/groff.err" ] && fail "groff warnings: $(cat "$T/groff.err")"
MANWIDTH=200 man -l "$MAN" 2>"$T/man.err" | col -bx >"$T/man.txt" || fail "man -l failed: $(cat "$T/man.err")"
MANWIDTH=200 MANPATH="$D$P/share/man" man jetway 2>/dev/null | col -bx | cmp -s - "$T/man.txt" ||
    fail "man does not find the page under MANPATH=$D$P/share/man"
for s in NAME DESCRIPTION COMMANDS SIGNALS FILES "SEE ALSO"; do
    grep -qx "$s" "$T/man.txt" || fail "man page has no $s section"
done
grep -q "jetway - event handler host for NATS JetStream" "$T/man.txt" || fail "man page NAME line"
grep -q "$("$JW" version | head -n 1)" "$T/man.txt" || fail "man page does not carry the version"
cmds=$("$JW" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
ncmds=$(echo $cmds | wc -w)
# The generic host's commands (the order example's tools are not among them).
for c in run check provision reload dlq pub version; do
    grep -qx "$c" <<<"$cmds" || fail "jetway --help lists no '$c' (parsed: $cmds)"
done
for c in $cmds; do
    grep -qE "^ +jetway $c\$" "$T/man.txt" || fail "man page: no subsection for jetway $c"
    first=$("$JW" "$c" --help 2>&1 | head -n 1 | sed 's/  */ /g; s/^ //')
    tr -s ' ' <"$T/man.txt" | grep -qF -- "$first" || fail "man page: jetway $c --help missing ('$first')"
done
grep -q -- "--pid-file PATH" "$T/man.txt" || fail "man page lacks run's options"

# The unit.
U="$D$P/lib/systemd/system/jetway@.service"
for want in "ExecStart=$P/bin/jetway run -c /etc/jetway/%i.yaml" 'ExecReload=/bin/kill -HUP $MAINPID' \
    KillSignal=SIGTERM TimeoutStopSec= ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes \
    ProtectHome=yes DynamicUser=yes StateDirectory=jetway/%i "Environment=JETWAY_PLUGIN_DIR=$P/lib/jetway/plugins" \
    "Documentation=man:jetway(1)" WantedBy=multi-user.target; do
    grep -qF -- "$want" "$U" || fail "unit lacks $want"
done
grep -q '@[A-Z]*@' "$U" && fail "unit has unsubstituted @VARS@: $(grep '@[A-Z]*@' "$U")"
# The drain must fit: TimeoutStopSec above the default shutdown_grace (30s).
tss=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$U")
[ "${tss:-0}" -gt 30 ] || fail "TimeoutStopSec=${tss:-?} does not cover the 30 s default shutdown_grace"
mkdir -p "$T/unit" "$T/bad1" "$T/bad2"
sed "s|$P/bin/jetway|$D$P/bin/jetway|g" "$U" >"$T/unit/jetway@order.service"
verify()
{
    MANPATH="$D$P/share/man" systemd-analyze verify "$1" >"$T/verify.out" 2>&1 && [ ! -s "$T/verify.out" ]
}
verify "$T/unit/jetway@order.service" || fail "systemd-analyze verify: $(cat "$T/verify.out")"
# It could have failed: a misspelt directive, a missing binary.
sed 's/^ProtectSystem=strict/ProtectSystm=strict/' "$T/unit/jetway@order.service" >"$T/bad1/jetway@order.service"
verify "$T/bad1/jetway@order.service" && fail "verify accepted a misspelt directive"
grep -q "Unknown key 'ProtectSystm'" "$T/verify.out" || fail "verify: $(cat "$T/verify.out")"
sed "s|$D$P/bin/jetway|$T/nonexistent/jetway|" "$T/unit/jetway@order.service" >"$T/bad2/jetway@order.service"
verify "$T/bad2/jetway@order.service" && fail "verify accepted a missing ExecStart binary"
grep -q "is not executable" "$T/verify.out" || fail "verify: $(cat "$T/verify.out")"

# Uninstall: every installed file gone, jetway's own directories too; the
# foreign file stays.
make -s uninstall BUILD="$JW_BUILD" DESTDIR="$D" PREFIX="$P" >"$T/uninstall.log" 2>&1 ||
    fail "make uninstall: $(tail -n 5 "$T/uninstall.log")"
left=$(cd "$D" && find . ! -type d | sed 's|^\.||')
[ "$left" = "$P/bin/other-tool" ] || fail "after uninstall: $left"
for d in include/jetway lib/jetway share/jetway; do
    [ -e "$D$P/$d" ] && fail "$P/$d left behind"
done
[ -d "$D$P/bin" ] || fail "uninstall removed $P/bin"
echo "RESULT deploy_install files=$nfiles removed=$nfiles man_commands=$ncmds verify=clean verify_mutants=2"
