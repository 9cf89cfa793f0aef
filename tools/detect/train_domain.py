#!/usr/bin/env python3
"""Trains Portcullis's per-domain tunnel model, and evaluates both layers per domain.

    cargo build -p portcullis
    python3 tools/detect/train_domain.py [--bin target/debug/portcullis] [--no-write]
    python3 tools/detect/train_domain.py --evaluate [--report FILE]

The per-domain features come from the Rust code: `portcullis detect replay --vectors` replays
every trace through a real `detect::Detector` (the facade the server runs) and prints the
domain feature vector each time a domain's gates let the domain model run. This script fits a
standardised, L2-regularised logistic regression on the vectors of the training sessions
(held-out sessions: train.py's hash split), sets the threshold above every benign training
domain's highest score (with a margin), and writes the `"domain"` part of
crates/detect/model/detect-model.json, keeping `"query"` as it is (train.py owns that part).

Replay (both modes): all sessions of all files in one detector, interleaved (each session
starts at a deterministic offset within an hour), queries of a session at least MIN_GAP_MS
apart (the real-tool captures have sub-millisecond gaps; a client waiting on a resolver's
answers cannot go that fast).

Weights: benign vectors weigh half of the total, each tunnel family an equal share of the
other half, each session an equal share of its family's, so neither long sessions nor large
families decide what a tunnel looks like.

--evaluate writes a markdown report (docs/DETECTION.md takes its tables): leave-one-family-out
(both the query model and the domain model retrained without the family), the shipped model on
held-out sessions (checked against a real replay with the shipped file), and per-domain
baselines. Nothing is tuned on held-out data.
"""

import argparse
import gzip
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

import train

HERE = train.HERE
REPO = train.REPO
DATA = train.DATA
MODEL = train.MODEL
GOLDEN_DOMAIN = os.path.join(train.MODEL_DIR, "golden_domain.tsv")
MIN_GAP_MS = 20
# Moderate: with L2 = 1 the fit trades large opposite weights (queries against bytes in the
# short window); 3 keeps every weight under 5 in standardised units. Chosen among 30, 10,
# 3 and 1 by leave-one-family-out on training sessions (see docs/DETECTION.md).
L2 = 3.0
# The threshold sits this far (in logit units) above the highest benign training score.
MARGIN = 0.5
HARD_ROUNDS = 3
HARD_QUANTILE = 0.2
HARD_BOOST = 5.0
CATCH_WITHIN = 50
# The detector's data floor (DATA_FLOOR_BYTES in crates/detect/src/domain.rs).
DATA_FLOOR_BYTES = 10.0
# Suspicious queries in the long window that pass the floor on their own (SUSPICIOUS_FLOOR).
SUSPICIOUS_FLOOR = 2.0
# Of which new against the domain's previous new name (NOVEL_FLOOR_BYTES in domain.rs).
NOVEL_FLOOR_BYTES = 4.0
# Share of new names holding an identifier that passes the floor (IDENTIFIER_FLOOR).
IDENTIFIER_FLOOR = 0.5
# The beacon rule (`polled_like_a_beacon` in domain.rs): at least BEACON_PAUSES pauses in the
# long window, their deviation / mean at most BEACON_GAP_CV, identifiers and one client.
BEACON_PAUSES = 12.0
BEACON_GAP_CV = 0.3
# The orders rule (`polled_for_orders` in domain.rs): the beacon's timer, tunnel-friendly
# types, and the query asks for orders.
ORDERS_TYPE_SHARE = 0.8
# The download rule (`pulled_like_a_download` in domain.rs).
DOWNLOAD_NAMES = 20.0
DOWNLOAD_NEW_SHARE = 0.8
DOWNLOAD_TYPE_SHARE = 0.8
DOWNLOAD_RESPONSE_BYTES = 200.0
# The detector's one-client floor (LEAD_SHARE_FLOOR in crates/detect/src/domain.rs).
LEAD_SHARE_FLOOR = 0.25
# Features the model may not use.
# - distinct_clients_log: the benign traces' client counts come from the data generator (a few
#   clients per domain, tools/detect/benign.py), the tunnels' from one tool run each: a weight
#   on them would learn the generator, and would miss a tunnel shared by a few hosts (or flag a
#   small site one client browses). Left out until real traffic says more.
# - the query model's scores (mean_score, max_score, suspicious_share, long_suspicious_log):
#   with them the domain model follows the query model, and an encoding the query model never
#   saw (word lists, hash-sized hex) is missed per domain too (leave-one-family-out: wordlist
#   0 of 40). Without them a domain is judged on volume, new names, bytes and timing, whatever
#   the encoding; the query model still opens the gates (two suspicious queries).
EXCLUDED = {"distinct_clients_log", "mean_score", "max_score", "suspicious_share",
            "long_suspicious_log", "lead_client_share", "long_novel_bytes_per_query_log",
            "long_identifier_share"}


