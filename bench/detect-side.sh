#!/usr/bin/env bash
# The tunnel detector's cost on cache misses, measured side by side: two copies of the
# resolving Portcullis of bench/detect.sh, detection off and on, pinned to the same core and
# loaded at the same time by one dnsperf each (both on the other core). Whatever else takes
# that core during a run, it takes from both, so the ratio of their queries per
# server-CPU-second within a round is what the detector costs; bench/detect.sh runs the two
# modes one after the other, and its rounds spread 7-16% on a virtual machine.
#
#   bench/detect-side.sh                           # 10 rounds of 10 s
#   ROUNDS=5 SECONDS_PER_RUN=20 bench/detect-side.sh
#   BIN=/path/to/portcullis bench/detect-side.sh   # another build (of an older commit, say)
#
# Setup (a temporary folder, removed on exit unless KEEP=1): the upstream and the "misses" list
# of bench/detect.sh (MISSES distinct ordinary names over SITES registered domains, each a
# cache miss), the two servers on PORT and PORT + 2 with detection "off" and "log". Each round
# starts both afresh (which one starts first alternates), warms each with one pass of a small
# list, then runs both dnsperf for SECONDS_PER_RUN. The two servers share the core's caches, as
# any two processes on one core do; each round's ratio is reported, then their median.
#
# Servers are stopped by the PIDs this script started, never by name; every wait is bounded.
# Installs dnsperf and knot-dnsutils when missing (as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-10}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
SITES="${SITES:-20000}"
MISSES="${MISSES:-600000}"
PORT="${PORT:-53557}"
UP_PORT="${UP_PORT:-53558}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
CLIENTS="${CLIENTS:-10}"
OUTSTANDING="${OUTSTANDING:-200}"
READY_TIMEOUT="${READY_TIMEOUT:-60}"
KEEP="${KEEP:-0}"

say() { printf '%s\n' "$*" >&2; }
die() { say "detect-side.sh: $*"; exit 1; }

# shellcheck source=bench/lib.sh
. bench/lib.sh # the script has cd-ed to the repository root

positive_whole ROUNDS SECONDS_PER_RUN SITES MISSES PORT UP_PORT
[ "$(nproc)" -ge 2 ] || die "needs two cores (one for the servers, one for dnsperf)"
install_debs dnsperf knot-dnsutils python3

SERVER_PID="" # the server with detection off; lib.sh's cleanup stops it and UP_PID
UP_PID=""
ON_PID=""
scratch detect-side # TMP
trap '[ -n "$ON_PID" ] && tree_stop "$ON_PID"; stop_and_clean' EXIT

if [ -n "${BIN:-}" ]; then
    PORTCULLIS="$BIN"
    [ -x "$PORTCULLIS" ] || die "BIN=$BIN is not an executable"
else
    say "building portcullis (release)"
    cargo build --release -q -p portcullis
    PORTCULLIS="$PWD/target/release/portcullis"
fi

say "writing the zone and query lists in $TMP"
wildcard_zone
python3 - "$TMP" "$SITES" "$MISSES" <<'PY'
import random, sys
tmp, sites, misses = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(53)
with open(f"{tmp}/warm.queries", "w") as q:
    q.write("".join(f"www.site{i}.test. A\n" for i in range(0, sites, 10)))
hosts = ["www", "mail", "api", "cdn", "static", "img", "login", "shop", "news", "m"]
with open(f"{tmp}/misses.queries", "w") as q:
    for k in range(misses):
        q.write(f"{rng.choice(hosts)}{k}.site{rng.randrange(sites)}.test. {rng.choice(('A', 'AAAA'))}\n")
PY

upstream_conf test.
taskset -c "$CLIENT_CPU" "$PORTCULLIS" serve --config "$TMP/upstream.toml" >"$TMP/upstream.log" 2>&1 &
UP_PID=$!
wait_answer "$UP_PID" "$UP_PORT" www.site0.test. A "$TMP/upstream.log"

# start MODE PORT: starts the server of MODE ("off" or "log") on PORT; sets STARTED to its PID.
start() {
    local f="$TMP/server-$1.toml"
    PORT="$2" detect_conf "$f" "$1"
    sed -i "s|$TMP/server.sock|$TMP/server-$1.sock|" "$f"
    "$PORTCULLIS" check --config "$f" >/dev/null 2>"$TMP/check-$1.err" || {
        cat "$TMP/check-$1.err" >&2
        die "portcullis check refused $f"
    }
    taskset -c "$SERVER_CPU" "$PORTCULLIS" serve --config "$f" >"$TMP/server-$1.log" 2>&1 &
    STARTED=$!
}

