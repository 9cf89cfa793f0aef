#!/usr/bin/env bash
# Resolving: Portcullis against Unbound, Knot Resolver, BIND 9 and PowerDNS Recursor, each
# forwarding one benchmark zone to the same local authoritative server (NSD), under dnsperf.
#
#   bench/resolver.sh                                  # 50,000 names, 20 s runs, 3 rounds
#   bench/resolver.sh --only unbound --seconds 5 --rounds 1
#   bench/resolver.sh --only portcullis,pdns --names 10000
#
# Options (each also an environment variable):
#   --only LIST      resolvers to run, comma- or space-separated, in this order (RESOLVERS;
#                    default: portcullis unbound kresd named pdns)
#   --rounds N       rounds; the table gives the median round (ROUNDS, default 3)
#   --seconds S      length of each measured dnsperf run (SECONDS_PER_RUN, default 20)
#   --names N        names in the zone, each with A and AAAA: the cached query list has 2N
#                    queries (NAMES, default 50000)
#   --keep           leave the temporary folder (zone, configurations, logs, dnsperf outputs)
# Other settings, environment only: PORT (resolvers' port on 127.0.0.1, default 53554),
# AUTH_ADDR (NSD's loopback address, port 53, default 127.0.0.2), CACHE_MB (cache budget, default
# 128), RESOLVER_CPU (0), CLIENT_CPU (1: dnsperf and NSD), CLIENTS (10) and OUTSTANDING (200) for
# dnsperf, COLD_RATE_MAX (100000: the cold query file holds SECONDS x this many unique names, so
# that dnsperf never loops back to a name already asked).
#
# Setup: writes `bench.test.` (SOA, NS, NAMES hosts h0..h<NAMES-1> with one A and one AAAA each,
# and a wildcard `*` with A and AAAA; TTL one day) into a temporary folder and serves it with NSD
# on AUTH_ADDR:53 (one server process, RRL off, minimal responses, pinned to CLIENT_CPU).
#
# Then ROUNDS times, for each resolver in turn, all on 127.0.0.1:PORT and pinned to RESOLVER_CPU
# with taskset (every thread and child process of the resolver shares that one core), each
# started afresh with an empty cache:
#   - checks that the resolver answers a host and a wildcard name with NSD's address;
#   - cached: sends the 2N-query list (every host's A and AAAA, shuffled) twice in full as a
#     warm-up, then runs dnsperf over the same list for SECONDS (it loops over the list);
#   - cold: writes a fresh list of unique names under the wildcard (`c<random>-<i>.bench.test.`,
#     A and AAAA alternately), never asked before, so every query is a cache miss that goes
#     upstream, and runs dnsperf over it once, for at most SECONDS.
# For every run the resolver's CPU time (user + system of its process tree, threads and reaped
# children included, from /proc/PID/stat) is read before and after, and NSD's query counter
# (nsd-control stats_noreset) gives the upstream queries per answer; the table reports, per
# resolver and measurement, the round with the median NOERROR answers per resolver-CPU-second
# (SERVFAILs do not count), with its q/s, lost queries, NOERROR share, latency, upstream queries
# per answer, how busy the resolver's core was, and the resolver's resident memory at the end.
#
# Fairness: one worker thread each where the server allows (Unbound num-threads 1, kresd is a
# single process, named -n 1, pdns_recursor threads=1 without a distributor thread, Portcullis
# workers = 1 and resolver.drivers = 1), all on the same core; caches of CACHE_MB (Unbound msg + rrset caches of
# CACHE_MB/2 each, kresd's LMDB of CACHE_MB with its garbage collector kres-cache-gc as a child
# on the same core and counted, named max-cache-size, Portcullis max_bytes; PowerDNS caps
# entries, not bytes: CACHE_MB x 4096 records and half as many packets); DNSSEC validation off
# (the zone is unsigned and there are no trust anchors to reach); prefetch and serve-stale off;
# query logging off, other logging at warning level; no rate limits (Portcullis's
# resolver.max_resolutions_per_client at its default, 1000: dnsperf is one client address
# with 200 queries outstanding). 0x20 and client cookies are left at each server's default.
#
# Daemons are stopped by the PIDs this script started (the resolver's process tree, NSD),
# never by name; every wait is bounded. Installs the Debian packages it needs when run as root
# (or with sudo), and stops and disables the system services that those packages start where
# systemd runs. Binding AUTH_ADDR:53 needs root (or CAP_NET_BIND_SERVICE for NSD).
# shellcheck disable=SC2016 # awk expressions and an sh -c script are meant literally
set -euo pipefail
cd "$(dirname "$0")/.."

