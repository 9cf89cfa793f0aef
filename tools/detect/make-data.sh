#!/bin/sh
# Rebuild the labelled traces under tools/detect/data/.
#   make-data.sh            synthetic tunnels (synth.py) and benign sources (benign.py);
#                           deterministic: the same machine gives the same bytes
#   make-data.sh --capture  also the real-tool captures (iodine, dns2tcp): needs root,
#                           network namespaces and /dev/net/tun; not byte-reproducible
#                           (the tools pick random session ids and timing is real)
# Then checks every file (checkdata.py) and prints the counts.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
capture=0
for arg in "$@"; do
    case "$arg" in
        --capture) capture=1 ;;
        *) echo "usage: $0 [--capture]" >&2; exit 2 ;;
    esac
done
python3 "$here/synth.py"
python3 "$here/benign.py"
if [ "$capture" = 1 ]; then
    "$here/capture/iodine.sh"
    "$here/capture/dns2tcp.sh"
fi
python3 "$here/checkdata.py"
