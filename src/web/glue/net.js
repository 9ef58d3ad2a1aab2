// @ts-check
// The SDK's own requests (src/web/net.rs), through the page's fetch as it was before
// the request patch (src/web/glue/requests.js) wrapped it.

import { G } from "./util.js";

let origFetch = null;

/** The page's fetch before the patch (null: not patched). */
export function use_fetch(f) {
  origFetch = f;
}

/** The page's fetch as it was before autologoff patched it (our own requests use it). */
function raw_fetch(url, init) {
  return (origFetch || G.fetch).call(G, url, init);
}

/**
 * One of the SDK's own requests (session protocol, audit batch): never counted as
 * activity, `cache: no-store`, aborted after `timeoutMs`. Calls `done([status, body, err])`
 * exactly once: status 0 when no answer came (err = the error's name); for a 200 with
 * `json`, body is the parsed answer, or err = "SyntaxError" when it is not JSON.
 */
export function send(url, method, credentials, headers, body, keepalive, json, timeoutMs, done) {
  const h = {};
  for (let i = 0; i + 1 < headers.length; i += 2) h[headers[i]] = headers[i + 1];
  const init = { method, credentials, headers: h, cache: "no-store", keepalive };
  if (body != null) init.body = body;
  try { init.signal = AbortSignal.timeout(timeoutMs); } catch (_) {}
  let p;
  try { p = raw_fetch(url, init); } catch (e) { p = Promise.reject(e); }
  p.then(
    (r) => json && r.status === 200
      ? r.json().then((b) => [200, b, null], () => [200, undefined, "SyntaxError"])
      : [r.status, undefined, null],
    (e) => [0, undefined, String((e && e.name) || "Error")]
  ).then(done);
}