RESOLVERS="${RESOLVERS:-portcullis unbound kresd named pdns}"
ROUNDS="${ROUNDS:-3}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-20}"
NAMES="${NAMES:-50000}"
KEEP="${KEEP:-0}"
PORT="${PORT:-53554}"
AUTH_ADDR="${AUTH_ADDR:-127.0.0.2}"
CACHE_MB="${CACHE_MB:-128}"
RESOLVER_CPU="${RESOLVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
CLIENTS="${CLIENTS:-10}"
OUTSTANDING="${OUTSTANDING:-200}"
COLD_RATE_MAX="${COLD_RATE_MAX:-100000}"
READY_TIMEOUT="${READY_TIMEOUT:-30}"
ORIGIN="bench.test."
ALL_RESOLVERS="portcullis unbound kresd named pdns"

say() { printf '%s\n' "$*" >&2; }
die() { say "resolver.sh: $*"; exit 1; }
usage() { sed -n '2,/^# shellcheck/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --only) [ $# -ge 2 ] || die "--only needs a list"; RESOLVERS="${2//,/ }"; shift 2 ;;
        --only=*) RESOLVERS="${1#--only=}"; RESOLVERS="${RESOLVERS//,/ }"; shift ;;
        --rounds) [ $# -ge 2 ] || die "--rounds needs a number"; ROUNDS="$2"; shift 2 ;;
        --rounds=*) ROUNDS="${1#--rounds=}"; shift ;;
        --seconds) [ $# -ge 2 ] || die "--seconds needs a number"; SECONDS_PER_RUN="$2"; shift 2 ;;
        --seconds=*) SECONDS_PER_RUN="${1#--seconds=}"; shift ;;
        --names) [ $# -ge 2 ] || die "--names needs a number"; NAMES="$2"; shift 2 ;;
        --names=*) NAMES="${1#--names=}"; shift ;;
        --keep) KEEP=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
# shellcheck source=bench/lib.sh
. bench/lib.sh # the script has cd-ed to the repository root
positive_whole ROUNDS SECONDS_PER_RUN NAMES PORT CACHE_MB
for r in $RESOLVERS; do
    [[ " $ALL_RESOLVERS " == *" $r "* ]] || die "unknown resolver $r (one of: $ALL_RESOLVERS)"
done

[ "$(nproc)" -ge 2 ] || die "needs two cores (one for the resolver, one for dnsperf and NSD)"

TMP=""
RESOLVER_PID=""
NSD_PID=""

