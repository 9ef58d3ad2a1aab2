// A React app under `lock.mode: "detach"`: its root leaves the document at lock and comes
// back at unlock. Its state, a controlled input and its event delegation must survive, and
// a render while locked (into the detached tree) must work. No JSX: no plugin needed.
import { createElement as h, useState } from "react";
import { flushSync } from "react-dom";
import { createRoot } from "react-dom/client";
import { init } from "autologoff";

window.errors = [];
addEventListener("error", (e) => window.errors.push(String(e.message)));

function Chart() {
  const [count, setCount] = useState(0);
  const [note, setNote] = useState("");
  window.bump = () => flushSync(() => setCount((c) => c + 1));
  return h("main", { id: "chart" },
    h("h1", null, "Jane Doe, MRN 0000"),
    h("button", { id: "inc", onClick: () => setCount((c) => c + 1) }, `clicked ${count}`),
    h("label", { htmlFor: "note" }, "Note"),
    h("textarea", { id: "note", value: note, onChange: (e) => setNote(e.target.value) }),
    h("p", { id: "echo" }, `note: ${note}`));
}

createRoot(document.getElementById("root")).render(h(Chart));
init({ lock: { mode: "detach" }, idleTimeoutMs: 600_000, crossTab: false }).then(
  (s) => { window.session = s; window.ready = true; },
  (e) => { window.initError = String(e); },
);
