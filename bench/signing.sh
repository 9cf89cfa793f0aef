#!/usr/bin/env bash
# Zone signing: Portcullis against BIND's dnssec-signzone, ldns-signzone and Knot DNS on the
# same generated zone and the same keys.
#
#   bench/signing.sh                  # 100,000 records, NSEC, 3 runs each, medians reported
#   RECORDS=200000 RUNS=5 DENIAL=nsec3 bench/signing.sh
#
# Generates bench.test. with bench/gen-zone.py and one ECDSA P-256 KSK and ZSK with
# dnssec-keygen into a temporary folder (removed on exit), then times, each RUNS times:
#   - Portcullis: the `sign-zone` example of crates/dnssec (release build) with `--keys`: parse,
#     sign on every CPU, write the signed zone;
#   - BIND: `dnssec-signzone -S -x -P` (keys from the key folder, the KSK signs only DNSKEY, no
#     verification pass afterwards, which by default doubles its time; one thread per CPU);
#   - ldns: `ldns-signzone` (single-threaded);
#   - Knot DNS: `knotd` with automatic signing and the keys imported by `keymgr import-bind`,
#     timed from start until a SOA query answers with an RRSIG (load + sign), on 127.0.0.1 port
#     KNOT_PORT, stopped by the PID this script started.
# Every signed output is checked with dnssec-verify once. Wall and CPU (user + system) seconds
# come from /usr/bin/time (for knotd: the clock, and /proc/PID/stat); CPU time is the fairer
# figure on a busy machine.
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS="${RECORDS:-100000}"
RUNS="${RUNS:-3}"
DENIAL="${DENIAL:-nsec}"
KNOT_PORT="${KNOT_PORT:-53543}"
ORIGIN="bench.test"

say() { printf '%s\n' "$*" >&2; }
die() { say "signing.sh: $*"; exit 1; }

# shellcheck source=bench/lib.sh
. bench/lib.sh

STARTED=()
TMP=""
cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT

install_debs bind9-utils ldnsutils knot bind9-dnsutils
TMP="$(mktemp -d)"
python3 bench/gen-zone.py -n "$RECORDS" -o "$TMP/zone" >/dev/null
mkdir "$TMP/keys"
( cd "$TMP/keys"
  dnssec-keygen -q -a ECDSAP256SHA256 -f KSK "$ORIGIN" >/dev/null
  dnssec-keygen -q -a ECDSAP256SHA256 "$ORIGIN" >/dev/null )
KSK="$(grep -l 'key-signing' "$TMP"/keys/*.key | head -1)"; KSK="${KSK%.key}"
ZSK="$(grep -l 'zone-signing' "$TMP"/keys/*.key | head -1)"; ZSK="${ZSK%.key}"
cargo build --release -q -p dnssec --example sign-zone
SIGNER=target/release/examples/sign-zone
CPUS="$(nproc)"

now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

nsec3_signzone=(); nsec3_ldns=(); nsec3_ours=()
if [ "$DENIAL" = nsec3 ]; then
    nsec3_signzone=(-3 -)      # no salt; iterations default to 0 in BIND 9.18
    nsec3_ldns=(-n -t 0)
    nsec3_ours=(--nsec3)
fi

# median of the first and of the second column of "wall cpu" lines
median2() {
    local lines; lines="$(cat)"
    printf '%s %s\n' "$(awk '{ print $1 }' <<<"$lines" | median)" "$(awk '{ print $2 }' <<<"$lines" | median)"
}

time_cmd() {  # name, command...: prints the medians of RUNS wall and CPU (user + system) times
    local name="$1" i; shift
    for ((i = 0; i < RUNS; i++)); do
        /usr/bin/time -f '%e %U %S' -o "$TMP/time" "$@" >/dev/null 2>&1 || die "$name failed: $*"
        awk '{ print $1, $2 + $3 }' "$TMP/time"
    done | median2
}

say "zone: $RECORDS records, $DENIAL, ECDSA P-256 KSK + ZSK, $CPUS CPUs, $RUNS runs"
P="$(time_cmd portcullis "$SIGNER" "$ORIGIN." "$TMP/zone" --keys "$TMP/keys" "${nsec3_ours[@]}" -o "$TMP/p.signed")"
B="$(time_cmd dnssec-signzone dnssec-signzone -S -x -P -d "$TMP" -o "$ORIGIN" -f "$TMP/b.signed" -K "$TMP/keys" "${nsec3_signzone[@]}" "$TMP/zone")"
L="$(time_cmd ldns-signzone ldns-signzone "${nsec3_ldns[@]}" -o "$ORIGIN" -f "$TMP/l.signed" "$TMP/zone" "$KSK" "$ZSK")"
for f in p b l; do
    dnssec-verify -q -o "$ORIGIN" "$TMP/$f.signed" >/dev/null 2>&1 || die "$f.signed does not verify"
done

# Knot DNS: automatic signing with the same keys.
knot_once() {
    local dir="$TMP/knot" t0 t1 pid
    rm -rf "$dir"; mkdir -p "$dir/kasp"
    cp "$TMP/zone" "$dir/$ORIGIN.zone"
    local nsec3=off; [ "$DENIAL" = nsec3 ] && nsec3=on
    cat >"$dir/knot.conf" <<EOF
server:
    rundir: "$dir"
    listen: 127.0.0.1@$KNOT_PORT
database:
    storage: "$dir"
    kasp-db: "$dir/kasp"
policy:
  - id: bench
    manual: on
    nsec3: $nsec3
    nsec3-iterations: 0
    nsec3-salt-length: 0
    signing-threads: $CPUS
template:
  - id: default
    storage: "$dir"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: $ORIGIN
    file: "$dir/$ORIGIN.zone"
    dnssec-signing: on
    dnssec-policy: bench
EOF
    keymgr -c "$dir/knot.conf" "$ORIGIN" import-bind "$KSK.private" >/dev/null
    keymgr -c "$dir/knot.conf" "$ORIGIN" import-bind "$ZSK.private" >/dev/null
    t0="$(now)"
    knotd -c "$dir/knot.conf" >"$dir/log" 2>&1 &
    pid=$!; STARTED+=("$pid")
    until dig +dnssec +time=1 +tries=1 -p "$KNOT_PORT" @127.0.0.1 "$ORIGIN" SOA 2>/dev/null | grep -q RRSIG; do
        kill -0 "$pid" 2>/dev/null || die "knotd stopped: $(tail -5 "$dir/log")"
        sleep 0.05
    done
    t1="$(now)"
    # CPU time of knotd so far: utime + stime, fields 14 and 15 of /proc/PID/stat, in ticks.
    local ticks; ticks="$(awk '{ print $14 + $15 }' "/proc/$pid/stat")"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    echo "$(calc "$t1 - $t0") $(calc "$ticks / $(getconf CLK_TCK)")"
}
K="$(for ((i = 0; i < RUNS; i++)); do knot_once; done | median2)"

printf '%-34s %8s %8s\n' "signer" "wall s" "CPU s"
row() { printf '%-34s %8.2f %8.2f\n' "$1" $2; }
row "Portcullis (sign-zone, $CPUS threads)" "$P"
row "BIND dnssec-signzone -S -x -P" "$B"
row "ldns-signzone" "$L"
row "Knot DNS knotd (load + sign)" "$K"
