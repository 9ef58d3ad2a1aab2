// The bench's own web server (loopback, free port): the synthetic clinical page, pkg/ and the
// peers' esbuild bundles. Every response is cacheable (max-age, ETag-free), as an app would
// serve hashed assets, so a second and third load in the same browser context come from the
// HTTP cache and V8's code cache: the "warm" init figure. (Playwright's route() would turn
// the HTTP cache off, so the bench routes nothing.)
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { extname, join, normalize } from "node:path";

const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".html": "text/html; charset=utf-8" };

/** A clinic's patient list: header, patient banner, a small form and a 200-row vitals table. */
export function clinicalPage() {
  const rows = [];
  for (let r = 0; r < 200; r++) {
    const mrn = String(100_000 + r * 37);
    rows.push(`<tr><td>${mrn}</td><td>Patient ${r}, Test</td><td>19${50 + (r % 50)}-0${1 + (r % 9)}-1${r % 10}</td>` +
      `<td>${110 + (r % 40)}/${70 + (r % 20)} mmHg</td><td>${60 + (r % 40)} bpm</td><td>${(36.2 + (r % 20) / 10).toFixed(1)} °C</td>` +
      `<td><button type="button">Open chart</button></td></tr>`);
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ward 4B — patient list</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; }
  header, .banner, form { padding: 8px 16px; }
  header { background: #1d3557; color: white; }
  table { border-collapse: collapse; margin: 8px 16px; }
  td { border-bottom: 1px solid #ddd; padding: 2px 8px; }
</style></head>
<body>
<header><strong>Ward 4B</strong> · Dr. Example · <a href="#">Sign out</a></header>
<div class="banner">Selected: Patient 0, Test · MRN 100000 · Allergies: penicillin</div>
<form><label>Search <input name="q" autocomplete="off"></label> <label>Note <textarea name="note"></textarea></label></form>
<table><thead><tr><th>MRN</th><th>Name</th><th>Born</th><th>BP</th><th>Pulse</th><th>Temp</th><th></th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>
</body></html>`;
}

/** Starts the server; `files` maps a path (e.g. "/bench/rit.js") to its bytes, `/pkg/*` is read from pkgDir. */
export function serve(pkgDir, files) {
  const page = Buffer.from(clinicalPage());
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    let body = null;
    if (path === "/") body = page;
    else if (files[path]) body = files[path];
    else if (path.startsWith("/pkg/")) {
      const f = join(pkgDir, normalize(path.slice("/pkg/".length)));
      if (f.startsWith(pkgDir) && existsSync(f)) body = readFileSync(f);
    }
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(path) || ".html"] || "application/octet-stream",
      "cache-control": "max-age=3600",
    });
    res.end(body);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() });
    });
  });
}
