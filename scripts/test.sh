#!/usr/bin/env bash
# The whole test suite, runnable on a fresh Debian machine: installs what the tests need
# (Debian packages for the peer implementations, dnspython, cargo-fuzz), then runs formatting,
# lint and rustdoc checks, unit, property, integration and differential tests, and builds and
# briefly runs every fuzz target. Benchmarks and long fuzz runs are separate (see
# docs/PERFORMANCE.md and fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }

install_deps() {
    step "installing test dependencies"
    local debs=(ldnsutils dns-root-data bind9 bind9-utils bind9-dnsutils knot-dnsutils knot nsd unbound dnsdist curl python3-pip prometheus dnsperf openssl dns2tcp iodine chromium fstrm-bin)
    local missing=()
    for p in "${debs[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" -eq 0 ]; then
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
        else
            sudo apt-get update -qq
            sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
        fi
    fi
    python3 -c 'import dns' 2>/dev/null || python3 -m pip install -q dnspython
    # dns.query.https (the DNS over HTTPS tests) needs dnspython's HTTP/2 extras.
    python3 -c 'import sys, dns.query; sys.exit(0 if dns.query.have_doh else 1)' 2>/dev/null ||
        python3 -m pip install -q 'dnspython[doh]'
    # dnspython's DoQ client needs aioquic: the `doq` extra brings it.
    python3 -c 'import aioquic' 2>/dev/null || python3 -m pip install -q 'dnspython[doq]'
    # The dashboard: its bundle is rebuilt to compare with the committed one (web/), and its
    # browser test drives Debian's chromium with playwright-core (tests/browser/), never with a
    # browser Playwright downloads. Node.js and npm come with the machine, else from Debian.
    if ! command -v npm >/dev/null 2>&1; then
        if [ "$(id -u)" -eq 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
        else
            sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
        fi
    fi
    (cd web && npm ci --no-audit --no-fund)
    (cd tests/browser && npm ci --no-audit --no-fund)
    if ! cargo fuzz --version >/dev/null 2>&1; then
        cargo install -q cargo-fuzz --locked
    fi
}

install_deps

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs"
# Broken or private intra-doc links and stray HTML in doc comments fail the build.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked -q

step "tests"
# The resolver's test internet listens on 127.N.x.y:53, which needs root: as root, a world test
# that cannot start fails instead of printing SKIPPED.
if [ "$(id -u)" -eq 0 ]; then
    export PORTCULLIS_WORLD_REQUIRED=1
fi
# chromium and the npm packages were installed above: the dashboard's browser test must run.
export PORTCULLIS_BROWSER_REQUIRED=1
cargo test --workspace --locked

if [ -d fuzz ]; then
    step "fuzz targets (build, and a few seconds each)"
    (cd fuzz && cargo fuzz build --sanitizer none)
    for target in $(cd fuzz && cargo fuzz list); do
        mkdir -p "fuzz/corpus/$target"
        log="fuzz/corpus/$target.log"
        if (cd fuzz && cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" -- \
            -max_total_time=5 -rss_limit_mb=2048) >"$log" 2>&1; then
            echo "$target: $(grep -E '^Done' "$log")"
        else
            grep -E -B2 -A12 'panicked|ERROR|SUMMARY' "$log" | head -n 40
            echo "fuzz target $target failed; the input is in fuzz/artifacts/$target"
            exit 1
        fi
    done
fi

step "all tests passed"
