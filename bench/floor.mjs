// node bench/floor.mjs: what the gateway costs above a bare hyper proxy, beside nginx, in one
// run on one upstream (an nginx answering `return 200`). Prints, for a small GET (wrk -t1,
// BENCH_CONNS connections, BENCH_SECS each, ROUNDS rounds): requests/s, p99 and the proxy's CPU
// per request (its utime + stime from /proc, nginx's worker included), with the ratio to nginx
// `proxy_pass`. Rows:
//   - nginx proxy_pass (one worker process, keepalive to the upstream);
//   - proxy-floor pooled: hyper's server + hyper-util's pooled client, nothing else;
//   - proxy-floor link: hyper's server + one upstream connection per client connection;
//   - the gateway (memory store, live session), as deployed.
// The proxies run on one thread each (TOKIO_WORKER_THREADS=1), as nginx runs one worker.
// Asserts nothing. Builds with `--profile server` (opt-level 3, LTO).
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../tests/services.mjs";
import { ROOT, startGateway, startNginx } from "../tests/gateway/lib.mjs";
import { signIn, startProxyPass, wrk } from "./wrk.mjs";

const ROUNDS = Number(process.env.ROUNDS || 2);
const say = (m) => process.stderr.write(m + "\n");
const env = { ...process.env, TOKIO_WORKER_THREADS: "1" };

/** CPU seconds used so far by `pid` and its child processes. */
function cpu(pid) {
  let children = [];
  try {
    children = execFileSync("ps", ["--ppid", String(pid), "-o", "pid="], { encoding: "utf8" }).split("\n").map(Number).filter(Boolean);
  } catch {} // ps exits 1 when there is none
  return [pid, ...children].reduce((sum, p) => {
    const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
    return sum + (Number(fields[11]) + Number(fields[12])) / 100;
  }, 0);
}

execFileSync("cargo", ["build", "-q", "--profile", "server", "-p", "autologoff-server", "--bin", "autologoff-server", "--example", "proxy-floor"], { cwd: ROOT, stdio: "inherit" });
const stops = [];
try {
  const up = await freePort();
  const upstream = await startNginx(`server { listen 127.0.0.1:${up}; location / { return 200 "ok\\n"; } }`);
  stops.push(() => upstream.close());
  const nginx = await startProxyPass(up);
  stops.push(() => nginx.close());
  const rows = [["nginx proxy_pass", nginx.port, nginx.pid, []]];
  for (const mode of ["pooled", "link"]) {
    const port = await freePort();
    const p = spawn(join(ROOT, "target/server/examples/proxy-floor"), [mode, String(port), `127.0.0.1:${up}`], { env, stdio: ["ignore", "pipe", "inherit"] });
    stops.push(() => p.kill());
    await new Promise((resolve) => p.stdout.once("data", resolve));
    rows.push([`proxy-floor ${mode}`, port, p.pid, []]);
  }
  const gw = await startGateway(["--upstream", `http://127.0.0.1:${up}`, "--demo-login"], join(ROOT, "target/server/autologoff-server"), { quiet: true, env });
  stops.push(() => gw.close());
  rows.push(["gateway, memory store", gw.port, gw.pid, [`Cookie: ${await signIn(gw.port)}`]]);

  const out = ["| round | proxy (one thread or worker) | requests/s | p99 ms | CPU µs/request | vs nginx |", "|---|---|---:|---:|---:|---|"];
  for (let round = 1; round <= ROUNDS; round++) {
    let base;
    for (const [name, port, pid, headers] of rows) {
      say(`round ${round}: wrk ${name} …`);
      const before = cpu(pid);
      const r = wrk(port, "/small", headers);
      const used = cpu(pid) - before;
      const requests = r.rps * Number(process.env.BENCH_SECS || 5);
      const us = (used * 1e6) / requests;
      base ??= r;
      out.push(`| ${round} | ${name} | ${Math.round(r.rps).toLocaleString("en-US")} | ${r.p99.toFixed(2)} | ${us.toFixed(1)} | ${(r.rps / base.rps).toFixed(2)}× rps, p99 ${r.p99 - base.p99 >= 0 ? "+" : ""}${(r.p99 - base.p99).toFixed(2)} ms |`);
    }
  }
  console.log(out.join("\n"));
} finally {
  for (const stop of stops.reverse()) await stop();
}
