#!/usr/bin/env python3
"""Ordinary traffic in shapes the benign data lacks, replayed through the detector.

    cargo build -p portcullis
    python3 tools/detect/probes.py [--bin target/debug/portcullis]

Writes seeded traces (trace format: tools/detect/README.md) of seventeen shapes to a temporary
directory, replays them with `portcullis detect replay` (the shipped model, the default
windows) and prints, per shape, how many sessions the domain model flagged and after how many
queries. None of these is a tunnel; docs/DETECTION.md ("False positives outside the data")
discusses the figures.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HOSTS = ["www", "static", "img", "api", "cdn", "fonts", "login", "accounts", "m", "news",
         "video", "images", "maps", "docs", "drive", "play", "store", "support", "blog", "help",
         "mail", "search", "shop", "pay", "auth", "assets", "media", "upload", "download",
         "status"]
# Host names of the shape a large site's services have, longer than HOSTS on average.
SERVICES = ["accounts", "apis", "calendar", "chat", "classroom", "clients1", "clients2",
            "clients4", "contacts", "docs", "drive", "fonts", "groups", "images", "keep",
            "mail", "maps", "meet", "myaccount", "news", "photos", "play", "scholar", "sites",
            "support", "takeout", "translate", "voice", "workspace", "www", "content-autofill",
            "safebrowsing", "update", "storage", "firebaseinstallations", "connectivitycheck",
            "optimizationguide-pa", "android-context-data", "mtalk", "alt1-mtalk", "ssl",
            "lh3", "lh5", "passwords", "hangouts", "adservice", "lens", "ogs", "inbox", "www3"]


TLDS = ["com"] * 10 + ["net", "net", "org", "org", "io", "de", "co.uk", "dev", "ru", "app"]


def traces(rng):
    rows = []

    def add(session, t, client, qtype, name):
        rows.append((session, int(t), client, qtype, name, "NOERROR", 60, 0))

    for s in range(20):
        # A client walking 20 hosts of one site, one at a time, random intervals (mean 3 s).
        t = 0.0
        for host in rng.sample(HOSTS, 20):
            t += rng.expovariate(1 / 3000)
            add("walk%d" % s, t, "10.0.1.%d" % s, "A", "%s.site%d.com." % (host, s))
        # The same site as page loads: bursts of 3-8 names, A and AAAA, every 5-60 s; each
        # name once (later visits are cache hits, which the detector never sees).
        t, seen = 0.0, set()
        for _ in range(12):
            t += rng.uniform(5000, 60000)
            for k in range(rng.randint(3, 8)):
                host = rng.choice(HOSTS)
                if host in seen:
                    continue
                seen.add(host)
                add("pages%d" % s, t + 30 * k, "10.0.2.%d" % s, "A", "%s.page%d.com." % (host, s))
                add("pages%d" % s, t + 30 * k + 1, "10.0.2.%d" % s, "AAAA",
                    "%s.page%d.com." % (host, s))
    # A platform's customer subdomains, not in the public suffix list, from 200 clients.
    t = 0.0
    for _ in range(400):
        t += rng.expovariate(1 / 1500)
        user = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 12)))
        add("platform", t, "10.0.3.%d" % rng.randrange(200), "A", user + ".platform.com.")
    # One client asking 50 of a large site's service names in a row, A only, as a script
    # checking a list would.
    for s in range(20):
        for i, host in enumerate(rng.sample(SERVICES, 50)):
            add("list%d" % s, 20 * i, "10.0.5.%d" % s, "A", "%s.services%d.com." % (host, s))
    # A sweep of numbered hosts with longer names, as an inventory or monitoring script makes
    # it: 200 names, 20 a second.
    for i in range(200):
        add("sweep", 50 * i, "10.0.6.1", "A", "server-%03d.sweep.com." % i)
    # A mail server confirming each sender's reverse name: Gmail's and Microsoft 365's
    # sending hosts (on the built-in allow list), one lookup every 5 s on average, alternating.
    t = 0.0
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i in range(200):
        t += rng.expovariate(1 / 5000)
        host = "mail-%s%s%d-f%d" % (rng.choice(letters), rng.choice(letters), rng.randint(1, 9),
                                    rng.randint(1, 255))
        add("gmail", t, "10.0.7.1", "A", host + ".google.com.")
        t += rng.expovariate(1 / 5000)
        host = "mail-%s%d%snam%don%d" % ("".join(rng.sample(letters, 2)), rng.randint(1, 9),
                                          "".join(rng.sample(letters, 3)), rng.randint(10, 12),
                                          rng.randint(2000, 2999))
        add("outlook", t, "10.0.7.1", "A", host + ".outbound.protection.outlook.com.")
    # The whole-server bench's traffic (bench/detect-instructions.sh): 20,000 distinct
    # ordinary names `{host}{k}.site{s}.test` over 1,000 sites from one client, 400 a second;
    # one session per site.
    bench = ("www", "mail", "api", "cdn", "static", "img", "login", "shop", "news", "blog")
    for k in range(20000):
        site = rng.randrange(1000)
        add("bench%d" % site, k * 5 // 2, "10.0.8.1", "A",
            "%s%d.site%d.test." % (rng.choice(bench), k, site))
    # A host whose resolver search list leaks: every name it looks up is first tried with the
    # search suffix appended (ndots above the name's dots, as in a Kubernetes pod), answered
    # NXDOMAIN: a stream of distinct ordinary names under the organisation's own domain or under
    # a private top-level domain, one client, a new name every 2 s on average.
    # The names' own top-level domains in about the proportions of registered domains: half
    # `com`, a fifth `net` or `org`, the rest others.
    words = [w for w in HOSTS if len(w) > 2]
    for s in range(20):
        suffix = ("corp.example%d.com." % s, "svc.cluster%d.internal." % s)[s % 2]
        t = 0.0
        for _ in range(60):
            t += rng.expovariate(1 / 2000)
            name = "%s.%s%d.%s.%s" % (rng.choice(HOSTS), rng.choice(words), rng.randrange(1000),
                                      rng.choice(TLDS), suffix)
            for k, qtype in enumerate(("A", "AAAA")):
                rows.append(("search%d" % s, int(t) + k, "10.0.9.%d" % s, qtype, name,
                             "NXDOMAIN", 120, 0))
    # Names under top-level domains the public suffix list does not know (its default rule
    # makes the last two labels the registered domain): a browser's intranet probes (three random names of 7-15
    # letters from each of 50 clients at each of three network changes an hour), and one
    # client walking 40 hosts of a private `corp` zone, 3 s apart on average.
    for c in range(50):
        for _ in range(3):
            t = rng.uniform(0, 3_600_000)
            for k in range(3):
                label = "".join(rng.choice(letters) for _ in range(rng.randint(7, 15)))
                rows.append(("intranet", int(t) + k, "10.0.10.%d" % c, "A", label + ".",
                             "NXDOMAIN", 100, 0))
    t = 0.0
    for host in rng.sample(HOSTS, 30) + ["build-%02d" % i for i in range(10)]:
        t += rng.expovariate(1 / 3000)
        add("corp", t, "10.0.11.1", "A", "%s.corp." % host)
    # A site's numbered hosts, 20 a second.
    for i in range(300):
        add("numbered", 50 * i, "10.0.4.1", "A", "host%d.numbered.com." % i)
    # Mail servers confirming the sending hosts of large senders whose zones are not on the
    # allow list, in Microsoft 365's shape (`sender`) and Gmail's (`gsender`): 20 servers
    # each, 100 look-ups every 5 s on average.
    for s in range(20):
        t = 0.0
        for _ in range(100):
            t += rng.expovariate(1 / 5000)
            host = "mail-%s%d%snam%don%d" % ("".join(rng.sample(letters, 2)), rng.randint(1, 9),
                                              "".join(rng.sample(letters, 3)),
                                              rng.randint(10, 12), rng.randint(2000, 2999))
            add("sender%d" % s, t, "10.0.12.%d" % s, "A", host + ".outbound.sender%d.com." % s)
            g = t + rng.expovariate(1 / 5000)
            host = "mail-%s%s%d-f%d" % (rng.choice(letters), rng.choice(letters),
                                        rng.randint(1, 9), rng.randint(1, 255))
            add("gsender%d" % s, g, "10.0.13.%d" % s, "A", host + ".gsender%d.com." % s)
    # Timers whose answers are never cached (TTL shorter than the interval), one client each,
    # 40 polls: a host name's address every 30 s (`status`), a certificate client waiting
    # for its DNS-01 record every 5 s (`acme`), and a configuration record in TXT re-read
    # every 60 s (`txtconfig`: polled like a beacon for its orders, the rule's known cost).
    for s in range(20):
        for k, (shape, period, qtype, name) in enumerate((
                ("status", 30_000, "A", "status.monitor%d.com." % s),
                ("acme", 5_000, "TXT", "_acme-challenge.www.site%d.com." % s),
                ("txtconfig", 60_000, "TXT", "config.vendor%d.com." % s))):
            t = 0.0
            for _ in range(40):
                t += period * rng.uniform(0.9, 1.1)
                rows.append(("%s%d" % (shape, s), int(t), "10.%d.14.%d" % (k, s), qtype, name,
                             "NOERROR", 120, 0))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "debug", "portcullis"))
    args = ap.parse_args()
    rows = traces(random.Random(2))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probes.tsv")
        with open(path, "w") as fh:
            fh.write("session\tt_ms\tclient\tqtype\tqname\trcode\tresp_len\tdata\n")
            for r in sorted(rows, key=lambda r: (r[0], r[1])):
                fh.write("\t".join(str(v) for v in r) + "\n")
        out = subprocess.run([args.bin, "detect", "replay", path], capture_output=True,
                             text=True, check=False)
    if out.returncode != 0:
        sys.exit("portcullis detect replay failed: " + out.stderr)
    shapes = {}
    for line in out.stdout.splitlines()[1:]:
        f = line.split("\t")
        shape = f[1].rstrip("0123456789")
        first = int(f[5])
        total, flagged = shapes.get(shape, (0, []))
        shapes[shape] = (total + 1, flagged + ([first] if first > 0 else []))
    print("shape\tsessions\tflagged\tafter queries")
    for shape, (total, flagged) in sorted(shapes.items()):
        print("%s\t%d\t%d\t%s" % (shape, total, len(flagged),
                                  ",".join(str(q) for q in sorted(flagged)) or "-"))


if __name__ == "__main__":
    main()
