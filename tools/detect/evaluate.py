"""The per-domain evaluation of the tunnel detector (run through train_domain.py --evaluate).

Every figure comes from `portcullis detect replay`, i.e. from the `detect::Detector` facade
the server runs: the shipped model file in a real replay, and for leave-one-family-out, model
files with both parts retrained without the family (query part: train.py's fit on train.py's
features; domain part: train_domain.py's fit on replayed vectors). Per session the figure is
the number of queries the session had sent when its registered domain was first flagged.
"""

import json
import os
import tempfile

import numpy as np

import train
import train_domain as td


def session_rows(paths):
    """Per (source, session): its kind, its source, and its queries in order, as (qtype,
    qname)."""
    kinds = {src: kind for kind, src in paths.values()}
    return {key: (kinds[key.split("\t", 1)[0]], key.split("\t", 1)[0], queries)
            for key, queries in td.session_queries(paths).items()}


def median(xs):
    return "%d" % int(np.median(xs)) if xs else "-"


def run(binary, tmp, paths):
    out = []
    sessions = session_rows(paths)
    held = {k: td.held(kind, src, k.split("\t", 1)[1]) for k, (kind, src, _) in sessions.items()}
    nodomain = {k for k, (kind, src, q) in sessions.items()
                if src == "dnscat2" and q[0][1].lower().startswith("dnscat.")}
    families = sorted({src for kind, src, _ in sessions.values() if kind == "tunnel"})

    # 1. The shipped model file, in a real replay.
    header, rows, stderr = td.replay(binary, None, paths, vectors=False)
    col = {c: i for i, c in enumerate(header)}
    domain_of, flagged_at, why, reported_at = {}, {}, {}, {}
    for r in rows:
        kind, src = paths[r[col["file"]]]
        key = "%s\t%s" % (src, r[col["session"]])
        domain_of[key] = r[col["domain"]].lower()
        if int(r[col["first_reported"]]) > 0:
            reported_at[key] = int(r[col["first_reported"]])
        at = int(r[col["first_alert"]])
        if at > 0:
            flagged_at[key] = at
            why[key] = r[col["explanation"]]
    with open(td.MODEL) as fh:
        shipped = json.load(fh)
    hv, hrows, _ = td.replay(binary, td.vector_model(tmp), paths, vectors=True)
    v = td.Vectors(hv, hrows, paths)
    predicted = td.first_flags(v, shipped["domain"])
    mismatch = sum(1 for k in sessions if predicted.get(k) != flagged_at.get(k))

    ben_held = [k for k, (kind, _, _) in sessions.items() if kind == "benign" and held[k]]
    ben_domains = {}
    for k in ben_held:
        ben_domains.setdefault(domain_of[k], []).append(k)

    def benign_flagged(flags):
        return sorted(d for d, ks in ben_domains.items() if any(k in flags for k in ks))

    def family_row(name, keys, flags):
        got = [flags[k] for k in keys if k in flags]
        within = sum(1 for x in got if x <= td.CATCH_WITHIN)
        return "| %s | %d | %d | %d | %s | %s |" % (
            name, len(keys), within, len(got), median(got), max(got) if got else "-")

    def tunnel_keys(fam, only_held):
        return sorted(k for k, (kind, src, _) in sessions.items()
                      if src == fam and kind == "tunnel" and k not in nodomain
                      and (held[k] or not only_held))

    out.append("### Shipped model, held-out sessions (real replay)")
    out.append("")
    out.append("Domain threshold %.4f. Sessions caught within %d queries, caught at all, and "
               "the queries it took (median, max):" % (shipped["domain"]["threshold"],
                                                         td.CATCH_WITHIN))
    out.append("")
    out.append("| family | held-out sessions | caught ≤ %d | caught | median | max |"
               % td.CATCH_WITHIN)
    out.append("|---|---|---|---|---|---|")
    for fam in families:
        out.append(family_row(fam, tunnel_keys(fam, True), flagged_at))
    nd = sorted(nodomain)
    out.append(family_row("dnscat2, no-domain mode (all 7, per first query's domain)", nd,
                          flagged_at))
    out.append(family_row("dnscat2, no-domain mode, reported (its own alert, or its client's "
                          "standing from an earlier session)", nd, reported_at))
    fl = benign_flagged(flagged_at)
    out.append("")
    out.append("Held-out benign registered domains: %d (from %d sessions); flagged: %d%s."
               % (len(ben_domains), len(ben_held), len(fl),
                  (" (" + ", ".join(fl[:10]) + ")") if fl else ""))
    per_src = {}
    for k in ben_held:
        src = sessions[k][1]
        per_src.setdefault(src, [0, 0])
        per_src[src][0] += 1
        per_src[src][1] += k in flagged_at
    out.append("Per benign source (held-out sessions / flagged): " + ", ".join(
        "%s %d/%d" % (s, n, f) for s, (n, f) in sorted(per_src.items())) + ".")
    out.append("Replay check: the domain model applied to the replayed vectors predicts the "
               "replay's first alert for all but %d of %d sessions." % (mismatch, len(sessions)))
    out.append("")

    # Anomalies: the benign traces alone, then with the tunnel traces mixed in.
    benign_paths = {p: ks for p, ks in paths.items() if ks[0] == "benign"}
    _, _, ben_err = td.replay(binary, None, benign_paths, vectors=False)

    def counts(text):
        c = {}
        for line in text.strip().splitlines():
            if line.startswith("anomaly alerts: "):
                reason, n = line[len("anomaly alerts: "):].rsplit(": ", 1)
                c[reason] = int(n)
        return c

    ben_c, mix_c = counts(ben_err), counts(stderr)
    out.append("Anomaly alerts (replay defaults: the first hour is the learning period, "
               "whose alerts are logged, never acted on; \"(learning)\" marks them):")
    out.append("")
    out.append("| alert | benign traces only | benign + tunnel traces |")
    out.append("|---|---|---|")
    for reason in sorted(set(ben_c) | set(mix_c)):
        out.append("| %s | %d | %d |" % (reason, ben_c.get(reason, 0), mix_c.get(reason, 0)))
    out.append("")

    # 2. Leave-one-family-out: both models retrained without the family.
    rows_q = train.load()
    pairs = sorted({(r[4], r[5]) for r in rows_q})
    index = {p: i for i, p in enumerate(pairs)}
    names, lefts, F = train.run_features(binary, td.MODEL, pairs, left=True)
    qidx = np.array([index[(r[4], r[5])] for r in rows_q])
    X = F[qidx]
    X_cross = train.cross_fitted(binary, rows_q, pairs, qidx, lefts, X, shipped)
    kind = np.array([r[0] for r in rows_q])
    source = np.array([r[1] for r in rows_q])
    qheld = np.array([r[3] for r in rows_q])
    data = np.array([r[6] for r in rows_q])
    benign = kind == "benign"
    allow = np.array([train.allowed(r[5]) for r in rows_q])
    famcode = np.array([families.index(s) if s in families else -1 for s in source])

    out.append("### Leave-one-family-out (query and domain models retrained without the "
               "family)")
    out.append("")
    out.append("All of the family's sessions are unseen; benign: held-out domains. The "
               "no-domain dnscat2 sessions have their own row (the dnscat2 model's).")
    out.append("")
    out.append("| held-out family | sessions | caught ≤ %d | caught | median | max | "
               "benign domains flagged (of %d) |" % (td.CATCH_WITHIN, len(ben_domains)))
    out.append("|---|---|---|---|---|---|---|")
    nodomain_row = None
    for fam in families:
        sel = (benign & ~qheld) | ((kind == "tunnel") & ~qheld & (data == 1) & (source != fam))
        y = (kind[sel] == "tunnel").astype(np.float64)
        mean, scale, w, b = train.fit(X[sel], y, famcode[sel] if train.BALANCE else None)
        th = train.threshold_for(
            train.scores(X_cross[benign & ~qheld & ~allow], mean, scale, w, b))
        model = json.loads(json.dumps(shipped))
        q = model["query"]
        q["mean"] = [round(float(x), 7) for x in mean]
        q["scale"] = [round(float(x), 7) for x in scale]
        q["weights"] = [round(float(x), 7) for x in w]
        q["bias"] = round(float(b), 7)
        q["threshold"] = round(float(th), 7)
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=tmp, delete=False) as fh:
            json.dump(model, fh)
            path = fh.name
        hv, hrows, _ = td.replay(binary, td.vector_model(tmp, path), paths, vectors=True)
        os.unlink(path)
        lv = td.Vectors(hv, hrows, paths)
        dom = td.train_domain(lv, ~lv.held & (lv.source != fam))
        flags = td.first_flags(lv, dom)
        fl = benign_flagged(flags)
        out.append(family_row(fam, tunnel_keys(fam, False), flags)
                   + " %d%s |" % (len(fl), (" (" + ", ".join(fl[:5]) + ")") if fl else ""))
        if fam == "dnscat2":
            nodomain_row = family_row("dnscat2, no-domain mode", sorted(nodomain), flags) + " - |"
    if nodomain_row:
        out.append(nodomain_row)
    out.append("")

    # 3. Baselines lifted to a domain: flagged at its first such query.
    ent_i = names.index("entropy")
    ent_th = train.threshold_for(X[benign & ~qheld, ent_i])
    ent = {p: F[index[p], ent_i] for p in pairs}
    long_flag, ent_flag = {}, {}
    for k, (_, _, qs) in sessions.items():
        for i, (t, n) in enumerate(qs, 1):
            if k not in long_flag and len(n.rstrip(".")) > 52:
                long_flag[k] = i
            if k not in ent_flag and ent[(t, n)] > ent_th:
                ent_flag[k] = i
    out.append("### Baselines per domain (flag the domain at its first such query; all "
               "sessions)")
    out.append("")
    out.append("| family | sessions | name > 52: caught ≤ %d | caught | entropy > %.2f: "
               "caught ≤ %d | caught |" % (td.CATCH_WITHIN, ent_th, td.CATCH_WITHIN))
    out.append("|---|---|---|---|---|---|")
    for fam in families:
        keys = tunnel_keys(fam, False)
        cells = []
        for flags in (long_flag, ent_flag):
            got = [flags[k] for k in keys if k in flags]
            cells.append("%d | %d" % (sum(1 for x in got if x <= td.CATCH_WITHIN), len(got)))
        out.append("| %s | %d | %s | %s |" % (fam, len(keys), cells[0], cells[1]))
    out.append("")
    out.append("Held-out benign domains flagged (of %d): name > 52: %d; entropy > %.2f: %d."
               % (len(ben_domains), len(benign_flagged(long_flag)), ent_th,
                  len(benign_flagged(ent_flag))))
    out.append("")
    return "\n".join(out) + "\n"
