// Keeps an nginx upstream and a release gateway (memory store) running for a profiler:
// prints `port cookie pid` on one line, then waits until killed. Used by hand:
//   node bench/profile-gateway.mjs & ; wrk -H "Cookie: …" http://127.0.0.1:PORT/small ; perf record -p PID
import { startNginx, startGateway, ROOT } from "../tests/gateway/lib.mjs";
import { freePort } from "../tests/services.mjs";
import { join } from "node:path";

const BIN = process.env.GATEWAY_BIN || join(ROOT, "target/server/autologoff-server");
const up = await freePort();
const upstream = await startNginx(`server { listen 127.0.0.1:${up}; location / { return 200 "ok\\n"; } }`);
const gw = await startGateway(["--upstream", `http://127.0.0.1:${up}`, "--demo-login", ...(process.argv.slice(2))], BIN, { quiet: true });
const r = await fetch(`http://127.0.0.1:${gw.port}/.autologoff/demo-login`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"user":"bench"}' });
const cookie = r.headers.getSetCookie().find((c) => c.startsWith("autologoff=")).split(";")[0];
console.log(`${gw.port} ${cookie} ${gw.pid} ${up}`);
const stop = async () => { await gw.close(); await upstream.close(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
setInterval(() => {}, 1 << 30);