cleanup() {
    [ -n "$RESOLVER_PID" ] && tree_stop "$RESOLVER_PID"
    [ -n "$NSD_PID" ] && tree_stop "$NSD_PID"
    if [ -n "$TMP" ]; then
        if [ "$KEEP" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    fi
}

# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------

# perf NAME QUERIES [DNSPERF-FLAGS...]: one dnsperf run (pinned to CLIENT_CPU) against the running
# resolver; sets R_QPS, R_SENT, R_DONE, R_LOST, R_NOERROR (answered with NOERROR), R_AVG_MS,
# R_RUN (dnsperf's run time), R_CPU (resolver seconds), R_NSD_CPU (NSD seconds),
# R_UPSTREAM (queries NSD received during the run).
perf() {
    local name="$1" queries="$2" out cpu0 cpu1 nsd0 nsd1 up0 up1
    shift 2
    out="$TMP/$name.out"
    cpu0="$(tree_cpu "$RESOLVER_PID")"
    nsd0="$(tree_cpu "$NSD_PID")"
    up0="$(nsd_queries)"
    # dnsperf ends after -l seconds (or one pass with -n 1) plus its query timeout (-t 5); the
    # outer timeout only guards against a hang.
    if ! timeout $((SECONDS_PER_RUN * 3 + 300)) taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 \
        -p "$PORT" -d "$queries" -c "$CLIENTS" -T 1 -q "$OUTSTANDING" -t 5 "$@" >"$out" 2>"$out.err"; then
        say "dnsperf failed ($name):"
        head -n 20 "$out.err" "$out" >&2
        return 1
    fi
    cpu1="$(tree_cpu "$RESOLVER_PID")"
    nsd1="$(tree_cpu "$NSD_PID")"
    up1="$(nsd_queries)"
    R_UPSTREAM=$((up1 - up0))
    kill -0 "$RESOLVER_PID" 2>/dev/null || die "the resolver exited during $name"
    R_CPU="$(calc "${cpu1% *} + ${cpu1#* } - ${cpu0% *} - ${cpu0#* }")"
    R_NSD_CPU="$(calc "${nsd1% *} + ${nsd1#* } - ${nsd0% *} - ${nsd0#* } + 0.0000001")"
    R_SENT="$(field "$out" 'Queries sent:' '$3')"
    R_LOST="$(field "$out" 'Queries lost:' '$3')"
    R_DONE="$(field "$out" 'Queries completed:' '$3')"
    R_RUN="$(field "$out" 'Run time \\(s\\):' '$4')"
    R_QPS="$(field "$out" 'Queries per second:' '$4')"
    R_AVG_MS="$(field "$out" 'Average Latency \\(s\\):' '$4 * 1000')"
    R_RCODES="$(field "$out" 'Response codes:' '$0' | sed 's/^ *Response codes: *//')"
    R_NOERROR="$(sed -n 's/.*NOERROR \([0-9]*\).*/\1/p' <<<"$R_RCODES")"
    R_NOERROR="${R_NOERROR:-0}"
    [ -n "$R_QPS" ] || { head -n 30 "$out" "$out.err" >&2; die "no result from dnsperf ($name)"; }
}

# ask NAME [TYPE]: the resolver's answer (+short) for NAME.
ask() {
    kdig +short +time=2 +retry=0 -p "$PORT" @127.0.0.1 "$1" "${2:-A}" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# The zone and its authoritative server
# ---------------------------------------------------------------------------------------------

# Host i's addresses: 10.x.y.z and 2001:db8::x:y:z; the wildcard's 192.0.2.1 and 2001:db8::1.
write_zone() {
    awk -v n="$NAMES" -v auth="$AUTH_ADDR" 'BEGIN {
        print "$ORIGIN bench.test."
        print "$TTL 86400"
        print "@ SOA ns hostmaster 1 3600 900 604800 86400"
        print "@ NS ns"
        print "ns A " auth
        print "* A 192.0.2.1"
        print "* AAAA 2001:db8::1"
        for (i = 0; i < n; i++) {
            a = int(i / 65536) % 256; b = int(i / 256) % 256; c = i % 256
            printf "h%d A 10.%d.%d.%d\n", i, a, b, c
            printf "h%d AAAA 2001:db8::%x:%x:%x\n", i, a, b, c
        }
    }' >"$ZONEFILE"
    # Every host's A and AAAA, in a fixed shuffled order.
    awk -v n="$NAMES" 'BEGIN { for (i = 0; i < n; i++) { print "h" i ".bench.test. A"; print "h" i ".bench.test. AAAA" } }' \
        | shuf --random-source=<(yes) >"$TMP/cached.queries"
}

# write_cold FILE: SECONDS x COLD_RATE_MAX names under the wildcard that no run asked before.
write_cold() {
    local tag
    tag="$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    awk -v n="$((SECONDS_PER_RUN * COLD_RATE_MAX))" -v tag="$tag" \
        'BEGIN { for (i = 0; i < n; i++) printf "c%s-%d.bench.test. %s\n", tag, i, (i % 2 ? "AAAA" : "A") }' >"$1"
}

# nsd_queries: the number of queries NSD has received (over its control socket).
nsd_queries() {
    local n
    n="$(timeout 10 nsd-control -c "$TMP/nsd/nsd.conf" stats_noreset 2>/dev/null | awk -F= '$1 == "num.queries" { print $2 }')"
    [ -n "$n" ] || die "nsd-control stats_noreset gave no num.queries"
    echo "$n"
}

start_nsd() {
    mkdir -p "$TMP/nsd"
    cat >"$TMP/nsd/nsd.conf" <<EOF
server:
    ip-address: $AUTH_ADDR
    port: 53
    server-count: 1
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
    control-enable: yes
    control-interface: "$TMP/nsd/nsd.sock"
zone:
    name: "$ORIGIN"
    zonefile: "$ZONEFILE"
EOF
    nsd-checkconf "$TMP/nsd/nsd.conf" || die "nsd-checkconf refused the configuration"
    taskset -c "$CLIENT_CPU" nsd -d -c "$TMP/nsd/nsd.conf" >"$TMP/nsd.log" 2>&1 &
    NSD_PID=$!
    local i
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        [ -n "$(kdig +short +time=1 +retry=0 @"$AUTH_ADDR" "h0.$ORIGIN" A 2>/dev/null || true)" ] && return 0
        kill -0 "$NSD_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$TMP/nsd.log" "$TMP/nsd/nsd.log" >&2 2>/dev/null || true
    die "NSD did not answer on $AUTH_ADDR:53"
}

# ---------------------------------------------------------------------------------------------
# Resolvers
# ---------------------------------------------------------------------------------------------

CACHE_BYTES=$((CACHE_MB * 1024 * 1024))

portcullis_conf() {
    local d="$TMP/portcullis"
    mkdir -p "$d"
    cat >"$d/portcullis.toml" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
workers = 1
control_socket = "$d/control.sock"
log_level = "warn"

[resolver]
enabled = true
insecure_local_upstreams = true
drivers = 1
# The default (1000) is above dnsperf's 200 outstanding queries from its one address; the
# peers have no per-client limit by default (BIND's recursive-clients, 1000, is global).
max_resolutions_per_client = 1000

[cache]
max_bytes = $CACHE_BYTES
prefetch = false
serve_stale = false

# The zone is unsigned and the root's trust anchors are out of reach (loopback only): validating
# would answer SERVFAIL. bench/validation.sh measures validation.
[dnssec]
validation = false

[[forward]]
zone = "$ORIGIN"
to = ["$AUTH_ADDR:53"]
EOF
    "$PORTCULLIS" check --config "$d/portcullis.toml" >/dev/null \
        || die "portcullis check refused $d/portcullis.toml"
}

unbound_conf() {
    local d="$TMP/unbound"
    mkdir -p "$d"
    cat >"$d/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$PORT
    port: $PORT
    do-ip6: no
    num-threads: 1
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$d"
    pidfile: "$d/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 0
    log-queries: no
    log-replies: no
    statistics-interval: 0
    module-config: "iterator"
    msg-cache-size: $((CACHE_MB / 2))m
    rrset-cache-size: $((CACHE_MB / 2))m
    prefetch: no
    serve-expired: no
    do-not-query-localhost: no
    local-zone: "test." nodefault
    access-control: 127.0.0.0/8 allow
remote-control:
    control-enable: no
forward-zone:
    name: "$ORIGIN"
    forward-addr: $AUTH_ADDR@53
EOF
    unbound-checkconf "$d/unbound.conf" >/dev/null || die "unbound-checkconf refused $d/unbound.conf"
}

kresd_conf() {
    local d="$TMP/kresd"
    mkdir -p "$d"
    cat >"$d/config" <<EOF
net.listen('127.0.0.1', $PORT, { kind = 'dns' })
log_level('warning')
option('ALLOW_LOCAL', true)
policy.special_names = {}
trust_anchors.remove('.')
modules.unload('priming')
modules.unload('detect_time_skew')
cache.open($CACHE_MB * MB, 'lmdb://$d/cache')
policy.add(policy.suffix(policy.FORWARD({'$AUTH_ADDR@53'}), {todname('$ORIGIN')}))
EOF
}

named_conf() {
    local d="$TMP/named"
    mkdir -p "$d"
    cat >"$d/named.conf" <<EOF
options {
    directory "$d";
    pid-file "$d/named.pid";
    session-keyfile "$d/session.key";
    managed-keys-directory "$d";
    listen-on port $PORT { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion yes;
    allow-query { 127.0.0.0/8; };
    allow-recursion { 127.0.0.0/8; };
    dnssec-validation no;
    max-cache-size ${CACHE_MB}m;
    prefetch 0;
    stale-answer-enable no;
    stale-cache-enable no;
    minimal-responses yes;
    querylog no;
    notify no;
};
controls { };
logging {
    channel warnings { stderr; severity warning; };
    category default { warnings; };
    category lame-servers { null; };
};
zone "$ORIGIN" {
    type forward;
    forward only;
    forwarders { $AUTH_ADDR port 53; };
};
EOF
    named-checkconf "$d/named.conf" || die "named-checkconf refused $d/named.conf"
}

pdns_conf() {
    local d="$TMP/pdns"
    mkdir -p "$d"
    cat >"$d/recursor.conf" <<EOF
local-address=127.0.0.1
local-port=$PORT
allow-from=127.0.0.0/8
threads=1
pdns-distributes-queries=no
forward-zones=$ORIGIN=$AUTH_ADDR:53
dont-query=
dnssec=off
max-cache-entries=$((CACHE_MB * 4096))
max-packetcache-entries=$((CACHE_MB * 2048))
refresh-on-ttl-perc=0
serve-stale-extensions=0
quiet=yes
security-poll-suffix=
loglevel=4
daemon=no
disable-syslog=yes
write-pid=no
socket-dir=$d
EOF
}

# start NAME CMD...: starts CMD pinned to RESOLVER_CPU and waits until a host's A is answered;
# if it is not, stops it and fails.
start() {
    local name="$1" i
    shift
    [ -z "$(ask "h0.$ORIGIN")" ] || die "something already answers on 127.0.0.1:$PORT"
    taskset -c "$RESOLVER_CPU" "$@" >>"$TMP/$name.log" 2>&1 &
    RESOLVER_PID=$!
    for ((i = 0; i < READY_TIMEOUT * 5; i++)); do
        [ "$(ask "h0.$ORIGIN")" = 10.0.0.0 ] && return 0
        kill -0 "$RESOLVER_PID" 2>/dev/null || break
        sleep 0.2
    done
    tail -n 20 "$TMP/$name.log" >&2
    say "$name did not answer h0.$ORIGIN A on 127.0.0.1:$PORT within $READY_TIMEOUT s"
    stop_resolver
    return 1
}

start_resolver() {
    case "$1" in
        portcullis)
            start portcullis "$PORTCULLIS" serve --config "$TMP/portcullis/portcullis.toml" ;;
        unbound)
            start unbound unbound -d -c "$TMP/unbound/unbound.conf" ;;
        kresd)
            # A fresh cache each time (LMDB keeps it on disk), and its garbage collector, which
            # a kresd deployment runs beside it, as a child on the same core (counted).
            rm -rf "$TMP/kresd/cache"
            mkdir -p "$TMP/kresd/cache"
            # kres-cache-gc needs the cache that kresd creates: it waits for it (at most 10 s).
            start kresd sh -c '
                (for i in $(seq 100); do [ -e "$1/data.mdb" ] && break; sleep 0.1; done
                 exec kres-cache-gc -c "$1" -d 1000) &
                exec kresd -n -c "$2" "$3"' sh "$TMP/kresd/cache" "$TMP/kresd/config" "$TMP/kresd" ;;
        named)
            start named named -f -n 1 -c "$TMP/named/named.conf" ;;
        pdns)
            start pdns pdns_recursor --config-dir="$TMP/pdns" ;;
    esac
}

