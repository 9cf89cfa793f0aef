#!/usr/bin/env bash
# Instructions per query on the minimal answer path (parse, zone lookup, write the response),
# counted by callgrind: the difference between 3,000 and 1,000 answers, divided by 2,000, so the
# zone build and process start cancel out. Repeatable on a busy machine, unlike timings.
#
#   bench/answer-callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)"; exit 1; }
cargo build --release -q -p zone --example answer-loop
bin=target/release/examples/answer-loop
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
        sed -n 's/.*refs: *//p' | tr -d ,
}
for case in hit nxdomain wildcard; do
    a=$(count 1000 "$case")
    b=$(count 3000 "$case")
    echo "$case: $(((b - a) / 2000)) instructions per query"
done
