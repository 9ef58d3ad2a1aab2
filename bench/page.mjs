// Functions evaluated inside the bench page (serialised by page.evaluate: self-contained).

/**
 * Arms one library on the page and resolves once it is watching.
 * Each library's "idle" signal (autologoff: body gets `inert`; react-idle-timer: onIdle;
 * @ng-idle/core: onIdleStart) is recorded in window.__idle = { real, wall, sync }.
 */
export async function arm({ lib, timeoutMs, warnMs, traceTimers = false }) {
  // real clock even under page.clock (bench/run.mjs saves it in an init script before installing the clock)
  const now = window.__realNow || performance.now.bind(performance);
  const wall = () => (window.__RealDate ? window.__RealDate.now() : performance.timeOrigin + performance.now());
  window.__idle = null;
  window.__idleNow = () => !!window.__idle;
  window.__timerAt = NaN;
  const signal = () => {
    if (!window.__idle) window.__idle = { real: now(), wall: wall(), fakeWall: Date.now(), timerAt: window.__timerAt };
  };
  if (traceTimers) {
    // note when each timer callback starts (the libraries look setTimeout/setInterval up at call time)
    for (const name of ["setTimeout", "setInterval"]) {
      const orig = window[name];
      window[name] = function (cb, ...rest) {
        if (typeof cb !== "function") return orig.call(window, cb, ...rest);
        return orig.call(window, function (...a) { window.__timerAt = wall(); return cb.apply(this, a); }, ...rest);
      };
    }
  }
  const t0 = now();
  let t1 = t0;
  if (lib === "none") {
    window.__deadline = () => NaN;
    window.__active = () => true;
  } else if (lib === "autologoff") {
    const { init } = await import("/pkg/index.js");
    t1 = now();
    const opts = { idleTimeoutMs: timeoutMs };
    if (warnMs !== undefined) opts.warnBeforeMs = warnMs;
    const s = await init(opts);
    window.__lib = s;
    new MutationObserver(() => { if (document.body.hasAttribute("inert")) signal(); })
      .observe(document.body, { attributes: true, attributeFilter: ["inert"] });
    window.__deadline = () => Date.now() + s.remainingMs();
    window.__active = () => s.state !== "locked";
    window.__idleNow = () => document.body.hasAttribute("inert");
  } else if (lib === "react-idle-timer") {
    const { createIdleTimer } = await import("/bench/rit.js");
    t1 = now();
    const api = await createIdleTimer({ timeout: timeoutMs, promptBeforeIdle: warnMs || 0, onIdle: signal });
    window.__lib = api;
    window.__deadline = () => Date.now() + api.getRemainingTime();
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
    const warnS = Math.round((warnMs || 0) / 1000);
    idle.setIdle(Math.round(timeoutMs / 1000) - warnS);
    idle.setTimeout(warnS > 0 ? warnS : false);
    idle.setInterrupts(m.DEFAULT_INTERRUPTSOURCES);
    (warnS > 0 ? idle.onTimeout : idle.onIdleStart).subscribe(signal);
    idle.watch();
    window.__lib = idle;
    window.__deadline = () => idle.expiry.last().getTime();
    window.__active = () => !idle.isIdling();
  } else {
    throw new Error("unknown lib " + lib);
  }
  const t2 = now();
  return { importMs: t1 - t0, constructMs: t2 - t1, totalMs: t2 - t0 };
}

/** Resolves with the idle signal (or null after `ms` of real time). */
export async function waitIdle(ms) {
  const now = window.__realNow || performance.now.bind(performance);
  const end = now() + ms;
  while (!window.__idle && now() < end) await new Promise((r) => (window.__realSetTimeout || setTimeout)(r, 5));
  return window.__idle;
}

/** Emulated tab switch: hidden now (visibilityState + visibilitychange + blur). */
export function hideTab() {
  window.__vis = "hidden";
  if (!window.__visPatched) {
    window.__visPatched = true;
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => window.__vis });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__vis === "hidden" });
  }
  document.dispatchEvent(new Event("visibilitychange"));
  window.dispatchEvent(new Event("blur"));
}

/** Emulated return to the tab; times the visibilitychange (+ focus) dispatch and says whether
 *  the library was already idle/covered when each dispatch returned (same task). */
export function showTab() {
  const now = window.__realNow || performance.now.bind(performance);
  window.__vis = "visible";
  const t0 = now();
  document.dispatchEvent(new Event("visibilitychange"));
  const t1 = now();
  const afterVis = window.__idleNow();
  window.dispatchEvent(new Event("focus"));
  const t2 = now();
  const afterFocus = window.__idleNow();
  return { t0, visMs: t1 - t0, afterVis, focusMs: t2 - t0, afterFocus };
}
