// node bench/heap.mjs: what autologoff adds to the JS heap of the bench page (bench/site.mjs):
// a CDP heap snapshot of the page armed with autologoff and of the no-library page, after a few
// simulated seconds of activity (as bench/run.mjs figure 5), and the difference by object kind
// (snapshot node type + class or name), largest first; plus Runtime.getHeapUsage of both.
import { join } from "node:path";
import { moves } from "./trusted.mjs";
import { launch, ROOT } from "../tests/e2e/lib.mjs";
import { arm } from "./page.mjs";
import { serve } from "./site.mjs";

const PKG = process.env.AUTOLOGOFF_PKG || join(ROOT, "pkg");
const site = await serve(PKG, {});
const browser = await launch();

async function snapshot(lib) {
  const ctx = await browser.newContext();
  await ctx.addInitScript(() => { window.__realNow = performance.now.bind(performance); window.__RealDate = Date; });
  const page = await ctx.newPage();
  await page.clock.install();
  await page.goto(site.url + "/");
  const cdp = await ctx.newCDPSession(page);
  await page.evaluate(arm, { lib, timeoutMs: 900_000 });
  for (let s = 0; s < 10; s++) { await moves(cdp, 20, 20); await page.clock.runFor(1000); }
  await cdp.send("HeapProfiler.enable");
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("HeapProfiler.collectGarbage");
  const used = (await cdp.send("Runtime.getHeapUsage")).usedSize;
  let text = "";
  cdp.on("HeapProfiler.addHeapSnapshotChunk", (e) => { text += e.chunk; });
  await cdp.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false, captureNumericValue: false });
  await ctx.close();
  const snap = JSON.parse(text);
  const m = snap.snapshot.meta, F = m.node_fields, N = F.length;
  const types = m.node_types[0];
  const [ti, ni, si] = ["type", "name", "self_size"].map((f) => F.indexOf(f));
  const by = new Map();
  for (let i = 0; i < snap.nodes.length; i += N) {
    const type = types[snap.nodes[i + ti]];
    let name = snap.strings[snap.nodes[i + ni]];
    if (type === "string" || type === "concatenated string" || type === "sliced string") name = "(strings)";
    else if (type === "code") name = name.startsWith("(") ? name.replace(/ .*/, "") : "(code)";
    else if (type === "closure") name = "(closures)";
    else if (type === "array") name = name.slice(0, 40);
    else name = name.slice(0, 60);
    const k = `${type}: ${name}`;
    const v = by.get(k) || [0, 0];
    v[0] += snap.nodes[i + si]; v[1]++;
    by.set(k, v);
  }
  // the largest single objects of the library's page, with what holds them (BENCH_BIG=n)
  if (process.env.BENCH_BIG) {
    console.log(`largest objects, ${lib}:`);
    const E = snap.snapshot.meta.edge_fields, EN = E.length, ec = F.indexOf("edge_count");
    const [eti, eni, eto] = ["type", "name_or_index", "to_node"].map((f) => E.indexOf(f));
    const etypes = snap.snapshot.meta.edge_types[0];
    const holder = new Map();
    for (let i = 0, e = 0; i < snap.nodes.length; i += N) {
      for (let j = 0; j < snap.nodes[i + ec]; j++, e += EN) {
        const to = snap.edges[e + eto];
        if (!holder.has(to) && etypes[snap.edges[e + eti]] !== "weak") {
          const et = etypes[snap.edges[e + eti]];
          const en = et === "element" || et === "hidden" ? snap.edges[e + eni] : snap.strings[snap.edges[e + eni]];
          holder.set(to, `${types[snap.nodes[i + ti]]} ${snap.strings[snap.nodes[i + ni]].slice(0, 50)} .${en}`);
        }
      }
    }
    const big = [];
    for (let i = 0; i < snap.nodes.length; i += N) big.push(i);
    big.sort((a, b) => snap.nodes[b + si] - snap.nodes[a + si]);
    for (const i of big.slice(0, Number(process.env.BENCH_BIG))) {
      console.log(`  ${(snap.nodes[i + si] / 1024).toFixed(1).padStart(7)} KB  ${types[snap.nodes[i + ti]]} ${snap.strings[snap.nodes[i + ni]].slice(0, 60)}  <- ${holder.get(i)}`);
    }
  }
  return { used, by };
}

const none = await snapshot("none");
const al = await snapshot("autologoff");
console.log(`Runtime.getHeapUsage: none ${(none.used / 1024).toFixed(0)} KB, autologoff ${(al.used / 1024).toFixed(0)} KB, +${((al.used - none.used) / 1024).toFixed(0)} KB`);
const keys = new Set([...none.by.keys(), ...al.by.keys()]);
const diff = [...keys].map((k) => [k, (al.by.get(k)?.[0] || 0) - (none.by.get(k)?.[0] || 0), (al.by.get(k)?.[1] || 0) - (none.by.get(k)?.[1] || 0)]);
const total = diff.reduce((a, [, b]) => a + b, 0);
console.log(`snapshot self size difference: +${(total / 1024).toFixed(0)} KB; largest:`);
for (const [k, b, n] of diff.sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP || 25))) {
  console.log(`  ${(b / 1024).toFixed(1).padStart(7)} KB ${String(n).padStart(6)} objects  ${k}`);
}
await browser.close();
site.close();
