#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), one after the other, keeping the corpus
# in fuzz/corpus/TARGET. Crashes land in fuzz/artifacts/TARGET. Stable Rust, no sanitizer:
#   bash fuzz/run-all.sh 600
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
cargo fuzz build --sanitizer none
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    echo "== $target: $seconds s"
    cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 12
done