stop_resolver() {
    tree_stop "$RESOLVER_PID"
    RESOLVER_PID=""
}

version_of() {
    case "$1" in
        portcullis) echo "Portcullis $(git rev-parse --short HEAD 2>/dev/null || echo '?')" ;;
        unbound) echo "Unbound $(unbound -V 2>/dev/null | awk '/^Version/ { print $2; exit }')" ;;
        kresd) kresd --version 2>/dev/null | head -n 1 ;;
        named) named -v 2>/dev/null | awk '{ print $1, $2 }' ;;
        pdns) pdns_recursor --version 2>&1 | grep -o 'PowerDNS Recursor [0-9.]*' | head -n 1 ;;
        nsd) nsd -v 2>&1 | head -n 1 ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

install_debs dnsperf nsd unbound knot-resolver bind9 pdns-recursor knot-dnsutils python3 util-linux
# The packages start their daemons as system services where systemd runs; ours run in the
# foreground on other addresses, so those would only compete for the cores.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for unit in nsd unbound named kresd.target kres-cache-gc pdns-recursor; do
        if systemctl is-active --quiet "$unit" 2>/dev/null; then
            say "stopping and disabling the system service $unit"
            systemctl disable --now "$unit" >/dev/null 2>&1 || say "could not stop $unit"
        fi
    done
