#!/usr/bin/env bash
# Serving queries: Portcullis against NSD and Knot DNS under dnsperf, over UDP and TCP.
#
#   bench/dnsperf.sh                       # 50,000 records, 100,000 queries, 20 s runs, 3 rounds
#   DURATION=10 ROUNDS=1 SERVERS="portcullis knot" bench/dnsperf.sh
#
# Writes bench.test. and a query list with bench/gen-zone.py into a temporary folder (removed on
# exit): RECORDS records (22,974 owner names with the defaults) and QUERY_COUNT queries of the mix
# gen-zone.py writes (55% hits of A, AAAA, MX, TXT, SRV, www CNAMEs; 10% wildcard hits; 10%
# referrals; 10% NODATA; 15% NXDOMAIN). Then, ROUNDS times, for each server in turn (one at a time,
# all on 127.0.0.1:PORT):
#   - starts it pinned to core SERVER_CPU with taskset, with one worker for each transport:
#     Portcullis `serve` with `workers = 1`; NSD with `server-count: 1`, RRL off, minimal
#     responses; Knot with one UDP, one TCP and one background worker;
#   - in the first round, sends the whole query list once over UDP and once over TCP, as a
#     warm-up and to check that every server answers the same mix: dnsperf's response code
#     counts, and with -v each query's response code, compared with the first server's and
#     between UDP and TCP;
#   - runs dnsperf pinned to core CLIENT_CPU for DURATION seconds over UDP, then over TCP, and
#     reads the server's CPU time (user + system, over its process tree and threads, from
#     /proc/PID/stat) before and after each run.
# The table gives, for each server and transport, the median over the rounds (the round with the
# median queries per server-CPU-second): dnsperf's QPS, average and maximum latency, lost
# queries, the server's CPU seconds and their user share, the busy share of the server's and of
# dnsperf's core, and queries per server-CPU-second.
# On a two-core machine dnsperf saturates its core before a fast server saturates its own, so
# QPS is dnsperf's limit as much as the server's; queries per CPU second compares the servers.
#
# Servers are stopped by the PID this script started, never by name; every wait is bounded.
# Installs the Debian packages it needs when run as root (or with sudo) on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS="${RECORDS:-50000}"
QUERY_COUNT="${QUERY_COUNT:-100000}"
DURATION="${DURATION:-20}"
ROUNDS="${ROUNDS:-3}"
PORT="${PORT:-53553}"
SERVERS="${SERVERS:-portcullis nsd knot}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
# dnsperf load: clients (UDP sockets or TCP connections) and queries outstanding in all.
UDP_CLIENTS="${UDP_CLIENTS:-10}"
UDP_OUTSTANDING="${UDP_OUTSTANDING:-200}"
TCP_CLIENTS="${TCP_CLIENTS:-4}"
TCP_OUTSTANDING="${TCP_OUTSTANDING:-200}"
READY_TIMEOUT="${READY_TIMEOUT:-60}"
# SYSCALLS=1: after the measured runs of round 1, one more short run per transport with
# `perf stat` counting the server's system calls (raw_syscalls:sys_enter), kept apart from the
# measured runs so that the counting does not weigh on them.
SYSCALLS="${SYSCALLS:-0}"
SYSCALL_SECONDS="${SYSCALL_SECONDS:-5}"
KEEP="${KEEP:-0}" # KEEP=1: leave the temporary folder (zone, configurations, dnsperf outputs)
ORIGIN="bench.test."

