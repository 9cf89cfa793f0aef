#!/usr/bin/env bash
# Zone loading at scale: Portcullis against NSD and Knot DNS on the same generated zone file.
#
#   bench/zone-load.sh            # 1,000,000 records, 3 runs each, medians reported
#   RECORDS=200000 RUNS=5 bench/zone-load.sh
#
# Generates bench.test. with bench/gen-zone.py into a temporary folder (removed on exit), then
# measures, each RUNS times:
#   - Portcullis: the `zone-load` example (release build): parse, build and load-time checks;
#   - NSD: `nsd-checkzone`, and a real `nsd -d` on 127.0.0.1, timed until a SOA query for the
#     zone answers, with the resident memory of all its processes at that moment;
#   - Knot DNS: `knotc zone-check` (offline), and `knotd` in the foreground, timed and measured
#     the same way.
# Wall seconds and peak RSS of the commands that exit come from `/usr/bin/time -f '%e %M'`. For
# the daemons, RSS is summed over the started process and its children; PSS (proportional set
# size) is given too, since NSD's forked server shares the zone pages with its parent.
# Servers listen on 127.0.0.1 only, ports NSD_PORT and KNOT_PORT; they are stopped by the PID
# this script started, never by name. Installs the Debian packages it needs when run as root
# (or with sudo) on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS="${RECORDS:-1000000}"
RUNS="${RUNS:-3}"
NSD_PORT="${NSD_PORT:-53541}"
KNOT_PORT="${KNOT_PORT:-53542}"
READY_TIMEOUT="${READY_TIMEOUT:-120}"
ORIGIN="bench.test."

say() { printf '%s\n' "$*" >&2; }
die() { say "zone-load.sh: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------------------------

# shellcheck source=bench/lib.sh
. bench/lib.sh  # the script has cd-ed to the repository root

STARTED=()
TMP=""
cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do
        stop_pid "$pid"
    done
    [ -n "$TMP" ] && rm -rf "$TMP"
}

# Stops a process this script started: TERM, up to 10 s, then KILL.
stop_pid() {
    local pid="$1" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------

# median V1 V2 ...: the middle value (the lower middle for an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

now() { date +%s.%N; }

# calc EXPR: floating-point arithmetic.

# timed NAME CMD...: runs CMD under /usr/bin/time; sets T_WALL and T_CPU (user + system, s) and
# T_RSS (KiB). When CMD fails, shows its output and returns 1.
timed() {
    local name="$1"
    shift
    if ! /usr/bin/time -f '%e %M %U %S' -o "$TMP/time.out" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
        say "$name failed:"
        head -n 20 "$TMP/$name.err" >&2
        head -n 20 "$TMP/$name.out" >&2
        return 1
    fi
    local user system
    read -r T_WALL T_RSS user system <"$TMP/time.out"
    T_CPU="$(calc "$user + $system")"
}

# tree_usage PID: sets M_RSS and M_PSS (KiB) and M_CPU (user + system s, reaped children
# included), summed over the process tree.
tree_usage() {
    local p rss pss ticks=0 t
    M_RSS=0
    M_PSS=0
    for p in $(tree_pids "$1"); do
        rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)"
        pss="$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true)"
        # Fields after the command name: utime, stime, cutime, cstime are the 12th to 15th.
        t="$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }' || true)"
        M_RSS=$((M_RSS + ${rss:-0}))
        M_PSS=$((M_PSS + ${pss:-0}))
        ticks=$((ticks + ${t:-0}))
    done
    M_CPU="$(calc "$ticks / $(getconf CLK_TCK)")"
}

soa_answers() {
    local port="$1" out
    if command -v kdig >/dev/null; then
        out="$(kdig +short +time=1 +retry=0 -p "$port" @127.0.0.1 "$ORIGIN" SOA 2>/dev/null || true)"
    else
        out="$(dig +short +time=1 +tries=1 -p "$port" @127.0.0.1 "$ORIGIN" SOA 2>/dev/null || true)"
    fi
    [ -n "$out" ]
}