def sources():
    """(kind, source, path) of every trace file."""
    out = []
    for kind in ("benign", "tunnel"):
        d = os.path.join(DATA, kind)
        for f in sorted(os.listdir(d)):
            if f.endswith(".tsv.gz"):
                out.append((kind, f[: -len(".tsv.gz")], os.path.join(d, f)))
    return out


def gunzip_all(tmp):
    """Plain copies of the traces (replay reads plain TSV); maps each copy to (kind, source)."""
    paths = {}
    for kind, src, path in sources():
        os.makedirs(os.path.join(tmp, kind), exist_ok=True)
        plain = os.path.join(tmp, kind, src + ".tsv")
        with gzip.open(path, "rb") as fi, open(plain, "wb") as fo:
            fo.write(fi.read())
        paths[plain] = (kind, src)
    return paths


def replay(binary, model_path, paths, vectors):
    cmd = [binary, "detect", "replay", "--min-gap-ms", str(MIN_GAP_MS)]
    # The file, not the binary's embedded copy: no rebuild needed after a retrain.
    cmd += ["--model", model_path or MODEL]
    if vectors:
        cmd.append("--vectors")
    cmd += sorted(paths)
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit("portcullis detect replay failed: " + out.stderr)
    lines = out.stdout.splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]], out.stderr


def domain_feature_names():
    """`DOMAIN_FEATURE_NAMES` as this checkout's domain.rs lists them."""
    with open(os.path.join(REPO, "crates", "detect", "src", "domain.rs")) as fh:
        text = fh.read()
    body = re.search(r"DOMAIN_FEATURE_NAMES: \[&str; DOMAIN_FEATURES\] = \[(.*?)\];", text, re.S)
    return re.findall(r'"([a-z_0-9]+)"', body.group(1))


def vector_model(tmp, query_model_path=None):
    """A model file for `replay --vectors`: the query part of `query_model_path` (default: the
    shipped file) and a placeholder domain part naming this build's features. The vectors do
    not depend on the domain part (it only decides alerts), and a shipped domain part trained
    on another feature list would be refused."""
    with open(query_model_path or MODEL) as fh:
        model = json.load(fh)
    names = domain_feature_names()
    model["domain"] = {"features": names, "mean": [0.0] * len(names),
                       "scale": [1.0] * len(names), "weights": [0.0] * len(names),
                       "bias": -10.0, "threshold": 0.99}
    path = os.path.join(tmp, "vector-model.json")
    with open(path, "w") as fh:
        json.dump(model, fh)
    return path


def held(kind, src, session):
    return train.held_out(os.path.join(DATA, kind, src + ".tsv.gz"), session)


def impossible_tld(qname):
    """`psl::impossible_tld`: the last label is not alphabetic and not an A-label."""
    tld = qname.rstrip(".").rsplit(".", 1)[-1]
    a_label = len(tld) > 4 and tld[:4].lower() == "xn--"
    return not a_label and re.fullmatch(r"[A-Za-z]+", tld) is None


