#!/usr/bin/env python3
"""Prints the records of a zone file as a reference for the zone crate's parser.

    zone_dump.py [--bind] ORIGIN FILE

Reads FILE with dnspython (or, with --bind, has BIND's named-checkzone expand it first and reads
its output with dnspython), and prints one line per record, sorted:

    OWNER-WIRE-HEX TTL CLASS TYPE RDATA-WIRE-HEX

with the owner's letters lowercased, class and type as numbers and RDATA uncompressed. Run it
from FILE's directory: both tools look for $INCLUDE files relative to the working directory.
"""

import os
import subprocess
import sys
import tempfile

try:
    import dns.name
    import dns.zone
except ImportError as e:
    sys.exit(f"zone_dump.py: dnspython is missing ({e}); install it: python3 -m pip install dnspython")


def dump(zone):
    lines = set()
    for name, ttl, rdata in zone.iterate_rdatas():
        owner = name.to_wire().lower().hex()
        lines.add(f"{owner} {ttl} {int(rdata.rdclass)} {int(rdata.rdtype)} {rdata.to_wire().hex()}")
    for line in sorted(lines):
        print(line)


def main():
    args = sys.argv[1:]
    bind = args[:1] == ["--bind"]
    if bind:
        args = args[1:]
    if len(args) != 2:
        sys.exit("usage: zone_dump.py [--bind] ORIGIN FILE")
    origin, path = args
    if not bind:
        zone = dns.zone.from_file(path, origin, relativize=False, check_origin=False)
        dump(zone)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "expanded.zone")
        # -i none and the "ignore" options: parse only, no policy checks on the contents.
        cmd = ["named-checkzone", "-D", "-i", "none", "-k", "ignore", "-n", "ignore", "-m", "ignore",
               "-M", "ignore", "-S", "ignore", "-T", "ignore", "-W", "ignore", "-o", out, origin, path]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            sys.exit("zone_dump.py: named-checkzone is missing; install bind9-utils")
        if result.returncode != 0:
            sys.exit(f"zone_dump.py: named-checkzone failed:\n{result.stdout}{result.stderr}")
        with open(out, encoding="utf-8") as f:
            zone = dns.zone.from_text(f.read(), origin, relativize=False, check_origin=False)
        dump(zone)


if __name__ == "__main__":
    main()