# dnsperf_run PORT QUERIES OUT [FLAGS...]: one dnsperf against PORT, bounded in time.
dnsperf_run() {
    local port="$1" queries="$2" out="$3"
    shift 3
    timeout $((SECONDS_PER_RUN * 3 + 120)) taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 \
        -p "$port" -d "$queries" -c "$CLIENTS" -T 1 -q "$OUTSTANDING" -t 5 "$@" >"$out" 2>"$out.err"
}

cpu_seconds() { # cpu_seconds PID: user + system seconds of the process tree
    local t
    t="$(tree_cpu "$1")"
    calc "${t% *} + ${t#* }"
}

OFF_PORT="$PORT"
ON_PORT=$((PORT + 2))
RATIOS=""
printf '| round | off: q/s | off: queries per server-CPU-second | on: q/s | on: queries per server-CPU-second | on / off |\n|---|---|---|---|---|---|\n'
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then
        start off "$OFF_PORT"
        SERVER_PID="$STARTED"
        start log "$ON_PORT"
        ON_PID="$STARTED"
    else
        start log "$ON_PORT"
        ON_PID="$STARTED"
        start off "$OFF_PORT"
        SERVER_PID="$STARTED"
    fi
    wait_answer "$SERVER_PID" "$OFF_PORT" www.site0.test. A "$TMP/server-off.log"
    wait_answer "$ON_PID" "$ON_PORT" www.site0.test. A "$TMP/server-log.log"
    dnsperf_run "$OFF_PORT" "$TMP/warm.queries" "$TMP/warm-off-$round.out" -n 1 ||
        die "dnsperf failed warming the server with detection off"
    dnsperf_run "$ON_PORT" "$TMP/warm.queries" "$TMP/warm-on-$round.out" -n 1 ||
        die "dnsperf failed warming the server with detection on"
    off0="$(cpu_seconds "$SERVER_PID")"
    on0="$(cpu_seconds "$ON_PID")"
    dnsperf_run "$OFF_PORT" "$TMP/misses.queries" "$TMP/off-$round.out" -l "$SECONDS_PER_RUN" &
    off_job=$!
    dnsperf_run "$ON_PORT" "$TMP/misses.queries" "$TMP/on-$round.out" -l "$SECONDS_PER_RUN" &
    on_job=$!
    wait "$off_job" || die "dnsperf failed against the server with detection off (round $round)"
    wait "$on_job" || die "dnsperf failed against the server with detection on (round $round)"
    off1="$(cpu_seconds "$SERVER_PID")"
    on1="$(cpu_seconds "$ON_PID")"
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server with detection off exited in round $round"
    kill -0 "$ON_PID" 2>/dev/null || die "the server with detection on exited in round $round"
    off_done="$(field "$TMP/off-$round.out" 'Queries completed:' '$3')"
    on_done="$(field "$TMP/on-$round.out" 'Queries completed:' '$3')"
    off_rate="$(calc "$off_done / ($off1 - $off0)")"
    on_rate="$(calc "$on_done / ($on1 - $on0)")"
    ratio="$(calc "$on_rate / $off_rate")"
    RATIOS+="$ratio "
    printf '| %d | %.0f | %.0f | %.0f | %.0f | %.3f |\n' "$round" \
        "$(field "$TMP/off-$round.out" 'Queries per second:' '$4')" "$off_rate" \
        "$(field "$TMP/on-$round.out" 'Queries per second:' '$4')" "$on_rate" "$ratio"
    tree_stop "$SERVER_PID"
    tree_stop "$ON_PID"
    SERVER_PID=""
    ON_PID=""
    [ -s "$TMP/events-log.json" ] && say "  events with detection on: $(wc -l <"$TMP/events-log.json")"
done
median="$(nth "$RATIOS" "$(median_index "$RATIOS")")"
printf '\ndetection on costs %.1f%% of queries per server-CPU-second on cache misses (median of %d rounds' \
    "$(calc "(1 - $median) * 100")" "$ROUNDS"
printf '; rounds %s)\n' "$(tr ' ' '\n' <<<"${RATIOS% }" | sort -g | awk '{ printf "%s%.1f%%", (NR > 1 ? ", " : ""), (1 - $1) * 100 }')"
