#!/usr/bin/env bash
# The guard's cost on the hot path: the same Portcullis with every policy off, then with every
# policy on, under dnsperf, alternating, the server pinned to one core.
#
#   bench/guard.sh                       # 20 s runs, 3 rounds
#   ROUNDS=1 SECONDS_PER_RUN=5 bench/guard.sh
#
# Setup (a temporary folder, removed on exit unless KEEP=1):
#   - an upstream Portcullis (authoritative only, pinned to CLIENT_CPU) serving `fwd.test.`:
#     NAMES hosts h0..h<NAMES-1> with one A and one AAAA each;
#   - the server under test on 127.0.0.1:PORT, pinned to SERVER_CPU, one UDP worker and one
#     resolver driver: it serves `bench.test.` (bench/gen-zone.py, RECORDS records) from a zone
#     file and resolves `fwd.test.` by forwarding to the upstream, DNSSEC validation off.
#   - "off": no RRL, no cookies (`cookies.enabled = false`), no ACL rules, no blocklist, no RPZ,
#     no dynamic blocks, no event sink;
#   - "on": every policy on and consulted for every query, but none of them acting on the
#     benchmark's traffic: RRL at 1,000,000 responses a second per prefix; server cookies (and
#     dnsperf sends a client cookie with every query, so each response carries a fresh server
#     cookie); a query ACL and a recursion ACL naming a list of 10,000 prefixes before the
#     loopback rule; a blocklist of BLOCKED (1,000,000) suffix entries and an RPZ of 10,000
#     QNAME triggers and 1,000 rpz-ip triggers, none matching; a client query-rate limit and
#     dynamic-block rules with thresholds far above the load; events written to a file.
# Then ROUNDS times, "off" then "on" (each started afresh): the resolver's cache is warmed by
# sending the cached list twice in full, then dnsperf runs SECONDS_PER_RUN seconds over the
# authoritative list (gen-zone.py's mix: hits, wildcards, referrals, NODATA, NXDOMAIN) and over
# the cached list (every fwd.test. host's A and AAAA). The server's CPU time (user + system of
# its process, from /proc/PID/stat) is read before and after each run; the table reports the
# median round's queries per server-CPU-second for each mode and list, and the cost of "on".
#
# The server is stopped by the PID this script started, never by name; every wait is bounded.
# Installs dnsperf and knot-dnsutils when missing (as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-20}"
RECORDS="${RECORDS:-50000}"
QUERY_COUNT="${QUERY_COUNT:-100000}"
NAMES="${NAMES:-20000}"
BLOCKED="${BLOCKED:-1000000}"
PORT="${PORT:-53555}"
UP_PORT="${UP_PORT:-53556}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
CLIENTS="${CLIENTS:-10}"
OUTSTANDING="${OUTSTANDING:-200}"
READY_TIMEOUT="${READY_TIMEOUT:-60}"
KEEP="${KEEP:-0}"

say() { printf '%s\n' "$*" >&2; }
die() { say "guard.sh: $*"; exit 1; }

# shellcheck source=bench/lib.sh
. bench/lib.sh # the script has cd-ed to the repository root

positive_whole ROUNDS SECONDS_PER_RUN RECORDS QUERY_COUNT NAMES BLOCKED PORT UP_PORT
[ "$(nproc)" -ge 2 ] || die "needs two cores (one for the server, one for dnsperf)"
install_debs dnsperf knot-dnsutils python3

SERVER_PID=""
UP_PID=""
scratch guard # TMP, removed at exit after stopping SERVER_PID and UP_PID

say "building portcullis (release)"
cargo build --release -q -p portcullis
PORTCULLIS="$PWD/target/release/portcullis"

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

say "writing zones, query lists and policy lists in $TMP"
python3 bench/gen-zone.py -n "$RECORDS" -o "$TMP/bench.test.zone" --queries "$TMP/auth.queries" \
    --query-count "$QUERY_COUNT"
python3 - "$TMP" "$NAMES" "$BLOCKED" <<'PY'
import random, sys
tmp, names, blocked = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(53)
with open(f"{tmp}/fwd.test.zone", "w") as z:
    z.write("$TTL 86400\n@ SOA ns hostmaster 1 7200 3600 1209600 86400\n@ NS ns\nns A 127.0.0.1\n")
    for i in range(names):
        z.write(f"h{i} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n")
        z.write(f"h{i} AAAA 2001:db8::{i:x}\n")
queries = [f"h{i}.fwd.test. {t}" for i in range(names) for t in ("A", "AAAA")]
rng.shuffle(queries)
with open(f"{tmp}/cached.queries", "w") as q:
    q.write("\n".join(queries) + "\n")
# Suffix entries that never match the benchmark's names.
with open(f"{tmp}/blocklist.txt", "w") as b:
    for i in range(blocked):
        b.write(f"||ads{i}.tracker{i % 997}.example^\n")
with open(f"{tmp}/rpz.zone", "w") as r:
    r.write("$TTL 300\n@ SOA localhost. root.localhost. 1 3600 600 86400 300\n@ NS localhost.\n")
    for i in range(10000):
        r.write(f"bad{i}.malware.example CNAME .\n")
    for i in range(1000):
        r.write(f"32.{i & 255}.{i >> 8}.51.198.rpz-ip CNAME .\n")
with open(f"{tmp}/prefixes.txt", "w") as p:
    for i in range(10000):
        p.write(f"\"10.{i >> 8 & 255}.{i & 255}.0/24\",\n")
PY

# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------



