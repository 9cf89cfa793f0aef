#!/usr/bin/env bash
# Encrypted DNS serving speed: Portcullis, Unbound and dnsdist answering the same names over DNS
# over TLS and DNS over HTTPS, each server pinned to one core, under dnsperf on the other core;
# then new TLS handshakes a second with `openssl s_time -new`.
#
#   bench/encrypted.sh                       # 10 s per run, 3 rounds
#   ROUNDS=1 SECONDS_PER_RUN=5 MODES="dot" bench/encrypted.sh
#
# Setup (a temporary folder, removed on exit unless KEEP=1), one self-signed certificate
# (`portcullis cert self-signed`, ECDSA P-256) for all:
#   - Portcullis serves `bench.test.` (bench/gen-zone.py, RECORDS records) from the zone file,
#     one UDP worker, over DoT on DOT_PORT and DoH on DOH_PORT;
#   - Unbound serves the same file as an `auth-zone` (for-downstream), one thread, with
#     `tls-port` and `https-port` (HTTP/2);
#   - dnsdist (one thread: the default) answers from a warm packet cache in front of the
#     Portcullis UDP listener, with `addTLSLocal` and `addDOHLocal`; only dnsdist's own CPU
#     counts.
# The query list is the zone's positive answers (A and AAAA of hosts that exist), so every
# server answers every query the same way. For each round, mode (`dot`, `doh`) and server, the
# server starts afresh, dnsperf runs SECONDS_PER_RUN seconds with CLIENTS connections and
# OUTSTANDING queries in flight (over DoH: DOH_CLIENTS connections, one query in flight on each), and the server's CPU time (user + system, /proc/PID/stat) is
# read around the run: the table gives the median round's answers per server-CPU-second, and
# the answers per wall second. Then `openssl s_time -new` opens TLS 1.3 connections for
# HANDSHAKE_SECONDS to each server's DoT port: new handshakes per second (wall, one client).
#
# Servers are stopped by the PID this script started, never by name; every wait is bounded.
# Installs dnsperf, unbound, dnsdist, knot-dnsutils and openssl when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
HANDSHAKE_SECONDS="${HANDSHAKE_SECONDS:-5}"
RECORDS="${RECORDS:-20000}"
QUERY_COUNT="${QUERY_COUNT:-50000}"
PORT="${PORT:-53571}"
DOT_PORT="${DOT_PORT:-53572}"
DOH_PORT="${DOH_PORT:-53573}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
CLIENTS="${CLIENTS:-10}"
OUTSTANDING="${OUTSTANDING:-100}"
DOH_CLIENTS="${DOH_CLIENTS:-50}"
MODES="${MODES:-dot doh}"
SERVERS="${SERVERS:-portcullis unbound dnsdist}"
READY_TIMEOUT="${READY_TIMEOUT:-30}"
KEEP="${KEEP:-0}"

say() { printf '%s\n' "$*" >&2; }
die() { say "encrypted.sh: $*"; exit 1; }

# shellcheck source=bench/lib.sh
. bench/lib.sh # the script has cd-ed to the repository root

positive_whole ROUNDS SECONDS_PER_RUN HANDSHAKE_SECONDS RECORDS QUERY_COUNT PORT DOT_PORT DOH_PORT
[ "$(nproc)" -ge 2 ] || die "needs two cores (one for the server, one for dnsperf)"
install_debs dnsperf unbound dnsdist knot-dnsutils openssl python3

TMP=""
SERVER_PID=""
BACKEND_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && tree_stop "$SERVER_PID"
    [ -n "$BACKEND_PID" ] && tree_stop "$BACKEND_PID"
    if [ -n "$TMP" ]; then
        if [ "$KEEP" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    fi
}
trap cleanup EXIT
TMP="$(mktemp -d /tmp/portcullis-encrypted.XXXXXX)"
chmod 755 "$TMP"

say "building portcullis (release)"
cargo build --release -q -p portcullis
PORTCULLIS="$PWD/target/release/portcullis"

say "writing the zone, the query list and a certificate in $TMP"
python3 bench/gen-zone.py -n "$RECORDS" -o "$TMP/bench.test.zone" --queries "$TMP/all.queries" \
    --query-count "$QUERY_COUNT"
# Positive answers only: the A and AAAA of names that exist with that type (the zone's hosts
# that are not delegations), so no server has a reason to recurse.
python3 - "$TMP" <<'PY'
import re, sys
tmp = sys.argv[1]
owners, cut = {}, set()
for line in open(f"{tmp}/bench.test.zone"):
    f = line.split()
    if len(f) >= 3 and not line[0].isspace() and not line.startswith(("$", "@")):
        owners.setdefault(f[0], set()).add(f[1])
        if f[1] == "NS":
            cut.add(f[0])
