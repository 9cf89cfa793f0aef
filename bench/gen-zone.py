#!/usr/bin/env python3
"""Write a large, realistic zone file for load and query benchmarks.

    gen-zone.py [-n RECORDS] [-o FILE] [--seed N] [--queries FILE] [--query-count N]

The zone `bench.test.` looks like a big hosting provider's zone: an apex with SOA, NS, MX, TXT
and addresses for its own name and mail servers, then customer units of two kinds:

- web sites (about 70%): `<word><i>` with A (one or two), often AAAA, MX (to the provider's
  mail servers or the site's own `mail` host), an SPF TXT; `www` as a CNAME to the site; some
  with `_dmarc` TXT, `_sip._tcp` SRV to a `sip` host, or a wildcard `*.<site>` A;
- delegated customers (about 30%): `<word><i>` with two NS records, either in-zone name servers
  with glue (A, AAAA) or out-of-zone ones (no glue), and often a DS record.

Records are written the way people write zone files: relative owners, blank owners continuing
the previous name, per-record TTLs on some records, a parenthesised SOA, comments. Exactly
RECORDS records are written (default 1,000,000): when the next unit would overshoot, the rest is
filled with single A records. The output depends only on RECORDS and the seed.

With --queries, also writes a query list for dnsperf (`name type` per line): about 55% hits
(A, AAAA, MX, TXT, SRV, CNAME), 10% wildcard hits, 10% referrals below delegations, 10% NODATA
(existing names, other types such as CAA or HTTPS), 15% NXDOMAIN.
"""

import argparse
import random
import sys

ORIGIN = "bench.test."

WORDS = (
    "alpha amber apple aqua arrow aspen atlas aurora autumn azure badger bamboo beacon bear birch "
    "blaze bloom blue bolt breeze brick bright brook cactus canyon cedar cherry cinder citrus "
    "cloud clover cobalt comet copper coral cosmos cotton crane crest crystal cypress dawn delta "
    "desert dove dragon dune eagle echo ember emerald falcon fern fig flint forest fox frost "
    "galaxy garden garnet ginger glacier globe golden granite grape harbor hawk hazel heron "
    "hollow honey horizon indigo iris island ivory jade jasmine juniper karma kelp kite lagoon "
    "lark lava lemon lilac lime linden lotus lunar maple marble meadow mesa metro mint mist "
    "moss nebula nectar north oak ocean olive onyx opal orbit orchid otter owl palm panda pearl "
    "pepper pine pixel plum polar poppy prairie prism quartz quill rain raven reef ridge river "
    "robin ruby sage salt sand sapphire shadow shore sierra silver sky slate snow solar spark "
    "spruce star stone storm summit sun swift thistle thunder tiger timber topaz trail tulip "
    "tundra valley velvet violet vista wave willow wind winter wolf zen zephyr"
).split()

SPF = (
    '"v=spf1 mx include:_spf.bench.test -all"',
    '"v=spf1 ip4:{v4} -all"',
    '"v=spf1 a mx ip4:{v4} ~all"',
)
DMARC = '"v=DMARC1; p={p}; rua=mailto:dmarc@{site}.bench.test"'
QUERY_KINDS = ("hit", "wild", "referral", "nodata", "nx")
OUT_OF_ZONE_NS = [f"ns{k}.dnshost{h}.example." for h in range(1, 21) for k in (1, 2)]


def v4(rng):
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def v6(rng):
    return f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}::{rng.randrange(1, 65536):x}"


class Writer:
    """Counts records as they are written and remembers names for the query list."""

    def __init__(self, out):
        self.out = out
        self.count = 0
        self.owner = None

    def rr(self, owner, rtype, rdata, ttl=None):
        # A blank owner continues the previous one, as in hand-written zone files.
        shown = "" if owner == self.owner else owner
        self.owner = owner
        ttl_field = f"{ttl} " if ttl is not None else ""
        self.out.write(f"{shown:<23} {ttl_field}{rtype:<5} {rdata}\n")
        self.count += 1

    def comment(self, text):
        self.out.write(f"; {text}\n")


def apex(w, rng):
    w.out.write(f"$ORIGIN {ORIGIN}\n$TTL 3600\n")
    w.out.write(
        "@ IN SOA ns1.bench.test. hostmaster.bench.test. (\n"
        "        2024060101 ; serial\n"
        "        7200       ; refresh\n"
        "        3600       ; retry\n"
        "        1209600    ; expire\n"
        "        300 )      ; minimum\n"
    )
    w.count += 1
    w.owner = "@"
    for rtype, rdata in (
        ("NS", "ns1"),
        ("NS", "ns2"),
        ("NS", "ns3.dnshost1.example."),
        ("MX", "10 mx1"),
        ("MX", "20 mx2"),
        ("A", "192.0.2.1"),
        ("AAAA", "2001:db8::1"),
        ("TXT", '"v=spf1 mx -all"'),
        ("CAA", '0 issue "ca.example"'),
    ):
        w.rr("@", rtype, rdata)
    for i, host in enumerate(("ns1", "ns2", "mx1", "mx2")):
        w.rr(host, "A", f"192.0.2.{10 + i}")
        w.rr(host, "AAAA", f"2001:db8::{10 + i:x}")
    w.rr("_spf", "TXT", '"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"')


