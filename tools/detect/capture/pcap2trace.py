#!/usr/bin/env python3
"""Turn tcpdump captures of tunnel DNS traffic into a trace (tracelib format).

Each pcap is one session (one tool run). Queries (QR=0, to port 53) become rows; the first
response with the same client address, port and id gives rcode and resp_len (UDP payload
bytes). A query the tool server never answered (iodine drops its oversized fragment-size
probes) gets SERVFAIL and resp_len 0: what a stub behind a resolver sees when the resolver
gives up.
The `data` column is decided per family by `data_flag` (see README).

Usage: pcap2trace.py --family iodine|dns2tcp --out FILE.tsv.gz SESSION=PCAP...
"""

import argparse
import base64
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tracelib as T  # noqa: E402

QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 10: "NULL", 12: "PTR", 15: "MX", 16: "TXT",
          25: "KEY", 28: "AAAA", 33: "SRV", 41: "OPT", 64: "SVCB", 65: "HTTPS", 255: "ANY"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def read_pcap(path):
    """(timestamp seconds, src ip, src port, dst ip, dst port, udp payload) for IPv4/UDP
    packets of a classic pcap (Ethernet or Linux cooked or raw IP link types)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    else:
        endian = ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    out = []
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off : off + 16])
        pkt = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        ts = sec + frac / (1e9 if nano else 1e6)
        if linktype == 1:  # Ethernet
            if len(pkt) < 14:
                continue
            etype = struct.unpack("!H", pkt[12:14])[0]
            ip = pkt[14:]
        elif linktype == 113:  # Linux cooked
            etype = struct.unpack("!H", pkt[14:16])[0]
            ip = pkt[16:]
        elif linktype in (101, 12):  # raw IP
            etype = 0x0800
            ip = pkt
        else:
            raise ValueError("link type %d" % linktype)
        if etype != 0x0800 or len(ip) < 20 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        src = ".".join(str(b) for b in ip[12:16])
        dst = ".".join(str(b) for b in ip[16:20])
        udp = ip[ihl:]
        sport, dport, ulen = struct.unpack("!HHH", udp[:6])
        out.append((ts, src, sport, dst, dport, udp[8:ulen]))
    return out


def parse_question(msg):
    """(id, flags, labels as bytes, qtype) of a DNS message; labels from the question."""
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    pos = 12
    labels = []
    if qd < 1:
        return qid, flags, labels, 0
    while True:
        n = msg[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0:
            raise ValueError("compressed question")
        labels.append(msg[pos + 1 : pos + 1 + n])
        pos += 1 + n
    qtype = struct.unpack("!H", msg[pos : pos + 2])[0]
    return qid, flags, labels, qtype


def qtype_name(t):
    return QTYPES.get(t, "TYPE%d" % t)


def iodine_data(labels, zone_len):
    """iodine: a query whose first character is a hex digit (the user id) is an upstream data
    packet carrying IP bytes; v/l/i/z/s/o/y/r/n are handshake and probing, p is a ping/poll."""
    first = labels[0][:1].lower() if labels else b""
    return 1 if first and first in b"0123456789abcdef" else 0


def dns2tcp_data(labels, zone_len):
    """dns2tcp: the labels before the zone are base64 of a 7-byte header (session id, seq,
    ack, type) plus payload; a query is data when its decoded payload is longer than the
    header and it is not the authentication/resource exchange (type byte flags, see README)."""
    head = labels[: len(labels) - zone_len]
    if any(lab.startswith(b"=") for lab in head):
        return 0  # =auth / =connect: the login and resource request
    enc = b"".join(head)
    try:
        raw = base64.b64decode(enc + b"=" * (-len(enc) % 4), validate=False)
    except ValueError:
        return 0
    return 1 if len(raw) > DNS2TCP_HEADER + DNS2TCP_MIN else 0


DNS2TCP_HEADER = 7
DNS2TCP_MIN = 0

FLAGS = {"iodine": iodine_data, "dns2tcp": dns2tcp_data}


def session_rows(sid, pcap, family, zone):
    pkts = read_pcap(pcap)
    zone_len = len(zone.strip(".").split("."))
    queries = []
    answers = {}
    for ts, src, sport, dst, dport, payload in pkts:
        if len(payload) < 12:
            continue
        try:
            qid, flags, labels, qtype = parse_question(payload)
        except (ValueError, IndexError, struct.error):
            continue
        if flags & 0x8000:
            key = (dst, dport, qid)
            answers.setdefault(key, []).append((ts, flags & 15, len(payload)))
        elif dport == 53 or dport == DNS_PORT:
            queries.append((ts, src, sport, qid, labels, qtype))
    rows = []
    if not queries:
        return rows
    t0 = queries[0][0]
    for ts, src, sport, qid, labels, qtype in queries:
        resp = [a for a in answers.get((src, sport, qid), []) if a[0] >= ts]
        if resp:
            rcode, rlen = RCODES.get(resp[0][1], "SERVFAIL"), resp[0][2]
        else:
            rcode, rlen = "SERVFAIL", 0
        name = T.qname(labels) if labels else "."
        rows.append((sid, int(round((ts - t0) * 1000)), src, qtype_name(qtype), name, rcode, rlen,
                     FLAGS[family](labels, zone_len)))
    return rows


DNS_PORT = 53


def main():
    global DNS_PORT
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", required=True, choices=sorted(FLAGS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("sessions", nargs="+", help="SESSION=ZONE=PCAP")
    args = ap.parse_args()
    DNS_PORT = args.port
    rows = []
    for spec in args.sessions:
        sid, zone, pcap = spec.split("=", 2)
        if not os.path.exists(pcap):
            print("skip %s: no capture" % sid, file=sys.stderr)
            continue
        r = session_rows(sid, pcap, args.family, zone)
        print("%s: %d queries, %d data" % (sid, len(r), sum(x[7] for x in r)), file=sys.stderr)
        rows.extend(r)
    T.write_trace(args.out, rows)


if __name__ == "__main__":
    main()
