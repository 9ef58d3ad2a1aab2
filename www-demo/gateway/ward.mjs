// A plain "legacy" ward app for `npm run demo:gateway`: Node's own http module, its own login
// page, no autologoff code of its own. The only thing it knows of the gateway in front of
// it: after a sign-in it answers `Autologoff-Login: <user>` (and `Autologoff-Logout: 1` after
// a sign-out), and it reads who is signed in from `X-Autologoff-User`. Every request that
// reaches it was checked by the gateway; it keeps no sessions. All data is synthetic.
//   node www-demo/gateway/ward.mjs PORT [PKG_DIR]
import { createServer } from "node:http";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, normalize } from "node:path";

const port = Number(process.argv[2] || 3000);
const pkg = process.argv[3] || new URL("../../pkg/", import.meta.url).pathname;
const here = new URL(".", import.meta.url).pathname;
const TYPES = { ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css", ".html": "text/html; charset=utf-8", ".ts": "text/plain" };
// The SDK's idle limit on the page: the gateway's (--idle-secs), so both lock together.
const IDLE_MS = Number(process.env.IDLE_MS || 120_000);
// WARD_SDK=app: the page loads the SDK itself (ward-sdk.js) and says so to the gateway;
// default: no autologoff code at all (the gateway injects the SDK).
const APP_SDK = process.env.WARD_SDK === "app";
// SIGNIN (with WARD_SDK=app): where "Sign in again" opens a popup (the SDK's server.signin),
// e.g. the gateway's OIDC re-authentication `/.autologoff/login?reauth=1&rd=/.autologoff/done`;
// unset: the app's own /login page. Under --inject-sdk the gateway sets it itself.
const SIGNIN = process.env.SIGNIN || "";
const PATIENTS = ["Test Patient 01", "Test Patient 02", "Test Patient 03"];

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const safeRd = (rd) => (typeof rd === "string" && rd.startsWith("/") && !rd.startsWith("//") && !rd.startsWith("/\\") ? rd : "/");

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { "content-type": type, ...headers });
  res.end(body);
}

async function file(res, dir, rel) {
  const path = normalize(join(dir, rel));
  if (!path.startsWith(dir)) return send(res, 404, "text/plain", "not found");
  try {
    const ext = path.slice(path.lastIndexOf("."));
    send(res, 200, TYPES[ext] ?? "application/octet-stream", await readFile(path), { "cache-control": "max-age=3600" });
  } catch {
    send(res, 404, "text/plain", "not found");
  }
}

async function body(req) {
  let text = "";
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 4096) throw new Error("too long");
  }
  return new URLSearchParams(text);
}

const loginPage = (rd, error = "") => `<!doctype html><html lang=en><meta charset=utf-8>
<title>Ward — sign in</title><link rel=stylesheet href="/public/ward.css">
<main class=card><h1>Ward (legacy app)</h1><p>Sign in. Demo: any name, password <code>demo</code>.</p>
${error ? `<p class=error>${esc(error)}</p>` : ""}
<form method=post action="/login"><input type=hidden name=rd value="${esc(rd)}">
<label>User <input name=user required maxlength=64 autofocus></label>
<label>Password <input name=password type=password required></label>
<button>Sign in</button></form></main></html>`;

const wardPage = (user) => `<!doctype html><html lang=en data-idle-ms="${IDLE_MS}"${SIGNIN ? ` data-signin="${esc(SIGNIN)}"` : ""}><meta charset=utf-8>
<title>Ward — ${esc(user)}</title><link rel=stylesheet href="/public/ward.css">
<main class=card><h1>Ward (legacy app)</h1>
<p>Signed in as <b id=user>${esc(user)}</b> · <form method=post action="/logout" class=inline><button>Sign out</button></form></p>
<p>Polls <code>/api/vitals</code> every 2 s (the gateway never lets that extend the session), and
keeps an event stream and a WebSocket open (the gateway cuts both when the session ends).</p>
<table><thead><tr><th>Patient</th><th>HR</th><th>SpO₂</th></tr></thead><tbody id=vitals></tbody></table>
<p><label>Handover note (not saved yet) <textarea id=draft rows=2 cols=50></textarea></label></p>
<p>Events: <span id=sse>0</span> · WebSocket messages: <span id=ws>0</span> · <span id=state>live</span></p>
<p class=small>Server session expires at <span id=expires>?</span>.</p></main>
${APP_SDK ? '<script type=module src="/public/ward-sdk.js"></script>' : ""}<script type=module src="/public/ward.js"></script></html>`;

function vitals() {
  return PATIENTS.map((name, i) => ({ name, hr: 60 + ((Date.now() / 1000 + i * 7) % 40 | 0), spo2: 94 + (i + (Date.now() / 2000 | 0)) % 6 }));
}

/** A WebSocket that sends the ward's census every second (text frames out, input ignored). */
function websocket(req, socket) {
  const key = req.headers["sec-websocket-key"];
  if (!key) return socket.destroy();
  const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const timer = setInterval(() => {
    const text = Buffer.from(JSON.stringify({ census: PATIENTS.length, at: Date.now() }));
    socket.write(Buffer.concat([Buffer.from([0x81, text.length]), text]));
  }, 1000);
  socket.on("data", () => {});
  socket.on("close", () => clearInterval(timer));
  socket.on("error", () => clearInterval(timer));
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://ward");
  const user = req.headers["x-autologoff-user"];
  try {
    if (url.pathname.startsWith("/pkg/")) return file(res, pkg, url.pathname.slice(5));
    if (url.pathname.startsWith("/public/")) return file(res, here, url.pathname.slice(8));
    if (url.pathname === "/login" && req.method === "GET") return send(res, 200, "text/html; charset=utf-8", loginPage(safeRd(url.searchParams.get("rd"))));
    if (url.pathname === "/login" && req.method === "POST") {
      const form = await body(req);
      const name = (form.get("user") || "").trim();
      if (!name || form.get("password") !== "demo") return send(res, 401, "text/html; charset=utf-8", loginPage(safeRd(form.get("rd")), "Wrong user or password."));
      res.writeHead(303, { location: safeRd(form.get("rd")), "autologoff-login": name });
      return res.end();
    }
    if (url.pathname === "/logout" && req.method === "POST") {
      res.writeHead(303, { location: "/login", "autologoff-logout": "1" });
      return res.end();
    }
    if (!user) return send(res, 500, "text/plain", "no X-Autologoff-User: this app runs behind the gateway");
    if (url.pathname === "/") return send(res, 200, "text/html; charset=utf-8", wardPage(user), APP_SDK ? { "autologoff-inject": "off" } : {});
    if (url.pathname === "/api/vitals") return send(res, 200, "application/json", JSON.stringify({ user, vitals: vitals() }));
    if (url.pathname === "/events") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      let n = 0;
      const timer = setInterval(() => res.write(`data: ${++n}\n\n`), 1000);
      req.on("close", () => clearInterval(timer));
      return;
    }
    send(res, 404, "text/plain", "not found");
  } catch (e) {
    send(res, 400, "text/plain", String(e.message));
  }
});
server.on("upgrade", (req, socket) => {
  if (req.url === "/ws" && req.headers["x-autologoff-user"]) websocket(req, socket);
  else socket.destroy();
});
server.listen(port, "127.0.0.1", () => console.log(`ward app on http://127.0.0.1:${port}/`));
