#!/usr/bin/env python3
"""Trains Portcullis's per-query tunnel model and evaluates it.

    cargo build -p portcullis
    python3 tools/detect/train.py [--bin target/debug/portcullis] [--report FILE] [--no-write]

Reads the labelled traces under tools/detect/data/ (format: tools/detect/README.md), computes
features with `portcullis detect features` (the Rust code is the one source of truth for
features), fits an L2-regularised, class-weighted logistic regression on standardised
features, sets the threshold for 0.5% false positives on benign training queries (scored with
cross-fitted bigram features: see FOLDS), and writes
crates/detect/model/detect-model.json (keeping its "domain" key) and golden.tsv. The
evaluation report (markdown) goes to stdout, or --report FILE.

Splits (deterministic, no randomness): a session is held out when the SHA-1 of
"<file>\\t<session>" falls in the first 30% of the hash space. Evaluation is
leave-one-family-out: for each tunnel family, a model trained on every other family's
training sessions is tested on all of the family's data-carrying queries; false positives are
counted on held-out benign sessions. The shipped model trains on every family's training
sessions.
"""

import argparse
import gzip
import hashlib
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(HERE, "data")
MODEL_DIR = os.path.join(REPO, "crates", "detect", "model")
MODEL = os.path.join(MODEL_DIR, "detect-model.json")
GOLDEN = os.path.join(MODEL_DIR, "golden.tsv")

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-"
K = len(ALPHABET) + 2  # + other, + label boundary
OTHER, BOUNDARY = len(ALPHABET), len(ALPHABET) + 1
HOLDOUT = 0.30
# The threshold is chosen on benign training queries scored with cross-fitted features: each
# of FOLDS groups of sessions with a bigram table learned from the other groups. Scored with
# the table learned from them, training names look more ordinary than unseen ones, and a
# threshold set on those lets more than TARGET_FP through on new names.
FOLDS = 5
TARGET_FP = 0.005
L2 = 1.0
# Hard negatives: the threshold sits at the benign scores' 99.5th percentile, so what matters
# is the benign tail, not the bulk a plain log-loss fit spends itself on. After each fit the
# benign training queries among the top HARD_QUANTILE of benign scores weigh HARD_BOOST times
# more, and the model is fitted again, HARD_ROUNDS times (docs/DETECTION.md, "Hard negatives").
HARD_ROUNDS = 3
HARD_QUANTILE = 0.05
HARD_BOOST = 3.0
SMOOTH = 0.5
BALANCE = os.environ.get("BALANCE", "1") == "1"
# Share of benign training queries also seen with random letter case, as resolvers using
# 0x20 case randomisation (draft-vixie-dnsext-dns0x20) send them: case mixing alone must not
# look like base64.
MIXED_CASE_SHARE = 0.05
LOOKALIKES = ["reverse", "dnsbl", "hashrep", "avcloud", "dkim", "srv", "cdn", "psl"]

