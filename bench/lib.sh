# Shared by the benchmark scripts (sourced, not run). The caller defines `say` and `die`.

# positive_whole NAME...: dies unless each named variable holds a positive whole number.
positive_whole() {
    local n
    for n in "$@"; do
        [[ "${!n}" =~ ^[1-9][0-9]*$ ]] || die "$n must be a positive whole number, not '${!n}'"
    done
}

# Installs the Debian packages among "$@" that are missing (as root, or with sudo).
install_debs() {
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return
    say "installing ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

# Packaged daemons would compete for CPU and memory; they are not ours to stop.
refuse_running_daemons() {
    local running
    running="$(ps -eo pid=,comm= | awk '$2 == "nsd" || $2 == "knotd"' || true)"
    if [ -n "$running" ]; then
        say "NSD or Knot DNS is already running (not started by this script):"
        say "$running"
        die "stop those services first (e.g. 'systemctl disable --now nsd knot')"
    fi
}

# The started process and all its descendants.
tree_pids() {
    local pid="$1" child
    echo "$pid"
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null || true); do
        tree_pids "$child"
    done
}

# calc EXPR: a floating-point expression, for figures.
calc() { awk "BEGIN { print $1 }"; }

# tree_stop PID: stops a process this script started and every descendant it had: TERM to all
# (children first named, so a supervisor cannot restart them), up to 10 s, then KILL.
tree_stop() {
    local root="$1" pids p i alive
    kill -0 "$root" 2>/dev/null || { wait "$root" 2>/dev/null || true; return 0; }
    pids="$(tree_pids "$root")"
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    for ((i = 0; i < 100; i++)); do
        alive=""
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive+="$p "; done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    for p in $alive; do kill -KILL "$p" 2>/dev/null || true; done
    wait "$root" 2>/dev/null || true
}

