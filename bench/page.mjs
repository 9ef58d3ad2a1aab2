// Functions evaluated inside the bench page (serialised by page.evaluate: self-contained).

/**
 * Arms one library on the page and resolves once it is watching, with how long that took
 * from the start of its script (import()) to armed.
 *
 * What each library does at its deadlines is written to window.__seen (real wall-clock ms):
 *   warn  autologoff "warn" event · react-idle-timer onPrompt · @ng-idle/core onIdleStart
 *   lock  autologoff "lock" event · react-idle-timer onIdle   · @ng-idle/core onTimeout
 *         (onIdleStart when there is no warning period)
 *   frame the end of the first frame after `lock` (a task posted from its requestAnimationFrame
 *         callback runs once that frame's style, layout and paint are done), with coveredInFrame:
 *         whether <body> was inert in that frame (autologoff covers; the peers only call back)
 * and the library's own deadlines for them to window.__deadlines.
 */
export async function arm({ lib, timeoutMs, warnMs = 0 }) {
  // the real clock even under page.clock (run.mjs saves it in an init script before installing the clock)
  const now = window.__realNow || performance.now.bind(performance);
  const wall = () => (window.__RealDate || Date).now();
  const covered = () => document.body.hasAttribute("inert");
  const seen = (window.__seen = {});
  const onWarn = () => { seen.warn ??= wall(); };
  const onLock = () => {
    if (seen.lock) return;
    seen.lock = wall();
    seen.coveredAtLock = covered();
    requestAnimationFrame(() => {
      seen.coveredInFrame = covered();
      const ch = new MessageChannel();
      ch.port1.onmessage = () => { seen.frame = wall(); };
      ch.port2.postMessage(0);
    });
  };

  const t0 = now();
  let t1 = t0;
  if (lib === "none") {
    window.__deadlines = { warn: NaN, lock: NaN };
    window.__active = () => true;
  } else if (lib === "autologoff") {
    const { init } = await import("/pkg/index.js");
    t1 = now();
    const s = await init({ idleTimeoutMs: timeoutMs, warnBeforeMs: warnMs });
    s.addEventListener("warn", onWarn);
    s.addEventListener("lock", onLock);
    const lock = wall() + s.remainingMs();
    window.__deadlines = { warn: lock - warnMs, lock };
    window.__active = () => s.state !== "locked";
  } else if (lib === "react-idle-timer") {
    const { createIdleTimer } = await import("/bench/rit.js");
    t1 = now();
    const api = await createIdleTimer({ timeout: timeoutMs, promptBeforeIdle: warnMs, onPrompt: onWarn, onIdle: onLock });
    const lock = wall() + api.getRemainingTime();
    window.__deadlines = { warn: lock - warnMs, lock };
    window.__active = () => !api.isIdle();
  } else if (lib === "ng-idle") {
    const m = await import("/bench/ngidle.js");
    t1 = now();
    // outside Angular: a pass-through NgZone, and the global Zone that InterruptSource.attach()
    // consults, answering as zone.js's root zone would (zone.js itself, which an Angular app
    // usually loads and which patches every listener and timer of the page, is not measured)
    const zone = { run: (f) => f(), runOutsideAngular: (f) => f() };
    if (!globalThis.Zone) globalThis.Zone = { current: { get: () => undefined } };
    const idle = new m.Idle(new m.SimpleExpiry(), zone, null, "browser");
    const warnS = Math.round(warnMs / 1000);
    idle.setIdle(Math.round(timeoutMs / 1000) - warnS);
    idle.setTimeout(warnS > 0 ? warnS : false);
    idle.setInterrupts(m.DEFAULT_INTERRUPTSOURCES);
    if (warnS > 0) {
      idle.onIdleStart.subscribe(onWarn);
      idle.onTimeout.subscribe(onLock);
    } else {
      idle.onIdleStart.subscribe(onLock);
    }
    idle.watch();
    // expiry.last() is the end of the countdown (idle + timeout), on the page's Date
    const lock = idle.expiry.last().getTime() - Date.now() + wall();
    window.__deadlines = { warn: lock - warnS * 1000, lock };
    window.__active = () => !idle.isIdling();
  } else {
    throw new Error("unknown lib " + lib);
  }
  const t2 = now();
  return { importMs: t1 - t0, constructMs: t2 - t1, totalMs: t2 - t0 };
}
