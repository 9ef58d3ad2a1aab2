// autologoff demo app: a small synthetic "ward chart" guarded by the autologoff SDK.
// No frameworks; all data is synthetic and served by the demo server.
import { init, requestScreenLockPermission } from "/pkg/index.js";

// The page's elements by id, kept as references: with `lock.mode: "detach"` they are out of
// the document while locked, where getElementById cannot find them (the app's timers and
// event handlers keep updating the same nodes, which come back at unlock).
const byId = new Map([...document.querySelectorAll("[id]")].map((n) => [n.id, n]));
const $ = (id) => document.getElementById(id) ?? byId.get(id);
const el = (tag, props = {}, ...children) => {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") n.className = v;
    else if (k === "text") n.textContent = v;
    else if (k.startsWith("data-")) n.setAttribute(k, v);
    else n[k] = v;
  }
  n.append(...children);
  return n;
};
const fmtTime = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });

// ---- app state (memory only) -------------------------------------------------
const app = {
  user: null,          // signed-in user name
  session: null,       // the autologoff session
  patients: [],
  current: null,       // selected patient (detail JSON)
  vitalsTimer: 0,
  tickTimer: 0,
  settings: { idleS: 30, warnS: 15, mode: "blur", shared: false },
  listeners: [],       // [type, fn] registered on the current session
};

// The re-auth dialog must be usable while the page is locked. The SDK puts `inert` and
// aria-hidden="true" on <body> (its overlay lives outside it); a dialog inside <body> would be
// hidden from screen readers, so the app's own dialog lives outside <body> too.
const reauthDialog = $("reauth-dialog");
document.documentElement.append(reauthDialog);

// ---- login -----------------------------------------------------------------------
async function login(user) {
  const r = await fetch("/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user }),
    credentials: "same-origin",
  });
  if (!r.ok) throw new Error(`Sign-in failed (HTTP ${r.status})`);
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const user = $("login-user").value.trim();
  const err = $("login-error");
  err.hidden = true;
  if (!user) {
    err.textContent = "Enter a user name.";
    err.hidden = false;
    $("login-user").focus();
    return;
  }
  try {
    await login(user);
    app.user = user;
    await enterApp();
  } catch (x) {
    err.textContent = x.message;
    err.hidden = false;
  }
});

async function enterApp({ freshLogin = true } = {}) {
  $("user-name").textContent = app.user;
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("user-area").hidden = false;
  $("note").value = "";
  await startSession({ freshLogin });
  if (app.session?.state === "locked") $("patients-status").textContent = "Locked: sign in again to load the list.";
  else await loadPatients();
  startVitals();
  startTicker();
  refreshAudit();
}

function leaveApp() {
  stopSession();
  stopVitals();
  clearInterval(app.tickTimer);
  app.user = null;
  app.current = null;
  $("note").value = "";
  $("note-status").textContent = "";
  $("save-note").disabled = true;
  $("chart-body").hidden = true;
  $("chart-empty").hidden = false;
  $("chart-heading").textContent = "Chart";
  $("patient-list").replaceChildren();
  $("event-log").replaceChildren();
  sessionStorage.clear();
  for (const k of Object.keys(localStorage)) if (k.startsWith("demo:")) localStorage.removeItem(k);
  document.title = "Chart — autologoff demo";
  $("app-view").hidden = true;
  $("user-area").hidden = true;
  $("login-view").hidden = false;
  $("login-user").value = "";
  $("login-user").focus();
}

$("sign-out").addEventListener("click", async () => {
  if ($("note").value.trim() && !confirm("Discard the unsaved progress note?")) return;
  await fetch("/session", { method: "DELETE" }).catch(() => {});
  leaveApp();
});