say() { printf '%s\n' "$*" >&2; }
die() { say "dnsperf.sh: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------------------------

# shellcheck source=bench/lib.sh
. bench/lib.sh  # the script has cd-ed to the repository root

[ "$(nproc)" -ge 2 ] || die "needs two cores (one for the server, one for dnsperf)"

SERVER_PID=""
TMP=""
cleanup() {
    [ -n "$SERVER_PID" ] && stop_pid "$SERVER_PID"
    if [ -n "$TMP" ]; then
        if [ "$KEEP" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    fi
}

# Stops a process this script started: TERM, up to 10 s, then KILL.
stop_pid() {
    local pid="$1" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


# tree_cpu PID: user and system seconds of the process tree, every thread and reaped child
# included (utime + cutime, stime + cstime: the 14th to 17th fields of /proc/PID/stat).
tree_cpu() {
    local p t user=0 system=0
    for p in $(tree_pids "$1"); do
        t="$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $14, $13 + $15 }' || true)"
        [ -n "$t" ] || continue
        user=$((user + ${t% *}))
        system=$((system + ${t#* }))
    done
    awk -v u="$user" -v s="$system" -v hz="$(getconf CLK_TCK)" 'BEGIN { print u / hz, s / hz }'
}

answers() { # answers PORT [+tcp]: whether the zone's SOA is answered
    local out
    out="$(kdig +short +time=1 +retry=0 ${2:-} -p "$1" @127.0.0.1 "$ORIGIN" SOA 2>/dev/null || true)"
    [ -n "$out" ]
}

# wait_port_free: waits (at most 120 s) until PORT can be bound on 127.0.0.1 for UDP and for
# a TCP listener with SO_REUSEADDR. A server that closed connections itself leaves them in
# TIME_WAIT for a minute, and when its sockets lacked SO_REUSEADDR they keep the next server
# from listening on the port until then.
wait_port_free() {
    local i
    for ((i = 0; i < 120; i++)); do
        python3 - "$PORT" <<'PY' && return 0
import socket, sys
port = int(sys.argv[1])
try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", port))
    t = socket.socket()
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", port))
    t.listen()
except OSError:
    sys.exit(1)
PY
        [ "$i" -eq 0 ] && say "  waiting for 127.0.0.1:$PORT to be free (TIME_WAIT of the previous server)"
        sleep 1
    done
    die "127.0.0.1:$PORT still in use after 120 s: $(ss -tuan | grep -c ":$PORT ") sockets"
}

# start NAME CMD...: starts CMD pinned to SERVER_CPU and waits until the zone's SOA is
# answered over UDP (soa-ready.py, bounded by READY_TIMEOUT) and over TCP (kdig).
start() {
    local name="$1" status=0 i
    shift
    answers "$PORT" && die "something already answers on 127.0.0.1:$PORT"
    wait_port_free
    taskset -c "$SERVER_CPU" "$@" >"$TMP/$name.log" 2>&1 &
    SERVER_PID=$!
    python3 bench/soa-ready.py "$PORT" "$ORIGIN" "$READY_TIMEOUT" "$SERVER_PID" || status=$?
    if [ "$status" -eq 0 ]; then
        status=1
        for ((i = 0; i < 20; i++)); do
            answers "$PORT" +tcp && { status=0; break; }
            sleep 0.1
        done
    fi
    if [ "$status" -ne 0 ]; then
        tail -n 20 "$TMP/$name.log" >&2
        die "$name did not answer the SOA query over UDP and TCP within $READY_TIMEOUT s"
    fi
}

stop() {
    stop_pid "$SERVER_PID"
    SERVER_PID=""
}

# field FILE PATTERN AWK-EXPR: the value on dnsperf's first output line matching PATTERN.
field() { awk -v pat="$2" '$0 ~ pat { print '"$3"'; exit }' "$1"; }

# perf NAME TRANSPORT CLIENTS OUTSTANDING [DNSPERF-FLAGS...]: one dnsperf run against the
# running server; sets R_USER (server user seconds), R_QPS, R_AVG_MS, R_MAX_MS, R_LOST, R_SENT, R_DONE (completed), R_CPU
# (server seconds), R_RUN (dnsperf's run time, s), R_CLIENT_CPU and R_CLIENT_WALL (dnsperf's
# CPU and wall seconds, including its wait for the last answers), R_RCODES and R_SIZES.
perf() {
    local name="$1" mode="$2" clients="$3" outstanding="$4" out cpu0 cpu1
    shift 4
    out="$TMP/$name-$mode.out"
    cpu0="$(tree_cpu "$SERVER_PID")"
    # dnsperf ends after -l seconds (or one pass with -n 1) plus its query timeout (-t 5); the
    # outer timeout only guards against a hang.
    if ! timeout 120 /usr/bin/time -f '%U %S %e' -o "$TMP/time.out" \
        taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -m "$mode" -d "$TMP/queries" \
        -c "$clients" -T 1 -q "$outstanding" -t 5 "$@" >"$out" 2>"$out.err"; then
        say "dnsperf failed ($name, $mode):"
        head -n 20 "$out.err" "$out" >&2
        return 1
    fi
    cpu1="$(tree_cpu "$SERVER_PID")"
    kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited during the $mode run"
    R_USER="$(calc "${cpu1% *} - ${cpu0% *}")"
    R_CPU="$(calc "${cpu1% *} + ${cpu1#* } - ${cpu0% *} - ${cpu0#* }")"
    R_CLIENT_CPU="$(awk '{ print $1 + $2 }' "$TMP/time.out")"
    R_CLIENT_WALL="$(awk '{ print $3 }' "$TMP/time.out")"
    R_SENT="$(field "$out" 'Queries sent:' '$3')"
    R_LOST="$(field "$out" 'Queries lost:' '$3')"
    R_DONE="$(field "$out" 'Queries completed:' '$3')"
    R_RUN="$(field "$out" 'Run time \\(s\\):' '$4')"
    R_QPS="$(field "$out" 'Queries per second:' '$4')"
    R_AVG_MS="$(field "$out" 'Average Latency \\(s\\):' '$4 * 1000')"
    R_MAX_MS="$(field "$out" 'Average Latency \\(s\\):' '$8 * 1000')"
    R_RCODES="$(field "$out" 'Response codes:' '$0' | sed 's/^ *Response codes: *//')"
    R_SIZES="$(field "$out" 'Average packet size:' '$0' | sed 's/^ *Average packet size: *//')"
    [ -n "$R_QPS" ] || { head -n 30 "$out" "$out.err" >&2; die "no result from dnsperf ($name, $mode)"; }
}

# syscalls NAME TRANSPORT CLIENTS OUTSTANDING: a SYSCALL_SECONDS dnsperf run while perf counts
# the system calls of the server's processes and threads; sets R_SYSCALLS_PER_QUERY.
syscalls() {
    local name="$1" mode="$2" pids calls
    pids="$(tree_pids "$SERVER_PID" | paste -sd, -)"
    timeout 60 perf stat -x, -e raw_syscalls:sys_enter -p "$pids" -o "$TMP/perf-$name-$mode.csv" \
        -- sleep "$((SYSCALL_SECONDS + 1))" &
    local perf_pid=$!
    sleep 0.5
    perf "$name-syscalls" "$mode" "$3" "$4" -l "$SYSCALL_SECONDS"
    wait "$perf_pid" || true
    calls="$(awk -F, '/raw_syscalls:sys_enter/ { print $1; exit }' "$TMP/perf-$name-$mode.csv")"
    R_SYSCALLS_PER_QUERY="$(calc "${calls:-0} / $R_DONE")"
}

# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------

portcullis_conf() {
    mkdir -p "$TMP/portcullis"
    cat >"$TMP/portcullis/portcullis.toml" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
workers = 1
control_socket = "$TMP/portcullis/control.sock"
log_level = "warn"

[[zone]]
origin = "$ORIGIN"
file = "$ZONEFILE"
EOF
    "$PORTCULLIS" check --config "$TMP/portcullis/portcullis.toml" >/dev/null \
        || die "portcullis check refused the configuration"
}

nsd_conf() {
    mkdir -p "$TMP/nsd"
    cat >"$TMP/nsd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$PORT
    port: $PORT
    server-count: 1
    tcp-count: 1000
    tcp-query-count: 0
    minimal-responses: yes
    rrl-ratelimit: 0
    verbosity: 0
    username: ""
    chroot: ""
    database: ""
    zonesdir: "$TMP"
    zonelistfile: "$TMP/nsd/zone.list"
    xfrdfile: "$TMP/nsd/xfrd.state"
    xfrdir: "$TMP/nsd"
    pidfile: "$TMP/nsd/nsd.pid"
    logfile: "$TMP/nsd/nsd.log"
remote-control:
    control-enable: no
zone:
    name: "$ORIGIN"
    zonefile: "$ZONEFILE"
EOF
    nsd-checkconf "$TMP/nsd/nsd.conf"
}

knot_conf() {
    mkdir -p "$TMP/knot"
    cat >"$TMP/knot/knot.conf" <<EOF
server:
    rundir: "$TMP/knot/run"
    listen: 127.0.0.1@$PORT
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "$TMP/knot/run/knot.sock"
database:
    storage: "$TMP/knot/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$TMP"
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: "$ORIGIN"
    file: "$ZONEFILE"
EOF
}

start_server() {
    case "$1" in
        portcullis)
            start portcullis "$PORTCULLIS" serve --config "$TMP/portcullis/portcullis.toml" ;;
        nsd)
            rm -f "$TMP/nsd/zone.list" "$TMP/nsd/xfrd.state"
            start nsd nsd -d -c "$TMP/nsd/nsd.conf" ;;
        knot)
            rm -rf "$TMP/knot/run" "$TMP/knot/db"
            mkdir -p "$TMP/knot/run" "$TMP/knot/db"
            start knot knotd -c "$TMP/knot/knot.conf" ;;
        *) die "unknown server $1 (portcullis, nsd or knot)" ;;
    esac
}

version_of() {
    case "$1" in
        portcullis) echo "Portcullis $(git rev-parse --short HEAD 2>/dev/null || echo '?')" ;;
        nsd) nsd -v 2>&1 | head -n 1 ;;
        knot) knotd --version | head -n 1 ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

install_debs dnsperf nsd knot knot-dnsutils time python3 util-linux
refuse_running_daemons
if [ "$SYSCALLS" = 1 ] && ! command -v perf >/dev/null; then
    die "SYSCALLS=1 needs perf (Debian: linux-perf)"
fi

say "building portcullis (release)"
cargo build --release --quiet -p portcullis
PORTCULLIS="$PWD/target/release/portcullis"

TMP="$(mktemp -d /tmp/dnsperf-bench.XXXXXX)"
trap cleanup EXIT
trap 'exit 130' INT TERM
ZONEFILE="$TMP/bench.test.zone"

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
say "load average: $LOAD_BEFORE"
python3 bench/gen-zone.py -n "$RECORDS" -o "$ZONEFILE" --queries "$TMP/queries" \
    --query-count "$QUERY_COUNT"
NAMES="$(grep -v '^[[:space:];$]' "$ZONEFILE" | awk '{ print $1 }' | sort -u | wc -l)"

portcullis_conf
nsd_conf
knot_conf

declare -A QPS AVG MAX LOST SENT CPU USER RUN CCPU PER RCODES SIZES SYS
first=""
for ((round = 1; round <= ROUNDS; round++)); do
    say "round $round of $ROUNDS"
    for s in $SERVERS; do
        start_server "$s"
        if [ "$round" -eq 1 ]; then
            # One pass over the whole list: warm-up, and the response codes of every query.
            perf "$s" udp 1 20 -n 1 -v
            RCODES[$s]="$R_RCODES"
            SIZES[$s]="$R_SIZES"
            # -v prints "> RCODE NAME TYPE LATENCY" per response; sorted, they compare as sets.
            grep '^> ' "$TMP/$s-udp.out" | awk '{ print $2, tolower($3), $4 }' | sort >"$TMP/$s.rcodes"
            say "  $s: $R_RCODES; packet size $R_SIZES; lost $R_LOST; $(wc -l <"$TMP/$s.rcodes") responses listed"
            # The same pass over TCP: the same response codes as over UDP.
            perf "$s" tcp 1 20 -n 1 -v
            grep '^> ' "$TMP/$s-tcp.out" | awk '{ print $2, tolower($3), $4 }' | sort >"$TMP/$s.tcp-rcodes"
            cmp -s "$TMP/$s.rcodes" "$TMP/$s.tcp-rcodes" \
                || say "  $s: over TCP, $(diff "$TMP/$s.rcodes" "$TMP/$s.tcp-rcodes" | grep -c '^>' || true) response codes differ from UDP"
            if [ -z "$first" ]; then
                first="$s"
            elif ! cmp -s "$TMP/$first.rcodes" "$TMP/$s.rcodes"; then
                say "  $s and $first differ in $(diff "$TMP/$first.rcodes" "$TMP/$s.rcodes" | grep -c '^>' || true) response codes, e.g.:"
                diff "$TMP/$first.rcodes" "$TMP/$s.rcodes" | grep '^[<>]' | head -n 6 >&2 || true
            fi
        fi
        for mode in udp tcp; do
            if [ "$mode" = udp ]; then
                perf "$s" udp "$UDP_CLIENTS" "$UDP_OUTSTANDING" -l "$DURATION"
            else
                perf "$s" tcp "$TCP_CLIENTS" "$TCP_OUTSTANDING" -l "$DURATION"
            fi
            k="$s/$mode"
            per="$(calc "$R_CPU == 0 ? 0 : $R_DONE / $R_CPU")"
            QPS[$k]+="$R_QPS " AVG[$k]+="$R_AVG_MS " MAX[$k]+="$R_MAX_MS " LOST[$k]+="$R_LOST "
            SENT[$k]+="$R_SENT " CPU[$k]+="$R_CPU " USER[$k]+="$R_USER " RUN[$k]+="$R_RUN " CCPU[$k]+="$(calc "$R_CLIENT_CPU / $R_CLIENT_WALL") "
            PER[$k]+="$per "
            say "$(printf '  %-10s %s  %8.0f q/s  avg %.3f ms  max %.1f ms  lost %s/%s  server CPU %.2f s (user %.2f) of %.1f s  dnsperf CPU %.2f s of %.1f s  %.0f q per server CPU s' \
                "$s" "$mode" "$R_QPS" "$R_AVG_MS" "$R_MAX_MS" "$R_LOST" "$R_SENT" "$R_CPU" "$R_USER" "$R_RUN" "$R_CLIENT_CPU" "$R_CLIENT_WALL" "$per")"
        done
        if [ "$round" -eq 1 ] && [ "$SYSCALLS" = 1 ]; then
            syscalls "$s" udp "$UDP_CLIENTS" "$UDP_OUTSTANDING"
            SYS[$s/udp]="$R_SYSCALLS_PER_QUERY"
            syscalls "$s" tcp "$TCP_CLIENTS" "$TCP_OUTSTANDING"
            SYS[$s/tcp]="$R_SYSCALLS_PER_QUERY"
            say "  $s: system calls per query: UDP ${SYS[$s/udp]}, TCP ${SYS[$s/tcp]}"
        fi
        stop
    done
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# Problems the servers logged.
for s in $SERVERS; do
    for log in "$TMP/$s.log" "$TMP/nsd/nsd.log"; do
        [ "$s" = nsd ] || [ "$log" != "$TMP/nsd/nsd.log" ] || continue
        problems="$(grep -iE 'warn|error|fail|drop' "$log" 2>/dev/null || true)"
        [ -z "$problems" ] || { say "--- $s logged:"; head -n 10 <<<"$problems" >&2; }
    done
done

# nth LIST I: the I-th word (from 1) of a space-separated list.
nth() { awk -v i="$2" '{ print $i }' <<<"$1"; }
# median_index LIST: the position of the median value (the lower middle for an even count).
median_index() {
    awk '{ for (i = 1; i <= NF; i++) print $i, i }' <<<"$1" | sort -g | awk '{ v[NR] = $2 } END { print v[int((NR + 1) / 2)] }'
}

cat <<EOF

Zone: $ORIGIN, $RECORDS records, $NAMES owner names; $QUERY_COUNT queries (gen-zone.py mix).
Machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo); server on core $SERVER_CPU, dnsperf on core $CLIENT_CPU.
Load average (1, 5, 15 min) before: $LOAD_BEFORE; after: $LOAD_AFTER.
Versions: $(for s in $SERVERS; do printf '%s; ' "$(version_of "$s")"; done)$(dnsperf -h 2>&1 | grep -i '^version' || true).
dnsperf: -l $DURATION, UDP -c $UDP_CLIENTS -q $UDP_OUTSTANDING, TCP -c $TCP_CLIENTS -q $TCP_OUTSTANDING (-T 1); median of $ROUNDS rounds by queries per server-CPU-second.

