"""Shared helpers for the labelled DNS traces: the TSV format, name escaping, the public
suffix list and deterministic gzip output.

The trace format is a contract with the trainer (tools/detect/train.py) and the replay tools;
see tools/detect/README.md. Everything here is deterministic: the same inputs give the same
output bytes (gzip without a name or timestamp, like `gzip -n`).
"""

import gzip
import io
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(HERE, "data")
PSL_PATH = os.path.join(REPO, "crates", "detect", "data", "public_suffix_list.dat")

HEADER = ["session", "t_ms", "client", "qtype", "qname", "rcode", "resp_len", "data"]

_PLAIN = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def escape_label(label):
    """Presentation form of one label (bytes or str): letters, digits, hyphen and underscore
    as they are, a dot as `\\.`, every other byte as `\\DDD` (RFC 1035 section 5.1)."""
    if isinstance(label, str):
        label = label.encode("latin-1")
    out = []
    for b in label:
        if b in _PLAIN:
            out.append(chr(b))
        elif b == 0x2E:
            out.append("\\.")
        else:
            out.append("\\%03d" % b)
    return "".join(out)


def qname(labels):
    """Presentation form with the trailing dot from a list of labels (bytes or str)."""
    for lab in labels:
        n = len(lab.encode("latin-1") if isinstance(lab, str) else lab)
        if not 0 < n <= 63:
            raise ValueError("label length %d" % n)
    name = ".".join(escape_label(lab) for lab in labels) + "."
    if wire_len(labels) > 255:
        raise ValueError("name too long: " + name)
    return name


def wire_len(labels):
    """Length of the name in wire form (length bytes, labels, the root byte)."""
    return sum(len(lab) + 1 for lab in labels) + 1


def split_labels(text, size=63):
    """Cut an encoded payload into labels of at most `size` characters."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def query_len(labels, edns=True):
    """Bytes of a query: header, question, an EDNS OPT record when `edns`."""
    return 12 + wire_len(labels) + 4 + (11 if edns else 0)


def resp_len(labels, rcode, answer_rdata=(), edns=True, soa=None):
    """Bytes of a response: the query echoed, one compressed-owner RR per answer rdata length,
    and for NXDOMAIN/NODATA an SOA in the authority section (default 60 bytes)."""
    n = query_len(labels, edns)
    for rd in answer_rdata:
        n += 2 + 10 + rd
    if rcode == "NXDOMAIN" or not answer_rdata:
        n += soa if soa is not None else 60
    return n


class Psl:
    """The public suffix list (ICANN and private sections), for the registered domain
    (eTLD+1) of a name, with the `*` and `!` rules."""

    def __init__(self, path=PSL_PATH):
        self.rules = set()
        self.wild = set()
        self.exc = set()
        self.private = []
        in_private = False
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if "BEGIN PRIVATE DOMAINS" in line:
                    in_private = True
                if not line or line.startswith("//"):
                    continue
                rule = line.split()[0].lower()
                try:
                    rule = rule.encode("idna").decode("ascii")
                except UnicodeError:
                    continue
                if rule.startswith("!"):
                    self.exc.add(rule[1:])
                elif rule.startswith("*."):
                    self.wild.add(rule[2:])
                else:
                    self.rules.add(rule)
                    if in_private:
                        self.private.append(rule)

    def suffix_len(self, labels):
        """Number of labels of the public suffix of `labels` (a list, lowercase)."""
        best = 1
        for i in range(len(labels)):
            cand = ".".join(labels[i:])
            if cand in self.exc:
                return len(labels) - i - 1
            if cand in self.rules:
                best = max(best, len(labels) - i)
            if i > 0 and ".".join(labels[i:]) in self.wild:
                best = max(best, len(labels) - i + 1)
        return best

    def registered(self, name):
        """Registered domain (public suffix plus one label) of a dotted name, or None when
        the name is itself a public suffix."""
        labels = [x for x in name.lower().rstrip(".").split(".") if x]
        n = self.suffix_len(labels)
        if len(labels) <= n:
            return None
        return ".".join(labels[-(n + 1) :])


_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def valid_host(name):
    """A plausible host name: LDH labels, at least two, a letter TLD."""
    labels = name.split(".")
    if len(labels) < 2 or len(name) > 200:
        return False
    if not all(_HOST_RE.match(x) for x in labels):
        return False
    return labels[-1].isalpha() and len(labels[-1]) >= 2


def write_trace(path, rows):
    """Write rows (tuples in HEADER order) as gzipped TSV, deterministic (no name, mtime 0)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.StringIO()
    buf.write("\t".join(HEADER) + "\n")
    for r in rows:
        buf.write("\t".join(str(x) for x in r) + "\n")
    raw = buf.getvalue().encode("ascii")
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as g:
            g.write(raw)


def read_trace(path):
    """Rows of a trace as lists of strings (without the header)."""
    with gzip.open(path, "rt", encoding="ascii") as f:
        lines = f.read().splitlines()
    if lines[0].split("\t") != HEADER:
        raise ValueError("bad header in " + path)
    return [line.split("\t") for line in lines[1:]]


_WORDS = None


def words():
    """An English word list: /usr/share/dict/words when present, else lowercase words of
    3-10 letters that occur at least 5 times in the package descriptions (sorted, so stable
    on one machine)."""
    global _WORDS
    if _WORDS is not None:
        return _WORDS
    found = []
    if os.path.exists("/usr/share/dict/words"):
        with open("/usr/share/dict/words", encoding="utf-8", errors="replace") as f:
            found = sorted({w.strip().lower() for w in f if re.fullmatch(r"[a-z]{3,10}", w.strip())})
    if len(found) < 2000:
        import subprocess
        from collections import Counter

        out = subprocess.run(
            ["apt-cache", "dumpavail"], capture_output=True, text=True, errors="replace", check=True
        ).stdout
        counts = Counter()
        for line in out.splitlines():
            if line.startswith("Description") or line.startswith(" "):
                for w in re.findall(r"\b[a-z]{3,10}\b", line):
                    counts[w] += 1
        found = sorted(w for w, c in counts.items() if c >= 5)
    _WORDS = found
    return _WORDS


# Clients shared by benign and synthetic traffic, so the address says nothing about the label.
def client_pool(rng, n):
    """`n` client addresses from the documentation/private ranges."""
    out = []
    for _ in range(n):
        k = rng.random()
        if k < 0.6:
            out.append("10.%d.%d.%d" % (rng.randrange(0, 8), rng.randrange(256), rng.randrange(1, 255)))
        elif k < 0.85:
            out.append("192.0.2.%d" % rng.randrange(1, 255))
        else:
            out.append("2001:db8::%x" % rng.randrange(1, 0xFFFF))
    return out
