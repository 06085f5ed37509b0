# tests/lib/cluster.sh -- a three-node JetStream cluster on loopback, built
# from deploy/nats (nats.conf and auth.conf, TLS on clients and routes), the
# way t_deploy_cluster.sh builds it. Source after harness.sh and jetway.sh,
# from the checkout's root.
#
#   cluster_start   certificates, passwords, three nodes; waits for the meta
#                   leader and full routes. Sets CPORT[1..3], MPORT[1..3],
#                   NATS_URL (admin on node 1), exports NATS_PW_* and the TLS
#                   variables
#   start_node I    (re)start node I (1..3), logs in $T/nI.log
#   url I           the admin URL of node I

start_node()
{
    NATS_SERVER_NAME="n$1" NATS_CLIENT_LISTEN="127.0.0.1:${CPORT[$1]}" \
        NATS_CLUSTER_LISTEN="127.0.0.1:${RPORT[$1]}" NATS_STORE_DIR="$T/n$1/js" \
        bg "n$1" nats-server -c "$T/n$1/nats.conf"
}

url()
{
    echo "tls://admin:$NATS_PW_ADMIN@127.0.0.1:${CPORT[$1]}"
}

cluster_start()
{
    local root i u
    root=$(pwd)
    cd "$T" || return 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj /CN=jetway-test-ca -keyout ca.key -out ca.crt 2>/dev/null || fail "CA"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=nats \
        -keyout node.key -out node.csr 2>/dev/null || fail "CSR"
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >ext
    openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
        -extfile ext -out node.crt 2>/dev/null || fail "node certificate"
    cd "$root" || return 1
    export NATS_TLS_CERT="$T/node.crt" NATS_TLS_KEY="$T/node.key" NATS_TLS_CA="$T/ca.crt"
    for u in SYS ADMIN ORDER PAYMENT INVENTORY AUDIT; do
        export "NATS_PW_$u=pw-$u-$RANDOM$RANDOM"
    done
    export SSL_CERT_FILE="$T/ca.crt" # for `jetway pub` (no TLS options of its own)
    for i in 1 2 3; do
        CPORT[$i]=$(free_port)
        RPORT[$i]=$(free_port)
        MPORT[$i]=$(free_port)
    done
    export NATS_ROUTE_1="nats-route://127.0.0.1:${RPORT[1]}" \
        NATS_ROUTE_2="nats-route://127.0.0.1:${RPORT[2]}" \
        NATS_ROUTE_3="nats-route://127.0.0.1:${RPORT[3]}"
    for i in 1 2 3; do
        mkdir -p "$T/n$i/js"
        cp deploy/nats/auth.conf "$T/n$i/"
        sed "s|^http: 127.0.0.1:8222$|http: 127.0.0.1:${MPORT[$i]}|" deploy/nats/nats.conf \
            >"$T/n$i/nats.conf"
    done
    for i in 1 2 3; do start_node $i; done
    for i in 1 2 3; do
        wait_for 20 port_open "${CPORT[$i]}" || fail "node $i did not start"
    done
    NATS_URL=$(url 1)
    export NATS_URL
    wait_for 30 sh -c "'$JW' pub --stream-info NONE 2>&1 | grep -q 'not found'" ||
        fail "no JetStream meta leader: $("$JW" pub --stream-info NONE 2>&1)"
    for i in 1 2 3; do
        wait_for 20 sh -c "curl -s http://127.0.0.1:${MPORT[$i]}/routez | grep -q '\"num_routes\": 2'" ||
            fail "node $i does not route to both others"
    done
}
