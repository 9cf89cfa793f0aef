// Builds the dashboard into the folder given (web/dist by `npm run build`): one script, one
// style sheet, index.html. Deterministic, so scripts/check-web.sh can diff a fresh build
// against the committed bundle.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const out = process.argv[2] ?? "dist";
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: "src/main.ts" },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outdir: out,
  legalComments: "none",
  logLevel: "warning",
  loader: { ".css": "css" },
});
copyFileSync("src/index.html", join(out, "index.html"));
