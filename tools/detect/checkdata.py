#!/usr/bin/env python3
"""Check every trace under data/ against the format (header, columns, non-decreasing t_ms per
session, names in presentation form that fit the wire limits, known rcodes, 0/1 data, benign
data always 0) and print counts per file: sessions, queries, data-carrying queries, distinct
registered domains, gzipped bytes. Exit status 1 on any violation.

Usage: checkdata.py [--markdown] [DIR]
"""

import glob
import ipaddress
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tracelib as T  # noqa: E402

RCODES = {"NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"}
QTYPE_RE = re.compile(r"^([A-Z][A-Z0-9]*|TYPE[0-9]+)$")
LABEL_RE = re.compile(r"^(?:[A-Za-z0-9_-]|\\\.|\\[0-9]{3})+$")


def label_len(lab):
    return len(re.sub(r"\\[0-9]{3}|\\\.", "x", lab))


def split_name(name):
    # split on dots that are not escaped
    return re.split(r"(?<!\\)\.", name[:-1])


def main():
    args = sys.argv[1:]
    markdown = "--markdown" in args
    args = [a for a in args if a != "--markdown"]
    root = args[0] if args else T.DATA
    table = ["| kind | file | sessions | queries | data queries | registered domains | bytes (gz) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    psl = T.Psl()
    bad = 0
    total = 0
    for path in sorted(glob.glob(os.path.join(root, "*", "*.tsv.gz"))):
        kind = os.path.basename(os.path.dirname(path))
        rows = T.read_trace(path)
        last = {}
        sessions_done = set()
        cur = None
        regs = set()
        ndata = 0
        errors = []
        for i, r in enumerate(rows):
            if len(r) != 8:
                errors.append("line %d: %d columns" % (i + 2, len(r)))
                continue
            sid, t, client, qtype, name, rcode, rlen, data = r
            if sid != cur:
                if sid in sessions_done:
                    errors.append("line %d: session %s not contiguous" % (i + 2, sid))
                if cur is not None:
                    sessions_done.add(cur)
                cur = sid
            t = int(t)
            if t < last.get(sid, 0):
                errors.append("line %d: t_ms goes back" % (i + 2))
            last[sid] = t
            ipaddress.ip_address(client)
            if not QTYPE_RE.match(qtype):
                errors.append("line %d: qtype %s" % (i + 2, qtype))
            if not name.endswith("."):
                errors.append("line %d: no trailing dot" % (i + 2))
            labels = split_name(name)
            if not all(LABEL_RE.match(x) and 0 < label_len(x) <= 63 for x in labels):
                errors.append("line %d: bad label in %s" % (i + 2, name))
            if sum(label_len(x) + 1 for x in labels) + 1 > 255:
                errors.append("line %d: name too long" % (i + 2))
            if rcode not in RCODES:
                errors.append("line %d: rcode %s" % (i + 2, rcode))
            if int(rlen) < 0 or data not in ("0", "1"):
                errors.append("line %d: resp_len/data" % (i + 2))
            if kind == "benign" and data != "0":
                errors.append("line %d: benign data=1" % (i + 2))
            ndata += data == "1"
            reg = psl.registered(name.replace("\\.", "_"))
            if reg:
                regs.add(reg)
        nsess = len(sessions_done | ({cur} if cur else set()))
        size = os.path.getsize(path)
        total += size
        print("%-7s %-12s sessions=%5d queries=%6d data=%6d regdomains=%5d bytes=%8d" % (
            kind, os.path.basename(path)[: -len(".tsv.gz")], nsess, len(rows), ndata, len(regs), size))
        table.append("| %s | %s | %d | %d | %d | %d | %d |" % (
            kind, os.path.basename(path)[: -len(".tsv.gz")], nsess, len(rows), ndata, len(regs), size))
        for e in errors[:5]:
            print("   ERROR", e)
        bad += len(errors)
    print("total bytes=%d (%.2f MB)" % (total, total / 1e6))
    if markdown:
        table.append("| all | | | | | | %d |" % total)
        print("\n".join(table))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