fi
others="$(ps -eo pid=,comm= | awk '$2 ~ /^(nsd|unbound|kresd|kres-cache-gc|named|pdns_recursor)$/' || true)"
[ -z "$others" ] || say "note: DNS daemons this script did not start are running (left alone):"$'\n'"$others"

PORTCULLIS=""
SKIPPED=""
if [[ " $RESOLVERS " == *" portcullis "* ]]; then
    say "building portcullis (release)"
    cargo build --release --quiet -p portcullis
    PORTCULLIS="$PWD/target/release/portcullis"
    if ! "$PORTCULLIS" serve --help 2>&1 | grep -q -- '--forward'; then
        say "portcullis: this build has no resolver (serve has no --forward): left out"
        SKIPPED+="- portcullis: this build has no resolver (serve has no --forward)"$'\n'
        RESOLVERS="$(tr ' ' '\n' <<<"$RESOLVERS" | grep -vx portcullis | paste -sd ' ' -)"
    fi
fi
[ -n "${RESOLVERS// /}" ] || die "no resolver to run"

TMP="$(mktemp -d /tmp/resolver-bench.XXXXXX)"
trap cleanup EXIT
trap 'exit 130' INT TERM
ZONEFILE="$TMP/bench.test.zone"

[ -z "$(kdig +short +time=1 +retry=0 @"$AUTH_ADDR" "$ORIGIN" SOA 2>/dev/null || true)" ] \
    || die "something already answers on $AUTH_ADDR:53"

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
say "load average: $LOAD_BEFORE"
write_zone
start_nsd
for r in $RESOLVERS; do "${r}_conf"; done

