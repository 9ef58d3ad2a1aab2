// autologoff: HIPAA automatic logoff for clinical single-page apps.
// Importing this module touches no window or document (SSR-safe); only init() does.
import wasmInit, { start } from "./autologoff.js";
import { fail_closed, failed } from "./glue/lock.js";

let loading = null;
/** The live session (for requestScreenLockPermission). */
let live = null;

function load() {
  if (!loading) {
    // A string, not the URL: wasm-bindgen's check for a Request is then never reached, and
    // the page's Request interface never instantiated (~4 KB of JS heap).
    loading = wasmInit({ module_or_path: new URL("./autologoff_bg.wasm", import.meta.url).href });
  }
  return loading;
}

const isTrap = (e) => typeof WebAssembly !== "undefined" && e instanceof WebAssembly.RuntimeError;

/** The session object: an EventTarget with the members of the contract. */
class AutologoffSession extends EventTarget {
  #h;
  #broken = false;
  #screen = "off";
  #wantScreen = false;
  /** Aborts the IdleDetector. */
  #idle = null;

  constructor() {
    super();
  }

  _attach(handle) {
    this.#h = handle;
  }

  #call(f, fallback) {
    if (this.#broken || failed()) return fallback;
    try {
      return f(this.#h);
    } catch (e) {
      if (isTrap(e)) {
        // The wasm side is unusable: keep the page covered, never open.
        this.#broken = true;
        fail_closed("internal error (trap)");
        return fallback;
      }
      throw e;
    }
  }

  /** "active" | "warning" | "locked" */
  get state() {
    return this.#call((h) => h.state, "locked");
  }

  remainingMs() {
    return this.#call((h) => h.remainingMs(), 0);
  }

  extend() {
    this.#call((h) => h.extend(), undefined);
  }

  lock(reason = "manual") {
    this.#call((h) => h.lock(reason), undefined);
  }

  unlock() {
    return this.#call((h) => h.unlock(), Promise.resolve(false));
  }

  /** "off" | "on" | "unsupported" | "needs-permission" (the screenLock option). */
  get screenLock() {
    return this.#screen;
  }

  destroy() {
    this.#idle?.abort();
    this.#idle = null;
    if (live === this) live = null;
    this.#call((h) => h.destroy(), undefined);
  }

  /**
   * Start the IdleDetector (its start() rejects unless `idle-detection` is granted): a screen
   * reported "locked" locks the session (reason "screen"). `want` = the screenLock option
   * (kept for a later requestScreenLockPermission()).
   */
  async _screen(want = this.#wantScreen) {
    if (!(this.#wantScreen = want) || this.#idle || live != this) return;
    // Read only with the option: the IdleDetector interface is not instantiated otherwise.
    const D = globalThis.IdleDetector;
    if (!D) return void (this.#screen = "unsupported");
    const ac = (this.#idle = new AbortController()), d = new D();
    const check = () => d.screenState == "locked" && this.lock("screen");
    d.onchange = check;
    try {
      await d.start({ threshold: 60_000, signal: ac.signal });
      if (!ac.signal.aborted) check(this.#screen = "on");
    } catch (_) {
      this.#screen = "needs-permission";
      if (this.#idle == ac) this.#idle = null;
    }
  }
}

/**
 * Ask for the `idle-detection` permission (call it from a user gesture). True when granted:
 * a live session with `screenLock: true` then starts its detector.
 */
export async function requestScreenLockPermission() {
  let ok = false;
  try {
    ok = (await globalThis.IdleDetector?.requestPermission()) === "granted";
  } catch (_) {}
  if (ok) await live?._screen();
  return ok;
}

/**
 * Validate the options, arm the session and resolve with it.
 * Rejects with a TypeError or RangeError naming the option and value when they are bad.
 */
export async function init(options) {
  if (typeof document === "undefined") {
    // Server rendering: there is no page to guard (or to cover). Call init on the client.
    throw new Error("autologoff: init() needs a browser page; call it on the client, not during server rendering");
  }
  try {
    await load();
  } catch (e) {
    loading = null;
    fail_closed("autologoff failed to load");
    throw new Error("autologoff: the WebAssembly module failed to load; the page was covered", { cause: e });
  }
  const session = new AutologoffSession();
  // `switch` is cancelable: what dispatchEvent answers tells the wasm whether to reload.
  const emit = (type, detail) => session.dispatchEvent(new CustomEvent(type, { detail, cancelable: type == "switch" }));
  let handle;
  try {
    handle = start(options === undefined ? null : options, emit);
  } catch (e) {
    if (isTrap(e)) fail_closed("internal error (trap)");
    throw e;
  }
  session._attach(handle);
  live = session;
  // Without the option `_screen` has nothing to do: not run, it is not compiled either.
  if (options?.screenLock === true) await session._screen(true);
  return session;
}

export { AutologoffSession };
