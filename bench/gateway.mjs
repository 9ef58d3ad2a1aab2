// npm run bench:gateway: the gateway's cost next to nginx, in one run on loopback. Prints a
// markdown table to stdout (and bench/results/gateway.md); asserts nothing.
//   - requests/s and p50/p99 of a small GET (wrk, BENCH_CONNS connections, BENCH_SECS each):
//     straight to the upstream (an nginx answering `return 200`), through nginx `proxy_pass`,
//     through the gateway (live session; memory store, then Redis), and through nginx with
//     `auth_request` to the gateway (the README's configuration);
//   - MB/s of a BENCH_MB MB download through nginx `proxy_pass` and through the gateway, with
//     the gateway's peak RSS during it;
//   - the gateway's RSS idle and with BENCH_WS open WebSockets (to a small Node upstream).
// The gateway is built as deployed (`--profile server`: opt-level 3, LTO), its request log to
// /dev/null. Two cores are shared by wrk, nginx and the gateway: read ratios, not absolutes.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, truncateSync } from "node:fs";
import { createServer } from "node:http";
import { connect } from "node:net";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startRedis } from "../tests/services.mjs";
import { ROOT, startGateway, startNginx, readmeBlock, ported } from "../tests/gateway/lib.mjs";
import { CONNS, SECS, signIn, startProxyPass, wrk } from "./wrk.mjs";

const MB = Number(process.env.BENCH_MB || 100);
const WS = Number(process.env.BENCH_WS || 1000);
const BIN = join(ROOT, "target/server/autologoff-server");
const say = (m) => process.stderr.write(m + "\n");

const rss = (pid) => Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]) / 1024;

function download(port, headers = []) {
  const args = ["-s", "-o", "/dev/null", "-w", "%{speed_download} %{http_code}", ...headers.flatMap((h) => ["-H", h]), `http://127.0.0.1:${port}/big`];
  const [speed, code] = execFileSync("curl", args, { encoding: "utf8" }).split(" ");
  return { mbs: Number(speed) / 1e6, code };
}

/** A Node upstream that accepts WebSockets and keeps them open (nothing sent). */
async function wsUpstream() {
  const server = createServer((req, res) => res.end("ok"));
  const sockets = new Set();
  server.on("upgrade", (req, socket) => {
    sockets.add(socket);
    const accept = createHash("sha1").update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on("error", () => {});
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return { port, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); for (const s of sockets) s.destroy(); }) };
}

function openWs(port, cookie) {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => {
      s.write(`GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: ${cookie}\r\n\r\n`);
    });
    let head = "";
    s.on("data", (d) => { head += d; if (head.includes("\r\n\r\n")) head.startsWith("HTTP/1.1 101") ? resolve(s) : reject(new Error(head.split("\r\n")[0])); });
    s.on("error", reject);
  });
}