// ---- the autologoff session -----------------------------------------------------------
function options() {
  const { idleS, warnS, mode, shared } = app.settings;
  return {
    idleTimeoutMs: idleS * 1000,
    warnBeforeMs: warnS * 1000,
    // "Sign in again" opens /signin.html in a popup: the locked chart and its unsaved note stay
    // in this window. The same user gets them back; another user gets a fresh page (the SDK
    // reloads it on `switch`), never the previous user's chart.
    server: { url: "/session", signin: "/signin.html", pollIntervalMs: 10000, keepaliveIntervalMs: 10000 },
    // The shared-workstation preset: the chart leaves the page while locked, no tab of the
    // app in front for 60 s locks, and so does the operating system's screen lock.
    lock: { mode: shared ? "detach" : mode },
    ...(shared ? { hiddenTimeoutMs: 60_000, screenLock: true } : {}),
    purge: { localStorageKeys: ["demo:draft*"] },
    audit: { url: "/audit" },
  };
}

/** "mode “blur”", or the preset with how the screen lock is watched. */
function describeMode(s) {
  if (!app.settings.shared) return `mode “${app.settings.mode}”`;
  return `shared workstation: detach, hidden 60 s, screen lock ${s?.screenLock ?? "off"}`;
}

async function startSession({ freshLogin = false } = {}) {
  const msg = $("settings-msg");
  try {
    const s = await init(options());
    app.session = s;
    const on = (type, fn) => {
      s.addEventListener(type, fn);
      app.listeners.push([type, fn]);
    };
    on("warn", onWarn);
    on("lock", onLock);
    on("unlock", onUnlock);
    on("activity", onActivity);
    on("signin", onSignin);
    on("switch", onSwitch);
    on("audit", onAudit);
    msg.className = "small ok";
    msg.textContent = `Armed: lock after ${app.settings.idleS} s idle, warning ${app.settings.warnS} s before, ${describeMode(s)}.`;
    $("st-config").textContent = `idle ${app.settings.idleS} s · warn ${app.settings.warnS} s · ${app.settings.shared ? "shared workstation" : app.settings.mode}`;
    $("allow-screen").hidden = s.screenLock !== "needs-permission";
    if (s.state === "locked" && freshLogin) {
      // The shared session state from an earlier load was locked, so the SDK starts locked
      // and ends the server session, including the one POST /login just created.
      // Ask the user to confirm once more (the SDK's DELETE has finished by then).
      logEvent("restore", "started locked (locked before reload)");
      confirmRestored();
    }
    updateStatus();
    return true;
  } catch (x) {
    app.session = null;
    msg.className = "small error";
    msg.textContent = `${x.name}: ${x.message}`;
    updateStatus();
    return false;
  }
}

function stopSession() {
  const s = app.session;
  if (!s) return;
  for (const [type, fn] of app.listeners) s.removeEventListener(type, fn);
  app.listeners = [];
  s.destroy();
  app.session = null;
  closeDialog($("warn-dialog"));
  closeDialog(reauthDialog);
}

$("settings-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const idleS = Number($("set-idle").value);
  const warnS = Number($("set-warn").value);
  const mode = new FormData(e.target).get("mode") ?? "blur";
  const shared = $("set-shared").checked;
  const prev = app.settings;
  app.settings = { idleS, warnS, mode, shared };
  stopSession();
  logEvent("settings", `idle ${idleS} s, warn ${warnS} s, ${shared ? "shared workstation" : mode}`);
  if (!(await startSession())) {
    // Bad values: the SDK rejected them (and installed nothing). Re-arm with the last good ones.
    const err = $("settings-msg").textContent;
    app.settings = prev;
    await startSession();
    $("settings-msg").className = "small error";
    $("settings-msg").textContent = `${err} — kept the previous settings.`;
  }
});

$("lock-now").addEventListener("click", () => app.session?.lock());

// The screen-lock permission needs a user gesture: this button is shown while it is missing.
$("allow-screen").addEventListener("click", async () => {
  const ok = await requestScreenLockPermission();
  $("allow-screen").hidden = ok;
  logEvent("settings", ok ? "screen lock detection allowed" : "screen lock detection not allowed");
  if (app.session) {
    $("settings-msg").textContent =
      `Armed: lock after ${app.settings.idleS} s idle, warning ${app.settings.warnS} s before, ${describeMode(app.session)}.`;
  }
});

