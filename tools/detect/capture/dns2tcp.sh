#!/bin/bash
# Capture real dns2tcp (0.5.2) tunnel traffic on a loopback address inside a private network
# namespace: dns2tcpd listens on 127.0.0.53:53, authoritative for the session's zone, with a
# resource pointing at a local TCP sink/source (nc); dns2tcpc -z ZONE -r RESOURCE relays a
# local port over DNS and bytes are pushed through it. One session per row of SESSIONS; writes
# tools/detect/data/tunnel/dns2tcp.tsv.gz. Root, dns2tcpd, dns2tcpc, tcpdump and nc (openbsd)
# are needed. Every process started here is stopped by PID; the namespace is deleted on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/../data/tunnel/dns2tcp.tsv.gz}
work=$(mktemp -d /tmp/dns2tcp-cap.XXXXXX)
ns=pcs-d2t-$$

stop() { # stop our background jobs given by PID: TERM (timeout passes it on), KILL after 3 s
    [ $# -gt 0 ] || return 0
    for p in "$@"; do kill "$p" 2>/dev/null || true; done
    for _ in $(seq 1 30); do
        alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "$@"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}

cleanup() {
    # only our own background jobs that are still running
    # shellcheck disable=SC2046
    stop $(jobs -p)
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up

# id | zone | dns2tcpc options | traffic (up:BYTES, down:BYTES, idle:SECONDS)
SESSIONS=(
"dns2tcp-txt-up|tun.glasshouse-media.com|-T TXT|up:50000 idle:4"
"dns2tcp-txt-down|d.palmer-ridge.net|-T TXT|down:80000"
"dns2tcp-key-up|tun.oakfield-systems.org|-T KEY|up:50000 idle:4"
"dns2tcp-key-down|k.lakeview-partners.com|-T KEY|down:80000"
"dns2tcp-txt-compress|tun.westbrook.io|-T TXT -c|up:30000 down:30000"
"dns2tcp-key-compress-psk|x.millstone-group.com|-T KEY -c -k labsecret|up:30000 down:30000"
"dns2tcp-txt-psk-mixed|tun.bluepine.co|-T TXT -k labsecret|up:20000 idle:5 down:20000"
"dns2tcp-key-slow|tun.riverstone.fr|-T KEY -t 1|up:16000 idle:8 up:8000"
)

specs=()
for row in "${SESSIONS[@]}"; do
    IFS='|' read -r sid zone opts traffic <<<"$row"
    case "$sid" in *${ONLY:-}*) ;; *) continue ;; esac
    pcap=$work/$sid.pcap
    echo "== $sid ($zone: $opts)" >&2
    key=""
    case "$opts" in *"-k "*) key="key = labsecret" ;; esac
    cat >"$work/$sid.conf" <<EOF
listen = 127.0.0.53
port = 53
domain = $zone
$key
resources = sink:127.0.0.1:9100, source:127.0.0.1:9101
EOF
    ip netns exec "$ns" timeout 60 tcpdump -q -n -i lo -s 0 -c 60000 -w "$pcap" udp port 53 2>/dev/null &
    tcpd=$!
    sleep 1
    ip netns exec "$ns" timeout 60 dns2tcpd -F -f "$work/$sid.conf" >"$work/$sid.server.log" 2>&1 &
    srv=$!
    sleep 0.5
    for step in $traffic; do
        IFS=':' read -r kind a <<<"$step"
        case "$kind" in
            up)
                ip netns exec "$ns" timeout 30 nc -l 127.0.0.1 9100 >/dev/null &
                sink=$!
                # shellcheck disable=SC2086
                ip netns exec "$ns" timeout 30 dns2tcpc -z "$zone" -r sink -l 9200 $opts 127.0.0.53 >"$work/$sid.client.log" 2>&1 &
                cli=$!; sleep 1
                head -c "$a" /dev/urandom | ip netns exec "$ns" timeout 25 nc -N 127.0.0.1 9200 || true
                sleep 1
                stop "$cli" "$sink" ;;
            down)
                head -c "$a" /dev/urandom >"$work/down.bin"
                ip netns exec "$ns" timeout 30 nc -N -l 127.0.0.1 9101 <"$work/down.bin" &
                src=$!
                # shellcheck disable=SC2086
                ip netns exec "$ns" timeout 30 dns2tcpc -z "$zone" -r source -l 9201 $opts 127.0.0.53 >"$work/$sid.client.log" 2>&1 &
                cli=$!; sleep 1
                ip netns exec "$ns" timeout 25 nc -d 127.0.0.1 9201 | head -c "$a" >/dev/null || true
                sleep 1
                stop "$cli" "$src" ;;
            idle)
                # a connected client with nothing to send keeps polling
                ip netns exec "$ns" timeout 30 nc -l 127.0.0.1 9100 >/dev/null &
                sink=$!
                # shellcheck disable=SC2086
                ip netns exec "$ns" timeout 30 dns2tcpc -z "$zone" -r sink -l 9200 $opts 127.0.0.53 >"$work/$sid.client.log" 2>&1 &
                cli=$!; sleep 1
                (sleep "$a"; echo) | ip netns exec "$ns" timeout 25 nc -N 127.0.0.1 9200 || true
                stop "$cli" "$sink" ;;
        esac
    done
    stop "$srv"
    sleep 0.5
    stop "$tcpd"
    tail -n 3 "$work/$sid.client.log" "$work/$sid.server.log" >&2 || true
    specs+=("$sid=$zone=$pcap")
done

python3 "$here/pcap2trace.py" --family dns2tcp --out "$out" "${specs[@]}"
echo "wrote $out" >&2