# Fixed names for the golden test: ordinary names and look-alikes (one per family follows).
GOLDEN_FIXED = [
    ("A", "www.example.com."),
    ("AAAA", "mail.google.com."),
    ("A", "example.com."),
    ("HTTPS", "www.wikipedia.org."),
    ("A", "deb.debian.org."),
    ("MX", "example.co.uk."),
    ("A", "myapp-prod.herokuapp.com."),
    ("A", "www.team-site.github.io."),
    ("PTR", "4.3.2.1.in-addr.arpa."),
    ("PTR", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa."),
    ("A", "2.0.0.127.zen.spamhaus.org."),
    ("TXT", "d41d8cd98f00b204e9800998ecf8427e.malware.hash.cymru.com."),
    ("TXT", "selector1._domainkey.example.com."),
    ("TXT", "_dmarc.example.org."),
    ("SRV", "_ldap._tcp.dc._msdcs.corp.example.com."),
    ("A", "d111111abcdef8.cloudfront.net."),
    ("A", "r3---sn-abcdefg.googlevideo.com."),
    ("A", "e1234.a.akamaiedge.net."),
    ("A", "MiXeD.CaSe.Example.COM."),
    ("TYPE65399", "a.example.com."),
    ("TXT", "0123456789abcdef0123456789abcdef0123456789abcdef.t.evil.example."),
    ("NULL", "aGVsbG8gd29ybGQgdGhpcyBpcyBhIHR1bm5lbA.tun.example.net."),
]


def allowed_zones():
    """`BUILTIN_ALLOWED_ZONES` as this checkout's verdict.rs lists them (lowercase, no dot)."""
    with open(os.path.join(REPO, "crates", "detect", "src", "verdict.rs")) as fh:
        text = fh.read()
    body = re.search(r"BUILTIN_ALLOWED_ZONES: &\[&str\] = &\[(.*?)\];", text, re.S)
    return set(re.findall(r'"([a-z0-9.-]+)"', body.group(1)))


ALLOWED = allowed_zones()
ALLOWED_LABELS = ("_domainkey", "_dmarc")


def allowed(qname):
    """Whether the server's built-in allow list covers `qname` (as `AllowList::allows`: a
    zone suffix on label boundaries, or a DKIM/DMARC label anywhere). Such a query never
    reaches a decision: its domain's weight is 0.2 and the domain model does not run on it."""
    labels = qname.lower().rstrip(".").split(".")
    if any(l in ALLOWED_LABELS for l in labels):
        return True
    return any(".".join(labels[i:]) in ALLOWED for i in range(len(labels)))


def split_point(path, session):
    """Where the session falls in [0, 1): below HOLDOUT it is held out of all training."""
    h = hashlib.sha1(("%s\t%s" % (os.path.relpath(path, DATA), session)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def held_out(path, session):
    return split_point(path, session) < HOLDOUT


def fold_of(point):
    """The cross-fitting group of a training session (-1 for a held-out one)."""
    if point < HOLDOUT:
        return -1
    return min(int((point - HOLDOUT) / (1.0 - HOLDOUT) * FOLDS), FOLDS - 1)


def load():
    """Rows of every trace: tuples of kind, source, session, held, qtype, qname, data and
    cross-fitting fold."""
    rows = []
    for kind in ("benign", "tunnel"):
        d = os.path.join(DATA, kind)
        for f in sorted(os.listdir(d)):
            if not f.endswith(".tsv.gz"):
                continue
            path = os.path.join(d, f)
            source = f[: -len(".tsv.gz")]
            held = {}
            fold = {}
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                header = fh.readline().rstrip("\n").split("\t")
                col = {c: i for i, c in enumerate(header)}
                for line in fh:
                    p = line.rstrip("\n").split("\t")
                    s = p[col["session"]]
                    if s not in held:
                        held[s] = held_out(path, s)
                        fold[s] = fold_of(split_point(path, s))
                    rows.append(
                        (kind, source, s, held[s], p[col["qtype"]], p[col["qname"]],
                         int(p[col["data"]]), fold[s])
                    )
    rng = random.Random(8)
    extra = []
    for r in rows:
        if r[0] == "benign" and not r[3] and rng.random() < MIXED_CASE_SHARE:
            mixed = "".join(c.upper() if rng.random() < 0.5 else c for c in r[5])
            extra.append((r[0], r[1], r[2], r[3], r[4], mixed, r[6], r[7]))
    return rows + extra


def run_features(binary, model_path, pairs, left):
    """Features (and left parts) of unique (qtype, qname) pairs, from the Rust code."""
    cmd = [binary, "detect", "features"]
    if model_path:
        cmd += ["--model", model_path]
    if left:
        cmd.append("--left")
    text = "".join("%s\t%s\n" % p for p in pairs)
    out = subprocess.run(cmd, input=text, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit("portcullis detect features failed: " + out.stderr)
    lines = out.stdout.splitlines()
    header = lines[0].split("\t")
    lefts, feats = [], []
    for line in lines[1:]:
        p = line.split("\t")
        if left:
            lefts.append(p[0])
            p = p[1:]
        feats.append([float(v) for v in p])
    names = header[1:] if left else header
    return names, lefts, np.array(feats, dtype=np.float64)


def labels_of(text):
    """Labels (bytes) of a presentation-form name without its trailing dot."""
    labels, cur, i = [], bytearray(), 0
    b = text.encode("latin-1")
    while i < len(b):
        c = b[i]
        if c == 0x5C and i + 1 < len(b):
            if b[i + 1 : i + 4].isdigit() and len(b[i + 1 : i + 4]) == 3:
                cur.append(int(b[i + 1 : i + 4]))
                i += 4
            else:
                cur.append(b[i + 1])
                i += 2
            continue
        if c == 0x2E:
            labels.append(bytes(cur))
            cur = bytearray()
        else:
            cur.append(c)
        i += 1
    if cur:
        labels.append(bytes(cur))
    return labels


def symbol(c):
    c = chr(c).lower()
    i = ALPHABET.find(c)
    return i if i >= 0 else OTHER


def bigram_table(lefts):
    """Smoothed log P(next | previous) over benign left parts."""
    counts = np.full((K, K), SMOOTH)
    for left in lefts:
        if not left:
            continue
        for label in labels_of(left):
            prev = BOUNDARY
            for c in label:
                s = symbol(c)
                counts[prev, s] += 1
                prev = s
            counts[prev, BOUNDARY] += 1
    counts[:, BOUNDARY] = np.maximum(counts[:, BOUNDARY], SMOOTH)
    return np.log(counts / counts.sum(axis=1, keepdims=True))


def newton_logistic(A, y, sw, reg, iterations, tolerance):
    """Weighted L2 logistic regression by Newton's method: the weights of A's columns (the
    last one the intercept when A ends with a column of ones), from zero, until no step
    exceeds `tolerance` or after `iterations` steps."""
    w = np.zeros(A.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(A @ w)))
        g = A.T @ (sw * (p - y)) + reg * w
        H = (A * (sw * p * (1 - p))[:, None]).T @ A + np.diag(reg + 1e-9)
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < tolerance:
            break
    return w


def fit(X, y, groups=None):
    """Standardisation and class-weighted L2 logistic regression (Newton's method), refitted
    HARD_ROUNDS times with the hardest benign queries weighed more."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    Z = (X - mean) / scale
    n, d = Z.shape
    if groups is None:
        groups = np.zeros(n, dtype=int)
    # Benign queries weigh half of the total, each tunnel family an equal share of the other
    # half, so no family's volume decides what "tunnel" looks like.
    sw = np.where(y == 1, 0.0, n / (2.0 * (n - y.sum())))
    fams = np.unique(groups[y == 1])
    for g in fams:
        sel = (y == 1) & (groups == g)
        sw[sel] = n / (2.0 * len(fams) * sel.sum())
    A = np.hstack([Z, np.ones((n, 1))])
    reg = np.full(d + 1, L2)
    reg[-1] = 0.0
    benign = y == 0
    for round_ in range(HARD_ROUNDS + 1):
        w = newton_logistic(A, y, sw, reg, iterations=60, tolerance=1e-8)
        if round_ < HARD_ROUNDS and benign.any():
            p = 1.0 / (1.0 + np.exp(-(A @ w)))
            cut = np.quantile(p[benign], 1 - HARD_QUANTILE)
            sw = np.where(benign & (p >= cut), sw * HARD_BOOST, sw)
    return mean, scale, w[:-1], w[-1]


def scores(X, mean, scale, weights, bias):
    z = ((X - mean) / scale) @ weights + bias
    return 1.0 / (1.0 + np.exp(-z))


def threshold_for(values):
    """The smallest threshold (score > threshold) with at most TARGET_FP of `values` above."""
    v = np.sort(values)
    k = int(math.floor(len(v) * (1 - TARGET_FP)))
    return float(v[min(k, len(v) - 1)])


def cross_fitted(binary, rows, pairs, qidx, lefts, X, base):
    """X with the benign training rows' features recomputed out of fold: the rows of each
    FOLDS group get the features of a bigram table learned without that group. `base` is a
    model file's JSON, whose parts other than the bigram table are kept (the features do not
    depend on them)."""
    benign = np.array([r[0] == "benign" for r in rows])
    held = np.array([r[3] for r in rows])
    fold = np.array([r[7] for r in rows])
    X_cross = X.copy()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(FOLDS):
            others = benign & ~held & (fold != k)
            model = json.loads(json.dumps(base))
            model["query"]["bigrams"] = {
                "alphabet": ALPHABET,
                "table": [[round(float(v), 5) for v in row]
                          for row in bigram_table([lefts[i] for i in qidx[others]])],
            }
            path = os.path.join(tmp, "model-%d.json" % k)
            with open(path, "w") as fh:
                json.dump(model, fh)
            in_fold = benign & ~held & (fold == k)
            fold_pairs = sorted({pairs[i] for i in qidx[in_fold]})
            _, _, F_k = run_features(binary, path, fold_pairs, left=False)
            at = {p: i for i, p in enumerate(fold_pairs)}
            rows_k = np.nonzero(in_fold)[0]
            X_cross[rows_k] = F_k[[at[pairs[qidx[r]]] for r in rows_k]]
    return X_cross


def pct(x):
    return "%.2f%%" % (100.0 * x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "debug", "portcullis"))
    ap.add_argument("--report", help="write the markdown report here instead of stdout")
    ap.add_argument("--no-write", action="store_true", help="evaluate only")
    args = ap.parse_args()

    rows = load()
    pairs = sorted({(r[4], r[5]) for r in rows})
    index = {p: i for i, p in enumerate(pairs)}
    names, lefts, _ = run_features(args.bin, None, pairs, left=True)
    kind = np.array([r[0] for r in rows])
    source = np.array([r[1] for r in rows])
    held = np.array([r[3] for r in rows])
    fold = np.array([r[7] for r in rows])
    data = np.array([r[6] for r in rows])
    qidx = np.array([index[(r[4], r[5])] for r in rows])
    benign = kind == "benign"
    allow = np.array([allowed(r[5]) for r in rows])

    # 1. The bigram table from benign training left parts.
    train_lefts = [lefts[i] for i in qidx[benign & ~held]]
    table = bigram_table(train_lefts)

    existing = {}
    if os.path.exists(MODEL):
        with open(MODEL) as fh:
            existing = json.load(fh)

    def model_json(mean, scale, weights, bias, threshold):
        out = {"version": 1}
        out["query"] = {
            "features": names,
            "mean": [round(float(v), 7) for v in mean],
            "scale": [round(float(v), 7) for v in scale],
            "weights": [round(float(v), 7) for v in weights],
            "bias": round(float(bias), 7),
            "threshold": round(float(threshold), 7),
            "bigrams": {
                "alphabet": ALPHABET,
                "table": [[round(float(v), 5) for v in row] for row in table],
            },
        }
        for k, v in existing.items():
            if k not in ("version", "query"):
                out[k] = v
        return out

    # 2. Features with that table, from the Rust code.
    with tempfile.TemporaryDirectory() as tmp:
        tmp_model = os.path.join(tmp, "model.json")
        zeros = np.zeros(len(names))
        with open(tmp_model, "w") as fh:
            json.dump(model_json(zeros, np.ones(len(names)), zeros, 0.0, 0.5), fh)
        _, _, F = run_features(args.bin, tmp_model, pairs, left=False)
    X = F[qidx]

    # 2b. Cross-fitted features of the benign training rows, for the threshold.
    X_cross = cross_fitted(args.bin, rows, pairs, qidx, lefts, X,
                           model_json(zeros, np.ones(len(names)), zeros, 0.0, 0.5))
    fi = {n: i for i, n in enumerate(names)}

    # 3. Fit on benign training rows and data-carrying tunnel training rows.
    def train_on(families_ok):
        sel = (benign & ~held) | ((kind == "tunnel") & ~held & (data == 1) & families_ok)
        y = (kind[sel] == "tunnel").astype(np.float64)
        mean, scale, w, b = fit(X[sel], y, famcode[sel] if BALANCE else None)
        th = threshold_for(scores(X_cross[benign & ~held & ~allow], mean, scale, w, b))
        return mean, scale, w, b, th

    families = sorted(set(source[kind == "tunnel"]))
    famcode = np.array([families.index(s) if s in families else -1 for s in source])
    shipped = train_on(np.ones(len(rows), dtype=bool))
    mean, scale, w, b, th = shipped

    # 4. Evaluation.
    ben_test = benign & held
    ben_train = benign & ~held
    zeek = np.array([len(r[5].rstrip(".")) > 52 for r in rows])
    ent = X[:, fi["entropy"]]
    ent_th = threshold_for(ent[ben_train])
    out = []
    out.append("Data: %d queries (%d unique names); benign %d (%d held out), tunnel %d "
               "(%d data-carrying)." % (len(rows), len(pairs), benign.sum(), ben_test.sum(),
                                        (~benign).sum(), ((~benign) & (data == 1)).sum()))
    out.append("")
    out.append("Leave-one-family-out (model trained without the family; threshold at %s FP on "
               "benign training queries (cross-fitted bigram features) outside the built-in allow list; "
               "FP on held-out benign "
               "queries, outside the allow list and all of them):" % pct(TARGET_FP))
    out.append("")
    out.append("| held-out family | data queries | model detection | model FP (not allowed) | "
               "model FP (all) | shipped model (held-out sessions) | name > 52 (Zeek) | "
               "entropy > %.2f |" % ent_th)
    out.append("|---|---|---|---|---|---|---|---|")
    ship_s = scores(X, mean, scale, w, b)
    for fam in families:
        m, s_, w_, b_, th_ = train_on(source != fam)
        s = scores(X, m, s_, w_, b_)
        test = (source == fam) & (data == 1)
        ship_test = test & held
        if test.sum() == 0:
            out.append("| %s | 0 (no data-carrying queries) | - | %s | %s | - | - | - |"
                       % (fam, pct((s[ben_test & ~allow] > th_).mean()),
                          pct((s[ben_test] > th_).mean())))
            continue
        out.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
            fam, test.sum(), pct((s[test] > th_).mean()),
            pct((s[ben_test & ~allow] > th_).mean()), pct((s[ben_test] > th_).mean()),
            pct((ship_s[ship_test] > th).mean()) if ship_test.any() else "-",
            pct(zeek[test].mean()), pct((ent[test] > ent_th).mean())))
    out.append("")
    out.append("Baselines' FP on held-out benign queries: name > 52: %s; entropy > %.2f: %s. "
               "Shipped model: threshold %.4f, FP on held-out benign %s outside the allow "
               "list (%d queries), %s of all (%d)."
               % (pct(zeek[ben_test].mean()), ent_th, pct((ent[ben_test] > ent_th).mean()),
                  th, pct((ship_s[ben_test & ~allow] > th).mean()), (ben_test & ~allow).sum(),
                  pct((ship_s[ben_test] > th).mean()), ben_test.sum()))
    out.append("")
    out.append("FP per benign source (shipped model, held-out sessions):")
    out.append("")
    out.append("| source | held-out queries | allow-listed | model FP | name > 52 | entropy |")
    out.append("|---|---|---|---|---|---|")
    for src in sorted(set(source[benign])):
        sel = ben_test & (source == src)
        if not sel.any():
            continue
        out.append("| %s%s | %d | %s | %s | %s | %s |" % (
            src, " (look-alike)" if src in LOOKALIKES else "", sel.sum(),
            pct((sel & allow).sum() / sel.sum()),
            pct((ship_s[sel] > th).mean()), pct(zeek[sel].mean()),
            pct((ent[sel] > ent_th).mean())))
    out.append("")
    out.append("Shipped model weights (standardised features):")
    out.append("")
    out.append("| feature | weight |")
    out.append("|---|---|")
    for i in np.argsort(-np.abs(w)):
        out.append("| %s | %+.3f |" % (names[i], w[i]))
    report = "\n".join(out) + "\n"
    if args.report:
        with open(args.report, "w") as fh:
            fh.write(report)
    else:
        sys.stdout.write(report)

    if args.no_write:
        return
    model = model_json(mean, scale, w, b, th)
    with open(MODEL, "w") as fh:
        json.dump(model, fh, indent=1)
        fh.write("\n")

    # 5. Golden names: the fixed ones, then one held-out data-carrying query per family.
    golden = list(GOLDEN_FIXED)
    for fam in families:
        for r in rows:
            if r[1] == fam and r[3] and r[6] == 1:
                golden.append((r[4], r[5]))
                break
        else:
            for r in rows:
                if r[1] == fam:
                    golden.append((r[4], r[5]))
                    break
    golden = golden[:30]
    with tempfile.TemporaryDirectory() as tmp:
        final = os.path.join(tmp, "model.json")
        with open(final, "w") as fh:
            json.dump(model, fh)
        _, _, G = run_features(args.bin, final, golden, left=False)
    # The parameters as the Rust code reads them (rounded as written).
    q = model["query"]
    gs = scores(G, np.array(q["mean"]), np.array(q["scale"]), np.array(q["weights"]), q["bias"])
    with open(GOLDEN, "w") as fh:
        fh.write("qtype\tqname\tscore\n")
        for (t, n), s in zip(golden, gs):
            fh.write("%s\t%s\t%.6f\n" % (t, n, s))


if __name__ == "__main__":
    main()
