#!/usr/bin/env python3
"""Benign DNS traffic built offline from this machine, one session per registered domain.

Sources (one file each under data/benign/): apt, docs, psl, and the hard look-alikes reverse,
dnsbl, hashrep, avcloud, dkim, srv, cdn. Names come from package metadata and documentation on
this machine and from documented lookup formats; the timing, query types and answers are
modelled (tools/detect/README.md says how). Seeded: the same machine gives the same bytes.

Usage: benign.py [--out DIR] [--seed S]
"""

import argparse
import glob
import gzip
import hashlib
import os
import random
import re
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tracelib as T  # noqa: E402

COMMON_SUBS = ["www", "mail", "api", "cdn", "static", "docs", "git", "lists", "ftp", "downloads",
               "wiki", "forum", "blog", "img", "assets", "m", "news", "dev", "bugs", "media"]

URL_RE = re.compile(r"(?:https?|ftp|git|svn|ssh)://(?:[^/\s@]*@)?([A-Za-z0-9.-]+)")
MAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def stable_hash(s):
    return int.from_bytes(hashlib.sha256(s.encode()).digest()[:8], "big")


class Collector:
    """Host names seen, grouped by registered domain."""

    def __init__(self, psl):
        self.psl = psl
        self.by_reg = defaultdict(set)

    def add(self, host):
        host = host.lower().strip(".")
        if not T.valid_host(host):
            return
        tld = host.rsplit(".", 1)[1]
        if tld not in self.psl.rules:
            return
        reg = self.psl.registered(host)
        if reg:
            self.by_reg[reg].add(host)

    def add_text(self, text):
        for m in URL_RE.findall(text):
            self.add(m)
        for m in MAIL_RE.findall(text):
            self.add(m)


def collect_apt(psl):
    c = Collector(psl)
    out = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True,
                         errors="replace", check=True).stdout
    for line in out.splitlines():
        if line.startswith(("Homepage:", "Vcs-")):
            for m in URL_RE.findall(line):
                c.add(m)
    for path in sorted(glob.glob("/usr/share/doc/*/copyright")):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for m in URL_RE.findall(f.read()):
                    c.add(m)
        except OSError:
            pass
    return c.by_reg


