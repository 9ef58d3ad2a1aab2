// The packaging check's app (the webpack project has the same one): import the
// installed tarball the way a user would, arm a short idle lock, report on window.
import { init } from "autologoff";

window.result = { bundler: "vite", ready: false, initError: null, state: null, warns: [], locks: [] };

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
