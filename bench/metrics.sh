#!/usr/bin/env bash
# What the per-query metrics cost, in instructions (callgrind counts instructions, which do not
# depend on what else the shared machine is doing), against what a whole cached answer costs.
#
#   bench/metrics.sh
#
# 1. The metrics updates a UDP worker makes per answered query (`count_query`,
#    `count_response`, `observe_latency` by transport and answer source):
#    `crates/metrics/examples/cost.rs` under callgrind with N and 0 queries; (b - a) / N.
# 2. A whole cached answer: the release server (one UDP worker, one resolver driver, forwarding
#    `test.` to an upstream Portcullis, validation off) under callgrind, answering the same
#    list of NAMES cached names WARM + PASSES_A and WARM + PASSES_B times through dnsperf;
#    the difference of the two totals divided by the extra queries is what one cached answer
#    costs in the server's user space (receive, parse, cache lookup, write, send, count),
#    with process start, warm-up and shutdown cancelled out.
# The share is (1) / (2). The server under valgrind is stopped by the PID this script
# started (SIGTERM, so callgrind writes its totals); every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

NAMES="${NAMES:-400}"
PASSES_A="${PASSES_A:-1}"
PASSES_B="${PASSES_B:-5}"
N="${N:-100000}"
PORT="${PORT:-53567}"
UP_PORT="${UP_PORT:-53568}"
READY_TIMEOUT="${READY_TIMEOUT:-120}"
SECONDS_PER_RUN=60
KEEP="${KEEP:-0}"

say() { printf '%s\n' "$*" >&2; }
die() { say "metrics.sh: $*"; exit 1; }

# shellcheck source=bench/lib.sh
. bench/lib.sh # the script has cd-ed to the repository root

install_debs dnsperf knot-dnsutils valgrind

SERVER_PID=""
UP_PID=""
scratch metrics # TMP, removed at exit after stopping SERVER_PID and UP_PID

say "building portcullis and the metrics cost example (release)"
cargo build --release -q -p portcullis
cargo build --release -q -p metrics --example cost
PORTCULLIS="$PWD/target/release/portcullis"


# 1. The metrics updates alone.
valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/cost 0 \
    >/dev/null 2>"$TMP/cost-0.log"
valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/cost "$N" \
    >/dev/null 2>"$TMP/cost-n.log"
a="$(instructions "$TMP/cost-0.log")"
b="$(instructions "$TMP/cost-n.log")"
METRICS="$(calc "($b - $a) / $N")"
say "metrics updates: $METRICS instructions per query"

# 2. A whole cached answer.
wildcard_zone
for ((i = 0; i < NAMES; i++)); do echo "www.site$i.test. A"; done >"$TMP/cached.queries"
upstream_conf test.
cat >"$TMP/server.toml" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
workers = 1
control_socket = "$TMP/server.sock"
log_level = "warn"

[resolver]
enabled = true
insecure_local_upstreams = true
drivers = 1

[cache]
prefetch = false
serve_stale = false

[dnssec]
validation = false

[cookies]
enabled = false

[detect]
mode = "off"

[[forward]]
zone = "test."
to = ["127.0.0.1:$UP_PORT"]
EOF
"$PORTCULLIS" serve --config "$TMP/upstream.toml" >"$TMP/upstream.log" 2>&1 &
UP_PID=$!
wait_answer "$UP_PID" "$UP_PORT" www.site0.test. A "$TMP/upstream.log"

answers() { # answers PASSES: callgrind's total for a server answering the list 1 + PASSES times
    local log="$TMP/server-$1.log" i
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$PORTCULLIS" serve \
        --config "$TMP/server.toml" >/dev/null 2>"$log" &
    SERVER_PID=$!
    wait_answer "$SERVER_PID" "$PORT" www.site0.test. A "$log"
    # The warm pass fills the cache; the measured passes are all cache hits.
    timeout 300 dnsperf -s 127.0.0.1 -p "$PORT" -d "$TMP/cached.queries" -q 10 -t 10 -n 1 \
        >"$TMP/warm-$1.out" 2>&1 || die "dnsperf failed (warm)"
    timeout 600 dnsperf -s 127.0.0.1 -p "$PORT" -d "$TMP/cached.queries" -q 10 -t 10 -n "$1" \
        >"$TMP/run-$1.out" 2>&1 || die "dnsperf failed ($1 passes)"
    grep -q "Queries lost: *0 " "$TMP/run-$1.out" || say "  (some queries lost: $(grep 'Queries lost' "$TMP/run-$1.out"))"
    kill -TERM "$SERVER_PID"
    for ((i = 0; i < 600; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    instructions "$log"
}
ta="$(answers "$PASSES_A")"
tb="$(answers "$PASSES_B")"
QUERIES=$(((PASSES_B - PASSES_A) * NAMES))
ANSWER="$(calc "($tb - $ta) / $QUERIES")"
say "cached answer (whole server, user space): $ANSWER instructions per query"
printf 'metrics updates per query: %.0f instructions\n' "$METRICS"
printf 'cached answer per query:   %.0f instructions\n' "$ANSWER"
printf 'share:                     %.2f%%\n' "$(calc "100 * $METRICS / $ANSWER")"
