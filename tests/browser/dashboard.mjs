// Drives Debian's chromium with Playwright against a running Portcullis dashboard and checks
// what it shows. Run by crates/portcullis/tests/dashboard.rs while it sends DNS traffic:
//
//   node dashboard.mjs URL SCREENSHOT BLOCK_NAME
//   node dashboard.mjs --token URL TOKEN     (a server with server.http_token: the page asks)
//
// Prints one JSON line with the values read from the page's data-* attributes; exits non-zero
// (with the reason) when a check fails.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const tokenMode = process.argv[2] === "--token";
const [url, screenshot, blockName] = process.argv.slice(tokenMode ? 3 : 2);
const token = tokenMode ? process.argv[4] : null;
const profile = mkdtempSync(join(tmpdir(), "portcullis-chromium-"));
// A fresh profile each run (Playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
  ],
  viewport: { width: 1400, height: 1700 },
  timeout: 60_000,
});
const seen = {};
let failed = null;
const problems = [];
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  const response = await page.goto(url, { waitUntil: "load", timeout: 30_000 });
  seen.csp = response.headers()["content-security-policy"];
  if (!seen.csp?.includes("default-src 'self'")) throw new Error(`no CSP on the page: ${seen.csp}`);

  const attr = (sel, name) => page.$eval(sel, (el, n) => el.getAttribute(n), name);
  const num = async (sel, name) => Number(await attr(sel, name));
  // Waits (bounded) until `check` holds, polling the page.
  const until = async (what, check, ms = 20_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await page.waitForTimeout(250);
    }
  };

  if (tokenMode) {
    // The API answers 401: the page shows the token form, then goes live with the token.
    await until("the token form", async () => (await attr("#status", "data-state")) === "auth");
    seen.asked = await page.isVisible("#token-form");
    if (!seen.asked) throw new Error("the token form is hidden");
    await page.fill("#token", token);
    await page.click("#token-form button[type=submit]");
    await until("live status with the token", async () => (await attr("#status", "data-state")) === "live");
    seen.role = await until("the configuration summary", () => attr("#config", "data-latest"));
    seen.stored = await page.evaluate(() => sessionStorage.getItem("portcullis-token") !== null);
    // 401s are expected here: the page was asked for its token.
    problems.splice(0, problems.length, ...problems.filter((p) => !p.includes("401")));
    if (problems.length) throw new Error(problems.join("; "));
    throw null;
  }
  await until("live status", async () => (await attr("#status", "data-state")) === "live");
  seen.qps = await until("queries per second > 0", async () => { const v = await num("#qps-transport", "data-latest"); return v > 0 && v; });
  seen.qps_udp = await num("#qps-transport", "data-udp");
  seen.qps_tcp = await until("TCP queries per second > 0", async () => { const v = await num("#qps-transport", "data-tcp"); return v > 0 && v; });
  seen.rps = await until("responses per second > 0", async () => { const v = await num("#qps-rcode", "data-latest"); return v > 0 && v; });
  seen.nxdomain_total = await until("NXDOMAIN responses", async () => { const v = await num("#qps-rcode", "data-total-nxdomain"); return v > 0 && v; });
  seen.p50_ms = await until("latency p50 > 0", async () => { const v = await num("#latency", "data-p50"); return v > 0 && v; });
  seen.p99_ms = await num("#latency", "data-p99");
  seen.cache_hit_ratio = await until("cache hit ratio > 0", async () => { const v = await num("#cache", "data-latest"); return v > 0 && v; });
  seen.cache_entries = await num("#cache", "data-entries");
  seen.top_names = await until("www.example.test. among the top names", async () => { const v = await attr("#top-names", "data-names"); return v?.split(" ").includes("www.example.test.") && v; });
  seen.top_count = await num("#top-names", "data-latest");
  seen.top_clients = await until("127.0.0.1 among the top clients", async () => { const v = await attr("#top-clients", "data-clients"); return v?.split(" ").includes("127.0.0.1") && v; });
  seen.top_blocked = await until("ads.example.test. among the top blocked", async () => { const v = await attr("#top-blocked", "data-names"); return v?.split(" ").includes("ads.example.test.") && v; });
  seen.upstream_queries = await until("upstream queries > 0", async () => { const v = await num("#upstreams", "data-latest"); return v > 0 && v; });
  seen.upstream_server_queries = await until("an upstream server with queries", async () => { const v = await num("#upstream-servers", "data-latest"); return v > 0 && v; });
  seen.upstream_servers = await attr("#upstream-servers", "data-servers");
  seen.block_event = await until("a blocklist event in the feed", async () =>
    page.$$eval("#events tbody tr", (rows) => {
      const r = rows.find((tr) => tr.dataset.action === "blocked" && tr.dataset.qname === "ads.example.test.");
      return r ? `${r.dataset.reason}: ${r.querySelector(".detail")?.textContent}` : null;
    }));
  seen.role = await until("the configuration summary", () => attr("#config", "data-latest"));
  seen.zones = await attr("#config", "data-zones");

  // A control: block a name from the page, then see it among the blocked names and the
  // control in the event feed.
  await page.fill("#control-name", blockName);
  await page.click("button[data-control=block]");
  seen.control = await until("the block control's answer", async () => (await attr("#control-result", "data-ok")) === "true" && page.textContent("#control-result"));
  seen.control_event = await until("the control in the event feed", async () =>
    page.$$eval("#events tbody tr", (rows, n) => {
      const r = rows.find((tr) => tr.dataset.action === "control" && tr.textContent.includes(`block ${n}`));
      return r ? r.querySelector(".detail")?.textContent : null;
    }, blockName));
  seen.blocked_after = await until(`${blockName}. among the top blocked`, async () => { const v = await attr("#top-blocked", "data-names"); return v?.split(" ").includes(`${blockName}.`) && v; });
  await page.waitForTimeout(1500);
  await page.screenshot({ path: screenshot, fullPage: true });
  seen.screenshot = screenshot;
  if (problems.length) throw new Error(problems.join("; "));
} catch (e) {
  // `throw null` ends the token mode early, successfully.
  failed = e;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(seen));
if (failed) {
  console.error(`FAILED: ${failed.message}`);
  process.exit(1);
}
