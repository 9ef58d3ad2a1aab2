// WARD_SDK=app only: the app calls the SDK itself (served by the app from /pkg/, public
// through the gateway), and its answers say `Autologoff-Inject: off` so the gateway does not
// add it a second time.
import { init } from "/pkg/index.js";

const $ = (id) => document.getElementById(id);
const idleMs = Number(document.documentElement.dataset.idleMs || 60_000);
// data-signin: "Sign in again" in a popup there (the gateway's OIDC re-authentication),
// so the page and its draft stay; otherwise the app's own login page.
const signin = document.documentElement.dataset.signin;
const session = await init({
  idleTimeoutMs: idleMs,
  // init refuses a warning as long as the idle limit (a short demo or test limit).
  warnBeforeMs: Math.min(15_000, Math.floor(idleMs / 2)),
  server: { url: "/.autologoff/session", pollIntervalMs: 10_000, keepaliveIntervalMs: 10_000, ...(signin ? { signin } : {}) },
  audit: { url: "/.autologoff/audit" },
});
session.addEventListener("lock", (e) => { $("state").textContent = `locked (${e.detail.reason})`; });
session.addEventListener("unlock", () => { $("state").textContent = "live"; });
if (!signin) session.addEventListener("signin", () => { location.href = "/login?rd=" + encodeURIComponent(location.pathname); });
