// The ward page's script: the autologoff SDK (served by the app from /pkg/, public through
// the gateway) talks to the gateway's /.autologoff/session; the rest is the app's polling.
import { init } from "/pkg/index.js";

const $ = (id) => document.getElementById(id);
const idleMs = Number(document.documentElement.dataset.idleMs || 60_000);
// data-signin: "Sign in again" in a popup there (the gateway's OIDC re-authentication),
// so the page and its draft stay; otherwise the app's own login page.
const signin = document.documentElement.dataset.signin;
const session = await init({
  idleTimeoutMs: idleMs,
  warnBeforeMs: Math.min(15_000, Math.floor(idleMs / 2)),
  server: { url: "/.autologoff/session", pollIntervalMs: 10_000, keepaliveIntervalMs: 10_000, ...(signin ? { signin } : {}) },
  audit: { url: "/.autologoff/audit" },
});
session.addEventListener("lock", (e) => { $("state").textContent = `locked (${e.detail.reason})`; });
session.addEventListener("unlock", () => { $("state").textContent = "live"; });
if (!signin) session.addEventListener("signin", () => { location.href = "/login?rd=" + encodeURIComponent(location.pathname); });

async function poll() {
  const r = await fetch("/api/vitals");
  $("expires").textContent = new Date(Number(r.headers.get("session-expires"))).toLocaleTimeString();
  if (!r.ok) return;
  const { vitals } = await r.json();
  $("vitals").replaceChildren(...vitals.map((v) => {
    const tr = document.createElement("tr");
    for (const x of [v.name, v.hr, v.spo2]) tr.append(Object.assign(document.createElement("td"), { textContent: x }));
    return tr;
  }));
}
setInterval(poll, 2000);
poll();

let events = 0;
new EventSource("/events").onmessage = () => { $("sse").textContent = ++events; };
let messages = 0;
new WebSocket(`ws://${location.host}/ws`).onmessage = () => { $("ws").textContent = ++messages; };