def read_any(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                return f.read(200_000)
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(200_000)
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""


def collect_docs(psl):
    c = Collector(psl)
    paths = []
    for root in ["/usr/share/doc", "/usr/share/man", "/usr/share/common-licenses"]:
        for dirpath, dirnames, files in os.walk(root):
            dirnames.sort()
            for fn in sorted(files):
                p = os.path.join(dirpath, fn)
                if os.path.islink(p) or fn == "copyright":
                    continue
                if fn.endswith((".gz", ".txt", ".md", ".html", ".rst")) or "." not in fn or root.endswith("licenses"):
                    paths.append(p)
    for p in paths:
        c.add_text(read_any(p))
    return c.by_reg


# ---------------------------------------------------------------------------------------------
# Session building

class Sess:
    def __init__(self, sid, rng, clients):
        self.sid = sid
        self.rng = rng
        self.clients = clients
        self.rows = []

    def q(self, t, client, qtype, labels, rcode, rlen):
        self.rows.append((self.sid, int(t), client, qtype, T.qname(labels), rcode, rlen, 0))

    def done(self):
        self.rows.sort(key=lambda r: r[1])
        base = self.rows[0][1] if self.rows else 0
        return [(r[0], r[1] - base) + r[2:] for r in self.rows]


def addr_answer(rng, labels, qtype):
    """NOERROR answer for A/AAAA/HTTPS: sometimes a CNAME first, 1-4 addresses, AAAA and HTTPS
    often NODATA."""
    cname = [rng.randint(15, 45)] if rng.random() < 0.3 else []
    if qtype == "A":
        return T.resp_len(labels, "NOERROR", cname + [4] * rng.randint(1, 4))
    if qtype == "AAAA":
        if rng.random() < 0.35:
            return T.resp_len(labels, "NOERROR", cname)
        return T.resp_len(labels, "NOERROR", cname + [16] * rng.randint(1, 2))
    if qtype == "HTTPS":
        if rng.random() < 0.6:
            return T.resp_len(labels, "NOERROR", cname)
        return T.resp_len(labels, "NOERROR", cname + [rng.randint(20, 90)])
    return T.resp_len(labels, "NOERROR", [rng.randint(10, 60)])


def web_session(sid, rng, clients, reg, hosts, max_q=24):
    """Browsing/tooling traffic to one registered domain: visits to its hosts (A, AAAA, often
    HTTPS together) from a few clients over minutes, some MX/TXT on the apex, a rare NXDOMAIN."""
    s = Sess(sid, rng, clients)
    cl = rng.sample(clients, rng.randint(1, min(4, len(clients))))
    hosts = sorted(hosts)
    hosts = rng.sample(hosts, min(len(hosts), rng.randint(1, 5)))
    extra = rng.sample(COMMON_SUBS, rng.randint(0, 3))
    hosts += [x + "." + reg for x in extra if x + "." + reg not in hosts]
    if rng.random() < 0.3 and reg not in hosts:
        hosts.append(reg)
    span = rng.uniform(60_000, 1_800_000)
    target = rng.randint(3, max_q)
    while len(s.rows) < target:
        h = rng.choice(hosts)
        labels = h.split(".")
        t = rng.uniform(0, span)
        c = rng.choice(cl)
        nx = rng.random() < 0.04
        types = ["A", "AAAA"] if rng.random() < 0.75 else ["A"]
        if rng.random() < 0.4:
            types.append("HTTPS")
        for i, qt in enumerate(types):
            tt = t + i * rng.uniform(0, 3)
            if nx:
                s.q(tt, c, qt, labels, "NXDOMAIN", T.resp_len(labels, "NXDOMAIN"))
            else:
                s.q(tt, c, qt, labels, "NOERROR", addr_answer(rng, labels, qt))
    if rng.random() < 0.1:
        labels = reg.split(".")
        c = rng.choice(cl)
        t = rng.uniform(0, span)
        s.q(t, c, "MX", labels, "NOERROR", T.resp_len(labels, "NOERROR", [rng.randint(10, 30)] * rng.randint(1, 3)))
        if rng.random() < 0.5:
            s.q(t + 5, c, "TXT", labels, "NOERROR", T.resp_len(labels, "NOERROR", [rng.randint(30, 250)] * rng.randint(1, 4)))
    return s.done()


def psl_sessions(rng, clients, psl, n):
    """Customer names under private-section suffixes, made of dictionary words."""
    words = T.words()
    suffixes = sorted(r for r in psl.private if r.count(".") >= 1 and "*" not in r)
    # weight the well-known platforms, as real traffic does
    popular = ["herokuapp.com", "github.io", "netlify.app", "vercel.app", "pages.dev",
               "workers.dev", "azurewebsites.net", "appspot.com", "web.app", "firebaseapp.com",
               "blogspot.com", "duckdns.org", "ngrok.io", "gitlab.io", "readthedocs.io",
               "cloudfront.net", "s3.amazonaws.com", "azureedge.net", "myshopify.com",
               "wordpress.com", "translate.goog", "r.appspot.com", "onrender.com", "fly.dev"]
    popular = [p for p in popular if p in psl.rules]
    seen = set()
    out = []
    while len(seen) < n:
        suf = rng.choice(popular) if rng.random() < 0.7 else rng.choice(suffixes)
        k = rng.random()
        w1, w2 = rng.choice(words), rng.choice(words)
        if k < 0.3:
            cust = w1
        elif k < 0.55:
            cust = w1 + "-" + w2
        elif k < 0.7:
            cust = w1 + "-" + rng.choice(["prod", "staging", "dev", "app", "site", "api", "docs", "web"])
        elif k < 0.8:
            cust = w1 + str(rng.randint(1, 2025))
        elif k < 0.9:
            cust = rng.choice(["team", "my", "the", "get", "try", "go"]) + "-" + w1
        else:
            cust = w1 + w2
        reg = cust + "." + suf
        if reg in seen or psl.registered(reg) != reg or len(cust) > 50:
            continue
        seen.add(reg)
        hosts = {reg}
        if rng.random() < 0.2:
            hosts.add(rng.choice(["www", "api", "static"]) + "." + reg)
        out.extend(web_session("psl:" + reg, rng, clients, reg, hosts, max_q=25))
    return out, len(seen)


# ---------------------------------------------------------------------------------------------
# Hard look-alikes

def rand_ipv4(rng):
    return [rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)]


