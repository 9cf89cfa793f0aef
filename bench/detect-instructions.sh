#!/usr/bin/env bash
# The tunnel detector's cost per cache miss in the whole server, in instructions (callgrind
# counts instructions, which do not depend on what else the machine is doing).
#
#   bench/detect-instructions.sh          # FIRST=4000 MORE=16000 SITES=1000 RATE=400
#
# An upstream Portcullis serves `test.` with a wildcard; the release server under test (one UDP
# worker, one resolver driver, forwarding `test.` upstream, validation and cookies off, the
# setup of bench/detect.sh) runs under callgrind with detection off, then on (`log`). Each mode
# runs twice: dnsperf (RATE queries a second) sends FIRST distinct ordinary names over SITES
# registered domains, and in the second run MORE distinct names after them: every query is a
# miss. (second - first) / MORE is what a miss costs, with start-up and shutdown cancelled out.
# Servers are stopped by the PIDs this script started; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

FIRST="${FIRST:-4000}"
MORE="${MORE:-16000}"
SITES="${SITES:-1000}"
RATE="${RATE:-400}"
PORT="${PORT:-53702}"
UP_PORT="${UP_PORT:-53701}"
READY_TIMEOUT="${READY_TIMEOUT:-120}"
KEEP="${KEEP:-0}"

say() { printf '%s\n' "$*" >&2; }
die() { say "detect-instructions.sh: $*"; exit 1; }

# shellcheck source=bench/lib.sh
. bench/lib.sh # the script has cd-ed to the repository root

positive_whole FIRST MORE SITES RATE PORT UP_PORT
install_debs dnsperf knot-dnsutils valgrind python3

SERVER_PID=""
UP_PID=""
scratch detect-instructions # TMP, removed at exit after stopping SERVER_PID and UP_PID

say "building portcullis (release)"
cargo build --release -q -p portcullis
PORTCULLIS="$PWD/target/release/portcullis"

wildcard_zone
python3 - "$TMP" "$FIRST" "$MORE" "$SITES" <<'PY'
import random, sys
tmp, first, more, sites = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(7)
hosts = ("www", "mail", "api", "cdn", "static", "img", "login", "shop", "news", "blog")
for name, lo, hi in (("first", 0, first), ("more", first, first + more)):
    with open(f"{tmp}/{name}.queries", "w") as q:
        for k in range(lo, hi):
            q.write(f"{rng.choice(hosts)}{k}.site{rng.randrange(sites)}.test. A\n")
PY

upstream_conf test.
"$PORTCULLIS" serve --config "$TMP/upstream.toml" >"$TMP/upstream.log" 2>&1 &
UP_PID=$!
wait_answer "$UP_PID" "$UP_PORT" www.site0.test. A "$TMP/upstream.log"

# measure MODE LISTS...: the callgrind total of the server answering each list once.
measure() {
    local mode="$1" log="$TMP/server-$1-$#.log" list
    shift
    detect_conf "$TMP/server-$mode.toml" "$mode"
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$PORTCULLIS" serve \
        --config "$TMP/server-$mode.toml" >"$log" 2>&1 &
    SERVER_PID=$!
    wait_answer "$SERVER_PID" "$PORT" ready.test. A "$log"
    for list in "$@"; do
        dnsperf -s 127.0.0.1 -p "$PORT" -d "$TMP/$list.queries" -n 1 -q 20 -Q "$RATE" -t 10 \
            >"$TMP/dnsperf-$mode-$list.out" 2>&1
        grep -q "Queries lost: *0 " "$TMP/dnsperf-$mode-$list.out" ||
            say "warning: $mode $list lost queries: $(grep 'Queries lost' "$TMP/dnsperf-$mode-$list.out")"
    done
    tree_stop "$SERVER_PID"
    SERVER_PID=""
    instructions "$log"
}

say "off: $FIRST names, then $FIRST + $MORE"
off_a="$(measure off first)"
off_b="$(measure off first more)"
say "on: $FIRST names, then $FIRST + $MORE"
on_a="$(measure log first)"
on_b="$(measure log first more)"
off=$(( (off_b - off_a) / MORE ))
on=$(( (on_b - on_a) / MORE ))
echo "| detection | instructions per miss |"
echo "|---|---:|"
echo "| off | $off |"
echo "| on (log) | $on |"
printf '| cost | %d (%.1f%%) |\n' "$((on - off))" "$(calc "100 * ($on - $off) / $off")"
