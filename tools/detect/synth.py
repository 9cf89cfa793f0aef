#!/usr/bin/env python3
"""Synthetic DNS tunnel/exfiltration traffic for the families we cannot run here.

Seeded (random.Random per family) and offline: the same run on the same machine gives the
same bytes. One file per family under data/tunnel/, the trace format of tracelib.py.
Each session is one tool run against its own attacker registered domain. How each family
encodes, times and answers is described in tools/detect/README.md.

Usage: synth.py [--out DIR] [--sessions N] [--seed S]
"""

import argparse
import base64
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tracelib as T  # noqa: E402

ICANN_TLDS = [
    "com", "com", "com", "net", "net", "org", "info", "xyz", "top", "io", "ru", "cn", "co",
    "me", "online", "site", "club", "biz", "cc", "pw", "co.uk", "com.br", "de", "nl", "su",
    "live", "space", "cloud", "app", "dev", "in", "com.au", "fr", "us", "link", "tech",
]
PRIVATE_SUFFIXES = [
    "herokuapp.com", "workers.dev", "azurewebsites.net", "duckdns.org", "ngrok.io",
    "github.io", "netlify.app", "vercel.app", "pages.dev", "web.app", "firebaseapp.com",
    "appspot.com", "blogspot.com",
]
ZONE_PREFIXES = ["t", "d", "ns", "x", "dns", "cdn", "api", "t1", "s", "u", "data", "m"]
SYLL = ["ka", "lo", "mi", "re", "to", "za", "ne", "vu", "pa", "qi", "sho", "tri", "bel",
        "dor", "fen", "gal", "hux", "jor", "kel", "mor", "nix", "pol", "rav", "sul", "tev"]

USED_DOMAINS = set()


def attacker_domain(rng):
    """A fresh registered domain for one session (never reused across families), and the
    zone the tool is delegated under (the domain or a label below it)."""
    words = T.words()
    while True:
        k = rng.random()
        if k < 0.35:
            name = rng.choice(words) + rng.choice(["", "-"]) + rng.choice(words)
        elif k < 0.6:
            name = "".join(rng.choice(SYLL) for _ in range(rng.randint(2, 4)))
        elif k < 0.8:
            name = rng.choice(words) + str(rng.randint(1, 999))
        else:
            name = rng.choice(words) + "-" + "".join(rng.choice(SYLL) for _ in range(2))
        if rng.random() < 0.25:
            reg = name + "." + rng.choice(PRIVATE_SUFFIXES)
        else:
            reg = name + "." + rng.choice(ICANN_TLDS)
        if reg in USED_DOMAINS or len(name) > 40:
            continue
        USED_DOMAINS.add(reg)
        zone = reg
        if rng.random() < 0.4:
            zone = rng.choice(ZONE_PREFIXES) + "." + reg
        return reg, zone.split(".")


class Payload:
    """The bytes a session moves: random (compressed or encrypted files) or text-like
    (plain records, so encodings of it are not uniformly random)."""

    def __init__(self, rng):
        self.rng = rng
        self.text = rng.random() < 0.35
        self.buf = b""

    def take(self, n):
        while len(self.buf) < n:
            if self.text:
                w = T.words()
                rec = "%d,%s.%s@%s.com,%s %s,%d\n" % (
                    self.rng.randint(1000, 99999), self.rng.choice(w), self.rng.choice(w),
                    self.rng.choice(w), self.rng.choice(w).title(), self.rng.choice(w).title(),
                    self.rng.randint(0, 10**9))
                self.buf += rec.encode()
            else:
                self.buf += bytes(self.rng.getrandbits(8) for _ in range(256))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def b32(data):
    return base64.b32encode(data).decode().rstrip("=").lower()


def capacity(zone, maxlab, prefix_labels=(), budget=253):
    """Characters of encoded payload that fit in a name under `zone`, in labels of at most
    `maxlab`, after fixed `prefix_labels`."""
    used = sum(len(x) + 1 for x in zone) + sum(len(x) + 1 for x in prefix_labels)
    avail = budget - used
    # each label costs its length plus one dot
    full = avail // (maxlab + 1)
    rest = avail - full * (maxlab + 1) - 1
    return full * maxlab + max(rest, 0)