def site_unit(rng, name, q):
    """A web site: returns its records, and adds queries about it to q."""
    addr = v4(rng)
    two_a = rng.random() < 0.2
    has_v6 = rng.random() < 0.6
    own_mail = rng.random() < 0.3
    dmarc = rng.random() < 0.3
    sip = rng.random() < 0.08
    wildcard = rng.random() < 0.05
    ttl = 300 if rng.random() < 0.25 else None
    plan = [
        (name, "A", addr, ttl),
    ]
    if two_a:
        plan.append((name, "A", v4(rng), ttl))
    if has_v6:
        plan.append((name, "AAAA", v6(rng), ttl))
    if own_mail:
        plan.append((name, "MX", f"10 mail.{name}", None))
    else:
        plan.append((name, "MX", "10 mx1.bench.test.", None))
        plan.append((name, "MX", "20 mx2.bench.test.", None))
    plan.append((name, "TXT", rng.choice(SPF).format(v4=addr), None))
    plan.append((f"www.{name}", "CNAME", name, None))
    if own_mail:
        plan.append((f"mail.{name}", "A", v4(rng), None))
    if dmarc:
        policy = rng.choice(("none", "quarantine", "reject"))
        plan.append((f"_dmarc.{name}", "TXT", DMARC.format(p=policy, site=name), None))
    if sip:
        plan.append((f"_sip._tcp.{name}", "SRV", f"10 60 5060 sip.{name}", None))
        plan.append((f"sip.{name}", "A", v4(rng), None))
    if wildcard:
        plan.append((f"*.{name}", "A", addr, None))
    q["hit"].append((name, "A"))
    q["hit"].append((name, "MX"))
    q["hit"].append((name, "TXT"))
    q["hit"].append((f"www.{name}", "A"))
    if has_v6:
        q["hit"].append((name, "AAAA"))
    if sip:
        q["hit"].append((f"_sip._tcp.{name}", "SRV"))
    if wildcard:
        q["wild"].append((f"{rng.choice(WORDS)}.{name}", "A"))
    q["nodata"].append((name, rng.choice(("CAA", "HTTPS", "SRV", "NS", "DS"))))
    q["nx"].append((f"nx-{rng.choice(WORDS)}{rng.randrange(10**6)}", "A"))
    q["nx"].append((f"nx-{rng.choice(WORDS)}.www.{name}", "A"))
    return plan


def delegation_unit(rng, name, q):
    """A delegated customer: returns its records, and adds queries about it to q."""
    plan = []
    if rng.random() < 0.6:
        servers = [f"ns1.{name}", f"ns2.{name}"]
        for s in servers:
            plan.append((name, "NS", s, None))
        for s in servers:
            plan.append((s, "A", v4(rng), None))
            if rng.random() < 0.5:
                plan.append((s, "AAAA", v6(rng), None))
    else:
        h = rng.randrange(0, len(OUT_OF_ZONE_NS), 2)
        plan.append((name, "NS", OUT_OF_ZONE_NS[h], None))
        plan.append((name, "NS", OUT_OF_ZONE_NS[h + 1], None))
    if rng.random() < 0.5:
        digest = "%064X" % rng.getrandbits(256)
        plan.append((name, "DS", f"{rng.randrange(1, 65536)} 13 2 {digest}", None))
    q["referral"].append((f"www.{name}", "A"))
    q["referral"].append((name, "NS"))
    return plan


def write_zone(out, records, seed, q):
    rng = random.Random(seed)
    w = Writer(out)
    apex(w, rng)
    i = 0
    while True:
        word = WORDS[rng.randrange(len(WORDS))]
        name = f"{word}{i}"
        maker = site_unit if rng.random() < 0.7 else delegation_unit
        unit_queries = {k: [] for k in QUERY_KINDS}
        plan = maker(rng, name, unit_queries)
        if w.count + len(plan) > records:
            break
        if q is not None:
            for kind, items in unit_queries.items():
                q[kind].extend(items)
        if i % 1000 == 0:
            w.comment(f"customers from {i}")
        for owner, rtype, rdata, ttl in plan:
            w.rr(owner, rtype, rdata, ttl)
        i += 1
    if w.count < records:
        w.comment("filler")
    j = 0
    while w.count < records:
        w.rr(f"fill{j}", "A", v4(rng))
        j += 1
    return w.count


def write_queries(path, q, count, seed):
    rng = random.Random(seed + 1)
    mix = (("hit", 0.55), ("wild", 0.10), ("referral", 0.10), ("nodata", 0.10), ("nx", 0.15))
    kinds = [k for k, _ in mix if q[k]]
    weights = [wt for k, wt in mix if q[k]]
    with open(path, "w") as f:
        for _ in range(count):
            kind = rng.choices(kinds, weights)[0]
            name, rtype = rng.choice(q[kind])
            f.write(f"{name}.{ORIGIN} {rtype}\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--records", type=int, default=1_000_000)
    p.add_argument("-o", "--output", default="-", help="zone file (default: standard output)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--queries", help="also write a dnsperf query list here")
    p.add_argument("--query-count", type=int, default=200_000)
    args = p.parse_args()
    if args.records < 30:
        p.error("at least 30 records (the apex alone has 22)")
    q = {k: [] for k in QUERY_KINDS} if args.queries else None
    if args.output == "-":
        n = write_zone(sys.stdout, args.records, args.seed, q)
    else:
        with open(args.output, "w", buffering=1 << 20) as out:
            n = write_zone(out, args.records, args.seed, q)
    if args.queries:
        write_queries(args.queries, q, args.query_count, args.seed)
    print(f"gen-zone: {n} records", file=sys.stderr)


if __name__ == "__main__":
    main()