out = []
for q in open(f"{tmp}/all.queries"):
    m = re.match(r"^([a-z0-9]+)\.bench\.test\. (A|AAAA)$", q.strip())
    if m and m.group(1) not in cut and m.group(2) in owners.get(m.group(1), ()):
        out.append(q.strip())
open(f"{tmp}/auth.queries", "w").write("\n".join(out) + "\n")
PY
[ "$(wc -l <"$TMP/auth.queries")" -gt 100 ] || die "too few positive queries in the generated list"
"$PORTCULLIS" cert self-signed --name dns.test --out-cert "$TMP/cert.pem" --out-key "$TMP/key.pem" \
    >/dev/null
chmod 644 "$TMP/key.pem"
FIRST="$(head -n 1 "$TMP/auth.queries")"

answers_tls() { # answers_tls NAME TYPE: whether the DoT port answers
    [ -n "$(kdig +tls +short +time=1 +retry=0 -p "$DOT_PORT" @127.0.0.1 "$1" "$2" 2>/dev/null || true)" ]
}

wait_ready() { # wait_ready PID LOG
    local i
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        # shellcheck disable=SC2086
        answers_tls $FIRST && return 0
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 30 "$2" >&2 || true
    die "no DoT answer for $FIRST on port $DOT_PORT within $READY_TIMEOUT s"
}

start_portcullis() { # start_portcullis PORT CPU: plain UDP/TCP on PORT (dnsdist's backend too)
    local port="$1" cpu="$2" name="portcullis-$1"
    cat >"$TMP/$name.toml" <<EOF
[server]
listen = ["127.0.0.1:$port"]
workers = 1
control_socket = "$TMP/$name.sock"
log_level = "warn"
tcp_max_connections = 1000
tcp_max_connections_per_client = 1000

[cookies]
enabled = false

[[zone]]
origin = "bench.test."
file = "$TMP/bench.test.zone"
EOF
    if [ "$port" = "$PORT" ]; then
        cat >>"$TMP/$name.toml" <<EOF

[tls]
listen = ["127.0.0.1:$DOT_PORT"]
cert = "$TMP/cert.pem"
key = "$TMP/key.pem"

[https]
listen = ["127.0.0.1:$DOH_PORT"]
EOF
    fi
    taskset -c "$cpu" "$PORTCULLIS" serve --config "$TMP/$name.toml" >"$TMP/$name.log" 2>&1 &
    echo $!
}

start_unbound() {
    cat >"$TMP/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$DOT_PORT
    interface: 127.0.0.1@$DOH_PORT
    tls-port: $DOT_PORT
    https-port: $DOH_PORT
    tls-service-key: "$TMP/key.pem"
    tls-service-pem: "$TMP/cert.pem"
    num-threads: 1
    incoming-num-tcp: 1000
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "$TMP"
    pidfile: ""
    do-daemonize: no
    use-syslog: no
    logfile: ""
    verbosity: 0
    module-config: "iterator"
    # test. is one of the default local zones of Unbound (RFC 6761): let the auth-zone answer.
    local-zone: "test." nodefault
auth-zone:
    name: "bench.test."
    zonefile: "$TMP/bench.test.zone"
    for-downstream: yes
    for-upstream: yes
remote-control:
    control-enable: no
EOF
    taskset -c "$SERVER_CPU" unbound -d -c "$TMP/unbound.conf" >"$TMP/unbound.log" 2>&1 &
    echo $!
}

start_dnsdist() {
    cat >"$TMP/dnsdist.conf" <<EOF
setSecurityPollSuffix("")
setLocal("127.0.0.1:$((PORT + 10))")
addTLSLocal("127.0.0.1:$DOT_PORT", "$TMP/cert.pem", "$TMP/key.pem", { provider = "openssl", minTLSVersion = "tls1.3" })
addDOHLocal("127.0.0.1:$DOH_PORT", "$TMP/cert.pem", "$TMP/key.pem", "/dns-query")
newServer({ address = "127.0.0.1:$((PORT + 20))", checkName = "bench.test.", checkType = "SOA" })
pc = newPacketCache(200000, { maxTTL = 86400 })
getPool(""):setCache(pc)
setMaxTCPClientThreads(1)
EOF
    taskset -c "$SERVER_CPU" dnsdist --supervised --disable-syslog -C "$TMP/dnsdist.conf" \
        >"$TMP/dnsdist.log" 2>&1 &
    echo $!
}

