// The ward page's own script: polling, an event stream and a WebSocket. No autologoff code:
// the gateway in front (--inject-sdk) puts the SDK on the page (ward-sdk.js is the
// hand-written alternative, WARD_SDK=app).
const $ = (id) => document.getElementById(id);

async function poll() {
  const r = await fetch("/api/vitals");
  $("expires").textContent = new Date(Number(r.headers.get("session-expires"))).toLocaleTimeString();
  if (!r.ok) return;
  const { vitals } = await r.json();
  $("vitals").replaceChildren(...vitals.map((v) => {
    const tr = document.createElement("tr");
    for (const x of [v.name, v.hr, v.spo2]) tr.append(Object.assign(document.createElement("td"), { textContent: x }));
    return tr;
  }));
}
setInterval(poll, 2000);
poll();

let events = 0;
new EventSource("/events").onmessage = () => { $("sse").textContent = ++events; };
let messages = 0;
new WebSocket(`ws://${location.host}/ws`).onmessage = () => { $("ws").textContent = ++messages; };
