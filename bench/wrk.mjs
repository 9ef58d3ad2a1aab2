// What the gateway benches share: wrk's requests/s and p50/p99 for one URL (BENCH_CONNS
// connections, BENCH_SECS seconds, one wrk thread), a demo sign-in at a gateway, and the peer
// every gateway bench is measured against: nginx `proxy_pass` with keep-alive to the upstream.
import { execFileSync } from "node:child_process";
import { call, sessionCookie, startNginx } from "../tests/gateway/lib.mjs";
import { freePort } from "../tests/services.mjs";

export const SECS = Number(process.env.BENCH_SECS || 5);
export const CONNS = Number(process.env.BENCH_CONNS || 32);

/** `{ rps, p50, p99 (ms), non2xx }` of `GET http://127.0.0.1:port/path` with `headers`. */
export function wrk(port, path, headers = []) {
  const args = ["-t1", `-c${CONNS}`, `-d${SECS}s`, "--latency", ...headers.flatMap((h) => ["-H", h]), `http://127.0.0.1:${port}${path}`];
  const out = execFileSync("wrk", args, { encoding: "utf8" });
  const unit = (v, u) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 }[u]);
  const lat = (q) => { const m = out.match(new RegExp(`\\s${q}%\\s+([\\d.]+)(us|ms|s)`)); return m ? unit(m[1], m[2]) : NaN; };
  const non2xx = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  return { rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)[1]), p50: lat(50), p99: lat(99), non2xx };
}

/** A demo sign-in at the gateway on `port`: its session cookie (`name=value`). */
export async function signIn(port) {
  const r = await call(port, "POST", "/.autologoff/demo-login", { "content-type": "application/json" }, JSON.stringify({ user: "bench" }));
  return sessionCookie(r);
}

/** nginx `proxy_pass` to the upstream on `up` (one worker, keep-alive to the upstream). */
export async function startProxyPass(up) {
  const port = await freePort();
  return startNginx(`server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }`, `upstream app { server 127.0.0.1:${up}; keepalive 64; }`);
}
