#!/usr/bin/env bash
# DNSSEC validation cost: Portcullis and Unbound, each with validation on and off, resolving
# from the root down through a signed test hierarchy served by NSD on loopback, under dnsperf.
#
#   bench/validation.sh                                # 100 leaves, 50,000 names, 20 s, 3 rounds
#   bench/validation.sh --seconds 5 --rounds 1         # a short check
#   bench/validation.sh --only portcullis --leaves 20 --names 10000
#
# Options (each also an environment variable):
#   --only LIST      resolvers, comma- or space-separated (RESOLVERS; default: portcullis unbound);
#                    each runs twice per round, validating and not
#   --rounds N       rounds; the table gives the median round (ROUNDS, default 3)
#   --seconds S      length of each measured dnsperf run (SECONDS_PER_RUN, default 20)
#   --names N        hosts over all leaf zones, each with A and AAAA: the cached query list has
#                    2N queries (NAMES, default 50000)
#   --leaves N       signed leaf zones z0.test. to z<N-1>.test. (LEAVES, default 100)
#   --keep           leave the temporary folder (zones, keys, configurations, logs, outputs)
# Other settings, environment only: ALGORITHM (ldns-keygen's name, default ECDSAP256SHA256;
# RSASHA256 gets 2048-bit keys), DENIAL (nsec3, the default, with 0 iterations and no salt as
# RFC 9276 asks, or nsec), PORT (53555), ROOT_ADDR, TLD_ADDR, LEAF_ADDR (NSD's loopback
# addresses, port 53; default 127.0.0.12, .13, .14), CACHE_MB (128), RESOLVER_CPU (0),
# CLIENT_CPU (1: dnsperf and the three NSDs), CLIENTS (10), OUTSTANDING (200), COLD_RATE_MAX
# (100000).
#
# Setup: writes and signs (ldns-keygen, a KSK and a ZSK per zone; ldns-signzone, signatures
# valid from an hour ago for 30 days) the root zone `.`, the TLD `test.` and LEAVES leaf zones
# `z<i>.test.`; each leaf holds its share of hosts `h<j>` (j mod LEAVES = i) with one A and one
# AAAA, and a wildcard `*` with A and AAAA; TTL one day. Every parent has its children's DS
# records. Three NSD processes (one per address, so that each answers only as its own zone's
# server and resolvers follow real referrals) serve the root on ROOT_ADDR, `test.` on TLD_ADDR
# and every leaf on LEAF_ADDR. The trust anchor is the root KSK's DS.
#
# Then ROUNDS times, for each resolver and each of validation on and off, the resolver starts
# afresh (empty cache) on 127.0.0.1:PORT pinned to RESOLVER_CPU, resolves from the root hints
# (no forwarding), and:
#   - must answer a host's A with its address, with the AD flag when validating and without
#     it when not (kdig +dnssec);
#   - cached: the 2N-query list (every host's A and AAAA, shuffled) twice as a warm-up, then
#     dnsperf loops over it for SECONDS;
#   - cold: a fresh list of unique names under the leaves' wildcards
#     (`c<random>-<i>.z<i mod LEAVES>.test.`, A and AAAA alternately), sent once for at most
#     SECONDS: every query is a cache miss, and a validated wildcard answer needs its own
#     signature and an NSEC3 (or NSEC) proof that the name itself does not exist. The leaves'
#     DNSKEY and DS records are already cached from the cached run.
# Figures as in bench/resolver.sh: NOERROR answers per resolver-CPU-second (user + system of the
# resolver's process tree), median round; plus the validation overhead: how much more CPU an
# answer costs with validation on than off, in %, from the medians; and, for Portcullis, the
# RRSIG checks and the validator's own time per answer (its metrics endpoint, on PORT + 1:
# portcullis_dnssec_signature_checks_total, portcullis_dnssec_validation_seconds_total).
#
# Settings kept comparable: one worker thread each (Unbound num-threads 1; Portcullis workers =
# 1, resolver.drivers = 1); 128 MiB of cache (Unbound 64 MiB message + 64 MiB RRset caches,
# Portcullis max_bytes); prefetch and serve-stale off; query logging off. Validation on:
# Portcullis [dnssec] validation = true with the root DS as its only trust anchor; Unbound
# module-config "validator iterator" with that DS as trust-anchor-file. Off: Portcullis
# validation = false, Unbound module-config "iterator". Everything else at its default (QNAME
# minimisation, 0x20, Unbound's aggressive-nsec, which NSEC3 zones do not feed).
#
# Daemons are stopped by the PIDs this script started, never by name; every wait is bounded.
# Installs the Debian packages it needs when run as root (or with sudo). Binding port 53 on the
# three addresses needs root (or CAP_NET_BIND_SERVICE for NSD).
# shellcheck disable=SC2016 # awk expressions are meant literally
set -euo pipefail
cd "$(dirname "$0")/.."