def rand_ipv6_nibbles(rng):
    prefix = rng.choice(["20010db8", "2a0014", "2600", "2a02", "2001067c", "24", "2c0f"])
    nib = list(prefix) + [rng.choice("0123456789abcdef") for _ in range(32 - len(prefix))]
    if rng.random() < 0.5:  # SLAAC / ::1 style host parts
        nib[16:] = list("0000000000000001") if rng.random() < 0.5 else nib[16:]
    return nib


def reverse_sessions(rng, clients):
    """PTR look-ups (in-addr.arpa, and ip6.arpa nibbles) as logging and mail servers make them,
    grouped per registered domain under the PSL (the first octet / first nibble zone)."""
    groups = defaultdict(list)
    for _ in range(6000):
        ip = rand_ipv4(rng)
        labels = [str(x) for x in reversed(ip)] + ["in-addr", "arpa"]
        groups[str(ip[0]) + ".in-addr.arpa"].append(labels)
    for _ in range(1500):
        nib = rand_ipv6_nibbles(rng)
        labels = list(reversed(nib)) + ["ip6", "arpa"]
        groups[nib[0] + ".ip6.arpa"].append(labels)
    out = []
    nsess = 0
    for reg in sorted(groups):
        names = groups[reg]
        # large groups (ip6) are split into several sessions of one client group each
        for k in range(0, len(names), 60):
            chunk = names[k : k + 60]
            s = Sess("reverse:%s:%d" % (reg, k // 60), rng, clients)
            cl = rng.sample(clients, rng.randint(1, 3))
            span = rng.uniform(120_000, 3_600_000)
            for labels in chunk:
                c = rng.choice(cl)
                t = rng.uniform(0, span)
                if rng.random() < 0.35:
                    s.q(t, c, "PTR", labels, "NXDOMAIN", T.resp_len(labels, "NXDOMAIN"))
                else:
                    s.q(t, c, "PTR", labels, "NOERROR", T.resp_len(labels, "NOERROR", [rng.randint(15, 50)]))
            out.extend(s.done())
            nsess += 1
    return out, nsess


IP_DNSBLS = ["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "dnsbl.sorbs.net",
             "bl.mailspike.net", "psbl.surriel.com", "dnsbl-1.uceprotect.net", "bl.0spam.org"]
DOMAIN_DNSBLS = ["dbl.spamhaus.org", "multi.surbl.org", "multi.uribl.com"]


def dnsbl_sessions(rng, clients, domains):
    """Mail servers checking connecting IPs (reversed octets, IPv6 as reversed nibbles on zen)
    and URIs in messages (domain names prefixed to dbl/surbl/uribl). Mostly NXDOMAIN (not
    listed), sometimes 127.0.0.x with a TXT reason."""
    out = []
    nsess = 0
    for zone in IP_DNSBLS + DOMAIN_DNSBLS:
        zl = zone.split(".")
        for k in range(rng.randint(6, 12)):
            s = Sess("dnsbl:%s:%d" % (zone, k), rng, clients)
            c = rng.choice(clients)
            span = rng.uniform(600_000, 3_600_000)
            for _ in range(rng.randint(20, 120)):
                t = rng.uniform(0, span)
                if zone in DOMAIN_DNSBLS:
                    labels = rng.choice(domains).split(".") + zl
                elif zone == "zen.spamhaus.org" and rng.random() < 0.15:
                    labels = list(reversed(rand_ipv6_nibbles(rng))) + zl
                else:
                    labels = [str(x) for x in reversed(rand_ipv4(rng))] + zl
                if rng.random() < 0.12:
                    s.q(t, c, "A", labels, "NOERROR", T.resp_len(labels, "NOERROR", [4] * rng.randint(1, 2)))
                    s.q(t + 2, c, "TXT", labels, "NOERROR", T.resp_len(labels, "NOERROR", [rng.randint(40, 90)]))
                else:
                    s.q(t, c, "A", labels, "NXDOMAIN", T.resp_len(labels, "NXDOMAIN"))
            out.extend(s.done())
            nsess += 1
    return out, nsess


def hexhash(rng, nbytes):
    return "%0*x" % (nbytes * 2, rng.getrandbits(nbytes * 8))


def hashrep_sessions(rng, clients):
    """Hash reputation look-ups: Team Cymru MHR (<md5|sha1>.malware.hash.cymru.com, A and TXT),
    CIRCL hashlookup DNS (<md5|sha1>.dns.hashlookup.circl.lu, TXT); SHA-256 does not fit one
    label, so in-house zones split it in two 32-character labels (an assumed format)."""
    zones = [("malware.hash.cymru.com", ["A", "TXT"], [16, 20]),
             ("dns.hashlookup.circl.lu", ["TXT"], [16, 20]),
             ("hash.reputation.example.net", ["A", "TXT"], [16, 20, 32])]
    out = []
    nsess = 0
    for zone, qtypes, sizes in zones:
        zl = zone.split(".")
        for k in range(rng.randint(10, 16)):
            s = Sess("hashrep:%s:%d" % (zone, k), rng, clients)
            c = rng.choice(clients)
            span = rng.uniform(300_000, 3_600_000)
            t = 0.0
            for _ in range(rng.randint(15, 100)):
                # scanners look up files in bursts
                t += rng.uniform(5, 400) if rng.random() < 0.8 else rng.uniform(10_000, span / 5)
                size = rng.choice(sizes)
                h = hexhash(rng, size)
                labels = ([h[:32], h[32:]] if size == 32 else [h]) + zl
                qt = rng.choice(qtypes)
                if rng.random() < 0.85:
                    s.q(t, c, qt, labels, "NXDOMAIN", T.resp_len(labels, "NXDOMAIN"))
                else:
                    rd = 4 if qt == "A" else rng.randint(20, 200)
                    s.q(t, c, qt, labels, "NOERROR", T.resp_len(labels, "NOERROR", [rd]))
            out.extend(s.done())
            nsess += 1
    return out, nsess


def b32ish(rng, n):
    return "".join(rng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def avcloud_sessions(rng, clients):
    """Antivirus cloud look-ups: McAfee GTI (26-character fingerprint label under avqs/avts
    .mcafee.com, answer 127.0.x.y), Sophos sample hosts (<cachebuster>.<hash>.5.samples
    .sophosxl.net) and SXL look-ups (hex labels under sophosxl.net sub-zones), ESET-style hex
    labels under e5.sk (shape only)."""
    kinds = ["mcafee", "sophos", "sophos-samples", "eset"]
    out = []
    nsess = 0
    for kind in kinds:
        for k in range(rng.randint(10, 16)):
            s = Sess("avcloud:%s:%d" % (kind, k), rng, clients)
            c = rng.choice(clients)
            t = 0.0
            span = rng.uniform(300_000, 3_600_000)
            for _ in range(rng.randint(10, 80)):
                t += rng.uniform(5, 500) if rng.random() < 0.8 else rng.uniform(10_000, span / 5)
                if kind == "mcafee":
                    labels = [b32ish(rng, 26), rng.choice(["avqs", "avts"]), "mcafee", "com"]
                    if rng.random() < 0.3:
                        labels = ["0", "0", "0", "0", "1", "0", "0", "%x" % rng.randint(1, 255)] + labels
                    s.q(t, c, "A", labels, "NOERROR", T.resp_len(labels, "NOERROR", [4]))
                elif kind == "sophos":
                    labels = [hexhash(rng, 16), "%d-%d" % (rng.randint(1, 9), rng.randint(1, 9)),
                              rng.choice(["p", "f", "u", "v", "i"]), "%d" % rng.randint(1, 5), "sophosxl", "net"]
                    s.q(t, c, "A", labels, "NOERROR", T.resp_len(labels, "NOERROR", [4]))
                elif kind == "sophos-samples":
                    labels = [b32ish(rng, rng.randint(8, 16)), hexhash(rng, 20), "5", "samples", "sophosxl", "net"]
                    s.q(t, c, "A", labels, "NOERROR", T.resp_len(labels, "NOERROR", [4] * 2))
                else:
                    labels = [hexhash(rng, rng.choice([8, 16, 20]))] + (["a"] if rng.random() < 0.5 else []) + ["e5", "sk"]
                    rc = "NOERROR" if rng.random() < 0.7 else "NXDOMAIN"
                    s.q(t, c, "A", labels, rc, T.resp_len(labels, rc, [4] if rc == "NOERROR" else []))
            out.extend(s.done())
            nsess += 1
    return out, nsess


def dkim_sessions(rng, clients, regs):
    """Mail authentication look-ups for sender domains: DKIM selectors, DMARC, SPF includes,
    ACME challenges, MTA-STS and TLS-RPT, all TXT (MTA-STS also A for the policy host)."""
    selectors = ["google", "selector1", "selector2", "s1", "s2", "k1", "default", "dkim", "mail",
                 "20230601", "20210112", "smtpapi", "mandrill", "mxvault", "fm1", "fm2", "protonmail",
                 "sig1", "key1", "everlytickey1", "cm", "scph0821"]
    out = []
    for reg in regs:
        s = Sess("dkim:" + reg, rng, clients)
        c = rng.choice(clients)
        span = rng.uniform(60_000, 3_600_000)
        for _ in range(rng.randint(2, 8)):
            t = rng.uniform(0, span)
            kind = rng.random()
            if kind < 0.4:
                labels = [rng.choice(selectors), "_domainkey"] + reg.split(".")
                rd = [rng.randint(200, 420)]
            elif kind < 0.65:
                labels = ["_dmarc"] + reg.split(".")
                rd = [rng.randint(30, 120)]
            elif kind < 0.8:
                labels = ["_spf"] + reg.split(".") if rng.random() < 0.5 else reg.split(".")
                rd = [rng.randint(40, 200)]
            elif kind < 0.9:
                labels = ["_acme-challenge"] + ([rng.choice(COMMON_SUBS)] if rng.random() < 0.5 else []) + reg.split(".")
                rd = [44]
            elif kind < 0.95:
                labels = ["_mta-sts"] + reg.split(".")
                rd = [35]
                if rng.random() < 0.5:
                    ml = ["mta-sts"] + reg.split(".")
                    s.q(t + 10, c, "A", ml, "NOERROR", T.resp_len(ml, "NOERROR", [4]))
            else:
                labels = ["_smtp", "_tls"] + reg.split(".")
                rd = [60]
            if rng.random() < 0.25:
                s.q(t, c, "TXT", labels, "NXDOMAIN", T.resp_len(labels, "NXDOMAIN"))
            else:
                s.q(t, c, "TXT", labels, "NOERROR", T.resp_len(labels, "NOERROR", rd))
        out.extend(s.done())
    return out, len(regs)


SRV_NAMES = [
    ["_ldap", "_tcp", "dc", "_msdcs"], ["_kerberos", "_tcp", "dc", "_msdcs"],
    ["_ldap", "_tcp", "pdc", "_msdcs"], ["_ldap", "_tcp", "gc", "_msdcs"],
    ["_ldap", "_tcp", "Default-First-Site-Name", "_sites", "dc", "_msdcs"],
    ["_ldap", "_tcp"], ["_kerberos", "_udp"], ["_kerberos", "_tcp"], ["_kpasswd", "_udp"],
    ["_gc", "_tcp"], ["_sip", "_tls"], ["_sip", "_udp"], ["_sipfederationtls", "_tcp"],
    ["_xmpp-client", "_tcp"], ["_xmpp-server", "_tcp"], ["_autodiscover", "_tcp"],
    ["_caldavs", "_tcp"], ["_carddavs", "_tcp"], ["_imaps", "_tcp"], ["_submission", "_tcp"],
    ["_matrix", "_tcp"], ["_minecraft", "_tcp"], ["_http", "_tcp"], ["_vlmcs", "_tcp"],
]


def srv_sessions(rng, clients, regs):
    """Service discovery: Active Directory locator names (_ldap._tcp.dc._msdcs...), SIP, XMPP,
    Kerberos, autodiscover, mostly SRV with the A look-ups of the targets that follow."""
    out = []
    for reg in regs:
        s = Sess("srv:" + reg, rng, clients)
        cl = rng.sample(clients, rng.randint(1, 4))
        span = rng.uniform(60_000, 3_600_000)
        ad = rng.random() < 0.5
        base = (["corp"] if ad and rng.random() < 0.5 else []) + reg.split(".")
        for _ in range(rng.randint(3, 20)):
            t = rng.uniform(0, span)
            c = rng.choice(cl)
            srv = rng.choice(SRV_NAMES[:10] if ad else SRV_NAMES[10:])
            labels = srv + base
            if rng.random() < 0.3:
                s.q(t, c, "SRV", labels, "NXDOMAIN", T.resp_len(labels, "NXDOMAIN"))
                continue
            n = rng.randint(1, 3)
            s.q(t, c, "SRV", labels, "NOERROR", T.resp_len(labels, "NOERROR", [rng.randint(20, 40)] * n))
            tgt = [rng.choice(["dc1", "dc2", "sip", "xmpp", "mail", "srv01", "ad"])] + base
            s.q(t + rng.uniform(1, 20), c, "A", tgt, "NOERROR", T.resp_len(tgt, "NOERROR", [4]))
        out.extend(s.done())
    return out, len(regs)


def cdn_sessions(rng, clients, psl):
    """CDN and cloud host names with hash-like labels: CloudFront distributions, Akamai edge
    names, Google video caches, ELB load balancers, S3 bucket hosts, Azure/Fastly names."""
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    words = T.words()
    out = []
    regs = set()
    for k in range(600):
        kind = rng.choice(["cloudfront", "akamai", "googlevideo", "elb", "s3", "azureedge",
                           "fastly", "akamaihd", "trafficmanager"])
        s = Sess("cdn:%s:%d" % (kind, k), rng, clients)
        cl = rng.sample(clients, rng.randint(1, 4))
        span = rng.uniform(60_000, 1_800_000)
        names = []
        if kind == "cloudfront":
            names = [["d" + "".join(rng.choice(alnum) for _ in range(13)), "cloudfront", "net"]]
        elif kind == "akamai":
            n = rng.randint(1, 9999)
            names = [["e%d" % n, rng.choice(["a", "b", "dscb", "dscx", "dsce", "x"]), "akamaiedge", "net"],
                     ["a%d" % rng.randint(1, 2000), rng.choice(["e", "g", "dscd"]), "akamai", "net"]]
        elif kind == "googlevideo":
            sn = "sn-" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
            names = [["r%d---%s" % (rng.randint(1, 20), sn), "googlevideo", "com"] for _ in range(3)]
            names += [["rr%d---%s" % (rng.randint(1, 8), sn), "googlevideo", "com"]]
        elif kind == "elb":
            lb = rng.choice(words) + "-" + rng.choice(["prod", "lb", "alb", "web", "api"]) + "-" + str(rng.randint(10**8, 10**10))
            region = rng.choice(["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"])
            names = [[lb, region, "elb", "amazonaws", "com"]]
            if rng.random() < 0.5:
                names.append(["dualstack", lb, region, "elb", "amazonaws", "com"])
        elif kind == "s3":
            bucket = rng.choice(words) + "-" + rng.choice(words) + rng.choice(["", "-assets", "-backup", "-%d" % rng.randint(1, 999)])
            if rng.random() < 0.5:
                names = [[bucket, "s3", "amazonaws", "com"]]
            else:
                names = [[bucket, "s3", rng.choice(["us-west-2", "eu-west-1"]), "amazonaws", "com"]]
        elif kind == "azureedge":
            names = [[rng.choice(words) + "-" + "".join(rng.choice(alnum) for _ in range(rng.randint(8, 16))), "azureedge", "net"]]
        elif kind == "fastly":
            names = [[rng.choice(["dualstack", "j", "f2", "x"]) + "." + rng.choice(words) if False else rng.choice(words) + "-" + "%x" % rng.getrandbits(24), "global", "ssl", "fastly", "net"]]
        elif kind == "akamaihd":
            names = [[rng.choice(words) + "-" + "%x" % rng.getrandbits(20), rng.choice(["akamaihd", "akamaized"]), "net"]]
        else:
            names = [[rng.choice(words) + "-" + "".join(rng.choice(alnum) for _ in range(8)), "trafficmanager", "net"]]
        for nm in names:
            r = psl.registered(".".join(nm))
            if r:
                regs.add(r)
        for _ in range(rng.randint(3, 30)):
            labels = rng.choice(names)
            t = rng.uniform(0, span)
            c = rng.choice(cl)
            for qt in (["A", "AAAA"] if rng.random() < 0.6 else ["A"]):
                s.q(t, c, qt, labels, "NOERROR", addr_answer(rng, labels, qt))
        out.extend(s.done())
    return out, len(regs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(T.DATA, "benign"))
    ap.add_argument("--seed", default="portcullis-detect-1")
    args = ap.parse_args()
    psl = T.Psl()
    clients = T.client_pool(random.Random(args.seed + ":clients"), 60)

    apt = collect_apt(psl)
    docs = collect_docs(psl)
    # Each real registered domain lands in exactly one source: a slice goes to dkim and srv
    # (mail and service look-ups of ordinary domains), the rest to apt (or docs if only there).
    allregs = sorted(set(apt) | set(docs))
    dkim_regs, srv_regs, apt_regs, docs_regs = [], [], [], []
    for reg in allregs:
        h = stable_hash(args.seed + reg) % 100
        if h < 8:
            dkim_regs.append(reg)
        elif h < 12:
            srv_regs.append(reg)
        elif reg in apt:
            apt_regs.append(reg)
        else:
            docs_regs.append(reg)

    stats = []

    def emit(name, rows, nregs, nsess):
        path = os.path.join(args.out, name + ".tsv.gz")
        T.write_trace(path, rows)
        nq = len(rows)
        stats.append((name, nsess, nq, nregs, os.path.getsize(path)))

    rng = random.Random(args.seed + ":apt")
    rows = []
    for reg in apt_regs:
        rows.extend(web_session("apt:" + reg, rng, clients, reg, apt[reg]))
    emit("apt", rows, len(apt_regs), len(apt_regs))

    rng = random.Random(args.seed + ":docs")
    rows = []
    for reg in docs_regs:
        rows.extend(web_session("docs:" + reg, rng, clients, reg, docs[reg]))
    emit("docs", rows, len(docs_regs), len(docs_regs))

    rng = random.Random(args.seed + ":psl")
    rows, n = psl_sessions(rng, clients, psl, 1200)
    emit("psl", rows, n, n)

    rng = random.Random(args.seed + ":reverse")
    rows, nsess = reverse_sessions(rng, clients)
    emit("reverse", rows, len({psl.registered(r[4]) for r in rows}), nsess)

    rng = random.Random(args.seed + ":dnsbl")
    rows, nsess = dnsbl_sessions(rng, clients, allregs)
    emit("dnsbl", rows, len({psl.registered(r[4]) for r in rows}), nsess)

    rng = random.Random(args.seed + ":hashrep")
    rows, nsess = hashrep_sessions(rng, clients)
    emit("hashrep", rows, len({psl.registered(r[4]) for r in rows}), nsess)

    rng = random.Random(args.seed + ":avcloud")
    rows, nsess = avcloud_sessions(rng, clients)
    emit("avcloud", rows, len({psl.registered(r[4]) for r in rows}), nsess)

    rng = random.Random(args.seed + ":dkim")
    rows, n = dkim_sessions(rng, clients, dkim_regs)
    emit("dkim", rows, n, n)

    rng = random.Random(args.seed + ":srv")
    rows, n = srv_sessions(rng, clients, srv_regs)
    emit("srv", rows, n, n)

    rng = random.Random(args.seed + ":cdn")
    rows, n = cdn_sessions(rng, clients, psl)
    emit("cdn", rows, n, 600)

    for name, nsess, nq, nregs, size in stats:
        print("%-8s sessions=%d queries=%d regdomains=%d bytes=%d" % (name, nsess, nq, nregs, size))


if __name__ == "__main__":
    main()