def asks_for_orders(qtype, qname):
    """`domain::asks_for_orders`: TXT, NULL or a private-use type, for a name with no label
    starting with `_`."""
    data_type = qtype in ("TXT", "NULL") or (
        qtype.startswith("TYPE") and qtype[4:].isdigit() and 65280 <= int(qtype[4:]) <= 65534)
    return data_type and not any(label.startswith("_") for label in qname.split("."))


def session_queries(paths):
    """Per session (`source<TAB>session`): its queries in order, as (qtype, qname)."""
    out = {}
    for plain, (_, src) in paths.items():
        with open(plain) as fh:
            fh.readline()
            for line in fh:
                p = line.split("\t", 5)
                out.setdefault("%s\t%s" % (src, p[0]), []).append((p[3], p[4]))
    return out


class Vectors:
    """The gate-crossing vectors of one replay, with their sessions' labels."""

    def __init__(self, header, rows, paths):
        self.names = header[3:]
        assert header[:3] == ["file", "session", "query"], header
        assert self.names == domain_feature_names(), header
        self.kind = np.array([paths[r[0]][0] for r in rows])
        self.source = np.array([paths[r[0]][1] for r in rows])
        self.session = np.array(["%s\t%s" % (paths[r[0]][1], r[1]) for r in rows])
        self.query = np.array([int(r[2]) for r in rows])
        self.X = np.array([[float(v) for v in r[3:]] for r in rows], dtype=np.float64)
        cache = {}
        for i, r in enumerate(rows):
            key = (self.kind[i], self.source[i], r[1])
            if key not in cache:
                cache[key] = held(*key)
        self.held = np.array([cache[(self.kind[i], self.source[i], r[1])]
                              for i, r in enumerate(rows)])
        self.y = (self.kind == "tunnel").astype(np.float64)
        queries = session_queries(paths)
        # Vectors of the root's streams (names under top-level labels that exist nowhere):
        # judged by the domain model, never learnt from (see train_domain).
        self.root = np.array([impossible_tld(queries[s][0][1]) for s in self.session],
                             dtype=bool)
        # Whether the query each vector was made at asks for orders (the orders rule).
        self.orders = np.array([asks_for_orders(*queries[s][q - 1])
                                for s, q in zip(self.session, self.query)], dtype=bool)