class Session:
    """Collects the rows of one session."""

    def __init__(self, family, idx, rng, clients):
        self.sid = "%s-%03d" % (family, idx)
        self.rng = rng
        self.client = rng.choice(clients)
        self.t = 0
        self.rows = []

    def add(self, qtype, labels, rcode, rlen, data):
        self.rows.append((self.sid, self.t, self.client, qtype, T.qname(labels), rcode, rlen, data))

    def wait(self, ms):
        self.t += max(0, int(ms))


def bulk_gap(rng, sess_rtt):
    """Gap between queries of a bulk transfer: the resolver round trip, sometimes a stall."""
    g = rng.gauss(sess_rtt, sess_rtt * 0.3)
    if rng.random() < 0.02:
        g += rng.uniform(200, 3000)
    return max(2, g)


# ---------------------------------------------------------------------------------------------
# dnscat2: hex packets (packet_id, type, session id, seq, ack, data), 62-char labels, under the
# domain ("<hex>.<domain>") or, without a domain, "dnscat.<hex>". TXT/CNAME/MX. The client polls
# with empty MSG packets about once a second when idle; the server's packets come back in the
# answer (hex in TXT, or a hex name under the domain for CNAME/MX).
def dnscat2(idx, rng, clients):
    s = Session("dnscat2", idx, rng, clients)
    reg, zone = attacker_domain(rng)
    prefix_mode = rng.random() < 0.15
    if prefix_mode:
        zone = []
    qtype = rng.choice(["TXT", "TXT", "CNAME", "MX"])
    encrypted = rng.random() < 0.7
    pay = Payload(rng)
    sess_id = rng.getrandbits(16)
    seq = rng.getrandbits(16)
    ack = rng.getrandbits(16)
    rtt = rng.uniform(15, 120)
    n = rng.randint(60, 320)
    zone_chars = sum(len(x) + 1 for x in zone) if zone else 7
    # MAX_DNSCAT_LENGTH: 255/2 - domain - 1 - periods - 2 (the header goes in it too)
    max_packet = 127 - zone_chars - 1 - 5 - 2
    hdr_len = 9 + (8 if encrypted else 0)

    def name_for(packet):
        hx = packet.hex()
        labs = T.split_labels(hx, 62)
        return (["dnscat"] + labs) if prefix_mode else (labs + zone)

    def answer(labels, server_bytes):
        hexlen = 2 * server_bytes
        if qtype == "TXT":
            return T.resp_len(labels, "NOERROR", [hexlen + 1])
        rd = hexlen + 2 + sum(len(x) + 1 for x in zone) + (2 if qtype == "MX" else 0)
        return T.resp_len(labels, "NOERROR", [rd])

    def packet(ptype, body):
        return rng.getrandbits(16).to_bytes(2, "big") + bytes([ptype]) + sess_id.to_bytes(2, "big") + body

    # SYN (and the ENC key exchange when encrypted): no payload.
    syn = packet(0, seq.to_bytes(2, "big") + (b"\x00\x01" if rng.random() < 0.5 else b"\x00\x21")
                 + (b"command\x00" if rng.random() < 0.5 else b""))
    labs = name_for(syn)
    s.add(qtype, labs, "NOERROR", answer(labs, 9), 0)
    if encrypted:
        for _ in range(2):
            s.wait(bulk_gap(rng, rtt))
            body = b"\x00\x00\x00\x00" + bytes(rng.getrandbits(8) for _ in range(min(64, max_packet - 5)))
            labs = name_for(packet(3, body))
            s.add(qtype, labs, "NOERROR", answer(labs, 64 + 9), 0)
    phase_bulk = rng.random() < 0.5
    while len(s.rows) < n:
        if phase_bulk:
            burst = rng.randint(20, 120)
            for _ in range(burst):
                if len(s.rows) >= n:
                    break
                s.wait(bulk_gap(rng, rtt))
                data = pay.take(rng.randint(max_packet - hdr_len - 8, max_packet - hdr_len))
                body = seq.to_bytes(2, "big") + ack.to_bytes(2, "big")
                if encrypted:
                    body = bytes(rng.getrandbits(8) for _ in range(8)) + bytes(
                        rng.getrandbits(8) for _ in range(4 + len(data)))
                else:
                    body += data
                seq = (seq + len(data)) & 0xFFFF
                labs = name_for(packet(1, body))
                down = rng.choice([0, 0, 0, rng.randint(1, 60)])
                ack = (ack + down) & 0xFFFF
                s.add(qtype, labs, "NOERROR", answer(labs, hdr_len + down), 1)
        else:
            polls = rng.randint(5, 60)
            for _ in range(polls):
                if len(s.rows) >= n:
                    break
                s.wait(rng.gauss(1000, 80))
                body = seq.to_bytes(2, "big") + ack.to_bytes(2, "big")
                if encrypted:
                    body = bytes(rng.getrandbits(8) for _ in range(12))
                labs = name_for(packet(1, body))
                down = rng.choice([0] * 8 + [rng.randint(10, 50)])
                ack = (ack + down) & 0xFFFF
                s.add(qtype, labs, "NOERROR", answer(labs, hdr_len + down), 0)
        phase_bulk = not phase_bulk
    fin = packet(2, b"bye\x00")
    labs = name_for(fin)
    s.wait(bulk_gap(rng, rtt))
    s.add(qtype, labs, "NOERROR", answer(labs, 9), 0)
    return s.rows


