//! Options: a JSON-like value tree in, a validated [`Config`] or a [`ConfigError`] out.
//!
//! Pure: the browser edge turns the JS options object into a [`Raw`] tree and this module
//! does every check, so the rules run on the host.

use crate::prelude::*;
use core::fmt;

use super::text::{cat, int, push_uint};

/// A JSON-like value as given by the caller (`undefined` and `null` are both `Null`).
#[derive(Clone, Debug, PartialEq)]
pub enum Raw {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Raw>),
    Obj(Vec<(String, Raw)>),
}

impl Raw {
    /// The type word put before a rendered scalar ("number 5"); arrays and objects
    /// render as "an array of length 2" / "an object" and need none.
    pub fn kind(&self) -> &'static str {
        match self {
            Raw::Bool(_) => "boolean ",
            Raw::Num(_) => "number ",
            Raw::Str(_) => "string ",
            _ => "",
        }
    }
}

impl Raw {
    /// Short, human readable rendering of a value for error messages.
    pub fn render(&self) -> String {
        match self {
            Raw::Null => "null".into(),
            Raw::Bool(b) => (if *b { "true" } else { "false" }).into(),
            Raw::Num(n) => num(*n),
            Raw::Str(s) => {
                let short: String = s.chars().take(60).collect();
                let mut q = quote(&short);
                if short.len() < s.len() {
                    q.push('…');
                }
                q
            }
            Raw::Arr(a) => cat(&["an array of length ", &int(a.len() as i64)]),
            Raw::Obj(_) => "an object".into(),
        }
    }
}

impl fmt::Display for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// A number as JS would show it for the values people type (integers, a few decimals).
fn num(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        (if n > 0.0 { "Infinity" } else { "-Infinity" }).into()
    } else if n.abs() < 1e15 && (n as i64) as f64 == n {
        int(n as i64)
    } else {
        // At most six decimals, without float formatting machinery (it costs ~20 KB of wasm)
        // and without libm (`as` truncates; +0.5 rounds a non-negative value).
        let a = n.abs();
        let mut whole = a as u64;
        let mut frac = ((a - whole as f64) * 1e6 + 0.5) as u64;
        if frac >= 1_000_000 {
            whole += 1;
            frac -= 1_000_000;
        }
        let mut s = String::new();
        if n < 0.0 {
            s.push('-');
        }
        push_uint(&mut s, whole, 1);
        if frac > 0 {
            s.push('.');
            push_uint(&mut s, frac, 6);
            while s.ends_with('0') {
                s.pop();
            }
        }
        s
    }
}

/// `"text"` with quotes and backslashes escaped and control characters blanked.
pub fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => q.push(' '),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Which JS error class a config error maps to at the wasm boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    Type,
    Range,
}

/// A rejected option: every message starts with `autologoff:` and names the option and value.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    NotAnObject {
        value: String,
    },
    UnknownKey {
        path: String,
        value: String,
    },
    WrongType {
        path: String,
        expected: &'static str,
        value: String,
        kind: &'static str,
    },
    Missing {
        path: &'static str,
    },
    OutOfRange {
        path: String,
        value: String,
        min: u64,
        max: u64,
    },
    NotInSet {
        path: String,
        value: String,
        allowed: &'static str,
    },
    WarnTooLong {
        warn: u64,
        idle: u64,
    },
    Invalid {
        path: String,
        value: String,
        why: &'static str,
    },
}

impl ConfigError {
    pub fn class(&self) -> ErrorClass {
        match self {
            ConfigError::NotAnObject { .. }
            | ConfigError::UnknownKey { .. }
            | ConfigError::WrongType { .. }
            | ConfigError::Missing { .. } => ErrorClass::Type,
            _ => ErrorClass::Range,
        }
    }
}