# serve NAME PORT CMD...: starts CMD in the background and waits until the zone's SOA answers
# on PORT (polled every 20 ms by soa-ready.py, then confirmed with kdig or dig); sets S_WALL (s
# from start to first answer) and, at that moment, M_RSS, M_PSS and M_CPU; then stops it.
serve() {
    local name="$1" port="$2"
    shift 2
    local start pid status=0
    soa_answers "$port" && die "something already answers on 127.0.0.1:$port"
    start="$(now)"
    "$@" >"$TMP/$name.log" 2>&1 &
    pid=$!
    STARTED+=("$pid")
    python3 bench/soa-ready.py "$port" "$ORIGIN" "$READY_TIMEOUT" "$pid" || status=$?
    S_WALL="$(calc "$(now) - $start")"
    if [ "$status" -ne 0 ] || ! soa_answers "$port"; then
        tail -n 20 "$TMP/$name.log" >&2
        [ "$status" -eq 2 ] && die "$name exited before answering"
        die "$name did not answer the SOA query within $READY_TIMEOUT s"
    fi
    tree_usage "$pid"
    stop_pid "$pid"
}

# ---------------------------------------------------------------------------------------------
# Peer configurations
# ---------------------------------------------------------------------------------------------

nsd_conf() {
    mkdir -p "$TMP/nsd"
    cat >"$TMP/nsd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$NSD_PORT
    port: $NSD_PORT
    username: ""
    chroot: ""
    database: ""
    zonesdir: "$TMP"
    zonelistfile: "$TMP/nsd/zone.list"
    xfrdfile: "$TMP/nsd/xfrd.state"
    xfrdir: "$TMP/nsd"
    pidfile: "$TMP/nsd/nsd.pid"
    logfile: "$TMP/nsd/nsd.log"
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "$ORIGIN"
    zonefile: "$ZONEFILE"
EOF
    nsd-checkconf "$TMP/nsd/nsd.conf"
}

