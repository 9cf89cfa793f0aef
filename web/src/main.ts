// The Portcullis dashboard: polls /api/stats and /api/events once a second, draws the charts
// with uPlot and fills the tables. Every chart and table carries its latest values in data-*
// attributes (data-latest and friends) for tests and scripts to read.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./style.css";

type Json = any;

const POINTS = 120;
const TOKEN_KEY = "portcullis-token";
const TRANSPORTS = ["udp", "tcp", "dot", "doh", "doq"];
const RCODES = ["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMP"];
const COLOURS = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#718096", "#d69e2e", "#319795"];

const $ = (id: string) => document.getElementById(id) as HTMLElement;

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { ...extra };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) h["Authorization"] = `Bearer ${token}`;
  return h;
}

let needToken = false;

async function api(path: string, method = "GET"): Promise<Json> {
  const init: RequestInit = { method, cache: "no-store", headers: headers(method === "POST" ? { "X-Portcullis": "1" } : {}) };
  const r = await fetch(path, init);
  if (r.status === 401) {
    needToken = true;
    ($("token-form") as HTMLFormElement).hidden = false;
    setStatus("token needed", "auth");
    throw new Error("unauthorized");
  }
  const body = await r.json();
  if (!r.ok && method !== "POST") throw new Error(body.message ?? r.statusText);
  return body;
}

function setStatus(text: string, state: string) {
  const s = $("status");
  s.textContent = text;
  s.dataset.state = state;
}

// ---------------------------------------------------------------------------------------------
// Charts

interface Series { chart: uPlot; data: number[][] }

function makeChart(id: string, labels: string[], unit: string): Series {
  const el = $(id);
  const data: number[][] = [[], ...labels.map(() => [])];
  const opts: uPlot.Options = {
    width: Math.max(280, el.clientWidth || 400),
    height: 180,
    legend: { show: true },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(max * 1.1, 1e-9)] } },
    axes: [{}, { label: unit, size: 60 }],
    series: [{}, ...labels.map((l, i) => ({ label: l, stroke: COLOURS[i % COLOURS.length], width: 1.5 }))],
  };
  const chart = new uPlot(opts, data as uPlot.AlignedData, el);
  return { chart, data };
}

function push(s: Series, t: number, values: number[]) {
  s.data[0].push(t);
  values.forEach((v, i) => s.data[i + 1].push(v));
  if (s.data[0].length > POINTS) s.data.forEach((a) => a.shift());
  s.chart.setData(s.data as uPlot.AlignedData);
}

const charts: Record<string, Series> = {};

function percentile(buckets: number[], bounds: number[], q: number): number {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total <= 0) return 0;
  const want = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i];
    if (seen + n >= want && n > 0) {
      const lower = i === 0 ? 0 : bounds[i - 1];
      const upper = i < bounds.length ? bounds[i] : bounds[bounds.length - 1];
      return lower + (upper - lower) * ((want - seen) / n);
    }
    seen += n;
  }
  return bounds[bounds.length - 1];
}

// ---------------------------------------------------------------------------------------------
// Stats

let previous: Json | null = null;

function sum(o: Record<string, number>): number {
  return Object.values(o).reduce((a, b) => a + b, 0);
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "0";
}

function fillTable(id: string, rows: string[][], attrs: Record<string, string>[] = []) {
  const table = $(id);
  const body = table.querySelector("tbody") as HTMLElement;
  body.replaceChildren(
    ...rows.map((cells, i) => {
      const tr = document.createElement("tr");
      Object.entries(attrs[i] ?? {}).forEach(([k, v]) => (tr.dataset[k] = v));
      cells.forEach((c) => {
        const td = document.createElement("td");
        td.textContent = c;
        tr.appendChild(td);
      });
      return tr;
    }),
  );
}

