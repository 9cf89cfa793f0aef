#!/usr/bin/env bash
# Instruction counts and L1 data-cache misses per Zone::lookup, from callgrind, for every case of
# crates/zone/benches/lookup.rs: steadier than timings on a shared machine. Each run builds its
# zone under valgrind (a few minutes for 1M names) and counts only the 100,000 timed lookups.
#
#   bench/lookup-callgrind.sh [SIZES]    SIZES defaults to "10k 1M"
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${1:-10k 1M}
bin=$(cargo bench -p zone --bench lookup --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("target", {}).get("name") == "lookup" and m.get("executable"): print(m["executable"])')
out=$(mktemp -d)
for size in $sizes; do
    for case in hit nodata nxdomain wildcard referral; do
        LOOKUP_COUNT=$size/$case valgrind --tool=callgrind --toggle-collect='*count_lookups*' \
            --cache-sim=yes --callgrind-out-file="$out/$size.$case" "$bin" >/dev/null 2>&1
        # summary: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
        grep '^summary:' "$out/$size.$case" | awk -v s="$size" -v c="$case" \
            '{ printf "%-4s %-9s %7.1f instructions %6.2f D1 misses per lookup\n", s, c, $2 / 1e5, $6 / 1e5 }'
    done
done
rm -r "$out"
