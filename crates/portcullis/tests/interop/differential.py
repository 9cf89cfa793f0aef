"""Sends the same queries to two servers and compares the answers.

Usage: differential.py A_HOST:PORT B_HOST:PORT ZONE_ORIGIN ZONE_FILE [--known-differences FILE]

The query list is derived from the zone: every owner name, a name below it, a sibling that does
not exist, wildcard matches, names below the delegation, and an empty non-terminal; each with a
set of types. Answers are compared on RCODE, the AA and TC flags, and each section as a set of
records (owner lowercased, type, class, TTL, RDATA). Differences listed in the known-differences
file (lines "QNAME QTYPE REASON") are reported but not counted as failures. Exits 1 when any
other difference is found.
"""
import sys

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.zone

TYPES = ["A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "SRV", "DS", "TYPE65280", "PTR", "CAA"]


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def queries(origin, path):
    zone = dns.zone.from_file(path, origin=origin, relativize=False)
    names = set()
    for name in zone.nodes:
        names.add(name)
        if name.labels[0] != b"*":
            names.add(dns.name.Name((b"below",) + name.labels))
        else:
            names.add(dns.name.Name((b"match",) + name.labels[1:]))
            names.add(dns.name.Name((b"deep", b"match") + name.labels[1:]))
        names.add(dns.name.Name((b"nx-" + name.labels[0][:50],) + name.labels[1:]))
    names.add(dns.name.from_text("b.ent." + str(origin)))
    names.add(dns.name.from_text("ent." + str(origin)))
    names.add(dns.name.from_text("CHAIN1." + str(origin).upper()))
    out = []
    for name in sorted(names):
        for t in TYPES:
            out.append((name, t))
    return out


def key(rrsets):
    records = set()
    for rrset in rrsets:
        for rd in rrset:
            records.add((rrset.name.to_text().lower(), rrset.rdtype, rrset.rdclass, rrset.ttl, rd.to_text().lower()))
    return records


def ask(server, name, rdtype):
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    q.flags &= ~dns.flags.RD
    return dns.query.udp(q, server[0], port=server[1], timeout=3)


def summary(r):
    flags = dns.flags.to_text(r.flags & (dns.flags.AA | dns.flags.TC))
    return {
        "rcode": r.rcode(),
        "flags": flags,
        "answer": key(r.answer),
        "authority": key(r.authority),
        "additional": key([x for x in r.additional if x.rdtype != dns.rdatatype.OPT]),
    }


def main():
    a, b = addr(sys.argv[1]), addr(sys.argv[2])
    origin = dns.name.from_text(sys.argv[3])
    known = {}
    if "--known-differences" in sys.argv:
        with open(sys.argv[sys.argv.index("--known-differences") + 1]) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    qname, qtype, reason = line.split(None, 2)
                    known[(qname.lower(), qtype)] = reason
    failures, justified, total = [], [], 0
    for name, t in queries(origin, sys.argv[4]):
        total += 1
        ra, rb = summary(ask(a, name, t)), summary(ask(b, name, t))
        diffs = [f for f in ("rcode", "flags", "answer", "authority", "additional") if ra[f] != rb[f]]
        if not diffs:
            continue
        detail = "; ".join(f"{f}: {ra[f]} vs {rb[f]}" for f in diffs)
        entry = f"{name} {t}: {detail}"
        reason = known.get((name.to_text().lower(), t)) or known.get(("*", t))
        (justified if reason else failures).append(entry + (f" [{reason}]" if reason else ""))
    print(f"{total} queries, {total - len(failures) - len(justified)} identical, "
          f"{len(justified)} known differences, {len(failures)} unexplained")
    for line in justified[:20]:
        print("known:", line)
    for line in failures[:40]:
        print("DIFF:", line)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