knot_conf() {
    mkdir -p "$TMP/knot/run" "$TMP/knot/db"
    cat >"$TMP/knot/knot.conf" <<EOF
server:
    rundir: "$TMP/knot/run"
    listen: 127.0.0.1@$KNOT_PORT
control:
    listen: "$TMP/knot/run/knot.sock"
database:
    storage: "$TMP/knot/db"
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: "$TMP"
    zonefile-load: whole
zone:
  - domain: "$ORIGIN"
    file: "$ZONEFILE"
EOF
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

install_debs nsd knot knot-dnsutils bind9-dnsutils time python3
refuse_running_daemons

say "building zone-load (release)"
cargo build --release --quiet -p zone --example zone-load
ZONE_LOAD="target/release/examples/zone-load"

TMP="$(mktemp -d /tmp/zone-load.XXXXXX)"
trap cleanup EXIT
trap 'exit 130' INT TERM
ZONEFILE="$TMP/bench.test.zone"

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
say "generating $RECORDS records"
python3 bench/gen-zone.py -n "$RECORDS" -o "$ZONEFILE"
FILE_MB="$(du -m "$ZONEFILE" | cut -f1)"

nsd_conf
knot_conf

p_wall=() p_cpu=() p_load=() p_rss=() p_mem=()
c_wall=() c_cpu=() c_rss=()
n_wall=() n_cpu=() n_rss=() n_pss=()
k_wall=() k_cpu=() k_rss=()
kd_wall=() kd_cpu=() kd_rss=() kd_pss=() kd_bytes=()

for ((run = 1; run <= RUNS; run++)); do
    say "run $run of $RUNS"

    timed portcullis "$ZONE_LOAD" "$ORIGIN" "$ZONEFILE" || die "Portcullis did not load the zone"
    p_wall+=("$T_WALL")
    p_cpu+=("$T_CPU")
    p_rss+=("$T_RSS")
    p_load+=("$(awk '/^load time/ { print $3 }' "$TMP/portcullis.out")")
    p_mem+=("$(awk '/^memory / { print $2 }' "$TMP/portcullis.out")")
    say "  portcullis zone-load   ${T_WALL} s (CPU ${T_CPU} s)  ${T_RSS} KiB"

    timed nsd-checkzone nsd-checkzone "$ORIGIN" "$ZONEFILE" || die "nsd-checkzone refused the zone"
    c_wall+=("$T_WALL")
    c_cpu+=("$T_CPU")
    c_rss+=("$T_RSS")
    say "  nsd-checkzone          ${T_WALL} s (CPU ${T_CPU} s)  ${T_RSS} KiB"

    rm -f "$TMP/nsd/zone.list" "$TMP/nsd/xfrd.state"
    serve nsd "$NSD_PORT" nsd -d -c "$TMP/nsd/nsd.conf"
    n_wall+=("$S_WALL")
    n_cpu+=("$M_CPU")
    n_rss+=("$M_RSS")
    n_pss+=("$M_PSS")
    say "  nsd -d (to first SOA)  ${S_WALL} s (CPU ${M_CPU} s)  RSS ${M_RSS} KiB  PSS ${M_PSS} KiB"

    if timed knotc-zone-check knotc -c "$TMP/knot/knot.conf" zone-check "$ORIGIN"; then
        k_wall+=("$T_WALL")
        k_cpu+=("$T_CPU")
        k_rss+=("$T_RSS")
        say "  knotc zone-check       ${T_WALL} s (CPU ${T_CPU} s)  ${T_RSS} KiB"
    fi

    rm -rf "$TMP/knot/db" "$TMP/knot/run"
    mkdir -p "$TMP/knot/db" "$TMP/knot/run"
    serve knotd "$KNOT_PORT" knotd -c "$TMP/knot/knot.conf"
    kd_wall+=("$S_WALL")
    kd_cpu+=("$M_CPU")
    # Knot logs the size of the loaded zone contents: "loaded, serial none -> N, BYTES bytes".
    kd_bytes+=("$(sed -n 's/.*loaded, serial .*, \([0-9]*\) bytes.*/\1/p' "$TMP/knotd.log" | tail -n 1)")
    kd_rss+=("$M_RSS")
    kd_pss+=("$M_PSS")
    say "  knotd (to first SOA)   ${S_WALL} s (CPU ${M_CPU} s)  RSS ${M_RSS} KiB  PSS ${M_PSS} KiB"
done

# Problems the peers reported while loading (warnings do not fail a load).
for log in "$TMP/nsd-checkzone.err" "$TMP/knotc-zone-check.err" "$TMP/nsd/nsd.log" "$TMP/knotd.log"; do
    problems="$(grep -iE 'warn|error|fail|ignor' "$log" 2>/dev/null | grep -v 'signal received' || true)"
    if [ -n "$problems" ]; then
        say "--- $(basename "$log"), lines that mention problems:"
        head -n 10 <<<"$problems" >&2
    fi
done

records="$(awk '/^records/ { print $2 }' "$TMP/portcullis.out")"
row() { # name wall_s cpu_s rss_kib pss_kib
    local pss_mib="-"
    [ "$5" = "-" ] || pss_mib="$(printf '%.0f' "$(calc "$5 / 1024")")"
    printf '| %s | %.2f | %.2f | %.0f | %s | %.0f |\n' "$1" "$2" "$3" "$(calc "$4 / 1024")" \
        "$pss_mib" "$(calc "$4 * 1024 / $records")"
}
m() { median "$@"; }

cat <<EOF

Zone: $ORIGIN, $records records, $FILE_MB MB file; median of $RUNS runs.
Machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; load average before the runs: $LOAD_BEFORE.
Versions: $(nsd -v 2>&1 | head -n 1), $(knotd --version | head -n 1).

| loader | wall s | CPU s | peak or ready RSS MiB | PSS MiB | RSS bytes per record |
|---|---:|---:|---:|---:|---:|
EOF
row "Portcullis \`zone-load\`" "$(m "${p_wall[@]}")" "$(m "${p_cpu[@]}")" "$(m "${p_rss[@]}")" -
row "NSD \`nsd-checkzone\`" "$(m "${c_wall[@]}")" "$(m "${c_cpu[@]}")" "$(m "${c_rss[@]}")" -
row "NSD \`nsd -d\`, to first SOA answer" "$(m "${n_wall[@]}")" "$(m "${n_cpu[@]}")" \
    "$(m "${n_rss[@]}")" "$(m "${n_pss[@]}")"
if [ "${#k_wall[@]}" -gt 0 ]; then
    row "Knot \`knotc zone-check\`" "$(m "${k_wall[@]}")" "$(m "${k_cpu[@]}")" "$(m "${k_rss[@]}")" -
fi
row "Knot \`knotd\`, to first SOA answer" "$(m "${kd_wall[@]}")" "$(m "${kd_cpu[@]}")" \
    "$(m "${kd_rss[@]}")" "$(m "${kd_pss[@]}")"
mem="$(median "${p_mem[@]}")"
printf '\nPortcullis: load_file %.2f s (median, inside the process); snapshot %.1f MiB, %.1f bytes per record (Zone::memory_bytes).\n' \
    "$(median "${p_load[@]}")" "$(calc "$mem / 1048576")" "$(calc "$mem / $records")"
kbytes="$(m "${kd_bytes[@]}")"
if [ -n "$kbytes" ]; then
    printf 'Knot: zone contents %.1f MiB, %.1f bytes per record (its own count, from its log).\n' \
        "$(calc "$kbytes / 1048576")" "$(calc "$kbytes / $records")"
fi