RESOLVERS="${RESOLVERS:-portcullis unbound}"
ROUNDS="${ROUNDS:-3}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-20}"
NAMES="${NAMES:-50000}"
LEAVES="${LEAVES:-100}"
KEEP="${KEEP:-0}"
ALGORITHM="${ALGORITHM:-ECDSAP256SHA256}"
DENIAL="${DENIAL:-nsec3}"
PORT="${PORT:-53555}"
ROOT_ADDR="${ROOT_ADDR:-127.0.0.12}"
TLD_ADDR="${TLD_ADDR:-127.0.0.13}"
LEAF_ADDR="${LEAF_ADDR:-127.0.0.14}"
CACHE_MB="${CACHE_MB:-128}"
RESOLVER_CPU="${RESOLVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
CLIENTS="${CLIENTS:-10}"
OUTSTANDING="${OUTSTANDING:-200}"
COLD_RATE_MAX="${COLD_RATE_MAX:-100000}"
READY_TIMEOUT="${READY_TIMEOUT:-30}"
ALL_RESOLVERS="portcullis unbound"

say() { printf '%s\n' "$*" >&2; }
die() { say "validation.sh: $*"; exit 1; }
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
        --leaves) [ $# -ge 2 ] || die "--leaves needs a number"; LEAVES="$2"; shift 2 ;;
        --leaves=*) LEAVES="${1#--leaves=}"; shift ;;
        --keep) KEEP=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
# shellcheck source=bench/lib.sh
. bench/lib.sh # the script has cd-ed to the repository root
positive_whole ROUNDS SECONDS_PER_RUN NAMES LEAVES PORT CACHE_MB
[ "$LEAVES" -le "$NAMES" ] || die "more leaves than names"
for r in $RESOLVERS; do
    [[ " $ALL_RESOLVERS " == *" $r "* ]] || die "unknown resolver $r (one of: $ALL_RESOLVERS)"
done
case "$DENIAL" in
    nsec3) SIGN_DENIAL=(-n -t 0) ;;
    nsec) SIGN_DENIAL=() ;;
    *) die "DENIAL is nsec3 or nsec, not '$DENIAL'" ;;
esac
KEY_BITS=()
[[ "$ALGORITHM" == RSA* ]] && KEY_BITS=(-b 2048)

[ "$(nproc)" -ge 2 ] || die "needs two cores (one for the resolver, one for dnsperf and NSD)"

TMP=""
RESOLVER_PID=""
NSD_PIDS=""
METRICS_URL=""