const stops = [];
try {
  const dir = mkdtempSync(join(tmpdir(), "alo-bench-"));
  writeFileSync(join(dir, "big"), "");
  truncateSync(join(dir, "big"), MB * 1024 * 1024);
  // The upstream: nginx answering a small GET itself, and /big from a file.
  const up = await freePort();
  const upstream = await startNginx(`server {
    listen 127.0.0.1:${up};
    location = /big { root ${dir}; }
    location / { return 200 "ok\\n"; }
  }`);
  stops.push(() => upstream.close());
  const redis = await startRedis();
  stops.push(() => redis.close());
  const mem = await startGateway(["--upstream", `http://127.0.0.1:${up}`, "--demo-login"], BIN, { quiet: true });
  stops.push(() => mem.close());
  const red = await startGateway(["--upstream", `http://127.0.0.1:${up}`, "--demo-login", "--store", redis.url], BIN, { quiet: true });
  stops.push(() => red.close());
  // The same on one lane (TOKIO_WORKER_THREADS=1: one connection thread), as nginx runs one worker process
  // here (two threads did better in the 2026-12-07 run: docs/perf-log.md).
  const one = await startGateway(["--upstream", `http://127.0.0.1:${up}`, "--demo-login"], BIN, { quiet: true, env: { ...process.env, TOKIO_WORKER_THREADS: "1" } });
  stops.push(() => one.close());
  const authOnly = await startGateway(["--demo-login"], BIN, { quiet: true });
  stops.push(() => authOnly.close());
  const proxy = await startProxyPass(up);
  const pp = proxy.port;
  stops.push(() => proxy.close());
  const ap = await freePort();
  const auth = await startNginx(ported(readmeBlock("nginx"), { app: up, gateway: authOnly.port, proxy: ap }));
  stops.push(() => auth.close());

  const memCookie = await signIn(mem.port);
  const redCookie = await signIn(red.port);
  const oneCookie = await signIn(one.port);
  const authCookie = await signIn(authOnly.port);
  const rows = [];
  for (const [name, port, headers] of [
    ["direct (upstream nginx)", up, []],
    ["nginx proxy_pass", pp, []],
    ["gateway, memory store", mem.port, [`Cookie: ${memCookie}`]],
    ["gateway, Redis store", red.port, [`Cookie: ${redCookie}`]],
    ["gateway, memory store, 1 lane", one.port, [`Cookie: ${oneCookie}`]],
    ["nginx + auth_request → gateway", ap, [`Cookie: ${authCookie}`]],
  ]) {
    say(`wrk ${name} …`);
    rows.push({ name, ...wrk(port, "/small", headers) });
  }
  say(`download ${MB} MB …`);
  const viaNginx = download(pp);
  let peak = rss(mem.pid);
  const sampler = setInterval(() => { peak = Math.max(peak, rss(mem.pid)); }, 20);
  const viaGateway = await new Promise((resolve) => {
    const c = spawn("curl", ["-s", "-o", "/dev/null", "-w", "%{speed_download} %{http_code}", "-H", `Cookie: ${memCookie}`, `http://127.0.0.1:${mem.port}/big`]);
    let out = "";
    c.stdout.on("data", (d) => { out += d; });
    c.on("exit", () => { const [s, code] = out.split(" "); resolve({ mbs: Number(s) / 1e6, code }); });
  });
  clearInterval(sampler);

  say(`${WS} WebSockets …`);
  const wsUp = await wsUpstream();
  stops.push(() => wsUp.close());
  const wsGw = await startGateway(["--upstream", `http://127.0.0.1:${wsUp.port}`, "--demo-login"], BIN, { quiet: true });
  stops.push(() => wsGw.close());
  const wsCookie = await signIn(wsGw.port);
  const idle = rss(wsGw.pid);
  const sockets = [];
  for (let i = 0; i < WS; i++) sockets.push(await openWs(wsGw.port, wsCookie));
  await new Promise((r) => setTimeout(r, 500));
  const open = rss(wsGw.pid);
  for (const s of sockets) s.destroy();

  const nginxRow = rows[1];
  const lines = [
    `| ${CONNS} connections, ${SECS} s each (wrk -t1) | requests/s | p50 ms | p99 ms | vs nginx proxy_pass |`,
    "|---|---:|---:|---:|---|",
    ...rows.map((r) => `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.rps / nginxRow.rps).toFixed(2)}× rps, p99 ${r.p99 - nginxRow.p99 >= 0 ? "+" : ""}${(r.p99 - nginxRow.p99).toFixed(2)} ms${r.non2xx ? `, ${r.non2xx} non-2xx` : ""} |`),
    "",
    `| ${MB} MB download | MB/s | status |`,
    "|---|---:|---|",
    `| nginx proxy_pass | ${viaNginx.mbs.toFixed(0)} | ${viaNginx.code} |`,
    `| gateway (peak RSS ${peak.toFixed(1)} MB) | ${viaGateway.mbs.toFixed(0)} | ${viaGateway.code} |`,
    "",
    `Gateway RSS: ${idle.toFixed(1)} MB with one session, ${open.toFixed(1)} MB with ${WS} open WebSockets (${((open - idle) * 1024 / WS).toFixed(1)} KB each).`,
  ];
  const md = lines.join("\n") + "\n";
  process.stdout.write(md);
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, "bench/results/gateway.md"), md);
} finally {
  for (const stop of stops.reverse()) await stop();
}
