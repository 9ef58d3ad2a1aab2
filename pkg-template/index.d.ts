/** Why the page was locked. */
export type LockReason = "idle" | "absolute" | "server" | "remote" | "manual" | "hidden" | "screen";
/** `session.screenLock`: whether the OS screen lock is watched (final when init resolves). */
export type ScreenLockStatus = "off" | "on" | "unsupported" | "needs-permission";
export type SessionState = "active" | "warning" | "locked";
export type ActivitySource = "input" | "request" | "remote";
export type AuditType =
  | "warn" | "extend" | "lock" | "unlock" | "tamper" | "server-expired" | "purge" | "error" | "switch";

export interface ServerOptions {
  /** The session endpoint: GET = status, POST = keepalive, DELETE = end. Required. */
  url: string;
  /**
   * A URL of the page's origin (resolved against the page's URL) where the user signs in
   * again: "Sign in again" opens it in a popup that keeps `window.opener`, so the locked page
   * and its unsaved draft stay; it unlocks (if the server confirms) when the popup posts
   * `{ autologoff: "signed-in" }` or is closed. A blocked popup navigates there. Default null.
   */
  signin?: string | null;
  /** 1000 ..= 3600000, default 60000. */
  pollIntervalMs?: number;
  /** 1000 ..= 3600000, default 60000. */
  keepaliveIntervalMs?: number;
  headers?: Record<string, string>;
  credentials?: "omit" | "same-origin" | "include";
  /** Response header carrying the server's expiry (unix ms). Default "Session-Expires". */
  expiresHeader?: string;
}

export interface AutologoffOptions {
  /** Inactivity before lock, 1000 ..= 86400000 ms. Default 900000 (15 min). */
  idleTimeoutMs?: number;
  /** Warning period before the lock; 0 = none; must be < idleTimeoutMs. */
  warnBeforeMs?: number;
  /** Lock this long after init/unlock whatever the activity, 1000 ..= 604800000 ms. */
  absoluteTimeoutMs?: number | null;
  /** Trusted events that count as activity. */
  activityEvents?: string[];
  requests?: { track?: boolean; ignore?: string[] };
  server?: ServerOptions | null;
  /**
   * What is covered while locked. `mode: "detach"` takes the target's child nodes out of
   * the document and puts the same nodes back at unlock (see the README for what does
   * not survive: iframes reload, media pauses).
   */
  lock?: { target?: string; mode?: "blur" | "hide" | "detach"; overlay?: boolean; title?: string };
  purge?: { sessionStorage?: boolean; localStorageKeys?: string[]; keepSessionKeys?: string[] };
  crossTab?: boolean;
  audit?: { url: string } | null;
  /**
   * Lock (reason "hidden") when no tab of the origin has been visible this long,
   * 0 ..= 86400000 ms (0 = as soon as the last one is hidden; with crossTab at least 1 s,
   * the time another tab of the app has to say it is in front). Default null (off).
   */
  hiddenTimeoutMs?: number | null;
  /** Lock (reason "screen") when the OS reports the screen locked (IdleDetector). Default false. */
  screenLock?: boolean;
}

export interface AuditRecord {
  seq: number;
  type: AuditType;
  /** ISO-8601 UTC. */
  at: string;
  reason?: string;
  tab: string;
}

export interface AutologoffEventMap {
  warn: CustomEvent<{ remainingMs: number; deadline: number }>;
  lock: CustomEvent<{ reason: LockReason; at: number }>;
  unlock: CustomEvent<{ at: number }>;
  activity: CustomEvent<{ source: ActivitySource; at: number }>;
  signin: CustomEvent<Record<string, never>>;
  /**
   * A different user signed in at this locked page (the server's `user`): it is never
   * uncovered, and it reloads after this event unless a listener calls `preventDefault()`.
   */
  switch: CustomEvent<Record<string, never>>;
  audit: CustomEvent<AuditRecord>;
}

export interface AutologoffSession extends EventTarget {
  readonly state: SessionState;
  /** Whether the OS screen lock is watched (`screenLock` option). */
  readonly screenLock: ScreenLockStatus;
  /** Milliseconds until the lock (0 when locked). */
  remainingMs(): number;
  /** The user chose to stay: counts as activity and sends a keepalive. */
  extend(): void;
  lock(reason?: LockReason): void;
  /** Resolves true once re-authentication is confirmed (by GET server.url when set). */
  unlock(): Promise<boolean>;
  /** Removes every listener, timer, patch and DOM change. */
  destroy(): void;
  addEventListener<K extends keyof AutologoffEventMap>(
    type: K,
    listener: (this: AutologoffSession, ev: AutologoffEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof AutologoffEventMap>(
    type: K,
    listener: (this: AutologoffSession, ev: AutologoffEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

/** The class behind every session, for `instanceof`; sessions come from `init()` only. */
export declare const AutologoffSession: {
  readonly prototype: AutologoffSession;
  new (...args: never[]): AutologoffSession;
};

/**
 * Ask for the `idle-detection` permission (call it from a user gesture). Resolves true when
 * granted (a live session with `screenLock: true` then starts watching and reports "on"),
 * false when denied or unsupported.
 */
export function requestScreenLockPermission(): Promise<boolean>;

/** Validate the options and arm the session. Rejects with TypeError / RangeError on bad options. */
export function init(options?: AutologoffOptions | null): Promise<AutologoffSession>;