cleanup() {
    [ -n "$RESOLVER_PID" ] && tree_stop "$RESOLVER_PID"
    local p
    for p in $NSD_PIDS; do tree_stop "$p"; done
    if [ -n "$TMP" ]; then
        if [ "$KEEP" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    fi
}

# ---------------------------------------------------------------------------------------------
# The signed hierarchy and its authoritative servers
# ---------------------------------------------------------------------------------------------

# sign ORIGIN FILE: keys for ORIGIN in $TMP/keys, FILE signed into FILE.signed, the KSK's DS
# (SHA-256) into FILE.ds.
sign() {
    local origin="$1" file="$2" ksk zsk now
    ksk="$(cd "$TMP/keys" && ldns-keygen -a "$ALGORITHM" "${KEY_BITS[@]}" -k "$origin")"
    zsk="$(cd "$TMP/keys" && ldns-keygen -a "$ALGORITHM" "${KEY_BITS[@]}" "$origin")"
    now="$(date -u +%s)"
    ldns-signzone -o "$origin" -f "$file.signed" "${SIGN_DENIAL[@]}" \
        -i "$(date -u -d "@$((now - 3600))" +%Y%m%d%H%M%S)" \
        -e "$(date -u -d "@$((now + 30 * 86400))" +%Y%m%d%H%M%S)" \
        "$file" "$TMP/keys/$ksk" "$TMP/keys/$zsk" || die "ldns-signzone failed for $origin"
    (cd "$TMP/keys" && ldns-key2ds -n -2 "$ksk.key") >"$file.ds" || die "ldns-key2ds failed for $origin"
}

write_zones() {
    local i
    mkdir -p "$TMP/keys" "$TMP/zones"
    # Leaves first: their DS records go into test.
    awk -v n="$NAMES" -v leaves="$LEAVES" -v dir="$TMP/zones" -v addr="$LEAF_ADDR" 'BEGIN {
        for (z = 0; z < leaves; z++) {
            f = dir "/z" z ".test.zone"
            printf "$ORIGIN z%d.test.\n$TTL 86400\n@ SOA ns hostmaster 1 3600 900 604800 86400\n@ NS ns\nns A %s\n* A 192.0.2.1\n* AAAA 2001:db8::1\n", z, addr >f
        }
        for (i = 0; i < n; i++) {
            f = dir "/z" (i % leaves) ".test.zone"
            a = int(i / 65536) % 256; b = int(i / 256) % 256; c = i % 256
            printf "h%d A 10.%d.%d.%d\nh%d AAAA 2001:db8::%x:%x:%x\n", i, a, b, c, i, a, b, c >>f
        }
    }'
    for ((i = 0; i < LEAVES; i++)); do
        sign "z$i.test." "$TMP/zones/z$i.test.zone"
    done
    {
        printf '$ORIGIN test.\n$TTL 86400\n@ SOA ns hostmaster 1 3600 900 604800 86400\n'
        printf '@ NS ns\nns A %s\na.root A %s\n' "$TLD_ADDR" "$ROOT_ADDR"
        for ((i = 0; i < LEAVES; i++)); do
            printf 'z%d NS ns.z%d\nns.z%d A %s\n' "$i" "$i" "$i" "$LEAF_ADDR"
            cat "$TMP/zones/z$i.test.zone.ds"
        done
    } >"$TMP/zones/test.zone"
    sign test. "$TMP/zones/test.zone"
    {
        printf '$ORIGIN .\n$TTL 86400\n@ SOA a.root.test. hostmaster.test. 1 3600 900 604800 86400\n'
        printf '@ NS a.root.test.\ntest. NS ns.test.\nns.test. A %s\na.root.test. A %s\n' "$TLD_ADDR" "$ROOT_ADDR"
        cat "$TMP/zones/test.zone.ds"
    } >"$TMP/zones/root.zone"
    sign . "$TMP/zones/root.zone"
    cp "$TMP/zones/root.zone.ds" "$TMP/anchor.ds"
    printf '. 3600000 NS a.root.test.\na.root.test. 3600000 A %s\n' "$ROOT_ADDR" >"$TMP/root.hints"
    # Every host's A and AAAA, in a fixed shuffled order.
    awk -v n="$NAMES" -v leaves="$LEAVES" 'BEGIN { for (i = 0; i < n; i++) { z = i % leaves; print "h" i ".z" z ".test. A"; print "h" i ".z" z ".test. AAAA" } }' \
        | shuf --random-source=<(yes) >"$TMP/cached.queries"
}