start() { # start SERVER: sets SERVER_PID (and BACKEND_PID for dnsdist)
    case "$1" in
        portcullis) SERVER_PID="$(start_portcullis "$PORT" "$SERVER_CPU")" ;;
        unbound) SERVER_PID="$(start_unbound)" ;;
        dnsdist)
            BACKEND_PID="$(start_portcullis "$((PORT + 20))" "$CLIENT_CPU")"
            SERVER_PID="$(start_dnsdist)"
            ;;
        *) die "unknown server $1" ;;
    esac
    wait_ready "$SERVER_PID" "$TMP/$1.log"
    if [ "$1" = dnsdist ]; then # warm the packet cache
        dnsperf -m dot -s 127.0.0.1 -p "$DOT_PORT" -d "$TMP/auth.queries" -n 2 -c 4 -q 100 \
            >/dev/null 2>&1 || true
    fi
}

stop() {
    tree_stop "$SERVER_PID"
    SERVER_PID=""
    if [ -n "$BACKEND_PID" ]; then tree_stop "$BACKEND_PID"; BACKEND_PID=""; fi
}

# run SERVER MODE: prints "qps-per-cpu qps-wall" for one dnsperf run.
run() {
    local server="$1" mode="$2" port before after out
    port="$DOT_PORT"
    [ "$mode" = doh ] && port="$DOH_PORT"
    before="$(tree_cpu "$SERVER_PID")"
    out="$TMP/dnsperf-$server-$mode.out"
    # dnsperf's DoH client stalls against dnsdist 1.7 with more than one query in flight per
    # connection, so over DoH every server gets DOH_CLIENTS connections of one query each.
    local clients="$CLIENTS" outstanding="$OUTSTANDING"
    if [ "$mode" = doh ]; then clients="$DOH_CLIENTS" outstanding="$DOH_CLIENTS"; fi
    taskset -c "$CLIENT_CPU" dnsperf -m "$mode" -s 127.0.0.1 -p "$port" -d "$TMP/auth.queries" \
        -l "$SECONDS_PER_RUN" -c "$clients" -q "$outstanding" \
        -O "doh-uri=https://127.0.0.1:$port/dns-query" >"$out" 2>&1 || true
    after="$(tree_cpu "$SERVER_PID")"
    local completed qps cpu
    completed="$(awk '/Queries completed:/ { print $3; exit }' "$out")"
    qps="$(awk '/Queries per second:/ { print $4; exit }' "$out")"
    if [ -z "$completed" ] || [ -z "$qps" ] || [ "$completed" = 0 ]; then
        tail -n 20 "$out" >&2
        die "dnsperf got no answers from $server over $mode"
    fi
    cpu="$(calc "(${after% *} + ${after#* }) - (${before% *} + ${before#* })")"
    if [ "$(calc "($cpu > 0)")" = 1 ]; then
        echo "$(calc "int($completed / $cpu)") ${qps%.*}"
    else
        echo "0 ${qps%.*}"
    fi
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A PER_CPU WALL
for ((round = 1; round <= ROUNDS; round++)); do
    for server in $SERVERS; do
        start "$server"
        for mode in $MODES; do
            read -r per_cpu wall < <(run "$server" "$mode")
            say "round $round: $server $mode: $per_cpu answers/CPU-s, $wall answers/s"
            PER_CPU[$server-$mode]+="$per_cpu "
            WALL[$server-$mode]+="$wall "
        done
        stop
    done
done

handshakes() { # handshakes SERVER: new TLS 1.3 handshakes a second
    local out
    start "$1"
    out="$(taskset -c "$CLIENT_CPU" openssl s_time -connect "127.0.0.1:$DOT_PORT" -new -tls1_3 \
        -time "$HANDSHAKE_SECONDS" 2>/dev/null || true)"
    stop
    awk '/connections in [0-9.]+ real seconds/ { for (i = 1; i <= NF; i++) if ($i == "real") { print int($1 / $(i - 1)); exit } }' <<<"$out"
}

printf '\n| server | mode | answers per server-CPU-second | answers per second |\n|---|---|---|---|\n'
for mode in $MODES; do
    for server in $SERVERS; do
        printf '| %s | %s | %s | %s |\n' "$server" "$mode" \
            "$(tr ' ' '\n' <<<"${PER_CPU[$server-$mode]}" | grep . | median)" \
            "$(tr ' ' '\n' <<<"${WALL[$server-$mode]}" | grep . | median)"
    done
done
printf '\n| server | new TLS 1.3 handshakes per second (openssl s_time -new) |\n|---|---|\n'
for server in $SERVERS; do
    printf '| %s | %s |\n' "$server" "$(handshakes "$server")"
done