function showStats(s: Json) {
  const t = s.time_ms / 1000;
  const prev = previous;
  previous = s;
  const dt = prev ? Math.max((s.time_ms - prev.time_ms) / 1000, 0.001) : 0;
  const rate = (now: number, before: number | undefined) => (prev && before !== undefined ? Math.max(now - before, 0) / dt : 0);

  // Queries per second by transport.
  const qps = TRANSPORTS.map((tr) => rate(s.queries[tr] ?? 0, prev?.queries[tr]));
  push(charts.transport, t, qps);
  const qt = $("qps-transport");
  qt.dataset.latest = fmt(qps.reduce((a, b) => a + b, 0), 2);
  qt.dataset.total = String(sum(s.queries));
  TRANSPORTS.forEach((tr, i) => (qt.dataset[tr] = fmt(qps[i], 2)));

  // Responses per second by RCODE.
  const rps = RCODES.map((r) => rate(s.rcodes[r] ?? 0, prev?.rcodes[r]));
  push(charts.rcode, t, rps);
  const qr = $("qps-rcode");
  qr.dataset.latest = fmt(rps.reduce((a, b) => a + b, 0), 2);
  qr.dataset.total = String(sum(s.rcodes));
  RCODES.forEach((r, i) => {
    const l = r.toLowerCase();
    qr.dataset[l] = fmt(rps[i], 2);
    qr.dataset[`total${l[0].toUpperCase()}${l.slice(1)}`] = String(s.rcodes[r] ?? 0);
  });

  // Latency percentiles, from this interval's histogram (or every query so far when idle).
  const bounds: number[] = s.latency.bounds_s;
  let buckets: number[] = s.latency.buckets;
  if (prev) {
    const delta = buckets.map((b: number, i: number) => b - (prev.latency.buckets[i] ?? 0));
    if (delta.some((d: number) => d > 0)) buckets = delta;
  }
  const ps = [0.5, 0.9, 0.99].map((q) => percentile(buckets, bounds, q) * 1000);
  push(charts.latency, t, ps);
  const lat = $("latency");
  lat.dataset.p50 = fmt(ps[0], 3);
  lat.dataset.p90 = fmt(ps[1], 3);
  lat.dataset.p99 = fmt(ps[2], 3);
  lat.dataset.latest = fmt(ps[0], 3);

  // Cache hit ratio: this interval's, or since the start when idle.
  const c = s.cache;
  const dh = prev ? c.hits - prev.cache.hits : c.hits;
  const dm = prev ? c.misses - prev.cache.misses : c.misses;
  const overall = c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : 0;
  const ratio = dh + dm > 0 ? dh / (dh + dm) : overall;
  push(charts.cache, t, [ratio * 100]);
  const ce = $("cache");
  ce.dataset.latest = fmt(overall, 4);
  ce.dataset.interval = fmt(ratio, 4);
  ce.dataset.entries = String(c.entries);
  ce.dataset.hits = String(c.hits);
  $("cache-figures").textContent =
    `${c.entries} entries, ${(c.bytes / 1048576).toFixed(1)} of ${(c.max_bytes / 1048576).toFixed(0)} MiB; ` +
    `${c.hits} hits, ${c.misses} misses, ${c.evictions} evictions`;

  // Top tables.
  const top = s.top;
  const named = (id: string, rows: Json[]) => {
    fillTable(id, rows.map((r) => [r.name, String(r.count)]), rows.map((r) => ({ name: r.name, count: String(r.count) })));
    const el = $(id);
    el.dataset.latest = String(rows[0]?.count ?? 0);
    el.dataset.names = rows.map((r) => r.name).join(" ");
  };
  named("top-names", top.names);
  named("top-blocked", top.blocked);
  fillTable("top-clients", top.clients.map((r: Json) => [r.client, String(r.count)]), top.clients.map((r: Json) => ({ client: r.client, count: String(r.count) })));
  $("top-clients").dataset.latest = String(top.clients[0]?.count ?? 0);
  $("top-clients").dataset.clients = top.clients.map((r: Json) => r.client).join(" ");

  // Upstreams.
  const u = s.upstream;
  const protos = Object.entries(u.protocols as Record<string, Json>);
  fillTable("upstreams", protos.map(([p, f]) => [p, String(f.queries), String(f.failures)]), protos.map(([p]) => ({ protocol: p })));
  const up = $("upstreams");
  up.dataset.latest = String(protos.reduce((a, [, f]) => a + f.queries, 0));
  up.dataset.timeouts = String(u.timeouts);
  const servers = u.servers as Json[];
  fillTable(
    "upstream-servers",
    servers.map((r) => [r.server, String(r.queries), String(r.timeouts), r.answered ? `${r.mean_rtt_ms.toFixed(1)} ms` : "-", r.last_rtt_ms ? `${r.last_rtt_ms} ms` : "-"]),
    servers.map((r) => ({ server: r.server, queries: String(r.queries), timeouts: String(r.timeouts), rtt: String(r.mean_rtt_ms) })),
  );
  const us = $("upstream-servers");
  us.dataset.latest = String(servers[0]?.queries ?? 0);
  us.dataset.servers = servers.map((r) => r.server).join(" ");
  $("upstream-figures").textContent =
    `${u.accepted} answers accepted, ${u.timeouts} timeouts, ${u.failures} failures, ${u.rejected} rejected; ` +
    `${u.in_flight} in flight; DNSSEC secure ${u.validation.secure}, insecure ${u.validation.insecure}, bogus ${u.validation.bogus}`;
}

// ---------------------------------------------------------------------------------------------
// Events

let lastEvent = 0;
const MAX_ROWS = 200;

