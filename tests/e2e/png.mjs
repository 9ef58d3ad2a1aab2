// Enough PNG to read the screenshots engines return (8-bit RGB or RGBA, not interlaced),
// and the measure the Back tests use: does a region show the same edges as a reference?
import { inflateSync } from "node:zlib";

/**
 * Decodes a PNG buffer to `{ width, height, lum, px, bpp }`: luminance 0..255 per pixel, and
 * the raw channels (`px[i * bpp]` red, `+ 1` green, `+ 2` blue).
 */
export function decodePng(buf) {
  let p = 8, width = 0, height = 0, type = 0;
  const idat = [];
  while (p < buf.length) {
    const len = buf.readUInt32BE(p), kind = buf.toString("latin1", p + 4, p + 8), d = buf.subarray(p + 8, p + 8 + len);
    if (kind === "IHDR") {
      width = d.readUInt32BE(0); height = d.readUInt32BE(4); type = d[9];
      if (d[8] !== 8 || (type !== 2 && type !== 6) || d[12] !== 0) throw new Error("unsupported PNG");
    } else if (kind === "IDAT") idat.push(d);
    p += 12 + len;
  }
  const bpp = type === 6 ? 4 : 3, stride = width * bpp;
  const raw = inflateSync(Buffer.concat(idat));
  const px = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)], src = y * (stride + 1) + 1, row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? px[row + x - bpp] : 0, b = y ? px[row - stride + x] : 0, c = x >= bpp && y ? px[row - stride + x - bpp] : 0;
      let v = raw[src + x];
      if (f === 1) v += a; else if (f === 2) v += b; else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) { const q = a + b - c, pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c); v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
      px[row + x] = v & 255;
    }
  }
  const lum = new Float32Array(width * height);
  for (let i = 0; i < width * height; i++) lum[i] = 0.299 * px[i * bpp] + 0.587 * px[i * bpp + 1] + 0.114 * px[i * bpp + 2];
  return { width, height, lum, px, bpp };
}

/** How many pixels are close to the colour `[r, g, b]` (each channel within `tol`). */
export function countColor(img, [r, g, b], tol = 40) {
  let n = 0;
  for (let i = 0; i < img.width * img.height; i++) {
    const j = i * img.bpp;
    if (Math.abs(img.px[j] - r) <= tol && Math.abs(img.px[j + 1] - g) <= tol && Math.abs(img.px[j + 2] - b) <= tol) n++;
  }
  return n;
}

/** Edge map (|dx| + |dy| of luminance) of a rectangle `{ x, y, w, h }` (device pixels). */
export function edges(img, r) {
  const out = new Float32Array(r.w * r.h);
  for (let y = 0; y < r.h; y++) {
    for (let x = 0; x < r.w; x++) {
      const X = Math.min(r.x + x, img.width - 2), Y = Math.min(r.y + y, img.height - 2), i = Y * img.width + X;
      out[y * r.w + x] = Math.abs(img.lum[i + 1] - img.lum[i]) + Math.abs(img.lum[i + img.width] - img.lum[i]);
    }
  }
  return out;
}

/** Normalised cross-correlation of two edge maps: ~1 = the same text in the same place, ~0 = not. */
export function similarity(a, b) {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { const x = a[i] - ma, y = b[i] - mb; sab += x * y; saa += x * x; sbb += y * y; }
  return saa && sbb ? sab / Math.sqrt(saa * sbb) : 0;
}

/** Mean edge strength (how much detail a region shows at all). */
export const energy = (e) => e.reduce((s, v) => s + v, 0) / e.length;