Response codes over one pass of the query list (UDP):
EOF
for s in $SERVERS; do
    printf -- '- %s: %s; average packet size %s\n' "$s" "${RCODES[$s]}" "${SIZES[$s]}"
done
cat <<EOF

| server | transport | QPS | avg latency ms | max latency ms | lost | server CPU s | of which user | server core busy | dnsperf core busy | queries per server-CPU-second |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
for s in $SERVERS; do
    for mode in udp tcp; do
        k="$s/$mode"
        i="$(median_index "${PER[$k]}")"
        run="$(nth "${RUN[$k]}" "$i")"
        printf '| %s | %s | %.0f | %.3f | %.1f | %s of %s | %.2f | %.0f%% | %.0f%% | %.0f%% | %.0f |\n' \
            "$s" "${mode^^}" "$(nth "${QPS[$k]}" "$i")" "$(nth "${AVG[$k]}" "$i")" \
            "$(nth "${MAX[$k]}" "$i")" "$(nth "${LOST[$k]}" "$i")" "$(nth "${SENT[$k]}" "$i")" \
            "$(nth "${CPU[$k]}" "$i")" \
            "$(calc "100 * $(nth "${USER[$k]}" "$i") / $(nth "${CPU[$k]}" "$i")")" \
            "$(calc "100 * $(nth "${CPU[$k]}" "$i") / $run")" \
            "$(calc "100 * $(nth "${CCPU[$k]}" "$i")")" \
            "$(nth "${PER[$k]}" "$i")"
    done
done
printf '\nAll rounds, queries per server-CPU-second:\n'
for s in $SERVERS; do
    for mode in udp tcp; do
        printf -- '- %s %s: %s\n' "$s" "$mode" "$(awk '{ for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? ", " : ""), $i }' <<<"${PER[$s/$mode]}")"
    done
done
if [ "$SYSCALLS" = 1 ]; then
    printf '\nServer system calls per answered query (perf stat, %s s runs, round 1):\n' "$SYSCALL_SECONDS"
    for s in $SERVERS; do
        printf -- '- %s: UDP %.2f, TCP %.2f\n' "$s" "${SYS[$s/udp]}" "${SYS[$s/tcp]}"
    done
fi