# write_cold FILE: SECONDS x COLD_RATE_MAX wildcard names, spread over the leaves, never asked.
write_cold() {
    local tag
    tag="$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    awk -v n="$((SECONDS_PER_RUN * COLD_RATE_MAX))" -v tag="$tag" -v leaves="$LEAVES" \
        'BEGIN { for (i = 0; i < n; i++) printf "c%s-%d.z%d.test. %s\n", tag, i, i % leaves, (i % 2 ? "AAAA" : "A") }' >"$1"
}

# start_nsd NAME ADDR ZONE-ORIGIN:FILE...: one NSD process on ADDR:53 for the zones given.
start_nsd() {
    local name="$1" addr="$2" d="$TMP/nsd-$1" zf i pid
    shift 2
    mkdir -p "$d"
    {
        cat <<EOF
server:
    ip-address: $addr
    port: 53
    server-count: 1
    minimal-responses: yes
    rrl-ratelimit: 0
    verbosity: 0
    username: ""
    chroot: ""
    database: ""
    zonesdir: "$TMP/zones"
    zonelistfile: "$d/zone.list"
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    pidfile: "$d/nsd.pid"
    logfile: "$d/nsd.log"
remote-control:
    control-enable: yes
    control-interface: "$d/nsd.sock"
EOF
        for zf in "$@"; do printf 'zone:\n    name: "%s"\n    zonefile: "%s"\n' "${zf%%:*}" "${zf#*:}"; done
    } >"$d/nsd.conf"
    nsd-checkconf "$d/nsd.conf" || die "nsd-checkconf refused $d/nsd.conf"
    taskset -c "$CLIENT_CPU" nsd -d -c "$d/nsd.conf" >"$d/stderr.log" 2>&1 &
    pid=$!
    NSD_PIDS+="$pid "
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        [ -n "$(kdig +short +time=1 +retry=0 @"$addr" "${1%%:*}" SOA 2>/dev/null || true)" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$d/stderr.log" "$d/nsd.log" >&2 2>/dev/null || true
    die "NSD ($name) did not answer on $addr:53"
}

start_nsds() {
    local i leaves=()
    for ((i = 0; i < LEAVES; i++)); do leaves+=("z$i.test.:$TMP/zones/z$i.test.zone.signed"); done
    start_nsd root "$ROOT_ADDR" ".:$TMP/zones/root.zone.signed"
    start_nsd tld "$TLD_ADDR" "test.:$TMP/zones/test.zone.signed"
    start_nsd leaves "$LEAF_ADDR" "${leaves[@]}"
}

# nsd_queries: queries received by the three NSDs together (over their control sockets).
nsd_queries() {
    local name n total=0
    for name in root tld leaves; do
        n="$(timeout 10 nsd-control -c "$TMP/nsd-$name/nsd.conf" stats_noreset 2>/dev/null | awk -F= '$1 == "num.queries" { print $2 }')"
        [ -n "$n" ] || die "nsd-control stats_noreset ($name) gave no num.queries"
        total=$((total + n))
    done
    echo "$total"
}

# nsd_cpu: "user system" seconds of the three NSDs.
nsd_cpu() {
    local p t u=0 s=0
    for p in $NSD_PIDS; do
        t="$(tree_cpu "$p")"
        u="$(calc "$u + ${t% *}")"
        s="$(calc "$s + ${t#* }")"
    done
    echo "$u $s"
}

# ---------------------------------------------------------------------------------------------
# Measuring (as bench/resolver.sh)
# ---------------------------------------------------------------------------------------------

# validator_counters: "signature-checks validation-seconds" from Portcullis's metrics endpoint
# (RRSIG verifications and the time its validator spent in signature and denial checks), or
# "0 0" for Unbound.
validator_counters() {
    [ -n "$METRICS_URL" ] || { echo "0 0"; return; }
    curl -s --max-time 5 "$METRICS_URL" | awk '
        $1 == "portcullis_dnssec_signature_checks_total" { c = $2 }
        $1 == "portcullis_dnssec_validation_seconds_total" { s = $2 }
        END { print c + 0, s + 0 }'
}

# perf NAME QUERIES [DNSPERF-FLAGS...]: one dnsperf run (pinned to CLIENT_CPU); sets R_QPS,
# R_SENT, R_DONE, R_LOST, R_NOERROR, R_AVG_MS, R_RUN, R_CPU (resolver seconds), R_NSD_CPU,
# R_UPSTREAM (queries the NSDs received during the run), R_RCODES; R_SIGS and R_VAL_SECS
# (Portcullis's signature checks and validator seconds during the run).
perf() {
    local name="$1" queries="$2" out cpu0 cpu1 nsd0 nsd1 up0 up1 val0 val1
    shift 2
    out="$TMP/$name.out"
    val0="$(validator_counters)"
    cpu0="$(tree_cpu "$RESOLVER_PID")"
    nsd0="$(nsd_cpu)"
    up0="$(nsd_queries)"
    if ! timeout $((SECONDS_PER_RUN * 3 + 300)) taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 \
        -p "$PORT" -d "$queries" -c "$CLIENTS" -T 1 -q "$OUTSTANDING" -t 5 "$@" >"$out" 2>"$out.err"; then
        say "dnsperf failed ($name):"
        head -n 20 "$out.err" "$out" >&2
        return 1
    fi
    cpu1="$(tree_cpu "$RESOLVER_PID")"
    nsd1="$(nsd_cpu)"
    up1="$(nsd_queries)"
    val1="$(validator_counters)"
    R_SIGS="$(calc "${val1% *} - ${val0% *}")"
    R_VAL_SECS="$(calc "${val1#* } - ${val0#* }")"
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

# ask NAME [TYPE] [KDIG-OPTIONS...]: the resolver's answer (+short) for NAME.
ask() {
    kdig +short +time=2 +retry=0 -p "$PORT" @127.0.0.1 "$1" "${2:-A}" "${@:3}" 2>/dev/null || true
}

# ad_flag NAME: "ad" when the resolver's answer for NAME carries the AD flag, else "-".
ad_flag() {
    kdig +dnssec +time=2 +retry=0 -p "$PORT" @127.0.0.1 "$1" A 2>/dev/null \
        | awk '/^;; Flags:/ { for (i = 3; i <= NF; i++) if ($i == "ad;" || $i == "ad") { print "ad"; exit } print "-"; exit }'
}

# ---------------------------------------------------------------------------------------------
# Resolvers (validating: $2 = on or off)
# ---------------------------------------------------------------------------------------------

CACHE_BYTES=$((CACHE_MB * 1024 * 1024))

portcullis_conf() {
    local d="$TMP/portcullis-$1" validation=false
    [ "$1" = on ] && validation=true
    mkdir -p "$d"
    cat >"$d/portcullis.toml" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
workers = 1
control_socket = "$d/control.sock"
log_level = "warn"
http = "127.0.0.1:$((PORT + 1))"

[resolver]
enabled = true
root_hints = "$TMP/root.hints"
insecure_local_upstreams = true
drivers = 1
max_resolutions_per_client = 1000

[cache]
max_bytes = $CACHE_BYTES
prefetch = false
serve_stale = false

[dnssec]
validation = $validation
trust_anchor_files = ["$TMP/anchor.ds"]
EOF
    "$PORTCULLIS" check --config "$d/portcullis.toml" >/dev/null \
        || die "portcullis check refused $d/portcullis.toml"
}

unbound_conf() {
    local d="$TMP/unbound-$1" modules='"iterator"' anchor=""
    if [ "$1" = on ]; then
        modules='"validator iterator"'
        anchor="trust-anchor-file: \"$TMP/anchor.ds\""
    fi
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
    module-config: $modules
    $anchor
    root-hints: "$TMP/root.hints"
    msg-cache-size: $((CACHE_MB / 2))m
    rrset-cache-size: $((CACHE_MB / 2))m
    prefetch: no
    serve-expired: no
    do-not-query-localhost: no
    local-zone: "test." nodefault
    access-control: 127.0.0.0/8 allow
remote-control:
    control-enable: no
EOF
    unbound-checkconf "$d/unbound.conf" >/dev/null || die "unbound-checkconf refused $d/unbound.conf"
}

# start LABEL CMD...: starts CMD pinned to RESOLVER_CPU and waits until a host's A is answered.
start() {
    local label="$1" i
    shift
    [ -z "$(ask "h0.z0.test.")" ] || die "something already answers on 127.0.0.1:$PORT"
    taskset -c "$RESOLVER_CPU" "$@" >>"$TMP/$label.log" 2>&1 &
    RESOLVER_PID=$!
    for ((i = 0; i < READY_TIMEOUT * 5; i++)); do
        [ "$(ask "h0.z0.test.")" = 10.0.0.0 ] && return 0
        kill -0 "$RESOLVER_PID" 2>/dev/null || break
        sleep 0.2
    done
    tail -n 20 "$TMP/$label.log" >&2
    say "$label did not answer h0.z0.test. A on 127.0.0.1:$PORT within $READY_TIMEOUT s"
    stop_resolver
    return 1
}

start_resolver() {
    METRICS_URL=""
    [ "$1" = portcullis ] && METRICS_URL="http://127.0.0.1:$((PORT + 1))/metrics"
    case "$1" in
        portcullis) start "portcullis-$2" "$PORTCULLIS" serve --config "$TMP/portcullis-$2/portcullis.toml" ;;
        unbound) start "unbound-$2" unbound -d -c "$TMP/unbound-$2/unbound.conf" ;;
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
        nsd) nsd -v 2>&1 | head -n 1 ;;
        ldns) ldns-signzone -v 2>&1 | head -n 1 ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

install_debs dnsperf nsd unbound ldnsutils knot-dnsutils util-linux curl
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for unit in nsd unbound; do
        if systemctl is-active --quiet "$unit" 2>/dev/null; then
            say "stopping and disabling the system service $unit"
            systemctl disable --now "$unit" >/dev/null 2>&1 || say "could not stop $unit"
        fi
    done
fi

PORTCULLIS=""
if [[ " $RESOLVERS " == *" portcullis "* ]]; then
    say "building portcullis (release)"
    cargo build --release --quiet -p portcullis
    PORTCULLIS="$PWD/target/release/portcullis"
fi

TMP="$(mktemp -d /tmp/validation-bench.XXXXXX)"
trap cleanup EXIT
trap 'exit 130' INT TERM

for a in "$ROOT_ADDR" "$TLD_ADDR" "$LEAF_ADDR"; do
    [ -z "$(kdig +short +time=1 +retry=0 @"$a" . SOA 2>/dev/null || true)" ] \
        || die "something already answers on $a:53"
done

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
say "load average: $LOAD_BEFORE; signing $LEAVES leaves, test. and the root ($ALGORITHM, $DENIAL)"
write_zones
start_nsds
RUNS=""
for r in $RESOLVERS; do
    for v in on off; do
        "${r}_conf" "$v"
        RUNS+="$r/$v "
    done
done

SKIPPED=""
declare -A QPS LOST SENT DONE NOERR CPU RUN PER AVG RSS UP SIGS VALUS
LOADS=""
for ((round = 1; round <= ROUNDS; round++)); do
    say "round $round of $ROUNDS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    LOADS+="$(cut -d' ' -f1 /proc/loadavg) "
    for rv in $RUNS; do
        r="${rv%/*}" v="${rv#*/}"
        if ! start_resolver "$r" "$v"; then
            SKIPPED+="- $rv, round $round: did not answer (log: $TMP/$r-$v.log)"$'\n'
            continue
        fi
        # The answers must be the leaves', validated (AD) exactly when validation is on.
        got="$(ask "h1.z1.test.") $(ask "h1.z1.test." AAAA) $(ask "check$round.z2.test.") $(ad_flag "h3.z3.test.")"
        want="10.0.0.1 2001:db8::0:0:1 192.0.2.1 $([ "$v" = on ] && echo ad || echo -)"
        want="${want/::0:0:1/::1}"
        if [ "$got" != "$want" ]; then
            say "$rv answered '$got' (h1 A, h1 AAAA, a wildcard name's A, AD flag), not '$want'"
            SKIPPED+="- $rv, round $round: wrong answers '$got'"$'\n'
            stop_resolver
            continue
        fi
        for mode in cached cold; do
            k="$rv/$mode"
            if [ "$mode" = cached ]; then
                perf "$r-$v-warm1" "$TMP/cached.queries" -n 1
                say "  $rv warm-up: $R_QPS q/s, lost $R_LOST of $R_SENT, $R_RCODES"
                perf "$r-$v-warm2" "$TMP/cached.queries" -n 1
                [ "$R_LOST" = 0 ] || say "  $rv: second warm-up lost $R_LOST of $R_SENT"
                perf "$r-$v-$mode" "$TMP/cached.queries" -l "$SECONDS_PER_RUN"
            else
                write_cold "$TMP/cold.queries"
                perf "$r-$v-$mode" "$TMP/cold.queries" -n 1 -l "$SECONDS_PER_RUN"
                [ "$R_SENT" -lt "$((SECONDS_PER_RUN * COLD_RATE_MAX))" ] \
                    || say "  $rv: the cold list ran out before $SECONDS_PER_RUN s (raise COLD_RATE_MAX)"
            fi
            per="$(calc "$R_CPU == 0 ? 0 : $R_NOERROR / $R_CPU")"
            QPS[$k]+="$R_QPS " LOST[$k]+="$R_LOST " SENT[$k]+="$R_SENT " DONE[$k]+="$R_DONE "
            NOERR[$k]+="$(calc "$R_DONE == 0 ? 0 : 100 * $R_NOERROR / $R_DONE") "
            CPU[$k]+="$R_CPU " RUN[$k]+="$R_RUN " PER[$k]+="$per " AVG[$k]+="$R_AVG_MS "
            RSS[$k]+="$(tree_rss "$RESOLVER_PID") "
            UP[$k]+="$(calc "$R_DONE == 0 ? 0 : $R_UPSTREAM / $R_DONE") "
            SIGS[$k]+="$(calc "$R_NOERROR == 0 ? 0 : $R_SIGS / $R_NOERROR") "
            VALUS[$k]+="$(calc "$R_NOERROR == 0 ? 0 : 1000000 * $R_VAL_SECS / $R_NOERROR") "
            say "$(printf '  %-16s %-6s %8.0f q/s  avg %.2f ms  lost %s/%s  %s  resolver CPU %.2f s of %.1f s  upstream %s (NSD CPU %.2f s)  %.0f NOERROR per resolver CPU s' \
                "$rv" "$mode" "$R_QPS" "$R_AVG_MS" "$R_LOST" "$R_SENT" "$R_RCODES" "$R_CPU" "$R_RUN" "$R_UPSTREAM" "$R_NSD_CPU" "$per")"
        done
        stop_resolver
        rm -f "$TMP/cold.queries"
    done
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

for rv in $RUNS; do
    log="$TMP/${rv/\//-}.log"
    problems="$(grep -iE 'warn|error|fail|refus|bogus' "$log" 2>/dev/null || true)"
    [ -z "$problems" ] || { say "--- $rv logged (first lines):"; head -n 5 <<<"$problems" >&2; }
done

cat <<EOF

Hierarchy: signed root on $ROOT_ADDR, test. on $TLD_ADDR, $LEAVES signed leaves z0..z$((LEAVES - 1)).test. on $LEAF_ADDR (NSD, port 53); $ALGORITHM, KSK + ZSK per zone, $DENIAL$([ "$DENIAL" = nsec3 ] && echo " (0 iterations, no salt)"); $NAMES hosts with A and AAAA plus a wildcard per leaf.
Machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo); resolver on core $RESOLVER_CPU, dnsperf and the NSDs on core $CLIENT_CPU.
Load average (1, 5, 15 min) before: $LOAD_BEFORE; at each round's start (1 min): $LOADS; after: $LOAD_AFTER.
Versions: $(for r in $RESOLVERS nsd ldns; do printf '%s; ' "$(version_of "$r")"; done)dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }').
dnsperf: $SECONDS_PER_RUN s runs, -c $CLIENTS -q $OUTSTANDING -T 1, UDP, no EDNS; cache budget $CACHE_MB MiB; median of $ROUNDS rounds by NOERROR answers per resolver-CPU-second.

