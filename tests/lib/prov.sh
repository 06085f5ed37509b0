# tests/lib/prov.sh -- sourced after harness.sh by tests that need the
# provisioning topology: stream ORDERS [orders.>] with durable pull consumer
# ORDERS/payment, optionally stream DLQ [dlq.>] and a dead_letter subject.
#
#   write_config F k=v..  the topology as YAML (keys below)
#   prov k=v... [--dry-run]   provision; output $T/out, errors $T/err, status $rc
#
# keys: storage=file|memory deliver=all|new ack_wait_ms=N max_ack_pending=N
#       (a DLQ stream capturing dlq.> and dead_letter dlq.payment are declared by default)
#       dlq=SUBJECT (consumer dead_letter) with_dlq_stream (declare DLQ)

write_config()
{
    f=$1
    shift
    storage=file deliver=all ack_wait=30s max_ack_pending=128 dlq=dlq.payment dlq_stream=1
    for kv in "$@"; do
        case $kv in
        storage=*) storage=${kv#*=} ;;
        deliver=*) deliver=${kv#*=} ;;
        ack_wait_ms=*) ack_wait="${kv#*=}ms" ;;
        max_ack_pending=*) max_ack_pending=${kv#*=} ;;
        dlq=*) dlq=${kv#*=} ;;
        with_dlq_stream) dlq_stream=1 ;;
        --dry-run) ;;
        *) fail "write_config: unknown key $kv" ;;
        esac
    done
    plugin_dir "$T/plugins" "$JW_BUILD/tests/plugins/ack.so"
    {
        echo "nats:"
        echo "  servers: [\"$NATS_URL\"]"
        echo "plugins:"
        echo "  dir: $T/plugins"
        echo "  instances: [{name: pay, file: ack.so}]"
        echo "streams:"
        echo "  - name: ORDERS"
        echo "    subjects: [\"orders.>\"]"
        echo "    storage: $storage"
        echo "    duplicate_window: 2m"
        if [ $dlq_stream -eq 1 ]; then
            echo "  - name: DLQ"
            echo "    subjects: [\"dlq.>\"]"
            echo "    duplicate_window: 2m"
        fi
        echo "consumers:"
        echo "  - name: payment"
        echo "    stream: ORDERS"
        echo "    handler: pay"
        echo "    ack_wait: $ack_wait"
        echo "    max_ack_pending: $max_ack_pending"
        echo "    deliver_policy: $deliver"
        [ -n "$dlq" ] && echo "    dead_letter: $dlq"
    } >"$f"
}

prov()
{
    write_config "$T/t.yaml" "$@"
    dry=""
    for a in "$@"; do [ "$a" = --dry-run ] && dry=--dry-run; done
    "$JW" provision -c "$T/t.yaml" $dry >"$T/out" 2>"$T/err"
    rc=$?
    cat "$T/out" >&2
}

# jget EXPR: evaluate a Python subscript on the JSON read from stdin.
jget()
{
    python3 -c "import json,sys; print(json.load(sys.stdin)$1)"
}