declare -A QPS LOST SENT DONE NOERR CPU RUN PER AVG RSS NSDCPU UP
LOADS=""
for ((round = 1; round <= ROUNDS; round++)); do
    say "round $round of $ROUNDS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    LOADS+="$(cut -d' ' -f1 /proc/loadavg) "
    for r in $RESOLVERS; do
        if ! start_resolver "$r"; then
            SKIPPED+="- $r, round $round: did not answer (log: $TMP/$r.log)"$'\n'
            continue
        fi
        # The answers must be NSD's: a host and a wildcard name, both types.
        got="$(ask "h1.$ORIGIN") $(ask "h1.$ORIGIN" AAAA) $(ask "check$round.$ORIGIN") $(ask "check$round.$ORIGIN" AAAA)"
        if [ "$got" != "10.0.0.1 2001:db8::1 192.0.2.1 2001:db8::1" ]; then
            say "$r answered '$got' for h1 A, h1 AAAA, a wildcard name's A and AAAA"
            SKIPPED+="- $r, round $round: wrong answers '$got'"$'\n'
            stop_resolver
            continue
        fi
        for mode in cached cold; do
            k="$r/$mode"
            if [ "$mode" = cached ]; then
                perf "$r-warm1" "$TMP/cached.queries" -n 1
                say "  $r warm-up: $R_QPS q/s, lost $R_LOST of $R_SENT, $R_RCODES"
                perf "$r-warm2" "$TMP/cached.queries" -n 1
                [ "$R_LOST" = 0 ] || say "  $r: second warm-up lost $R_LOST of $R_SENT"
                perf "$r-$mode" "$TMP/cached.queries" -l "$SECONDS_PER_RUN"
            else
                write_cold "$TMP/cold.queries"
                perf "$r-$mode" "$TMP/cold.queries" -n 1 -l "$SECONDS_PER_RUN"
                [ "$R_SENT" -lt "$((SECONDS_PER_RUN * COLD_RATE_MAX))" ] \
                    || say "  $r: the cold list ran out before $SECONDS_PER_RUN s (raise COLD_RATE_MAX)"
            fi
            per="$(calc "$R_CPU == 0 ? 0 : $R_NOERROR / $R_CPU")"
            QPS[$k]+="$R_QPS " LOST[$k]+="$R_LOST " SENT[$k]+="$R_SENT " DONE[$k]+="$R_DONE "
            NOERR[$k]+="$(calc "$R_DONE == 0 ? 0 : 100 * $R_NOERROR / $R_DONE") "
            CPU[$k]+="$R_CPU " RUN[$k]+="$R_RUN " PER[$k]+="$per " AVG[$k]+="$R_AVG_MS "
            RSS[$k]+="$(tree_rss "$RESOLVER_PID") " NSDCPU[$k]+="$R_NSD_CPU "
            UP[$k]+="$(calc "$R_DONE == 0 ? 0 : $R_UPSTREAM / $R_DONE") "
            say "$(printf '  %-10s %-6s %8.0f q/s  avg %.2f ms  lost %s/%s  %s  resolver CPU %.2f s of %.1f s  upstream %s (NSD CPU %.2f s)  %.0f NOERROR per resolver CPU s' \
                "$r" "$mode" "$R_QPS" "$R_AVG_MS" "$R_LOST" "$R_SENT" "$R_RCODES" "$R_CPU" "$R_RUN" "$R_UPSTREAM" "$R_NSD_CPU" "$per")"
        done
        stop_resolver
        rm -f "$TMP/cold.queries"
    done
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

