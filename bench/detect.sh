#!/usr/bin/env bash
# The tunnel detector's cost on the hot path: the same resolving Portcullis with detection off,
# then on (`[detect] mode = "log"`, the default), under dnsperf, alternating, the server pinned
# to one core.
#
#   bench/detect.sh                       # 20 s runs, 3 rounds
#   ROUNDS=1 SECONDS_PER_RUN=5 bench/detect.sh
#
# Setup (a temporary folder, removed on exit unless KEEP=1):
#   - an upstream Portcullis (authoritative only, pinned to CLIENT_CPU) serving `test.` with a
#     wildcard `*.test. A 192.0.2.1`, so every name under it has an answer;
#   - the server under test on 127.0.0.1:PORT, pinned to SERVER_CPU, one UDP worker and one
#     resolver driver, forwarding `test.` to the upstream, DNSSEC validation off, no policy.
# Two query lists:
#   - "cached": `www.siteN.test.` A and AAAA for SITES sites, asked twice in full before the run
#     so every query is a cache hit (detection does one atomic load: no verdict stands);
#   - "misses": MISSES distinct names `hK.siteN.test.` (ordinary host labels over SITES
#     registered domains), each asked once: every query is a cache miss, scored by the query
#     model, counted in its domain's windows and the anomaly baselines, then forwarded.
# Then ROUNDS times, "off" then "on" (each started afresh): dnsperf runs SECONDS_PER_RUN
# seconds over each list. The server's CPU time (user + system, from /proc/PID/stat) is read
# before and after each run; the table reports the median round's queries per
# server-CPU-second for each mode and list, and the cost of "on".
#
# The server is stopped by the PID this script started, never by name; every wait is bounded.
# Installs dnsperf and knot-dnsutils when missing (as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-20}"
SITES="${SITES:-20000}"
MISSES="${MISSES:-1500000}"
PORT="${PORT:-53557}"
UP_PORT="${UP_PORT:-53558}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
CLIENTS="${CLIENTS:-10}"
OUTSTANDING="${OUTSTANDING:-200}"
READY_TIMEOUT="${READY_TIMEOUT:-60}"
KEEP="${KEEP:-0}"

say() { printf '%s\n' "$*" >&2; }
die() { say "detect.sh: $*"; exit 1; }

# shellcheck source=bench/lib.sh
. bench/lib.sh # the script has cd-ed to the repository root

positive_whole ROUNDS SECONDS_PER_RUN SITES MISSES PORT UP_PORT
[ "$(nproc)" -ge 2 ] || die "needs two cores (one for the server, one for dnsperf)"
install_debs dnsperf knot-dnsutils python3

SERVER_PID=""
UP_PID=""
scratch detect # TMP, removed at exit after stopping SERVER_PID and UP_PID

say "building portcullis (release)"
cargo build --release -q -p portcullis
PORTCULLIS="$PWD/target/release/portcullis"

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

say "writing the zone and query lists in $TMP"
wildcard_zone
python3 - "$TMP" "$SITES" "$MISSES" <<'PY'
import random, sys
tmp, sites, misses = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(53)
cached = [f"www.site{i}.test. {t}" for i in range(sites) for t in ("A", "AAAA")]
rng.shuffle(cached)
with open(f"{tmp}/cached.queries", "w") as q:
    q.write("\n".join(cached) + "\n")
hosts = ["www", "mail", "api", "cdn", "static", "img", "login", "shop", "news", "m"]
with open(f"{tmp}/misses.queries", "w") as q:
    for k in range(misses):
        q.write(f"{rng.choice(hosts)}{k}.site{rng.randrange(sites)}.test. {rng.choice(('A', 'AAAA'))}\n")
PY

# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------

start_upstream() {
    upstream_conf test.
    taskset -c "$CLIENT_CPU" "$PORTCULLIS" serve --config "$TMP/upstream.toml" \
        >"$TMP/upstream.log" 2>&1 &
    UP_PID=$!
    wait_answer "$UP_PID" "$UP_PORT" www.site0.test. A "$TMP/upstream.log"
}

# server_conf MODE: the configuration of the server under test ("off" or "on").
server_conf() {
    local mode="$1" f="$TMP/server-$1.toml" detect=off
    [ "$mode" = on ] && detect=log
    detect_conf "$f" "$detect"
    "$PORTCULLIS" check --config "$f" >/dev/null 2>"$TMP/check-$mode.err" || {
        cat "$TMP/check-$mode.err" >&2
        die "portcullis check refused $f"
    }
    echo "$f"
}

start_server() { # start_server MODE
    local conf
    conf="$(server_conf "$1")"
    taskset -c "$SERVER_CPU" "$PORTCULLIS" serve --config "$conf" >"$TMP/server-$1.log" 2>&1 &
    SERVER_PID=$!
    wait_answer "$SERVER_PID" "$PORT" www.site0.test. A "$TMP/server-$1.log"
}

stop_server() {
    tree_stop "$SERVER_PID"
    SERVER_PID=""
}

# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


declare -A PER_CPU QPS LOST
start_upstream
for ((round = 1; round <= ROUNDS; round++)); do
    for mode in off on; do
        say "round $round: detection $mode"
        start_server "$mode"
        perf "warm-$mode-$round" "$TMP/cached.queries" -n 2 >/dev/null
        for list in cached misses; do
            perf "$list-$mode-$round" "$TMP/$list.queries" -l "$SECONDS_PER_RUN"
            PER_CPU[$list-$mode]+="$(calc "$R_DONE / $R_CPU") "
            QPS[$list-$mode]+="$R_QPS "
            LOST[$list-$mode]+="$R_LOST "
            say "  $list: $R_QPS q/s, $R_LOST lost, $(calc "$R_DONE / $R_CPU") queries per server-CPU-second"
        done
        stop_server
        if [ -s "$TMP/events-$mode.json" ]; then
            say "  events written with detection $mode: $(wc -l <"$TMP/events-$mode.json")"
        fi
    done
done

printf '\n| list | detection | q/s | lost | queries per server-CPU-second | rounds |\n|---|---|---|---|---|---|\n'
for list in cached misses; do
    for mode in off on; do
        key="$list-$mode"
        m="$(median_index "${PER_CPU[$key]}")"
        printf '| %s | %s | %.0f | %s | %.0f | %s |\n' "$list" "$mode" "$(nth "${QPS[$key]}" "$m")" \
            "$(nth "${LOST[$key]}" "$m")" "$(nth "${PER_CPU[$key]}" "$m")" "${PER_CPU[$key]% }"
    done
done
echo
for list in cached misses; do
    off="$(nth "${PER_CPU[$list-off]}" "$(median_index "${PER_CPU[$list-off]}")")"
    on="$(nth "${PER_CPU[$list-on]}" "$(median_index "${PER_CPU[$list-on]}")")"
    printf '%s: detection on costs %.1f%% of queries per server-CPU-second (median rounds)\n' \
        "$list" "$(calc "(1 - $on / $off) * 100")"
done
