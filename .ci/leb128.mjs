// Unsigned LEB128, the wasm binary format's integers, for the build steps that rewrite
// sections of the module (.ci/shrink-imports.mjs, .ci/strip-fmt.mjs).

/** The integer at `b[p]` and the position after it. */
export function readLeb(b, p) {
  let r = 0, s = 0, x;
  do { x = b[p++]; r += (x & 0x7f) * 2 ** s; s += 7; } while (x & 0x80);
  return [r, p];
}

/** `n` encoded. */
export function encLeb(n) {
  const out = [];
  do { let x = n & 0x7f; n = Math.floor(n / 128); if (n) x |= 0x80; out.push(x); } while (n);
  return Buffer.from(out);
}
