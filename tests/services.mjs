// Real services for the tests: a throwaway Redis and Postgres on free loopback ports,
// stopped by PID (and by pg_ctl) when the test file ends, also when a test failed.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on("error", reject);
  });
}

async function waitForPort(port, what) {
  const until = Date.now() + 15_000;
  for (;;) {
    const open = await new Promise((r) => {
      const c = connect(port, "127.0.0.1", () => { c.end(); r(true); });
      c.on("error", () => r(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`${what} did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const live = new Set();
process.on("exit", () => { for (const stop of live) try { stop(); } catch {} });

export async function startRedis() {
  const port = await freePort();
  let proc = null;
  const stop = () => { if (proc) { proc.kill("SIGKILL"); proc = null; } };
  const r = {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    async resume() {
      proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
      await waitForPort(port, "redis-server");
    },
    stop,
    close() { stop(); live.delete(stop); },
  };
  live.add(stop);
  await r.resume();
  return r;
}

const root = process.getuid?.() === 0;
const pgBin = (name) => {
  const versions = readdirSync("/usr/lib/postgresql").sort();
  return join("/usr/lib/postgresql", versions.at(-1), "bin", name);
};
const asPostgres = (bin, args) => (root ? ["runuser", ["-u", "postgres", "--", pgBin(bin), ...args]] : [pgBin(bin), args]);
const run = (bin, args) => execFileSync(...asPostgres(bin, args), { stdio: "ignore" });

export async function startPostgres() {
  const dir = mkdtempSync(join(tmpdir(), "alo-pg-"));
  if (root) execFileSync("chown", ["postgres", dir]);
  run("initdb", ["-D", join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync"]);
  const port = await freePort();
  let running = false;
  const stop = () => {
    if (running) { run("pg_ctl", ["-D", join(dir, "data"), "-m", "immediate", "-w", "stop"]); running = false; }
  };
  const pg = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async resume() {
      run("pg_ctl", ["-D", join(dir, "data"), "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "-w", "-t", "30", "start"]);
      running = true;
      await waitForPort(port, "postgres");
    },
    stop,
    close() { stop(); live.delete(stop); rmSync(dir, { recursive: true, force: true }); },
  };
  live.add(stop);
  await pg.resume();
  return pg;
}
