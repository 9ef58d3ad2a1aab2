// The browser and servers of one e2e test file, closed when the file's tests end
// (kept apart from lib.mjs, which the bench imports outside node:test).
import { before, after } from "node:test";
import { startServer, launch, ENGINE } from "./lib.mjs";

/**
 * `setup(args)` starts a server of the test's own (with `args`) and opens a fresh
 * context; with `shared`, `env.server` is one server for the whole file.
 */
export function suite({ shared = false } = {}) {
  const env = {
    browser: null,
    server: null,
    /** The engine this process runs (`AUTOLOGOFF_ENGINE`); the browser is launched lazily. */
    engine: ENGINE,
    /**
     * Test options running a test only in `engines`, skipped elsewhere with `why` (shown in
     * the report): `test(name, env.only(["chromium"], "CDP input"), body)`.
     */
    only: (engines, why, opts = {}) => (engines.includes(ENGINE) ? opts : { ...opts, skip: `${ENGINE}: ${why}` }),
  };
  const servers = [];
  const start = async (args) => {
    const s = await startServer(args);
    servers.push(s);
    env.browser ??= await launch();
    return s;
  };
  if (shared) before(async () => { env.server = await start([]); });
  after(async () => {
    await env.browser?.close();
    servers.forEach((s) => s.stop());
  });
  env.setup = async (args = []) => {
    const s = await start(args);
    return { s, ctx: await env.browser.newContext() };
  };
  return env;
}
