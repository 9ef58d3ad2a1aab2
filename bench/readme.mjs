// node bench/readme.mjs: puts bench/results/bench.md (written by `npm run bench`) into README.md,
// between the <!-- bench:start --> and <!-- bench:end --> markers of its Benchmarks section.
import { readFileSync, writeFileSync } from "node:fs";

const ROOT = new URL("../", import.meta.url).pathname;
const START = "<!-- bench:start -->";
const END = "<!-- bench:end -->";

const readme = readFileSync(ROOT + "README.md", "utf8");
const table = readFileSync(ROOT + "bench/results/bench.md", "utf8").trim();
const from = readme.indexOf(START);
const to = readme.indexOf(END);
if (from < 0 || to < from) {
  console.error(`bench/readme.mjs: README.md has no ${START} … ${END} section`);
  process.exit(1);
}
writeFileSync(ROOT + "README.md", `${readme.slice(0, from + START.length)}\n${table}\n${readme.slice(to)}`);
console.error("bench/readme.mjs: README.md's bench section now holds bench/results/bench.md");