// ---- SDK events ------------------------------------------------------------------------
function onWarn(e) {
  logEvent("warn", `locks in ${Math.round(e.detail.remainingMs / 1000)} s`);
  const d = $("warn-dialog");
  clearTimeout(warnCloseTimer);
  d.classList.remove("extended");
  $("warn-title").textContent = "Still there?";
  $("warn-stay").textContent = "Stay signed in";
  $("warn-lock").hidden = false;
  $("warn-secs").textContent = String(Math.ceil(e.detail.remainingMs / 1000));
  $("warn-body").hidden = false;
  $("warn-done").hidden = true;
  if (!d.open) d.showModal();
  $("warn-stay").focus();
  updateStatus();
}

// Activity during the warning extends the session (SDK contract), often while the pointer is
// still on its way to "Stay signed in". Closing the dialog at once would let that click fall
// through to whatever is underneath, so it first says "extended" and closes shortly after.
let warnCloseTimer = 0;
function warningEnded() {
  const d = $("warn-dialog");
  if (!d.open || d.classList.contains("extended")) return;
  d.classList.add("extended");
  $("warn-title").textContent = "You are still signed in";
  $("warn-body").hidden = true;
  $("warn-done").hidden = false;
  $("warn-stay").textContent = "Continue";
  $("warn-lock").hidden = true;
  clearTimeout(warnCloseTimer);
  warnCloseTimer = setTimeout(() => closeDialog(d), 1500);
}

function onLock(e) {
  logEvent("lock", e.detail.reason, e.detail.at);
  closeDialog($("warn-dialog"));
  stopVitals();
  updateStatus();
}

function onUnlock(e) {
  logEvent("unlock", "", e.detail.at);
  closeDialog(reauthDialog);
  if (!app.patients.length) loadPatients();
  startVitals();
  updateStatus();
  setTitle();
  $("note").focus();
}

let lastActivity = null;
function onActivity(e) {
  const { source, at } = e.detail;
  // Coalesce bursts so the log stays readable.
  const first = $("event-log").firstElementChild;
  if (lastActivity && first === lastActivity.node && lastActivity.source === source) {
    lastActivity.count++;
    lastActivity.node.querySelector(".ev-time").textContent = fmtTime(at);
    lastActivity.node.querySelector(".ev-detail").textContent = `${source} ×${lastActivity.count}`;
  } else {
    const node = logEvent("activity", source, at);
    lastActivity = { node, source, count: 1 };
  }
  if (app.session?.state === "active") warningEnded();
  updateStatus();
}

function onAudit(e) {
  const r = e.detail;
  logEvent("audit", `${r.type}${r.reason ? ` (${r.reason})` : ""} #${r.seq}`, Date.parse(r.at));
}

/** The overlay's "Sign in again": the SDK opens the sign-in popup (server.signin) itself. */
function onSignin() {
  logEvent("signin", "sign-in window opened");
}

/** Another user signed in at this locked page: the SDK reloads it (a fresh page for them). */
function onSwitch() {
  logEvent("switch", "another user signed in: reloading");
}

/**
 * The app's own confirmation, for a page that started locked right after the sign-in form
 * (the browser's shared session state was locked before the reload).
 */
function confirmRestored() {
  $("reauth-restored").hidden = false;
  $("reauth-expected").textContent = app.user ?? "";
  $("reauth-user").value = "";
  $("reauth-error").hidden = true;
  $("reauth-submit").disabled = false;
  if (!reauthDialog.open) reauthDialog.showModal();
  $("reauth-user").focus();
}

$("reauth-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const user = $("reauth-user").value.trim();
  const err = $("reauth-error");
  const show = (text) => {
    err.textContent = text;
    err.hidden = false;
  };
  err.hidden = true;
  if (!user) return show("Enter your user name.");
  if (user !== app.user) {
    return show(`This session belongs to ${app.user}. To switch user, sign out (the draft is discarded).`);
  }
  $("reauth-submit").disabled = true;
  try {
    await login(user);
    const ok = await app.session.unlock();
    if (!ok) show("The server did not confirm the sign-in. The page stays locked; try again.");
  } catch (x) {
    show(x.message);
  } finally {
    $("reauth-submit").disabled = false;
  }
});
$("reauth-cancel").addEventListener("click", () => closeDialog(reauthDialog));
$("reauth-signout").addEventListener("click", async () => {
  closeDialog(reauthDialog);
  await fetch("/session", { method: "DELETE" }).catch(() => {});
  leaveApp();
});

