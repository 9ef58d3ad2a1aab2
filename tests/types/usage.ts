// Type tests of pkg/index.d.ts, compiled with `tsc --strict`. Each @ts-expect-error line
// is misuse that must NOT compile; if it ever did, tsc reports the unused directive.
import {
  init, AutologoffSession, requestScreenLockPermission,
  type AuditRecord, type LockReason, type ScreenLockStatus,
} from "autologoff";

export async function good(): Promise<void> {
  const s: AutologoffSession = await init({
    idleTimeoutMs: 15 * 60_000,
    warnBeforeMs: 60_000,
    absoluteTimeoutMs: 12 * 3_600_000,
    activityEvents: ["pointerdown", "keydown"],
    requests: { track: true, ignore: ["/metrics"] },
    server: { url: "/session", pollIntervalMs: 60_000, headers: { "X-CSRF": "t" }, credentials: "include" },
    lock: { target: "#app", mode: "hide", overlay: false, title: "Locked" },
    purge: { sessionStorage: true, localStorageKeys: ["draft:*"], keepSessionKeys: ["csrf"] },
    crossTab: true,
    audit: { url: "/audit" },
  });
  await init();
  await init(null);
  const ws = await init({ lock: { mode: "detach", target: "#app" }, hiddenTimeoutMs: 60_000, screenLock: true });
  const screen: ScreenLockStatus = ws.screenLock;
  const granted: boolean = await requestScreenLockPermission();
  await init({ hiddenTimeoutMs: null });
  ws.lock("hidden");
  ws.lock("screen");
  void screen; void granted;
  s.addEventListener("warn", (e) => { const n: number = e.detail.remainingMs + e.detail.deadline; void n; });
  s.addEventListener("lock", (e) => { const r: LockReason = e.detail.reason; const at: number = e.detail.at; void r; void at; });
  s.addEventListener("unlock", (e) => void e.detail.at);
  s.addEventListener("activity", (e) => { const src: "input" | "request" | "remote" = e.detail.source; void src; });
  s.addEventListener("audit", (e) => { const rec: AuditRecord = e.detail; const t: string = rec.at; void t; });
  s.addEventListener("signin", () => void s.unlock().then((ok: boolean) => ok));
  s.addEventListener("switch", (e) => { const c: boolean = e.cancelable; e.preventDefault(); void c; });
  const kind: AuditRecord["type"] = "switch";
  void kind;
  await init({ server: { url: "/session", signin: "/signin?popup=1" } });
  await init({ server: { url: "/session", signin: null } });
  const st: "active" | "warning" | "locked" = s.state;
  const left: number = s.remainingMs();
  s.extend();
  s.lock();
  s.lock("manual");
  s.destroy();
  void st; void left;
}

export async function bad(s: AutologoffSession): Promise<void> {
  // @ts-expect-error a string where milliseconds are due
  await init({ idleTimeoutMs: "900000" });
  // @ts-expect-error a misspelt option
  await init({ idleTimout: 1000 });
  // @ts-expect-error not a lock mode
  await init({ lock: { mode: "fade" } });
  // @ts-expect-error server.url is required
  await init({ server: { pollIntervalMs: 5000 } });
  // @ts-expect-error credentials outside the allowed set
  await init({ server: { url: "/s", credentials: "all" } });
  // @ts-expect-error server.signin is a URL string
  await init({ server: { url: "/s", signin: true } });
  // @ts-expect-error signin belongs in server, not at the top
  await init({ signin: "/login" });
  // @ts-expect-error "switch" is an event and an audit type, not a lock reason
  s.lock("switch");
  // @ts-expect-error not an audit type
  const at2: AuditRecord["type"] = "relogin";
  // @ts-expect-error audit needs a url
  await init({ audit: {} });
  // @ts-expect-error not a lock reason
  s.lock("sleepy");
  // @ts-expect-error state is read-only
  s.state = "active";
  // @ts-expect-error unlock resolves a boolean
  const n: number = await s.unlock();
  // @ts-expect-error the lock detail has no remainingMs
  s.addEventListener("lock", (e) => e.detail.remainingMs);
  // @ts-expect-error warn detail is numeric
  s.addEventListener("warn", (e) => { const x: string = e.detail.deadline; void x; });
  // @ts-expect-error remainingMs is a method
  const m: number = s.remainingMs;
  // @ts-expect-error not a lock mode
  await init({ lock: { mode: "shred" } });
  // @ts-expect-error hiddenTimeoutMs is a number of milliseconds
  await init({ hiddenTimeoutMs: "5" });
  // @ts-expect-error screenLock is a boolean
  await init({ screenLock: "yes" });
  // @ts-expect-error screenLock is read-only
  s.screenLock = "on";
  // @ts-expect-error not a screen-lock status
  const st2: ScreenLockStatus = "maybe";
  // @ts-expect-error requestScreenLockPermission takes no argument
  await requestScreenLockPermission("idle-detection");
  void st2;
  // @ts-expect-error purge keys are strings
  await init({ purge: { localStorageKeys: [1] } });
  const isSession: boolean = s instanceof AutologoffSession;
  void n; void m; void isSession; void at2;
}