# tree_cpu PID: "user system" seconds of the process tree, every thread and reaped child included
# (utime + cutime, stime + cstime: the 14th to 17th fields of /proc/PID/stat).
tree_cpu() {
    local p t user=0 system=0
    for p in $(tree_pids "$1"); do
        t="$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $14, $13 + $15 }' || true)"
        [ -n "$t" ] || continue
        user=$((user + ${t% *}))
        system=$((system + ${t#* }))
    done
    awk -v u="$user" -v s="$system" -v hz="$(getconf CLK_TCK)" 'BEGIN { print u / hz, s / hz }'
}

# tree_rss PID: resident MiB of the process tree (VmRSS summed; kresd's LMDB pages included).
tree_rss() {
    local p kb=0 v
    for p in $(tree_pids "$1"); do
        v="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)"
        kb=$((kb + ${v:-0}))
    done
    calc "$kb / 1024"
}

# field FILE PATTERN AWK-EXPR: the value on dnsperf's first output line matching PATTERN.
field() { awk -v pat="$2" '$0 ~ pat { print '"$3"'; exit }' "$1"; }

# nth LIST I: the I-th word (from 1) of a space-separated list.
nth() { awk -v i="$2" '{ print $i }' <<<"$1"; }
# median_index LIST: the position of the median value (the lower middle for an even count).
median_index() {
    awk '{ for (i = 1; i <= NF; i++) print $i, i }' <<<"$1" | sort -g | awk '{ v[NR] = $2 } END { print v[int((NR + 1) / 2)] }'
}

# The server-under-test helpers of the scripts that compare one Portcullis in two modes
# (guard.sh, detect.sh). They read the script's globals: SERVER_PID, TMP, PORT, CLIENTS,
# OUTSTANDING, SECONDS_PER_RUN, CLIENT_CPU, READY_TIMEOUT, and its `say` and `die`.

answers_name() { # answers_name PORT NAME TYPE: whether NAME TYPE gets an answer
    [ -n "$(kdig +short +time=1 +retry=0 -p "$1" @127.0.0.1 "$2" "$3" 2>/dev/null || true)" ]
}

wait_answer() { # wait_answer PID PORT NAME TYPE LOG
    local i
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        answers_name "$2" "$3" "$4" && return 0
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 30 "$5" >&2 || true
    die "no answer for $3 $4 on port $2 within $READY_TIMEOUT s"
}

# perf NAME QUERIES [DNSPERF-FLAGS...]: sets R_QPS, R_LOST, R_CPU (server seconds), R_DONE.
perf() {
    local name="$1" queries="$2" out cpu0 cpu1
    shift 2
    out="$TMP/$name.out"
    cpu0="$(tree_cpu "$SERVER_PID")"
    if ! timeout $((SECONDS_PER_RUN * 3 + 120)) taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 \
        -p "$PORT" -d "$queries" -c "$CLIENTS" -T 1 -q "$OUTSTANDING" -t 5 "$@" >"$out" 2>"$out.err"; then
        say "dnsperf failed ($name):"
        head -n 20 "$out.err" "$out" >&2
        return 1
    fi
    cpu1="$(tree_cpu "$SERVER_PID")"
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited during $name"
    R_CPU="$(calc "${cpu1% *} + ${cpu1#* } - ${cpu0% *} - ${cpu0#* }")"
    R_DONE="$(field "$out" 'Queries completed:' '$3')"
    R_LOST="$(field "$out" 'Queries lost:' '$3')"
    R_QPS="$(field "$out" 'Queries per second:' '$4')"
}

# scratch NAME: a temporary folder in TMP, removed at exit (kept with KEEP=1) after the
# process trees in SERVER_PID and UP_PID are stopped.
scratch() {
    TMP="$(mktemp -d "/tmp/portcullis-$1.XXXXXX")"
    trap stop_and_clean EXIT
}
stop_and_clean() {
    [ -n "${SERVER_PID:-}" ] && tree_stop "$SERVER_PID"
    [ -n "${UP_PID:-}" ] && tree_stop "$UP_PID"
    if [ "${KEEP:-0}" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}

instructions() { # instructions LOG: the `Collected` total of a callgrind run's log
    sed -n 's/.*Collected : *//p' "$1" | tr -d ', ' | tail -n 1
}

# wildcard_zone: writes $TMP/test.zone, `test.` with `*.test. A 192.0.2.1`, so every name under
# it has an answer (the upstream of the benches that forward `test.`).
wildcard_zone() {
    cat >"$TMP/test.zone" <<'ZONE'
$TTL 86400
@ SOA ns hostmaster 1 7200 3600 1209600 86400
@ NS ns
ns A 127.0.0.1
* A 192.0.2.1
ZONE
}

# upstream_conf ORIGIN: writes $TMP/upstream.toml, an authoritative Portcullis on UP_PORT serving
# ORIGIN from $TMP/ORIGINzone (the upstream the resolver benches forward to).
upstream_conf() {
    cat >"$TMP/upstream.toml" <<EOF
[server]
listen = ["127.0.0.1:$UP_PORT"]
workers = 1
control_socket = "$TMP/upstream.sock"
log_level = "warn"

[[zone]]
origin = "$1"
file = "$TMP/${1}zone"
EOF
}

# detect_conf FILE MODE: the resolver of the detection benches on PORT (one UDP worker, one
# driver, forwarding `test.` to UP_PORT, validation, cookies and prefetch off) with
# `[detect] mode = MODE`.
detect_conf() {
    cat >"$1" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
workers = 1
udp_payload = 1232
control_socket = "$TMP/server.sock"
log_level = "warn"

[resolver]
enabled = true
insecure_local_upstreams = true
drivers = 1

[cache]
max_bytes = 268435456
prefetch = false
serve_stale = false

[dnssec]
validation = false

[cookies]
enabled = false

[[forward]]
zone = "test."
to = ["127.0.0.1:$UP_PORT"]

[detect]
mode = "$2"

[events]
file = "$TMP/events-$2.json"
EOF
}