$("warn-stay").addEventListener("click", () => {
  // A click from assistive technology may bring no pointer/key event: extend explicitly.
  if (app.session?.state === "warning") app.session.extend();
  clearTimeout(warnCloseTimer);
  closeDialog($("warn-dialog"));
  updateStatus();
});
$("warn-lock").addEventListener("click", () => {
  closeDialog($("warn-dialog"));
  app.session?.lock();
});

function closeDialog(d) {
  if (d === $("warn-dialog")) clearTimeout(warnCloseTimer);
  if (d.open) d.close();
}

// ---- status line -----------------------------------------------------------------
function startTicker() {
  clearInterval(app.tickTimer);
  app.tickTimer = setInterval(updateStatus, 1000);
}

function updateStatus() {
  const s = app.session;
  const state = s ? s.state : "off";
  const pill = $("st-state");
  pill.textContent = state;
  pill.dataset.state = state;
  let text;
  if (!s) text = "not armed";
  else if (state === "locked") text = "locked";
  else text = `locks in ${Math.ceil(s.remainingMs() / 1000)} s`;
  $("st-countdown").textContent = text;
  const wd = $("warn-dialog");
  if (wd.open) {
    if (state === "warning") $("warn-secs").textContent = String(Math.ceil(s.remainingMs() / 1000));
    else if (state === "active") warningEnded();
    else closeDialog(wd);
  }
  const ss = Object.keys(sessionStorage);
  const ls = Object.keys(localStorage).filter((k) => k.startsWith("demo:"));
  $("st-storage").textContent =
    `sessionStorage: ${ss.length ? ss.join(", ") : "(empty)"} · localStorage demo keys: ${ls.length ? ls.join(", ") : "(none)"}`;
}

// ---- event log -------------------------------------------------------------------
function logEvent(type, detail, at = Date.now()) {
  const li = el("li", { class: `ev ev-${type}` },
    el("span", { class: "ev-time", text: fmtTime(at) }),
    el("span", { class: "ev-type", text: type }),
    el("span", { class: "ev-detail", text: detail }));
  const list = $("event-log");
  list.prepend(li);
  while (list.children.length > 60) list.lastElementChild.remove();
  return li;
}
$("clear-log").addEventListener("click", () => {
  $("event-log").replaceChildren();
  lastActivity = null;
});

// ---- patients & chart ----------------------------------------------------------------
async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function loadPatients() {
  const status = $("patients-status");
  try {
    app.patients = [];
    app.patients = await getJSON("/api/patients");
    status.textContent = `${app.patients.length} patients on the list`;
    const list = $("patient-list");
    list.replaceChildren(...app.patients.map((p) => {
      const b = el("button", { type: "button", class: "patient", "data-id": String(p.id) },
        el("span", { class: "p-name", text: p.name }),
        el("span", { class: "p-meta", text: `${p.mrn} · ${p.ward}` }));
      b.addEventListener("click", () => selectPatient(p.id));
      return el("li", {}, b);
    }));
  } catch (x) {
    status.textContent = `Could not load patients: ${x.message}`;
  }
}

async function selectPatient(id) {
  if (app.current?.id === id) return;
  if (app.current && $("note").value.trim() && !confirm("Discard the unsaved note for this patient?")) return;
  let p;
  try {
    p = await getJSON(`/api/patients/${id}`);
  } catch (x) {
    $("chart-empty").textContent = `Could not open chart: ${x.message}`;
    return;
  }
  app.current = p;
  for (const b of document.querySelectorAll(".patient")) {
    b.setAttribute("aria-current", b.dataset.id === String(id) ? "true" : "false");
  }
  $("chart-heading").textContent = p.name;
  $("c-mrn").textContent = p.mrn;
  $("c-dob").textContent = p.dob;
  $("c-ward").textContent = p.ward;
  const fill = (ulId, items) => $(ulId).replaceChildren(...(items ?? []).map((t) => el("li", { text: t })));
  fill("c-allergies", p.allergies);
  fill("c-problems", p.problems);
  fill("c-notes", p.notes);
  $("chart-empty").hidden = true;
  $("chart-body").hidden = false;
  $("note").value = "";
  $("note-status").textContent = "";
  $("save-note").disabled = false;
  // Something PHI-looking in sessionStorage, so the purge at lock is visible.
  sessionStorage.setItem("lastPatient", p.name);
  setTitle();
  pollVitals();
  updateStatus();
}