| resolver | validation | run | q/s | avg latency ms | lost | NOERROR | upstream queries per answer | resolver CPU s | resolver core busy | RSS MiB | NOERROR answers per resolver-CPU-second |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
declare -A MED
for mode in cached cold; do
    for rv in $RUNS; do
        k="$rv/$mode"
        [ -n "${PER[$k]:-}" ] || continue
        i="$(median_index "${PER[$k]}")"
        MED[$k]="$(nth "${PER[$k]}" "$i")"
        printf '| %s | %s | %s | %.0f | %.2f | %s of %s | %.1f%% | %.3f | %.2f | %.0f%% | %.0f | **%.0f** |\n' \
            "${rv%/*}" "${rv#*/}" "$mode" "$(nth "${QPS[$k]}" "$i")" "$(nth "${AVG[$k]}" "$i")" \
            "$(nth "${LOST[$k]}" "$i")" "$(nth "${SENT[$k]}" "$i")" "$(nth "${NOERR[$k]}" "$i")" \
            "$(nth "${UP[$k]}" "$i")" \
            "$(nth "${CPU[$k]}" "$i")" "$(calc "100 * $(nth "${CPU[$k]}" "$i") / $(nth "${RUN[$k]}" "$i")")" \
            "$(nth "${RSS[$k]}" "$i")" "${MED[$k]}"
    done