impl ConfigError {
    /// The message a person reads: `autologoff: <option> (<value>) <what is wrong>`.
    pub fn message(&self) -> String {
        let m = match self {
            ConfigError::NotAnObject { value } => cat(&["options must be an object, got ", value]),
            ConfigError::UnknownKey { path, value } => cat(&[
                "unknown option ",
                path,
                " (given ",
                value,
                "); check its spelling",
            ]),
            ConfigError::WrongType {
                path,
                expected,
                value,
                kind,
            } => cat(&[path, " must be ", expected, ", got ", kind, value]),
            ConfigError::Missing { path } => cat(&[path, " is required (given undefined)"]),
            ConfigError::OutOfRange {
                path,
                value,
                min,
                max,
            } => cat(&[
                path,
                " (",
                value,
                ") must be a finite number between ",
                &int(*min as i64),
                " and ",
                &int(*max as i64),
            ]),
            ConfigError::NotInSet {
                path,
                value,
                allowed,
            } => cat(&[path, " (", value, ") must be one of ", allowed]),
            ConfigError::WarnTooLong { warn, idle } => cat(&[
                "warnBeforeMs (",
                &int(*warn as i64),
                ") must be less than idleTimeoutMs (",
                &int(*idle as i64),
                ")",
            ]),
            ConfigError::Invalid { path, value, why } => cat(&[path, " (", value, ") ", why]),
        };
        cat(&["autologoff: ", &m])
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    Blur,
    Hide,
    /// The target's children leave the document while locked (see `web::detach`).
    Detach,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials {
    Omit,
    SameOrigin,
    Include,
}

impl Credentials {
    pub fn as_str(self) -> &'static str {
        match self {
            Credentials::Omit => "omit",
            Credentials::SameOrigin => "same-origin",
            Credentials::Include => "include",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RequestsCfg {
    pub track: bool,
    pub ignore: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServerCfg {
    pub url: String,
    /// Where the user signs in again (a popup from "Sign in again"); the edge checks that it
    /// is a URL of the page's origin and keeps it resolved against the page's URL.
    pub signin: Option<String>,
    pub poll_interval_ms: u64,
    pub keepalive_interval_ms: u64,
    pub headers: Vec<(String, String)>,
    pub credentials: Credentials,
    pub expires_header: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LockCfg {
    pub target: String,
    pub mode: LockMode,
    pub overlay: bool,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PurgeCfg {
    pub session_storage: bool,
    pub local_storage_keys: Vec<String>,
    pub keep_session_keys: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditCfg {
    pub url: String,
}

/// Every option of the contract, validated, with defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub idle_timeout_ms: u64,
    pub warn_before_ms: u64,
    pub absolute_timeout_ms: Option<u64>,
    pub activity_events: Vec<String>,
    pub requests: RequestsCfg,
    pub server: Option<ServerCfg>,
    pub lock: LockCfg,
    pub purge: PurgeCfg,
    pub cross_tab: bool,
    pub audit: Option<AuditCfg>,
    /// Lock (reason `hidden`) when no tab of the origin has been visible this long.
    pub hidden_timeout_ms: Option<u64>,
    /// Lock (reason `screen`) when the OS reports the screen locked (IdleDetector).
    pub screen_lock: bool,
}

pub const DEFAULT_EVENTS: [&str; 6] = [
    "pointerdown",
    "pointermove",
    "keydown",
    "wheel",
    "touchstart",
    "scroll",
];

/// Event types accepted in `activityEvents` (user input only: a typo is an error).
pub const KNOWN_EVENTS: [&str; 17] = [
    "pointerdown",
    "pointermove",
    "pointerup",
    "keydown",
    "keyup",
    "wheel",
    "touchstart",
    "touchmove",
    "touchend",
    "scroll",
    "mousedown",
    "mousemove",
    "mouseup",
    "click",
    "input",
    "focusin",
    "visibilitychange",
];

const IDLE_MIN: u64 = 1_000;
const IDLE_MAX: u64 = 86_400_000;
const ABS_MIN: u64 = 1_000;
const ABS_MAX: u64 = 604_800_000;
const INTERVAL_MIN: u64 = 1_000;
const INTERVAL_MAX: u64 = 3_600_000;

impl Default for Config {
    fn default() -> Self {
        parse(&Raw::Null).expect("defaults are valid")
    }
}

/// One object level being read: tracks the dotted path and rejects unknown keys.
struct Obj<'a> {
    prefix: &'static str,
    fields: &'a [(String, Raw)],
}

impl<'a> Obj<'a> {
    fn new(
        prefix: &'static str,
        v: &'a Raw,
        known: &[&str],
    ) -> Result<Option<Obj<'a>>, ConfigError> {
        match v {
            Raw::Null => Ok(None),
            Raw::Obj(fields) => {
                for (k, val) in fields {
                    if !known.contains(&k.as_str()) && !matches!(val, Raw::Null) {
                        return Err(ConfigError::UnknownKey {
                            path: cat(&[prefix, k]),
                            value: val.render(),
                        });
                    }
                }
                Ok(Some(Obj { prefix, fields }))
            }
            other => Err(ConfigError::NotAnObject {
                value: cat(&[other.kind(), &other.render()]),
            }),
        }
    }

    fn empty(prefix: &'static str) -> Obj<'a> {
        Obj {
            prefix,
            fields: &[],
        }
    }

    fn get(&self, key: &str) -> Option<&'a Raw> {
        self.fields
            .iter()
            .rev()
            .find(|(k, v)| k == key && !matches!(v, Raw::Null))
            .map(|(_, v)| v)
    }

    fn path(&self, key: &str) -> String {
        cat(&[self.prefix, key])
    }

    fn wrong(&self, key: &str, expected: &'static str, v: &Raw) -> ConfigError {
        ConfigError::WrongType {
            path: self.path(key),
            expected,
            value: v.render(),
            kind: v.kind(),
        }
    }

    fn num(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Raw::Num(n)) => {
                let n = *n;
                if !n.is_finite() || n < min as f64 || n > max as f64 {
                    Err(ConfigError::OutOfRange {
                        path: self.path(key),
                        value: num(n),
                        min,
                        max,
                    })
                } else {
                    Ok(Some(n as u64)) // n >= min >= 0: `as` floors
                }
            }
            Some(v) => Err(self.wrong(key, "a number of milliseconds", v)),
        }
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(Raw::Bool(b)) => Ok(*b),
            Some(v) => Err(self.wrong(key, "a boolean", v)),
        }
    }

    fn string(&self, key: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Raw::Str(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.wrong(key, "a string", v)),
        }
    }

    fn nonempty(&self, key: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.string(key)? {
            Some(s) if s.trim_ascii().is_empty() => Err(ConfigError::Invalid {
                path: self.path(key),
                value: quote(s),
                why: "must not be empty",
            }),
            other => Ok(other),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Raw::Arr(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Raw::Str(s) if !s.is_empty() => out.push(s.clone()),
                        Raw::Str(_) => {
                            return Err(ConfigError::Invalid {
                                path: cat(&[&self.path(key), "[", &int(i as i64), "]"]),
                                value: "\"\"".into(),
                                why: "must not be empty",
                            })
                        }
                        v => {
                            return Err(ConfigError::WrongType {
                                path: cat(&[&self.path(key), "[", &int(i as i64), "]"]),
                                expected: "a string",
                                value: v.render(),
                                kind: v.kind(),
                            })
                        }
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(self.wrong(key, "an array of strings", v)),
        }
    }

    fn object(
        &self,
        key: &str,
        prefix: &'static str,
        known: &[&str],
    ) -> Result<Option<Obj<'a>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Raw::Obj(_)) => Obj::new(prefix, v, known),
            Some(v) => Err(self.wrong(key, "an object", v)),
        }
    }
}

