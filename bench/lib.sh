# Shared by the benchmark scripts (sourced, not run). The caller defines `say` and `die`.

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