function setTitle() {
  document.title = app.current ? `Chart — ${app.current.name}` : "Chart — autologoff demo";
}

$("note").addEventListener("input", () => {
  // Only a timestamp (no text) in localStorage: shows the `demo:draft*` purge rule at work.
  localStorage.setItem("demo:draft:lastEdited", new Date().toISOString());
});

$("save-note").addEventListener("click", async () => {
  const status = $("note-status");
  if (!app.current) return;
  const text = $("note").value;
  if (!text.trim()) {
    status.textContent = "Nothing to save.";
    return;
  }
  try {
    const r = await fetch("/api/notes", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ patient: app.current.id, text }),
    });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    status.textContent = `Saved at ${fmtTime(Date.now())} (demo server discards it).`;
    localStorage.removeItem("demo:draft:lastEdited");
  } catch (x) {
    status.textContent = `Not saved: ${x.message}`;
  }
});

// ---- vitals: background poll ---------------------------------------------------------
function startVitals() {
  stopVitals();
  app.vitalsTimer = setInterval(pollVitals, 2000);
}
function stopVitals() {
  clearInterval(app.vitalsTimer);
  app.vitalsTimer = 0;
  $("vitals-dot").classList.remove("on");
}
async function pollVitals() {
  if (!app.current || app.session?.state === "locked") return;
  try {
    const v = await getJSON(`/api/vitals?patient=${app.current.id}`);
    if (v.patientId !== app.current?.id) return;
    $("v-hr").textContent = v.heartRate;
    $("v-bp").textContent = `${v.bpSystolic}/${v.bpDiastolic}`;
    $("v-spo2").textContent = v.spo2;
    $("v-rr").textContent = v.respRate;
    $("v-temp").textContent = v.tempC.toFixed(1);
    $("v-at").textContent = fmtTime(v.at);
    const dot = $("vitals-dot");
    dot.classList.remove("on");
    void dot.offsetWidth;
    dot.classList.add("on");
  } catch {
    // a 401 here is handled by the SDK (it locks with reason "server")
  }
}

// ---- audit trail -----------------------------------------------------------------
async function refreshAudit() {
  const body = $("audit-body");
  try {
    // The server shows a signed-in user their own records only (GET /api/audit).
    const rows = await getJSON("/api/audit");
    if (!rows.length) {
      body.replaceChildren(el("tr", {}, el("td", { colSpan: 6, class: "muted", text: "No audit records yet." })));
      return;
    }
    // Newest first (as received by the server), at most 100 rows.
    body.replaceChildren(...rows.slice(-100).reverse().map((r) => el("tr", { class: `a-${r.type}` },
      el("td", { text: String(r.seq) }),
      el("td", {}, el("span", { class: `badge b-${r.type}`, text: r.type })),
      el("td", { text: r.reason ?? "" }),
      el("td", { text: r.at }),
      el("td", { class: "mono", text: String(r.tab).slice(0, 8) }),
      el("td", { text: r.receivedAt == null ? "" : fmtTime(typeof r.receivedAt === "number" ? r.receivedAt : Date.parse(r.receivedAt)) }))));
  } catch (x) {
    body.replaceChildren(el("tr", {}, el("td", { colSpan: 6, class: "error", text: `Could not load: ${x.message}` })));
  }
}
$("audit-refresh").addEventListener("click", refreshAudit);

$("login-user").focus();
// A page loaded while signed in (a reload, the fresh page after another user signed in at
// a locked one) starts in the app as the server's user, without the sign-in form.
fetch("/api/whoami", { credentials: "same-origin" })
  .then((r) => (r.ok ? r.json() : null))
  .then((who) => {
    if (typeof who?.user === "string" && !app.user) {
      app.user = who.user;
      return enterApp({ freshLogin: false });
    }
  })
  .catch(() => {});