for r in $RESOLVERS; do
    problems="$(grep -iE 'warn|error|fail|refus' "$TMP/$r.log" 2>/dev/null || true)"
    [ -z "$problems" ] || { say "--- $r logged (first lines):"; head -n 5 <<<"$problems" >&2; }
done


cat <<EOF

Zone: $ORIGIN on NSD at $AUTH_ADDR:53, $NAMES hosts with A and AAAA plus a wildcard; cached list $((2 * NAMES)) queries, cold lists of unique wildcard names.
Machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo); resolver on core $RESOLVER_CPU, dnsperf and NSD on core $CLIENT_CPU.
Load average (1, 5, 15 min) before: $LOAD_BEFORE; at each round's start (1 min): $LOADS; after: $LOAD_AFTER.
Versions: $(for r in $RESOLVERS nsd; do printf '%s; ' "$(version_of "$r")"; done)dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }').
dnsperf: $SECONDS_PER_RUN s runs, -c $CLIENTS -q $OUTSTANDING -T 1, UDP; cache budget $CACHE_MB MiB; median of $ROUNDS rounds by NOERROR answers per resolver-CPU-second.

| resolver | run | q/s | avg latency ms | lost | NOERROR | upstream queries per answer | resolver CPU s | resolver core busy | RSS MiB | NOERROR answers per resolver-CPU-second |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
for r in $RESOLVERS; do
    [ -n "${PER[$r/cached]:-}" ] || continue
    for mode in cached cold; do
        k="$r/$mode"
        i="$(median_index "${PER[$k]}")"
        printf '| %s | %s | %.0f | %.2f | %s of %s | %.1f%% | %.3f | %.2f | %.0f%% | %.0f | **%.0f** |\n' \
            "$r" "$mode" "$(nth "${QPS[$k]}" "$i")" "$(nth "${AVG[$k]}" "$i")" \
            "$(nth "${LOST[$k]}" "$i")" "$(nth "${SENT[$k]}" "$i")" "$(nth "${NOERR[$k]}" "$i")" \
            "$(nth "${UP[$k]}" "$i")" \
            "$(nth "${CPU[$k]}" "$i")" "$(calc "100 * $(nth "${CPU[$k]}" "$i") / $(nth "${RUN[$k]}" "$i")")" \
            "$(nth "${RSS[$k]}" "$i")" "$(nth "${PER[$k]}" "$i")"
    done
done
printf '\nAll rounds, NOERROR answers per resolver-CPU-second:\n'
for r in $RESOLVERS; do
    [ -n "${PER[$r/cached]:-}" ] || continue
    for mode in cached cold; do
        printf -- '- %s %s: %s\n' "$r" "$mode" "$(awk '{ for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? ", " : ""), $i }' <<<"${PER[$r/$mode]}")"
    done
done
[ -z "$SKIPPED" ] || printf '\nLeft out:\n%s' "$SKIPPED"