start_upstream() {
    upstream_conf fwd.test.
    taskset -c "$CLIENT_CPU" "$PORTCULLIS" serve --config "$TMP/upstream.toml" \
        >"$TMP/upstream.log" 2>&1 &
    UP_PID=$!
    wait_answer "$UP_PID" "$UP_PORT" h0.fwd.test. A "$TMP/upstream.log"
}

# server_conf MODE: the configuration of the server under test ("off" or "on").
server_conf() {
    local mode="$1" f="$TMP/server-$1.toml"
    cat >"$f" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
workers = 1
udp_payload = 1232
control_socket = "$TMP/server.sock"
log_level = "warn"

[[zone]]
origin = "bench.test."
file = "$TMP/bench.test.zone"

[resolver]
enabled = true
insecure_local_upstreams = true
drivers = 1

[cache]
max_bytes = 134217728
prefetch = false
serve_stale = false

[dnssec]
validation = false

[[forward]]
zone = "fwd.test."
to = ["127.0.0.1:$UP_PORT"]
EOF
    if [ "$mode" = off ]; then
        guard_off >>"$f"
    else
        guard_on >>"$f"
    fi
    "$PORTCULLIS" check --config "$f" >/dev/null 2>"$TMP/check-$mode.err" || {
        cat "$TMP/check-$mode.err" >&2
        die "portcullis check refused $f"
    }
    echo "$f"
}

guard_off() {
    cat <<EOF

[cookies]
enabled = false
EOF
}

guard_on() {
    cat <<EOF

[rrl]
enabled = true
responses_per_second = 1000000
nxdomains_per_second = 1000000
errors_per_second = 1000000
referrals_per_second = 1000000

[cookies]
enabled = true

[events]
file = "$TMP/events.json"
EOF
    guard_on_extra
}

# ACLs (a list of 10,000 prefixes tried first), blocklists and RPZ, client limits: consulted
# for every query, acting on none of the benchmark's.
guard_on_extra() {
    printf '\n[acl]\nlists = { far = [\n'
    cat "$TMP/prefixes.txt"
    cat <<EOF
] }
query = ["refuse far", "allow any"]
recursion = ["refuse far", "allow localhost"]

[policy]
check_interval = 0

[[blocklist]]
file = "$TMP/blocklist.txt"

[[rpz]]
origin = "rpz.bench."
file = "$TMP/rpz.zone"

[limits]
enabled = true
query_rate = 1000000

[[limits.rule]]
metric = "queries"
per_second = 500000
window = 2
action = "refuse"
duration = 10

[[limits.rule]]
metric = "nxdomains"
per_second = 500000
window = 2
action = "refuse"
duration = 10

[[limits.rule]]
metric = "large_responses"
per_second = 500000
window = 2
action = "truncate"
duration = 10
EOF
}

start_server() { # start_server MODE
    local conf
    conf="$(server_conf "$1")"
    taskset -c "$SERVER_CPU" "$PORTCULLIS" serve --config "$conf" >"$TMP/server-$1.log" 2>&1 &
    SERVER_PID=$!
    wait_answer "$SERVER_PID" "$PORT" bench.test. SOA "$TMP/server-$1.log"
    wait_answer "$SERVER_PID" "$PORT" h0.fwd.test. A "$TMP/server-$1.log"
}

stop_server() {
    tree_stop "$SERVER_PID"
    SERVER_PID=""
}

# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------

# A client cookie with every query (EDNS option 10, 8 bytes): the "on" server answers each with
# a server cookie; the "off" server ignores it.
COOKIE_OPTION="10:0123456789abcdef"


declare -A PER_CPU QPS LOST
start_upstream
for ((round = 1; round <= ROUNDS; round++)); do
    for mode in off on; do
        say "round $round: guard $mode"
        start_server "$mode"
        perf "warm-$mode-$round" "$TMP/cached.queries" -E "$COOKIE_OPTION" -n 2 >/dev/null
        for list in auth cached; do
            perf "$list-$mode-$round" "$TMP/$list.queries" -E "$COOKIE_OPTION" -l "$SECONDS_PER_RUN"
            PER_CPU[$list-$mode]+="$(calc "$R_DONE / $R_CPU") "
            QPS[$list-$mode]+="$R_QPS "
            LOST[$list-$mode]+="$R_LOST "
            say "  $list: $R_QPS q/s, $R_LOST lost, $(calc "$R_DONE / $R_CPU") queries per server-CPU-second"
        done
        stop_server
    done
done

printf '\n| list | guard | q/s | lost | queries per server-CPU-second | rounds |\n|---|---|---|---|---|---|\n'
for list in auth cached; do
    for mode in off on; do
        key="$list-$mode"
        m="$(median_index "${PER_CPU[$key]}")"
        printf '| %s | %s | %.0f | %s | %.0f | %s |\n' "$list" "$mode" "$(nth "${QPS[$key]}" "$m")" \
            "$(nth "${LOST[$key]}" "$m")" "$(nth "${PER_CPU[$key]}" "$m")" "${PER_CPU[$key]% }"
    done
done
echo
for list in auth cached; do
    off="$(nth "${PER_CPU[$list-off]}" "$(median_index "${PER_CPU[$list-off]}")")"
    on="$(nth "${PER_CPU[$list-on]}" "$(median_index "${PER_CPU[$list-on]}")")"
    printf '%s: the guard on costs %.1f%% of queries per server-CPU-second (median rounds)\n' \
        "$list" "$(calc "(1 - $on / $off) * 100")"
done