/// Validates the caller's options. `Raw::Null` (no options) gives every default.
pub fn parse(raw: &Raw) -> Result<Config, ConfigError> {
    let top = Obj::new(
        "",
        raw,
        &[
            "idleTimeoutMs",
            "warnBeforeMs",
            "absoluteTimeoutMs",
            "activityEvents",
            "requests",
            "server",
            "lock",
            "purge",
            "crossTab",
            "audit",
            "hiddenTimeoutMs",
            "screenLock",
        ],
    )?;
    let empty: Vec<(String, Raw)> = Vec::new();
    let top = top.unwrap_or(Obj {
        prefix: "",
        fields: &empty,
    });

    let idle = top
        .num("idleTimeoutMs", IDLE_MIN, IDLE_MAX)?
        .unwrap_or(900_000);
    let warn = match top.num("warnBeforeMs", 0, IDLE_MAX)? {
        Some(w) if w >= idle => return Err(ConfigError::WarnTooLong { warn: w, idle }),
        Some(w) => w,
        None => (idle / 4).min(60_000),
    };
    let absolute = top.num("absoluteTimeoutMs", ABS_MIN, ABS_MAX)?;
    // Read before anything that owns memory: an error here then has nothing to drop.
    let hidden_timeout_ms = top.num("hiddenTimeoutMs", 0, IDLE_MAX)?;
    let screen_lock = top.bool("screenLock", false)?;

    let activity_events = match top.strings("activityEvents")? {
        None => DEFAULT_EVENTS.iter().map(|s| String::from(*s)).collect(),
        Some(list) => {
            for (i, e) in list.iter().enumerate() {
                if !KNOWN_EVENTS.contains(&e.as_str()) {
                    return Err(ConfigError::NotInSet {
                        path: cat(&["activityEvents[", &int(i as i64), "]"]),
                        value: quote(e),
                        allowed: "the user-input events pointerdown, pointermove, pointerup, \
                                  keydown, keyup, wheel, touchstart, touchmove, touchend, scroll, \
                                  mousedown, mousemove, mouseup, click, input, focusin, \
                                  visibilitychange",
                    });
                }
            }
            let mut unique: Vec<String> = Vec::with_capacity(list.len());
            for e in list {
                if !unique.contains(&e) {
                    unique.push(e);
                }
            }
            unique
        }
    };

    // An absent sub-object reads as an empty one: one code path gives the defaults.
    let o = top
        .object("requests", "requests.", &["track", "ignore"])?
        .unwrap_or(Obj::empty("requests."));
    let requests = RequestsCfg {
        track: o.bool("track", true)?,
        ignore: o.strings("ignore")?.unwrap_or_default(),
    };

    let server = match top.object(
        "server",
        "server.",
        &[
            "url",
            "signin",
            "pollIntervalMs",
            "keepaliveIntervalMs",
            "headers",
            "credentials",
            "expiresHeader",
        ],
    )? {
        None => None,
        Some(o) => {
            let url = o
                .nonempty("url")?
                .ok_or(ConfigError::Missing { path: "server.url" })?;
            let headers = parse_headers(o.get("headers"))?;
            let credentials = match o.string("credentials")? {
                None | Some("same-origin") => Credentials::SameOrigin,
                Some("omit") => Credentials::Omit,
                Some("include") => Credentials::Include,
                Some(other) => {
                    return Err(ConfigError::NotInSet {
                        path: "server.credentials".into(),
                        value: quote(other),
                        allowed: "\"omit\", \"same-origin\", \"include\"",
                    })
                }
            };
            Some(ServerCfg {
                url: url.to_owned(),
                signin: o.nonempty("signin")?.map(String::from),
                poll_interval_ms: o
                    .num("pollIntervalMs", INTERVAL_MIN, INTERVAL_MAX)?
                    .unwrap_or(60_000),
                keepalive_interval_ms: o
                    .num("keepaliveIntervalMs", INTERVAL_MIN, INTERVAL_MAX)?
                    .unwrap_or(60_000),
                headers,
                credentials,
                expires_header: o
                    .nonempty("expiresHeader")?
                    .unwrap_or("Session-Expires")
                    .into(),
            })
        }
    };

    let o = top
        .object("lock", "lock.", &["target", "mode", "overlay", "title"])?
        .unwrap_or(Obj::empty("lock."));
    let lock = LockCfg {
        target: o.nonempty("target")?.unwrap_or("body").into(),
        mode: match o.string("mode")? {
            None | Some("blur") => LockMode::Blur,
            Some("hide") => LockMode::Hide,
            Some("detach") => LockMode::Detach,
            Some(other) => {
                return Err(ConfigError::NotInSet {
                    path: "lock.mode".into(),
                    value: quote(other),
                    allowed: "\"blur\", \"hide\", \"detach\"",
                })
            }
        },
        overlay: o.bool("overlay", true)?,
        title: o.string("title")?.unwrap_or("Session locked").into(),
    };

    let o = top
        .object(
            "purge",
            "purge.",
            &["sessionStorage", "localStorageKeys", "keepSessionKeys"],
        )?
        .unwrap_or(Obj::empty("purge."));
    let purge = PurgeCfg {
        session_storage: o.bool("sessionStorage", true)?,
        local_storage_keys: o.strings("localStorageKeys")?.unwrap_or_default(),
        keep_session_keys: o.strings("keepSessionKeys")?.unwrap_or_default(),
    };

    let cross_tab = top.bool("crossTab", true)?;

    let audit = match top.object("audit", "audit.", &["url"])? {
        None => None,
        Some(o) => Some(AuditCfg {
            url: o
                .nonempty("url")?
                .ok_or(ConfigError::Missing { path: "audit.url" })?
                .into(),
        }),
    };

    Ok(Config {
        hidden_timeout_ms,
        screen_lock,
        idle_timeout_ms: idle,
        warn_before_ms: warn,
        absolute_timeout_ms: absolute,
        activity_events,
        requests,
        server,
        lock,
        purge,
        cross_tab,
        audit,
    })
}

fn parse_headers(v: Option<&Raw>) -> Result<Vec<(String, String)>, ConfigError> {
    match v {
        None => Ok(Vec::new()),
        Some(Raw::Obj(fields)) => {
            let mut out = Vec::new();
            for (k, val) in fields {
                match val {
                    Raw::Str(s) => out.push((k.clone(), s.clone())),
                    Raw::Null => {}
                    other => {
                        return Err(ConfigError::WrongType {
                            path: cat(&["server.headers.", k]),
                            expected: "a string",
                            value: other.render(),
                            kind: other.kind(),
                        })
                    }
                }
            }
            Ok(out)
        }
        Some(other) => Err(ConfigError::WrongType {
            path: "server.headers".into(),
            expected: "an object of header strings",
            value: other.render(),
            kind: other.kind(),
        }),
    }
}

/// `true` when `key` matches a pattern: an exact name, or a prefix ending in `*`.
pub fn key_matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => pattern == key,
    }
}
