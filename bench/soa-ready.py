#!/usr/bin/env python3
"""Wait until a DNS server on 127.0.0.1 answers a SOA query for a zone.

    soa-ready.py PORT ZONE TIMEOUT_SECONDS [PID]

Sends a SOA query over UDP every 20 ms (one process, one socket, so the timing is not blurred
by starting a client per try, nor by a client's one-second minimum timeout when a query is lost
while the server is still starting) and exits 0 at the first authoritative NOERROR answer with
at least one record. Exits 1 on timeout, 2 when process PID (the server) has gone. stdlib only.
"""

import os
import select
import socket
import struct
import sys
import time


def query(qid, zone):
    labels = [label for label in zone.rstrip(".").split(".") if label]
    qname = b"".join(bytes([len(label)]) + label.encode() for label in labels) + b"\0"
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + qname + struct.pack("!HH", 6, 1)


def answered(reply, qid):
    if len(reply) < 12:
        return False
    rid, flags, _qd, ancount, _ns, _ar = struct.unpack("!HHHHHH", reply[:12])
    is_response = flags & 0x8000
    authoritative = flags & 0x0400
    rcode = flags & 0x000F
    return rid == qid and is_response and authoritative and rcode == 0 and ancount > 0


def main():
    port, zone, timeout = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    pid = int(sys.argv[4]) if len(sys.argv) > 4 else None
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    qid = 0
    while time.monotonic() < deadline:
        if pid is not None:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return 2
        qid = (qid + 1) & 0xFFFF
        try:
            sock.sendto(query(qid, zone), ("127.0.0.1", port))
        except OSError:
            pass
        end = time.monotonic() + 0.02
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                break
            try:
                reply = sock.recv(4096)
            except OSError:  # ICMP port unreachable: nothing listening yet
                break
            if answered(reply, qid):
                return 0
        time.sleep(max(0.0, end - time.monotonic()))
    return 1


if __name__ == "__main__":
    sys.exit(main())
