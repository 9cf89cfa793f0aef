#!/bin/bash
# Capture real iodine (0.7.0) tunnel traffic between two network namespaces joined by a veth
# pair (10.53.0.1 server / 10.53.0.2 client), one session per row of SESSIONS below, and
# write tools/detect/data/tunnel/iodine.tsv.gz. Root, /dev/net/tun, iodine, iodined,
# tcpdump, nc (openbsd) and ping are needed. Each session is bounded (time and bytes); every
# process started here is stopped by PID and the namespaces are deleted on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/../data/tunnel/iodine.tsv.gz}
work=$(mktemp -d /tmp/iodine-cap.XXXXXX)
ns_s=pcs-iod-s-$$
ns_c=pcs-iod-c-$$

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
    ip netns del "$ns_s" 2>/dev/null || true
    ip netns del "$ns_c" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns_s"
ip netns add "$ns_c"
ip link add veth-ios-$$ type veth peer name veth-ioc-$$
ip link set veth-ios-$$ netns "$ns_s"
ip link set veth-ioc-$$ netns "$ns_c"
ip -n "$ns_s" addr add 10.53.0.1/24 dev veth-ios-$$
ip -n "$ns_c" addr add 10.53.0.2/24 dev veth-ioc-$$
for ns in "$ns_s" "$ns_c"; do ip -n "$ns" link set lo up; done
ip -n "$ns_s" link set veth-ios-$$ up
ip -n "$ns_c" link set veth-ioc-$$ up


# id | zone | iodine client options | traffic (up:BYTES, down:BYTES, ping:COUNT:SIZE, idle:SECONDS)
SESSIONS=(
"iodine-null-lazy|t.harbor-lumen.com|-T NULL -L 1|up:51000 ping:4:600 idle:6"
"iodine-null-lazy-down|t.quietfield.net|-T NULL -L 1|up:17000 down:34000"
"iodine-null-nolazy|d.orchard-nine.org|-T NULL -L 0|up:42500 ping:4:900 idle:4"
"iodine-private-lazy|t.copperlane.io|-T PRIVATE -L 1|up:42500 down:25500"
"iodine-txt-b32|x.stonebridge-labs.com|-T TXT -O base32 -L 1|up:42500 idle:8"
"iodine-txt-raw-nolazy|t.ashgrove.co.uk|-T TXT -O raw -L 0|up:34000 ping:4:300"
"iodine-srv-b64|t.brightmeadow.net|-T SRV -O base64 -L 1|up:34000 down:25500"
"iodine-mx-b32-nolazy|m.tidewater-co.com|-T MX -O base32 -L 0|up:34000 idle:6"
"iodine-cname-b128|t.fernhill.org|-T CNAME -O base128 -L 1|up:42500 ping:4:500"
"iodine-a-b32|a.northgate-data.net|-T A -O base32 -L 1|up:25500 ping:3:200"
"iodine-txt-b64u-m150|t.silverbirch.de|-T TXT -O base64u -L 0 -M 150|up:34000 idle:5"
"iodine-private-i1|t.redcedar.info|-T PRIVATE -L 1 -I 1|up:25500 down:34000 idle:5"
)

specs=()
for row in "${SESSIONS[@]}"; do
    IFS='|' read -r sid zone opts traffic <<<"$row"
    case "$sid" in *${ONLY:-}*) ;; *) continue ;; esac
    pcap=$work/$sid.pcap
    echo "== $sid ($zone: $opts)" >&2
    ip netns exec "$ns_c" timeout 60 tcpdump -q -n -i veth-ioc-$$ -s 0 -c 60000 -w "$pcap" udp port 53 2>/dev/null &
    tcpd=$!
    sleep 1
    ip netns exec "$ns_s" timeout 60 iodined -f -c -P portcullis-lab -l 10.53.0.1 -d dns0 192.168.99.1/27 "$zone" >"$work/$sid.server.log" 2>&1 &
    srv=$!
    sleep 1
    # shellcheck disable=SC2086
    ip netns exec "$ns_c" timeout 55 iodine -f -r -P portcullis-lab -d dns0 $opts 10.53.0.1 "$zone" >"$work/$sid.client.log" 2>&1 &
    cli=$!
    up=0
    for _ in $(seq 1 30); do
        if ip -n "$ns_c" addr show dns0 2>/dev/null | grep -q 'inet 192.168.99'; then up=1; break; fi
        sleep 0.5
    done
    if [ "$up" = 1 ]; then
        sleep 1
        for step in $traffic; do
            IFS=':' read -r kind a b <<<"$step"
            case "$kind" in
                up)
                    ip netns exec "$ns_s" timeout 25 nc -l 192.168.99.1 9000 >/dev/null &
                    sink=$!; sleep 0.5
                    head -c "$a" /dev/urandom | ip netns exec "$ns_c" timeout 20 nc -N 192.168.99.1 9000 || true
                    stop "$sink" ;;
                down)
                    cip=$(ip -n "$ns_c" -4 -o addr show dns0 | awk '{print $4}' | cut -d/ -f1)
                    ip netns exec "$ns_c" timeout 25 nc -l "$cip" 9001 >/dev/null &
                    sink=$!; sleep 0.5
                    head -c "$a" /dev/urandom | ip netns exec "$ns_s" timeout 20 nc -N "$cip" 9001 || true
                    stop "$sink" ;;
                ping)
                    ip netns exec "$ns_c" timeout 15 ping -q -c "$a" -s "$b" -i 0.5 192.168.99.1 >/dev/null || true ;;
                idle)
                    sleep "$a" ;;
            esac
        done
    else
        echo "   tunnel did not come up; client log:" >&2
        tail -5 "$work/$sid.client.log" >&2
    fi
    stop "$cli"
    sleep 0.5
    stop "$srv" "$tcpd"
    tail -3 "$work/$sid.client.log" >&2 || true
    specs+=("$sid=$zone=$pcap")
done

python3 "$here/pcap2trace.py" --family iodine --out "$out" "${specs[@]}"
echo "wrote $out" >&2