done
printf '\nValidation overhead, CPU per answer with validation on over off (medians):\n'
for r in $RESOLVERS; do
    for mode in cached cold; do
        on="${MED[$r/on/$mode]:-}" off="${MED[$r/off/$mode]:-}"
        if [ -z "$on" ] || [ -z "$off" ]; then continue; fi
        printf -- '- %s %s: %+.1f%% (%.2f µs of CPU per answer on, %.2f µs off)' "$r" "$mode" \
            "$(calc "100 * ($off / $on - 1)")" "$(calc "1000000 / $on")" "$(calc "1000000 / $off")"
        if [ "$r" = portcullis ]; then
            i="$(median_index "${PER[$r/on/$mode]}")"
            printf '; in that median run the validator made %.2f signature checks and spent %.2f µs per answer' \
                "$(nth "${SIGS[$r/on/$mode]}" "$i")" "$(nth "${VALUS[$r/on/$mode]}" "$i")"
        fi
        printf '\n'
    done
done
printf '\nAll rounds, NOERROR answers per resolver-CPU-second:\n'
for rv in $RUNS; do
    for mode in cached cold; do
        [ -n "${PER[$rv/$mode]:-}" ] || continue
        printf -- '- %s %s: %s\n' "$rv" "$mode" "$(awk '{ for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? ", " : ""), $i }' <<<"${PER[$rv/$mode]}")"
    done
done
[ -z "$SKIPPED" ] || printf '\nLeft out:\n%s' "$SKIPPED"
