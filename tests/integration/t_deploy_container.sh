#!/bin/bash
# t_deploy_container.sh -- the Containerfile, checked without a container
# engine: two stages on Debian bookworm; every apt package it names exists
# (apt-cache, this host is Debian 12 too); the build stage installs the -dev
# packages of scripts/deps; every shared library the built jetway and its
# plugins load (ldd, plus libcurl.so.4 that jetway dlopen()s, mapped to
# packages with dpkg -S) comes with a runtime
# package or its dependencies or the base image (Priority: required); and
# the runtime stage's user, entrypoint, command, port and plugin modes.
# Finally the library check must fail when a runtime package is dropped.
. "$(dirname "$0")/../lib/harness.sh"
CF=Containerfile
[ -f "$CF" ] || fail "no Containerfile"
[ -x "$JW" ] || fail "no $JW (build first)"

# Stages and their apt packages: "STAGE pkg pkg ..." one line per stage.
stages()
{
    python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
stage = None
for line in text.splitlines():
    m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
    if m:
        stage = m.group(2) or "runtime"
        print("FROM %s %s" % (stage, m.group(1)))
        continue
    m = re.search(r"apt-get install ([^&;]*)", line)
    if m and stage:
        pkgs = [w for w in m.group(1).split() if not w.startswith("-")]
        print("PKGS %s %s" % (stage, " ".join(pkgs)))
PY
}
stages "$CF" >"$T/stages" || fail "cannot parse $CF"
[ "$(grep -c '^FROM' "$T/stages")" = 2 ] || fail "want two stages: $(cat "$T/stages")"
grep '^FROM' "$T/stages" | grep -qv 'debian:bookworm' && fail "a stage is not Debian bookworm"
build_pkgs=$(awk '$1=="PKGS" && $2=="build" {for(i=3;i<=NF;i++) print $i}' "$T/stages" | sort -u)
run_pkgs=$(awk '$1=="PKGS" && $2=="runtime" {for(i=3;i<=NF;i++) print $i}' "$T/stages" | sort -u)
[ -n "$build_pkgs" ] || fail "no build-stage packages"
[ -n "$run_pkgs" ] || fail "no runtime-stage packages"

# Every package exists in Debian 12 (one apt-cache call: it is slow).
npkgs=$(echo $build_pkgs $run_pkgs | wc -w)
apt-cache show --no-all-versions $build_pkgs $run_pkgs 2>/dev/null | awk '/^Package:/ {print $2}' |
    sort -u >"$T/known"
for p in $build_pkgs $run_pkgs; do
    grep -qx -- "$p" "$T/known" || fail "apt package '$p' does not exist in this Debian"
done

# The build stage has the -dev packages of scripts/deps, the runtime none.
deps_dev=$(sed -n '/^PKGS="/,/"$/p' scripts/deps | tr -d '"\\' | tr ' ' '\n' | grep -- '-dev$' | sort -u)
missing=$(comm -23 <(echo "$deps_dev") <(echo "$build_pkgs"))
[ -z "$missing" ] || fail "build stage lacks scripts/deps packages: $missing"
echo "$run_pkgs" | grep -qE -- '-dev$|^build-essential$|^gcc' && fail "runtime stage installs build tools"

# Libraries the binaries load -> Debian packages ("path package" lines).
closure_of()
{
    # shellcheck disable=SC2086
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances $1 2>/dev/null | grep -v '^ ' | grep -v '^<' | sort -u
}
# The base image: the Essential and Priority: required packages and what
# they depend on (libc6 is "optional" in bookworm but essential's dependency).
base=$(closure_of "$(dpkg-query -W -f '${Package} ${Essential} ${Priority}\n' |
    awk '$2=="yes" || $3=="required" {print $1}')")
# Libraries jetway dlopen()s at run time are not in its ldd: libcurl.so.4
# (core/obs/curl_dyn_int.h, when OTLP export is configured). They and their own
# dependencies must be installed all the same.
dlopened=$(sed -n 's/^#define CURL_DYN_LIBRARY "\(.*\)"$/\1/p' core/obs/curl_dyn_int.h)
[ -n "$dlopened" ] || fail "cannot find CURL_DYN_LIBRARY in core/obs/curl_dyn_int.h"
dlpaths=""
for so in $dlopened; do
    p=$(ldconfig -p | awk -v s="$so" '$1==s && /x86-64|x32|AArch64/ {print $NF; exit}')
    [ -n "$p" ] || p=$(ldconfig -p | awk -v s="$so" '$1==s {print $NF; exit}')
    [ -n "$p" ] || fail "$so (dlopen'd by jetway) is not installed here"
    dlpaths="$dlpaths $p"