function showEvents(e: Json) {
  const table = $("events");
  const body = table.querySelector("tbody") as HTMLElement;
  for (const ev of e.events) {
    if (ev.seq <= lastEvent) continue;
    lastEvent = ev.seq;
    const tr = document.createElement("tr");
    tr.dataset.seq = String(ev.seq);
    tr.dataset.action = ev.action;
    tr.dataset.reason = ev.reason;
    tr.dataset.qname = ev.qname ?? "";
    tr.className = `action-${ev.action}`;
    const cells = [new Date(ev.time_ms).toLocaleTimeString(), ev.action, ev.reason, ev.client ?? "", ev.qname ?? "", ev.detail ?? ""];
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      td.textContent = c;
      if (i === 5) td.className = "detail";
      tr.appendChild(td);
    });
    body.insertBefore(tr, body.firstChild);
  }
  while (body.children.length > MAX_ROWS) body.lastElementChild?.remove();
  table.dataset.latest = String(lastEvent);
  table.dataset.count = String(body.children.length);
}

// ---------------------------------------------------------------------------------------------
// Configuration

/** A configuration value in words: objects as "key: value" pairs, empty lists and nulls left out. */
function words(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (Array.isArray(v)) return v.length ? v.map(words).join(", ") : "none";
  if (typeof v === "object") {
    return Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== null && !(Array.isArray(x) && x.length === 0))
      .map(([k, x]) => `${k.replace(/_/g, " ")}: ${words(x)}`)
      .join("; ");
  }
  return String(v);
}

function showConfig(c: Json) {
  const el = $("config");
  el.dataset.latest = c.role;
  el.dataset.zones = (c.zones ?? []).map((z: Json) => `${z.origin}${z.serial}`).join(" ");
  const dl = document.createElement("dl");
  const add = (k: string, v: unknown) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = words(v);
    dl.append(dt, dd);
  };
  add("role", c.role);
  add("listeners", c.listeners);
  add("zones", (c.zones ?? []).map((z: Json) => `${z.origin} (serial ${z.serial})`).join(", ") || "none");
  add("resolver", c.resolver);
  add("detection", c.detection);
  add("policy", c.policy);
  add("rrl / client limits / cookies required", `${c.rrl} / ${c.client_limits} / ${c.cookies_required}`);
  add("events", c.events);
  add("API auth", c.auth);
  el.replaceChildren(dl);
  // The upstream panel names the forwarders and stubs the resolver sends to.
  const targets = (c.resolver?.forwards ?? []).map(
    (f: Json) => `${f.kind} ${f.zone} → ${[...f.servers, ...f.encrypted].join(", ")}`,
  );
  const up = $("upstream-targets");
  up.textContent = targets.length ? targets.join("; ") : c.resolver?.enabled ? "iterating from the root" : "resolver off";
  up.dataset.latest = targets.join("; ");
}

// ---------------------------------------------------------------------------------------------
// Controls

async function control(kind: string) {
  const name = ($("control-name") as HTMLInputElement).value.trim();
  const q = encodeURIComponent(name);
  const path: Record<string, string> = {
    "flush-name": `/api/flush?name=${q}`,
    "flush-subtree": `/api/flush?name=${q}&subtree=1`,
    "flush-all": "/api/flush",
    block: `/api/block?name=${q}`,
    allow: `/api/allow?name=${q}`,
    "allow-domain": `/api/detect/allow?domain=${q}`,
    reload: "/api/reload",
  };
  const out = $("control-result");
  try {
    const r = await api(path[kind], "POST");
    out.textContent = `${r.ok ? "ok" : "error"}: ${r.command ?? kind}\n${r.message ?? ""}`;
    out.dataset.ok = String(!!r.ok);
    out.dataset.command = r.command ?? kind;
    // A reload may change the configuration summary.
    if (kind === "reload") configLoaded = false;
  } catch (e) {
    out.textContent = `error: ${(e as Error).message}`;
    out.dataset.ok = "false";
  }
  await tick();
}

// ---------------------------------------------------------------------------------------------

let configLoaded = false;

async function tick() {
  if (needToken) return;
  try {
    const [s, e] = await Promise.all([api("/api/stats"), api(`/api/events?after=${lastEvent}`)]);
    showStats(s);
    showEvents(e);
    if (!configLoaded) {
      showConfig(await api("/api/config"));
      configLoaded = true;
    }
    setStatus(`up ${s.uptime_s} s · ${new Date(s.time_ms).toLocaleTimeString()}`, "live");
  } catch (err) {
    if (!needToken) setStatus(`cannot reach the server: ${(err as Error).message}`, "error");
  }
}

function start() {
  charts.transport = makeChart("qps-transport", TRANSPORTS, "queries/s");
  charts.rcode = makeChart("qps-rcode", RCODES, "responses/s");
  charts.latency = makeChart("latency", ["p50", "p90", "p99"], "ms");
  charts.cache = makeChart("cache", ["hit ratio"], "%");
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, ($("token") as HTMLInputElement).value.trim());
    ($("token-form") as HTMLFormElement).hidden = true;
    needToken = false;
    configLoaded = false;
    tick();
  });
  document.querySelectorAll<HTMLButtonElement>("[data-control]").forEach((b) =>
    b.addEventListener("click", () => control(b.dataset.control as string)),
  );
  tick();
  setInterval(tick, 1000);
}

document.addEventListener("DOMContentLoaded", start);
