# tests/lib/harness.sh -- sourced by every integration test.
#
# Starts throwaway nats-server (JetStream) and redis-server processes on free
# loopback ports inside a temporary directory, and stops every process it
# started, by PID, when the test exits for any reason (trap on EXIT, INT,
# TERM). Polls conditions with deadlines instead of sleeping.
#
# Provides:
#   JW            path of the jetway binary under test
#   JW_BUILD      build directory (plugins in $JW_BUILD/plugins, test plugins
#                 in $JW_BUILD/tests/plugins)
#   T             the test's temporary directory
#   NATS_PORT NATS_URL REDIS_PORT REDIS_URL after start_nats / start_redis
#   start_nats [name]    start_redis [extra redis args...]
#   stop_nats / kill9_nats / restart_nats, stop_redis / restart_redis
#   bg NAME CMD...       run CMD in the background, log to $T/NAME.log,
#                        pid in $T/NAME.pid; killed at exit
#   wait_for SECS CMD... poll CMD every 50 ms until it succeeds or SECS pass
#                        (CMD may be a shell function)
#   gone PID             true once PID no longer exists
#   wait_gone PID [SECS] wait_for SECS (30) until PID is gone
#   make_certs DIR NAME  a CA (DIR/ca.crt) and a certificate DIR/NAME.crt,
#                        DIR/NAME.key for 127.0.0.1 (server and client auth)
#   fail MSG             print and exit 1
#   rcli ARGS...         redis-cli against the test redis
#   plugin_dir           a private 0755 dir with the given .so files copied in
#   need_tool CMD PKG    fail unless CMD is installed (scripts/deps installs
#                        PKG): a check that cannot run is a failure, not a PASS

set -u

JW_BUILD=${JETWAY_BUILD:-build}
case "$JW_BUILD" in /*) ;; *) JW_BUILD="$(pwd)/$JW_BUILD" ;; esac
JW="$JW_BUILD/jetway"
# The order example's own tools (plugins/tools), not commands of the host.
ORDERS_LOAD="$JW_BUILD/bin/jetway-orders-load"
AUDIT_VERIFY="$JW_BUILD/bin/jetway-audit-verify"
T=$(mktemp -d "${TMPDIR:-/tmp}/jwtest.XXXXXX")
chmod 0755 "$T"
JW_PIDS=""

fail()
{
    echo "FAIL: $*" >&2
    exit 1
}

note()
{
    echo "  .. $*" >&2
}

harness_cleanup()
{
    rc=$?
    for p in $JW_PIDS; do
        kill -CONT "$p" 2>/dev/null || true
        kill -TERM "$p" 2>/dev/null || true
    done
    # Give them a moment to exit cleanly, then make sure.
    for _ in $(seq 1 40); do
        alive=0
        for p in $JW_PIDS; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.05
    done
    for p in $JW_PIDS; do kill -KILL "$p" 2>/dev/null || true; done
    if [ $rc -ne 0 ] && [ -z "${JW_KEEP:-}" ]; then
        for f in "$T"/*.log; do
            [ -f "$f" ] || continue
            echo "---- tail of $(basename "$f")" >&2
            tail -n 30 "$f" >&2
        done
    fi
    if [ -n "${JW_KEEP:-}" ]; then
        echo "kept $T" >&2
    else
        rm -rf "$T"
    fi
    exit $rc
}
trap harness_cleanup EXIT
trap 'exit 130' INT TERM

free_port()
{
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for()
{
    secs=$1
    shift
    deadline=$(($(date +%s%N) / 1000000 + secs * 1000))
    while :; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        [ "$(($(date +%s%N) / 1000000))" -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

gone()
{
    ! kill -0 "$1" 2>/dev/null
}

wait_gone()
{
    wait_for "${2:-30}" gone "$1"
}

make_certs()
{
    (
        cd "$1" || exit 1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
            -subj /CN=jetway-test-ca -keyout ca.key -out ca.crt 2>/dev/null || exit 2
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" \
            -keyout "$2.key" -out "$2.csr" 2>/dev/null || exit 3
        printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$2.ext"
        openssl x509 -req -in "$2.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
            -extfile "$2.ext" -out "$2.crt" 2>/dev/null || exit 4
    ) || fail "make_certs $1 $2: openssl failed (step $?)"
}

port_open()
{
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

bg()
{
    name=$1
    shift
    "$@" >>"$T/$name.log" 2>&1 &
    pid=$!
    echo "$pid" >"$T/$name.pid"
    JW_PIDS="$JW_PIDS $pid"
}

pid_of()
{
    cat "$T/$1.pid"
}

start_nats()
{
    NATS_PORT=${NATS_PORT:-$(free_port)}
    NATS_URL="nats://127.0.0.1:$NATS_PORT"
    mkdir -p "$T/nats"
    bg nats nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$T/nats" "$@"
    wait_for 20 port_open "$NATS_PORT" || fail "nats-server did not start"
    # JetStream is ready once the server answers; give the API a moment by polling.
    export NATS_URL NATS_PORT
}

stop_nats()
{
    kill -TERM "$(pid_of nats)" 2>/dev/null || true
    wait_gone "$(pid_of nats)" 20
}

kill9_nats()
{
    kill -KILL "$(pid_of nats)" 2>/dev/null || true
    wait_gone "$(pid_of nats)" 10
}

restart_nats()
{
    bg nats nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$T/nats" "$@"
    wait_for 20 port_open "$NATS_PORT" || fail "nats-server did not restart"
}

start_redis()
{
    REDIS_PORT=${REDIS_PORT:-$(free_port)}
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    mkdir -p "$T/redis"
    REDIS_ARGS="$*"
    # shellcheck disable=SC2086
    bg redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$T/redis" \
        --save "" --appendonly no --daemonize no $REDIS_ARGS
    wait_for 20 rcli ping || fail "redis-server did not start"
    export REDIS_URL REDIS_PORT
}

stop_redis()
{
    kill -TERM "$(pid_of redis)" 2>/dev/null || true
    wait_gone "$(pid_of redis)" 20
}

restart_redis()
{
    # shellcheck disable=SC2086
    bg redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$T/redis" \
        --save "" --appendonly no --daemonize no $REDIS_ARGS
    wait_for 20 rcli ping || fail "redis-server did not restart"
}

rcli()
{
    redis-cli -p "$REDIS_PORT" "$@"
}

# plugin_dir DIR SO... : make a private plugin directory with the given files.
plugin_dir()
{
    d=$1
    shift
    mkdir -p "$d"
    chmod 0755 "$d"
    for so in "$@"; do
        install -m 0644 "$so" "$d/"
    done
}

need_tool()
{
    command -v "$1" >/dev/null 2>&1 ||
        fail "$1 is not installed (Debian package $2; scripts/deps installs it): the check it does cannot be skipped"
}

# Count lines of a file matching a fixed string (0 when the file is absent).
count_in()
{
    [ -f "$2" ] || { echo 0; return; }
    grep -cF -- "$1" "$2" || true
}