def fit(X, y, sw, names):
    """Standardisation and weighted L2 logistic regression over the features allowed, refit
    HARD_ROUNDS times with the benign vectors that score like tunnels (above the tunnels'
    HARD_QUANTILE) weighted HARD_BOOST times more: the threshold sits above the benign tail,
    so the tail is what the fit must push down."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    Z = (X - mean) / scale
    active = [i for i, n in enumerate(names) if n not in EXCLUDED]
    sw = sw.copy()
    w = np.zeros(Z.shape[1])
    for round_ in range(HARD_ROUNDS + 1):
        w_active, b = fit_z(Z[:, active], y, sw * (len(y) / sw.sum()))
        w[:] = 0.0
        w[active] = w_active
        if round_ < HARD_ROUNDS:
            s = score(X, mean, scale, w, b)
            hard = (y == 0) & (s > np.quantile(s[y == 1], HARD_QUANTILE))
            sw[hard] *= HARD_BOOST
    return mean, scale, w, b


def fit_z(Z, y, sw):
    """Weighted L2 logistic regression on standardised features (Newton's method)."""
    n, d = Z.shape
    sw = sw * (n / sw.sum())
    A = np.hstack([Z, np.ones((n, 1))])
    reg = np.full(d + 1, L2)
    reg[-1] = 0.0
    w = train.newton_logistic(A, y, sw, reg, iterations=100, tolerance=1e-9)
    return w[:-1], w[-1]


def weights_for(v, sel):
    """Benign half, tunnel families equal shares of the other half, sessions equal within."""
    sw = np.zeros(len(v.y))
    ben = sel & (v.y == 0)
    _, inv, counts = np.unique(v.session[ben], return_inverse=True, return_counts=True)
    sw[ben] = 1.0 / counts[inv]
    sw[ben] *= 0.5 / sw[ben].sum()
    fams = np.unique(v.source[sel & (v.y == 1)])
    for fam in fams:
        fs = sel & (v.y == 1) & (v.source == fam)
        _, inv, counts = np.unique(v.session[fs], return_inverse=True, return_counts=True)
        sw[fs] = 1.0 / counts[inv]
        sw[fs] *= 0.5 / len(fams) / sw[fs].sum()
    return sw


def logit(p):
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def train_domain(v, sel):
    """The domain model from the vectors in `sel`; threshold above every benign one there.

    The root's streams are left out: the model learns what a tunnel under a zone looks like.
    Their few sessions (dnscat2 without a domain: hundreds of hex bytes a query, MX and TXT)
    pulled its weights towards their shape and cost other families (leave-one-family-out:
    lowslow 33 of 40 from 40, beacon 27 from 31); the model still catches them unseen."""
    sel = sel & ~v.root
    sw = weights_for(v, sel)
    mean, scale, w, b = fit(v.X[sel], v.y[sel], sw[sel], v.names)
    s = score(v.X, mean, scale, w, b)
    ben = sel & (v.y == 0)
    top = float(s[ben].max()) if ben.any() else 0.0
    threshold = 1.0 / (1.0 + math.exp(-(logit(top) + MARGIN)))
    # What explanations quote as normal: the benign training domains' 5th to 95th percentile
    # of each feature at the points the model looked at them.
    normal = np.percentile(v.X[ben], [5, 95], axis=0).T if ben.any() else np.zeros((len(v.names), 2))
    return {
        "features": list(v.names),
        "mean": [round(float(x), 7) for x in mean],
        "scale": [round(float(x), 7) for x in scale],
        "weights": [round(float(x), 7) for x in w],
        "bias": round(float(b), 7),
        "threshold": round(threshold, 7),
        "normal": [[round(float(lo), 7), round(float(hi), 7)] for lo, hi in normal],
    }


def score(X, mean, scale, w, b):
    z = ((X - np.asarray(mean)) / np.asarray(scale)) @ np.asarray(w) + b
    return 1.0 / (1.0 + np.exp(-z))


def score_with(model, X):
    return score(X, model["mean"], model["scale"], model["weights"], model["bias"])


def first_flags(v, model):
    """Per session: the query index at which the detector first flagged its domain: the
    domain model at its threshold, and the names carrying data (`carries_data` in
    crates/detect/src/domain.rs: SUSPICIOUS_FLOOR suspicious queries in the long window, or
    IDENTIFIER_FLOOR of the new names holding an identifier, or at least
    DATA_FLOOR_BYTES of left part a query on average, NOVEL_FLOOR_BYTES of them new against
    the domain's previous new name), and one client sending most of the
    new names (`from_one_client`: lead_client_share at least LEAD_SHARE_FLOOR); or, whatever
    the model says, the beacon rule (`polled_like_a_beacon`), the orders rule
    (`polled_for_orders`) or the download rule (`pulled_like_a_download`)."""
    s = score_with(model, v.X)
    # The replay prints each f32 in its shortest form; back in f32 it is the detector's value
    # again, and the floors compare as the detector does (a count of exactly two is common).
    x = v.X.astype(np.float32)

    def at_least(name, value):
        return x[:, v.names.index(name)] >= np.float32(value)

    data = ((at_least("long_suspicious_log", np.log1p(SUSPICIOUS_FLOOR))
             | at_least("long_identifier_share", IDENTIFIER_FLOOR)
             | (at_least("long_bytes_per_query_log", np.log1p(DATA_FLOOR_BYTES))
                & at_least("long_novel_bytes_per_query_log", np.log1p(NOVEL_FLOOR_BYTES))))
            & at_least("lead_client_share", LEAD_SHARE_FLOOR))
    beacon = (at_least("lead_client_share", LEAD_SHARE_FLOOR)
              & at_least("long_identifier_share", IDENTIFIER_FLOOR)
              & at_least("long_gaps_log", np.log1p(BEACON_PAUSES))
              & (x[:, v.names.index("long_gap_cv")] <= np.float32(BEACON_GAP_CV)))
    orders = (v.orders
              & at_least("lead_client_share", LEAD_SHARE_FLOOR)
              & at_least("tunnel_type_share", ORDERS_TYPE_SHARE)
              & at_least("long_gaps_log", np.log1p(BEACON_PAUSES))
              & (x[:, v.names.index("long_gap_cv")] <= np.float32(BEACON_GAP_CV)))
    download = (at_least("lead_client_share", LEAD_SHARE_FLOOR)
                & at_least("long_distinct_log", np.log1p(DOWNLOAD_NAMES))
                & at_least("long_distinct_per_query", DOWNLOAD_NEW_SHARE)
                & at_least("tunnel_type_share", DOWNLOAD_TYPE_SHARE)
                & at_least("mean_response_log", np.log1p(DOWNLOAD_RESPONSE_BYTES)))
    first = {}
    for i in np.nonzero(((s >= model["threshold"]) & data) | beacon | orders | download)[0]:
        k = v.session[i]
        if k not in first or v.query[i] < first[k]:
            first[k] = int(v.query[i])
    return first


def write_model(domain):
    with open(MODEL) as fh:
        model = json.load(fh)
    model["domain"] = domain
    with open(MODEL, "w") as fh:
        json.dump(model, fh, indent=1)
        fh.write("\n")
    return model


def write_golden(v, domain):
    """crates/detect/model/golden_domain.tsv: vectors of held-out sessions (the first and the
    last of each family's first held-out session, and of a few benign ones) with the score the
    trainer computes from the parameters as written; the Rust test must agree."""
    picks = []
    for src in sorted(set(v.source)):
        sel = np.nonzero((v.source == src) & v.held)[0]
        if len(sel) == 0:
            continue
        first = sel[v.session[sel] == v.session[sel[0]]]
        picks += [first[0], first[-1]]
    s = score_with(domain, v.X[picks])
    with open(GOLDEN_DOMAIN, "w") as fh:
        fh.write("source\tsession\tquery\t%s\tscore\n" % "\t".join(v.names))
        for i, sc in zip(picks, s):
            fh.write("%s\t%s\t%d\t%s\t%.6f\n" % (
                v.source[i], v.session[i].split("\t", 1)[1], v.query[i],
                "\t".join(repr(float(x)) for x in v.X[i]), sc))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "debug", "portcullis"))
    ap.add_argument("--no-write", action="store_true", help="train and print, write nothing")
    ap.add_argument("--evaluate", action="store_true", help="the evaluation report instead")
    ap.add_argument("--report", help="write the report here instead of stdout")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = gunzip_all(tmp)
        if args.evaluate:
            import evaluate

            report = evaluate.run(args.bin, tmp, paths)
            if args.report:
                with open(args.report, "w") as fh:
                    fh.write(report)
            else:
                sys.stdout.write(report)
            return
        header, rows, _ = replay(args.bin, vector_model(tmp), paths, vectors=True)
        v = Vectors(header, rows, paths)
        domain = train_domain(v, ~v.held)
        for name, w in sorted(zip(v.names, domain["weights"]), key=lambda p: -abs(p[1])):
            print("%-22s %+.3f" % (name, w))
        print("bias %+.3f threshold %.6f" % (domain["bias"], domain["threshold"]))
        first = first_flags(v, domain)
        for kind in ("tunnel", "benign"):
            sess = sorted({v.session[i] for i in range(len(v.y))
                           if v.kind[i] == kind and not v.held[i] and not v.root[i]})
            caught = sum(1 for k in sess if k in first)
            within = sum(1 for k in sess if first.get(k, 1 << 30) <= CATCH_WITHIN)
            print("%s training sessions with gate crossings: %d, flagged %d (within %d: %d)"
                  % (kind, len(sess), caught, CATCH_WITHIN, within))
        if not args.no_write:
            write_model(domain)
            write_golden(v, domain)


if __name__ == "__main__":
    main()
