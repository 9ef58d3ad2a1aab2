// npm run bench:inject: what --inject-sdk costs, side by side in one run on loopback. Prints a
// markdown table to stdout (and bench/results/inject.md); asserts nothing.
//   - bytes added to each page (the script tag; the CSP header's additions), and what a page
//     load then fetches from /.autologoff/sdk/ (auto.js revalidated, the SDK cached for good);
//   - requests/s and p50/p99 (wrk, BENCH_CONNS connections, BENCH_SECS each) of a navigation
//     to a BENCH_KB KB HTML page under a CSP, served by nginx: straight, through the gateway
//     without injection, with injection, and with injection of a gzip page (decoded,
//     rewritten, sent uncompressed).
// The gateway is built as deployed (`--profile server`, as bench:gateway), its
// request log to /dev/null. Two cores are shared by wrk, nginx and the gateway: read ratios.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../tests/services.mjs";
import { ROOT, startGateway, startNginx, call } from "../tests/gateway/lib.mjs";
import { CONNS, SECS, signIn, wrk } from "./wrk.mjs";

const KB = Number(process.env.BENCH_KB || 20);
const BIN = join(ROOT, "target/server/autologoff-server");
const CSP = "default-src 'self'; script-src 'self' 'nonce-abc'; object-src 'none'";
const say = (m) => process.stderr.write(m + "\n");

const dir = mkdtempSync(join(tmpdir(), "alo-bench-inject-"));
mkdirSync(join(dir, "html"));
// A page like a chart: head with styles and scripts, then rows of text.
const rows = [];
for (let i = 0; rows.join("").length < KB * 1024 - 600; i++) rows.push(`<tr><td>Test Patient ${i}</td><td>${60 + (i % 40)}</td><td>${94 + (i % 6)}</td></tr>\n`);
const page = `<!doctype html><html lang=en><head><meta charset=utf-8><title>Chart</title>
<link rel=stylesheet href="/app.css"><script type=module src="/app.js" nonce="abc"></script></head>
<body><table>${rows.join("")}</table></body></html>\n`;
writeFileSync(join(dir, "html/index.html"), page);

const up = await freePort();
const upstream = await startNginx(`server {
    listen 127.0.0.1:${up};
    root ${dir}/html;
    gzip on; gzip_types text/html; gzip_min_length 0;
    location / { add_header Content-Security-Policy "${CSP}"; try_files /index.html =404; }
  }`);
const sdkOptions = join(dir, "sdk-options.json");
writeFileSync(sdkOptions, "{}");
const base = ["--upstream", `http://127.0.0.1:${up}`, "--demo-login", "--idle-secs", "900"];
const plain = await startGateway(base, BIN, { quiet: true });
const injecting = await startGateway([...base, "--inject-sdk", "--sdk-dir", join(ROOT, "pkg"), "--sdk-options", sdkOptions], BIN, { quiet: true });

const nav = (cookie, gzip = false) => [`Cookie: ${cookie}`, "Sec-Fetch-Mode: navigate", "Accept: text/html", ...(gzip ? ["Accept-Encoding: gzip"] : [])];

const plainCookie = await signIn(plain.port);
const injectCookie = await signIn(injecting.port);
const headersOf = (port, cookie) => call(port, "GET", "/", { cookie, "sec-fetch-mode": "navigate", accept: "text/html" });
const a = await headersOf(plain.port, plainCookie);
const b = await headersOf(injecting.port, injectCookie);
const added = Buffer.byteLength(b.text) - Buffer.byteLength(a.text);
const cspAdded = b.headers["content-security-policy"].length - a.headers["content-security-policy"].length;
const auto = await call(injecting.port, "GET", "/.autologoff/sdk/auto.js", {});
const sizes = { auto: Buffer.byteLength(auto.text) };
say(`page ${Buffer.byteLength(a.text)} B; injected ${Buffer.byteLength(b.text)} B (+${added}); CSP +${cspAdded} B`);

const runs = [
  ["nginx, straight", () => wrk(up, "/", nav(""))],
  ["gateway", () => wrk(plain.port, "/", nav(plainCookie))],
  ["gateway --inject-sdk", () => wrk(injecting.port, "/", nav(injectCookie))],
  ["gateway --inject-sdk, gzip page (decoded, sent identity)", () => wrk(injecting.port, "/", nav(injectCookie, true))],
];
const results = [];
for (const [name, run] of runs) {
  say(`wrk: ${name}`);
  results.push([name, run()]);
}
await plain.close();
await injecting.close();
await upstream.close();

const f = (n, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const gw = results[1][1].rps;
const lines = [
  `### --inject-sdk: cost (${KB} KB HTML page under a CSP, ${CONNS} connections, ${SECS} s each, loopback)`,
  "",
  `Bytes added to each page: ${added} (the script tag), and ${cspAdded} in its \`Content-Security-Policy\` header (a nonce, \`'wasm-unsafe-eval'\`).`,
  `A page load then revalidates \`/.autologoff/sdk/auto.js\` (${sizes.auto} B, \`no-cache\` + ETag: \`304\` once cached); the SDK (\`index.js\`, the wasm) is cached for good (\`immutable\`, its digest in the URL).`,
  "",
  "| path | requests/s | p50 ms | p99 ms | vs gateway | non-2xx |",
  "|---|---:|---:|---:|---:|---:|",
  ...results.map(([name, r]) => `| ${name} | ${f(r.rps)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.rps / gw, 2)}× | ${r.non2xx} |`),
  "",
];
const md = lines.join("\n");
process.stdout.write(md + "\n");
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/inject.md"), md.trimEnd() + "\n");