# ---------------------------------------------------------------------------------------------
# base64_txt: base64 (standard, with + / = escaped, or url-safe) upload chunks in TXT queries,
# with a session id and a counter label; download sessions poll with counter-only names and
# get the file back in TXT answers.
def base64_txt(idx, rng, clients):
    s = Session("base64_txt", idx, rng, clients)
    reg, zone = attacker_domain(rng)
    urlsafe = rng.random() < 0.4
    maxlab = rng.choice([63, 63, 60, 50, 40])
    sid = "%04x" % rng.getrandbits(16) if rng.random() < 0.7 else ""
    download = rng.random() < 0.3
    fill = rng.choice([None, None, 1, 2, 3])
    rtt = rng.uniform(10, 100)
    pay = Payload(rng)
    n = rng.randint(60, 320)
    for i in range(n):
        s.wait(bulk_gap(rng, rtt) if rng.random() > 0.03 else rng.uniform(1000, 20000))
        prefix = ([sid] if sid else []) + [str(i)]
        if download and i > 1:
            labs = prefix + zone
            chunk = rng.randint(150, 240)
            s.add("TXT", labs, "NOERROR", T.resp_len(labs, "NOERROR", [chunk * 4 // 3 + 1]), 0)
            continue
        cap = capacity(zone, maxlab, prefix)
        if fill:
            cap = min(cap, fill * maxlab)
        nbytes = max(3, (cap * 3) // 4 - rng.randint(0, 12))
        raw = pay.take(nbytes)
        enc = (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode()
        if urlsafe and rng.random() < 0.5:
            enc = enc.rstrip("=")
        labs = prefix + T.split_labels(enc, maxlab) + zone
        while T.wire_len(labs) > 255:
            enc = enc[:-4]
            labs = prefix + T.split_labels(enc, maxlab) + zone
        s.add("TXT", labs, "NOERROR", T.resp_len(labs, "NOERROR", [rng.randint(3, 12)]), 1)
    return s.rows


# ---------------------------------------------------------------------------------------------
# base32_a: base32 (lowercase, no padding) upload in A/AAAA queries; the answers are ignored,
# so the server either answers NXDOMAIN or a constant address.
def base32_a(idx, rng, clients):
    s = Session("base32_a", idx, rng, clients)
    reg, zone = attacker_domain(rng)
    maxlab = rng.choice([63, 62, 56, 52, 48, 32])
    qtypes = rng.choice([["A"], ["AAAA"], ["A", "AAAA"]])
    nx = rng.random() < 0.6
    header = rng.choice(["counter", "idx-total", "none"])
    fill = rng.choice([None, None, 1, 2, 3])
    rtt = rng.uniform(5, 80)
    pay = Payload(rng)
    n = rng.randint(60, 320)
    for i in range(n):
        s.wait(bulk_gap(rng, rtt) if rng.random() > 0.05 else rng.uniform(2000, 60000))
        if header == "counter":
            prefix = ["%x" % i]
        elif header == "idx-total":
            prefix = ["%d-%d" % (i, n)]
        else:
            prefix = []
        cap = capacity(zone, maxlab, prefix)
        if fill:
            cap = min(cap, fill * maxlab)
        nbytes = max(2, (cap * 5) // 8 - rng.randint(0, 10))
        enc = b32(pay.take(nbytes))
        labs = prefix + T.split_labels(enc, maxlab) + zone
        qt = rng.choice(qtypes)
        if nx:
            s.add(qt, labs, "NXDOMAIN", T.resp_len(labs, "NXDOMAIN"), 1)
        else:
            s.add(qt, labs, "NOERROR", T.resp_len(labs, "NOERROR", [4 if qt == "A" else 16]), 1)
    return s.rows


# ---------------------------------------------------------------------------------------------
# wordlist: each byte (or nibble) becomes a dictionary word from a per-session table, so labels
# look like ordinary words; one to three words per label, two to five labels per query.
def wordlist(idx, rng, clients):
    s = Session("wordlist", idx, rng, clients)
    reg, zone = attacker_domain(rng)
    nibble = rng.random() < 0.4
    table = rng.sample(T.words(), 16 if nibble else 256)
    joiner = rng.choice(["", "-"])
    per_label = rng.randint(1, 3)
    qtypes = rng.choice([["A"], ["A", "AAAA"], ["TXT"], ["A", "TXT"]])
    nx = rng.random() < 0.5
    rtt = rng.uniform(10, 150)
    pay = Payload(rng)
    n = rng.randint(100, 500)
    for _ in range(n):
        s.wait(bulk_gap(rng, rtt) if rng.random() > 0.05 else rng.uniform(1000, 30000))
        labs = []
        for _ in range(rng.randint(2, 5)):
            ws = []
            for _ in range(per_label):
                b = pay.take(1)[0]
                if nibble:
                    ws.append(table[b >> 4])
                    ws.append(table[b & 15])
                else:
                    ws.append(table[b])
            lab = joiner.join(ws)[:63]
            labs.append(lab)
        while T.wire_len(labs + zone) > 255:
            labs.pop()
        labs = labs + zone
        qt = rng.choice(qtypes)
        if nx:
            s.add(qt, labs, "NXDOMAIN", T.resp_len(labs, "NXDOMAIN"), 1)
        elif qt == "TXT":
            s.add(qt, labs, "NOERROR", T.resp_len(labs, "NOERROR", [rng.randint(3, 20)]), 1)
        else:
            s.add(qt, labs, "NOERROR", T.resp_len(labs, "NOERROR", [4 if qt == "A" else 16]), 1)
    return s.rows


# ---------------------------------------------------------------------------------------------
# lowslow: one short chunk (8-20 chars of base32 or hex) every 30-300 s over hours, to stay under
# rate thresholds; sometimes behind an ordinary-looking first label.
def lowslow(idx, rng, clients):
    s = Session("lowslow", idx, rng, clients)
    reg, zone = attacker_domain(rng)
    hexenc = rng.random() < 0.4
    lo, hi = sorted((rng.randint(8, 20), rng.randint(8, 20)))
    mean_gap = rng.uniform(30_000, 300_000)
    shape = rng.choice(["chunk", "chunk-counter", "www-chunk"])
    qtypes = rng.choice([["A"], ["A", "AAAA"], ["TXT"]])
    nx = rng.random() < 0.5
    pay = Payload(rng)
    n = rng.randint(100, 400)
    for i in range(n):
        if i:
            s.wait(min(300_000, max(30_000, rng.gauss(mean_gap, mean_gap * 0.3))))
        k = rng.randint(lo, hi)
        enc = pay.take(k // 2).hex() if hexenc else b32(pay.take((k * 5) // 8 + 1))[:k]
        if shape == "chunk":
            labs = [enc] + zone
        elif shape == "chunk-counter":
            labs = [enc, str(i)] + zone
        else:
            labs = ["www", enc] + zone
        qt = rng.choice(qtypes)
        if nx:
            s.add(qt, labs, "NXDOMAIN", T.resp_len(labs, "NXDOMAIN"), 1)
        else:
            rd = 4 if qt == "A" else 16 if qt == "AAAA" else rng.randint(3, 12)
            s.add(qt, labs, "NOERROR", T.resp_len(labs, "NOERROR", [rd]), 1)
    return s.rows


# ---------------------------------------------------------------------------------------------
# beacon: C2 check-ins that carry no data: a short random id (hex or alphanumeric) queried at
# a jittered interval; an idle answer is a fixed address, a tasking answer another one, after
# which the implant fetches with "api."/"www." prefixed names (still no upstream payload).
def beacon(idx, rng, clients):
    s = Session("beacon", idx, rng, clients)
    reg, zone = attacker_domain(rng)
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    idlen = rng.randint(4, 10)
    bid = "".join(rng.choice("0123456789abcdef" if rng.random() < 0.6 else alnum) for _ in range(idlen))
    interval = rng.choice([30_000, 60_000, 60_000, 120_000, 300_000, 15_000, 5_000])
    jitter = rng.choice([0.0, 0.1, 0.2, 0.3, 0.5])
    fresh_id_each = rng.random() < 0.3
    qtype = rng.choice(["A", "A", "TXT", "AAAA"])
    n = rng.randint(100, 300)
    # handshake
    for pre in ["www", "api"][: rng.randint(0, 2)]:
        labs = [pre, bid] + zone
        s.add(qtype, labs, "NOERROR", T.resp_len(labs, "NOERROR", [4]), 0)
        s.wait(rng.uniform(50, 500))
    while len(s.rows) < n:
        s.wait(interval * (1 + rng.uniform(-jitter, jitter)))
        ident = bid
        if fresh_id_each:
            ident = "".join(rng.choice(alnum) for _ in range(idlen))
        labs = [ident] + zone
        rd = 4 if qtype == "A" else 16 if qtype == "AAAA" else rng.randint(4, 16)
        s.add(qtype, labs, "NOERROR", T.resp_len(labs, "NOERROR", [rd]), 0)
        if rng.random() < 0.05:
            for k in range(rng.randint(1, 6)):
                if len(s.rows) >= n:
                    break
                s.wait(rng.uniform(50, 400))
                labs = [rng.choice(["api", "www", "post", "cdn"]), "%x" % k, bid] + zone
                s.add("TXT", labs, "NOERROR", T.resp_len(labs, "NOERROR", [rng.randint(60, 255)]), 0)
    return s.rows


FAMILIES = {
    "dnscat2": dnscat2,
    "base64_txt": base64_txt,
    "base32_a": base32_a,
    "wordlist": wordlist,
    "lowslow": lowslow,
    "beacon": beacon,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(T.DATA, "tunnel"))
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--seed", default="portcullis-detect-1")
    args = ap.parse_args()
    clients = T.client_pool(random.Random(args.seed + ":clients"), 60)
    for fam, fn in FAMILIES.items():
        rng = random.Random("%s:%s" % (args.seed, fam))
        rows = []
        for i in range(args.sessions):
            rows.extend(fn(i, rng, clients))
        path = os.path.join(args.out, fam + ".tsv.gz")
        T.write_trace(path, rows)
        print("%-12s sessions=%d queries=%d data=%d bytes=%d" % (
            fam, args.sessions, len(rows), sum(r[7] for r in rows), os.path.getsize(path)))


if __name__ == "__main__":
    main()