done
{
    for bin in "$JW" "$JW_BUILD"/plugins/*.so $dlpaths; do
        ldd "$bin" | awk '/=> \// {print $3}'
    done
    printf '%s\n' $dlpaths # (not empty: checked above)
} | grep -vE '/lib(asan|ubsan|lsan|tsan)\.so' | sort -u >"$T/libs"
# (the sanitizer runtimes of an ASan test build are not in a release image)
nlibs=$(wc -l <"$T/libs")
[ "$nlibs" -ge 8 ] || fail "ldd found only $nlibs libraries"
while read -r lib; do
    for f in "$lib" "$(readlink -f "$lib")" "/usr$lib"; do echo "$lib $f"; done
done <"$T/libs" >"$T/cands"
# shellcheck disable=SC2046
dpkg -S $(awk '{print $2}' "$T/cands" | sort -u) 2>/dev/null |
    sed 's/^\([^:]*\):[^ ]* \(.*\)$/\2 \1/; s/, [^ ]*//g' >"$T/owners"
while read -r lib f; do
    p=$(awk -v f="$f" '$1==f {print $2; exit}' "$T/owners")
    [ -n "$p" ] && echo "$lib $p"
done <"$T/cands" | sort -u -k1,1 >"$T/libpkg"
[ "$(wc -l <"$T/libpkg")" = "$nlibs" ] ||
    fail "no package for: $(comm -23 "$T/libs" <(awk '{print $1}' "$T/libpkg"))"
# uncovered RUNTIME_PKGS CLOSURE: "lib pkg" of each library none of them brings.
uncovered()
{
    while read -r lib pkg; do
        echo "$1" | grep -qx -- "$pkg" && continue
        echo "$2" | grep -qx -- "$pkg" && continue
        echo "$base" | grep -qx -- "$pkg" && continue
        echo "$lib $pkg"
    done <"$T/libpkg"
}
left=$(uncovered "$run_pkgs" "$(closure_of "$run_pkgs")")
[ -z "$left" ] || fail "libraries no runtime package brings: $left"
# The direct dependencies (dlopen'd ones included) must be named, not come
# by accident.
{
    for bin in "$JW" "$JW_BUILD"/plugins/*.so; do
        objdump -p "$bin" | awk '/NEEDED/ {print $2}'
    done
    for so in $dlopened; do echo "$so"; done
} | grep -vE '^lib(asan|ubsan|lsan|tsan)\.so' | sort -u >"$T/needed"
while read -r so; do
    pkg=$(awk -v s="/$so" 'substr($1, length($1) - length(s) + 1) == s {print $2; exit}' "$T/libpkg")
    [ -n "$pkg" ] || fail "no package for the needed $so"
    echo "$run_pkgs" | grep -qx -- "$pkg" || echo "$base" | grep -qx -- "$pkg" ||
        fail "$so ($pkg) is a direct dependency but not in the runtime stage"
done <"$T/needed"

# The check can fail: without libnats3.4 and libcurl4 their libraries are
# uncovered (nothing else in the list depends on them).
less=$(echo "$run_pkgs" | grep -vx -e libnats3.4 -e libcurl4)
gone=$(uncovered "$less" "$(closure_of "$less")")
echo "$gone" | grep -q 'libnats.so' || fail "dropping libnats3.4 went unnoticed"
echo "$gone" | grep -q 'libcurl.so' || fail "dropping libcurl4 went unnoticed"

# Runtime stage: user, entrypoint, command, port, env, plugin modes.
rt=$(awk '/^FROM/ {n++} n==2' "$CF")
user=$(echo "$rt" | awk '$1=="USER" {print $2}' | tail -n 1)
[ -n "$user" ] || fail "the runtime stage has no USER"
case "${user%%:*}" in 0 | root) fail "runs as root" ;; *[!0-9]*) fail "USER must be numeric for runAsNonRoot: $user" ;; esac
echo "$rt" | grep -qx 'ENTRYPOINT \["jetway"\]' || fail "ENTRYPOINT is not [\"jetway\"]"
echo "$rt" | grep -qx 'CMD \["run", "-c", "/etc/jetway/all-in-one.yaml"\]' || fail "CMD is not run -c all-in-one"
port=$(echo "$rt" | awk '$1=="EXPOSE" {print $2}')
grep -q "JETWAY_HTTP:-127.0.0.1:$port}" config/all-in-one.yaml || fail "EXPOSE $port is not all-in-one's HTTP port"
grep -q "JETWAY_HTTP=0.0.0.0:$port" "$CF" || fail "JETWAY_HTTP does not listen on 0.0.0.0:$port"
grep -q "JETWAY_PLUGIN_DIR=/usr/lib/jetway/plugins" "$CF" || fail "JETWAY_PLUGIN_DIR is not set"
grep -q 'install -d -m 0755 /out/usr/lib/jetway/plugins' "$CF" || fail "plugin dir is not 0755"
grep -q 'install -m 0644 build/release/plugins/\*.so /out/usr/lib/jetway/plugins/' "$CF" ||
    fail "plugins are not installed 0644"
grep -q 'install -D -m 0755 build/release/jetway /out/usr/local/bin/jetway' "$CF" || fail "no jetway binary"
grep -q 'BUILD=build/release' "$CF" || fail "the build stage does not make BUILD=build/release"
echo "$rt" | grep -q '^COPY --from=build /out/ /$' || fail "the runtime stage does not copy the staged tree"
echo "$rt" | grep -q -- '--chown' && fail "plugins must stay root-owned (no --chown)"
# Everything the build stage copies in is in the context (not ignored).
grep -qx 'build' .dockerignore || fail ".dockerignore does not keep build/ out of the context"
echo "RESULT t_deploy_container packages=$npkgs libraries=$nlibs needed=$(wc -l <"$T/needed") uncovered=0 drop_detected=2"
