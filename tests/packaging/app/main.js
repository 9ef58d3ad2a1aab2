// The packaging check's app, copied by packaging.test.mjs into each bundler project as
// src/main.js: import the installed tarball the way a user would, arm a short idle lock,
// report on window. The bundler's name comes from the page title "… (vite)".
import { init } from "autologoff";

window.result = { bundler: (document.title.match(/\((\w+)\)$/) || [])[1], ready: false, initError: null, state: null, warns: [], locks: [] };

init({ idleTimeoutMs: 1500, warnBeforeMs: 500, crossTab: false }).then(
  (session) => {
    window.session = session;
    session.addEventListener("warn", (e) => window.result.warns.push(e.detail));
    session.addEventListener("lock", (e) => {
      window.result.locks.push(e.detail);
      window.result.state = session.state;
    });
    window.result.state = session.state;
    window.result.ready = true;
  },
  (e) => {
    window.result.initError = `${e && e.name}: ${e && e.message}${e && e.cause ? ` (cause: ${e.cause})` : ""}`;
  },
);
