// The files that ship: every .js and .wasm under a built package directory (sorted).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export function pkgFiles(dir) {
  const files = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(js|wasm)$/.test(f)) files.push(p);
    }
  };
  walk(dir);
  return files.sort();
}
