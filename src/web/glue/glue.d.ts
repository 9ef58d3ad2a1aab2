// The values the glue's modules hand the wasm and take back: the wasm holds them as opaque
// JS values and passes them to the module that made them. Checked by the types tier
// (tests/types/glue.tsconfig.json) against the modules' `// @ts-check` JSDoc.

/** A callback into the wasm: one closure shape for every listener, timer and request. */
export type WasmCallback = (value?: unknown) => unknown;

/** `watch_input`: the trusted-input listener's state, shared with the wasm's throttle. */
export interface InputWatch {
  /** The newest trusted input (ms since the epoch) the wasm has not been told about. */
  last: number;
  /** The first input at or after this time is passed on (the 1 s throttle). */
  next: number;
  /** Every input is passed on (the warning is shown). */
  all: boolean;
  /** The deaf timers of the event kinds noted last. */
  deaf: Record<string, ReturnType<typeof setTimeout>>;
  /** Every kind heard again at once. */
  hear: () => void;
  off: () => void;
}

/** `cover`: what the lock changed on its target (and the body), for `recover` and `uncover`. */
export interface Cover {
  t: HTMLElement;
  prop: string;
  value: string;
  /** The property's value and priority before, and whether a style attribute was there. */
  v: string;
  p: string;
  a: boolean;
  /** Each element made inert: `[element, inert before, aria-hidden before]`. */
  saved: [Element, string | null, string | null][];
}

/**
 * `overlay`: the overlay's elements with the inline style each was given (and, once checked,
 * what this engine serializes for it), plus its listeners' removal and whether the root's
 * styles were reverted.
 */
export type OverlaySaved = [[HTMLDialogElement, string, string?], [HTMLElement, string, string?], [HTMLElement, string, string?]] & {
  off: () => void;
  root?: unknown;
};

/** `warning`: the warning dialog while it is shown. */
export interface Warning {
  /** Its deadline (ms since the epoch). */
  dl: number;
  /** The element that had focus before it. */
  f: HTMLElement | null;
  d: HTMLDialogElement;
  tick: () => void;
  /** The countdown's interval. */
  i: ReturnType<typeof setInterval>;
  off: () => void;
  /** Set when a lock removes it (focus is then the overlay's). */
  h?: number;
}

/** `detach`: the lock target's content held out of the document. */
export interface Detached {
  t: Element;
  /** The held nodes; null once put back. */
  f: DocumentFragment | null;
  /** The focus inside the target, for `attach`. */
  a: HTMLElement | null;
  x: number;
  y: number;
  l: number;
  p: number;
  /** False while the page is still parsed (only hidden until DOMContentLoaded). */
  on: boolean;
}

/** One queued audit record: `[tab, seq, JSON]`. */
export type Queued = [string, number, string];

/** `audit_log`: this tab's audit log and its queue. */
export interface AuditLog {
  delivers: boolean;
  tab: string;
  seq: number;
  pending: Queued[];
}

/** `audit_take`: one batch in flight. */
export interface AuditBatch {
  body: string;
  keys: Queued[];
  /** The localStorage keys of other tabs' queues taken over. */
  adopted: string[];
}

/** `channel`: the tabs' channel (a BroadcastChannel, or the `storage` event without one). */
export interface Channel {
  bc: BroadcastChannel | null;
  off: () => void;
}
