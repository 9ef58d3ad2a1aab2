// Import autologoff in bare Node (as a server-side render would) and print one JSON line.
// Every browser global the SDK could reach for at import time is trapped first.
const touched = [];
for (const k of ["window", "document", "self", "navigator", "location", "localStorage", "sessionStorage", "BroadcastChannel"]) {
  const had = Object.getOwnPropertyDescriptor(globalThis, k);
  Object.defineProperty(globalThis, k, {
    configurable: true,
    get() {
      touched.push(k);
      return had && (had.get ? had.get.call(globalThis) : had.value);
    },
  });
}
const out = {};
try {
  const m = await import("autologoff");
  out.touchedAtImport = [...touched];
  out.exports = Object.keys(m).sort();
  out.initType = typeof m.init;
  // The contract does not say what init() does outside a browser: record it.
  try {
    const p = m.init({ idleTimeoutMs: 1500 });
    out.initReturnsPromise = p instanceof Promise;
    out.init = await Promise.race([
      p.then(() => "resolved", (e) => `rejected ${e && e.name}: ${e && e.message}`),
      new Promise((r) => setTimeout(() => r("pending after 5 s"), 5000).unref()),
    ]);
  } catch (e) {
    out.init = `threw synchronously ${e && e.name}: ${e && e.message}`;
  }
} catch (e) {
  out.importError = `${e && e.name}: ${e && e.message}`;
}
console.log(JSON.stringify(out));
