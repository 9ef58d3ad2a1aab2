//! Connection handling and routing.

use crate::http::{self, Body, HttpError, RequestHead, Response};
use crate::json::{self, quote, Json};
use crate::state::{parse_audit_body, Mode, State};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";
pub const AUDIT_BODY_LIMIT: u64 = 1024 * 1024;
const SMALL_BODY_LIMIT: u64 = 64 * 1024;
const UPLOAD_LIMIT: u64 = 1024 * 1024 * 1024;
const SLOW_CAP_MS: u64 = 30_000;
const HANG_SECS: u64 = 120;
const IO_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub root: PathBuf,
    pub pkg: PathBuf,
    pub idle_secs: u64,
    pub absolute_secs: u64,
    pub audit_file: PathBuf,
    pub test_hooks: bool,
    /// Value of `Clear-Site-Data` on `DELETE /session`; empty = not sent.
    pub clear_site_data: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 8080,
            root: PathBuf::from("www-demo"),
            pkg: PathBuf::from("pkg"),
            idle_secs: 900,
            absolute_secs: 43_200,
            audit_file: PathBuf::from("www-demo/audit.jsonl"),
            test_hooks: false,
            clear_site_data: "\"cache\", \"storage\"".into(),
        }
    }
}

pub const USAGE: &str =
    "usage: autologoff-demo-server [--host 127.0.0.1] [--port 8080] [--root www-demo] [--pkg pkg]
       [--idle-secs 900] [--absolute-secs 43200] [--audit-file www-demo/audit.jsonl]
       [--clear-site-data '\"cache\", \"storage\"'] [--test-hooks]";

impl Config {
    /// Parses CLI arguments (without the program name). `--flag value` and
    /// `--flag=value` are both accepted.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Config, String> {
        let mut cfg = Config::default();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            if flag == "--test-hooks" {
                if inline.is_some() {
                    return Err("--test-hooks takes no value".into());
                }
                cfg.test_hooks = true;
                continue;
            }
            if flag == "--help" || flag == "-h" {
                return Err(String::new());
            }
            let known = [
                "--host",
                "--port",
                "--root",
                "--pkg",
                "--idle-secs",
                "--absolute-secs",
                "--audit-file",
                "--clear-site-data",
            ];
            if !known.contains(&flag.as_str()) {
                return Err(format!("unknown argument {arg:?}"));
            }
            let value = match inline {
                Some(v) => v,
                None => it.next().ok_or_else(|| format!("{flag} needs a value"))?,
            };
            let num = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| format!("{flag}: not a number: {v:?}"))
            };
            match flag.as_str() {
                "--host" => cfg.host = value,
                "--port" => {
                    cfg.port = value
                        .parse()
                        .map_err(|_| format!("--port: invalid port {value:?}"))?
                }
                "--root" => cfg.root = PathBuf::from(value),
                "--pkg" => cfg.pkg = PathBuf::from(value),
                "--idle-secs" => cfg.idle_secs = num(&value)?,
                "--absolute-secs" => cfg.absolute_secs = num(&value)?,
                "--audit-file" => cfg.audit_file = PathBuf::from(value),
                "--clear-site-data" => cfg.clear_site_data = value,
                _ => unreachable!(),
            }
        }
        if cfg.idle_secs == 0 || cfg.absolute_secs == 0 {
            return Err("--idle-secs and --absolute-secs must be > 0".into());
        }
        Ok(cfg)
    }
}

pub struct Ctx {
    pub cfg: Config,
    pub state: Mutex<State>,
}

impl Ctx {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn real_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// 32 random bytes from /dev/urandom, hex-encoded.
pub fn random_token() -> std::io::Result<String> {
    let mut buf = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn valid_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Loads an existing audit file into the state. Unparsable lines are skipped
/// (with a warning); a missing file is fine.
pub fn load_audit(state: &mut State, path: &Path) -> std::io::Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut records = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match crate::state::AuditRecord::from_line(line) {
            Some(r) => records.push(r),
            None => eprintln!(
                "warning: {}:{}: skipping unreadable audit line",
                path.display(),
                n + 1
            ),
        }
    }
    Ok(state.audit_commit(records))
}

enum Outcome {
    Respond(Response),
    /// Test mode `hang`: hold the connection open without answering.
    Hang,
}

impl From<Response> for Outcome {
    fn from(r: Response) -> Self {
        Outcome::Respond(r)
    }
}

impl From<HttpError> for Response {
    fn from(e: HttpError) -> Self {
        Response::text(e.status, e.reason)
    }
}

fn log_path(path: &str) -> String {
    path.chars()
        .take(200)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

fn graceful_close(stream: &mut TcpStream) {
    // Half-close, then drain what the client still sends (an unread body) so
    // that the kernel does not answer with a RST that could eat the response.
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0usize;
    while total < 16 * 1024 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

pub fn handle_connection(mut stream: TcpStream, ctx: Arc<Ctx>) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let (head, rest) = match http::read_head(&mut stream) {
        Ok(x) => x,
        Err(e) if e.status == 0 => return,
        Err(e) => {
            eprintln!("- - {}", e.status);
            let _ = Response::from(e).write_to(&mut stream);
            graceful_close(&mut stream);
            return;
        }
    };
    let outcome = {
        let mut body = Body::new(&head, rest, &mut stream);
        route(&ctx, &head, &mut body)
    };
    match outcome {
        Outcome::Respond(resp) => {
            eprintln!("{} {} {}", head.method, log_path(&head.path), resp.status);
            let _ = resp.write_to(&mut stream);
            graceful_close(&mut stream);
        }
        Outcome::Hang => {
            eprintln!("{} {} hang", head.method, log_path(&head.path));
            std::thread::sleep(Duration::from_secs(HANG_SECS));
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn method_not_allowed(allow: &str) -> Outcome {
    Response::text(405, "method not allowed")
        .header("Allow", allow)
        .into()
}

fn route<R: Read>(ctx: &Ctx, head: &RequestHead, body: &mut Body<R>) -> Outcome {
    let m = head.method.as_str();
    let p = head.path.as_str();
    let token = head.cookie("sid").filter(|t| valid_token(t));
    match p {
        "/login" => match m {
            "POST" => login(ctx, head, body, token).into(),
            _ => method_not_allowed("POST"),
        },
        "/session" => session(ctx, m, body, token),
        "/audit" => match m {
            "POST" => post_audit(ctx, body).into(),
            "GET" => Response::json(200, ctx.lock().audit_json()).into(),
            _ => method_not_allowed("GET, POST"),
        },
        _ if p.starts_with("/api/") => api(ctx, head, body, token).into(),
        _ if p.starts_with("/__test/") => {
            if ctx.cfg.test_hooks {
                test_hook(ctx, m, p, body).into()
            } else {
                Response::text(404, "not found").into()
            }
        }
        _ => match m {
            "GET" | "HEAD" => {
                let mut r = serve_static(&ctx.cfg, head);
                r.head_only = m == "HEAD";
                r.into()
            }
            _ => method_not_allowed("GET, HEAD"),
        },
    }
}

fn read_json<R: Read>(body: &mut Body<R>, limit: u64) -> Result<Json, Response> {
    let bytes = body.read_all(limit).map_err(Response::from)?;
    json::parse(&bytes).map_err(|e| Response::json_error(400, &e.to_string()))
}

fn valid_user(u: &str) -> bool {
    u.chars().count() <= 64 && !u.chars().any(char::is_control)
}

fn login<R: Read>(
    ctx: &Ctx,
    head: &RequestHead,
    body: &mut Body<R>,
    old: Option<&str>,
) -> Response {
    let bytes = match body.read_all(SMALL_BODY_LIMIT) {
        Ok(b) => b,
        Err(e) => return e.into(),
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t.trim(),
        Err(_) => return Response::json_error(400, "body is not UTF-8"),
    };
    let ct = head
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_json =
        !ct.contains("x-www-form-urlencoded") && (ct.contains("json") || text.starts_with('{'));
    let user: Option<String> = if text.is_empty() {
        None
    } else if is_json {
        match json::parse_str(text) {
            Ok(v @ Json::Obj(_)) => match v.get("user") {
                None | Some(Json::Null) => None,
                Some(Json::Str(s)) => Some(s.clone()),
                Some(_) => return Response::json_error(400, "user must be a string"),
            },
            Ok(_) => return Response::json_error(400, "login body must be a JSON object"),
            Err(e) => return Response::json_error(400, &e.to_string()),
        }
    } else {
        let mut user = None;
        for pair in text.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if http::form_decode(k).as_deref() == Some("user") {
                match http::form_decode(v) {
                    Some(v) => user = Some(v),
                    None => return Response::json_error(400, "bad form encoding"),
                }
            }
        }
        user
    };
    let user = user
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "clinician".to_string());
    if !valid_user(&user) {
        return Response::json_error(
            400,
            "user must be at most 64 characters without control characters",
        );
    }
    let token = match random_token() {
        Ok(t) => t,
        Err(_) => return Response::json_error(500, "no randomness available"),
    };
    let now = ctx.lock().clock(real_now_ms());
    let info = ctx.lock().login(old, token.clone(), user, now);
    Response::json(200, info.to_json(true)).header(
        "Set-Cookie",
        format!("sid={token}; HttpOnly; SameSite=Strict; Path=/"),
    )
}

fn session<R: Read>(ctx: &Ctx, method: &str, body: &mut Body<R>, token: Option<&str>) -> Outcome {
    match method {
        "GET" | "POST" => {
            if method == "POST" {
                if let Err(e) = body.discard(SMALL_BODY_LIMIT) {
                    return Response::from(e).into();
                }
            }
            let mut st = ctx.lock();
            if method == "GET" {
                st.get_requests += 1;
            } else {
                st.keepalive_requests += 1;
            }
            match st.mode {
                Mode::Normal => {}
                Mode::Garbage => {
                    let mut r = Response::json(200, String::new());
                    r.body = b"not json{".to_vec();
                    return r.into();
                }
                Mode::Hang => return Outcome::Hang,
                Mode::Error500 => {
                    return Response::json_error(500, "internal server error (test mode)").into()
                }
                Mode::BadJsonFields => {
                    return Response::json(200, "{\"expiresAt\":\"soon\"}".into()).into()
                }
            }
            let now = st.clock(real_now_ms());
            let info = if method == "GET" {
                st.status(token, now)
            } else {
                st.keepalive(token, now)
            };
            match info {
                Some(i) => Response::json(200, i.to_json(false)).into(),
                None => Response::json_error(401, "no session").into(),
            }
        }
        "DELETE" => {
            {
                let mut st = ctx.lock();
                st.delete_requests += 1;
                if let Some(t) = token {
                    st.end(t);
                }
            }
            let mut r = Response::new(204)
                .header("Cache-Control", "no-store")
                .header(
                    "Set-Cookie",
                    "sid=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/",
                );
            if !ctx.cfg.clear_site_data.is_empty() {
                r = r.header("Clear-Site-Data", ctx.cfg.clear_site_data.clone());
            }
            r.into()
        }
        _ => method_not_allowed("GET, POST, DELETE"),
    }
}

fn post_audit<R: Read>(ctx: &Ctx, body: &mut Body<R>) -> Response {
    let bytes = match body.read_all(AUDIT_BODY_LIMIT) {
        Ok(b) => b,
        Err(e) if e.status == 413 => {
            return Response::json_error(413, "audit body larger than 1 MB")
        }
        Err(e) => return e.into(),
    };
    let mut st = ctx.lock();
    let now = st.clock(real_now_ms());
    let records = match parse_audit_body(&bytes, now) {
        Ok(r) => r,
        Err(e) => return Response::json_error(400, &e),
    };
    let (fresh, dups) = st.audit_new(records);
    if !fresh.is_empty() {
        let mut lines = String::new();
        for r in &fresh {
            lines.push_str(&r.to_json());
            lines.push('\n');
        }
        let path = &ctx.cfg.audit_file;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(lines.as_bytes()).and_then(|_| f.flush()));
        if let Err(e) = written {
            eprintln!("error: cannot append to audit file {}: {e}", path.display());
            return Response::json_error(500, "audit file write failed");
        }
    }
    let accepted = st.audit_commit(fresh);
    Response::json(
        200,
        format!("{{\"accepted\":{accepted},\"duplicates\":{dups}}}"),
    )
}

// ---------------------------------------------------------------- synthetic API

const PATIENTS: u32 = 12;
const WARDS: [&str; 3] = [
    "Ward A (synthetic)",
    "Ward B (synthetic)",
    "ICU (synthetic)",
];

fn patient_json(id: u32) -> String {
    format!(
        "{{\"id\":{id},\"name\":\"Test Patient {id:02}\",\"mrn\":\"SYN-{id:04}\",\"dob\":\"19{:02}-{:02}-{:02}\",\"ward\":{},\"synthetic\":true}}",
        40 + id * 3,
        1 + id % 12,
        1 + (id * 7) % 28,
        quote(WARDS[(id % 3) as usize])
    )
}

fn patient_detail_json(id: u32) -> String {
    let base = patient_json(id);
    let base = &base[..base.len() - 1];
    format!(
        "{base},\"allergies\":[\"None known (synthetic)\"],\"problems\":[\"Synthetic condition {}\"],\"notes\":[\"Fake note for demo purposes only.\"]}}",
        (b'A' + (id % 26) as u8) as char
    )
}

/// A small xorshift generator for plausible-looking vitals.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn vitals_json(patient: u32, at: u64) -> String {
    let mut r = Rng::new();
    let temp_tenths = r.range(361, 379);
    format!(
        "{{\"patientId\":{patient},\"heartRate\":{},\"bpSystolic\":{},\"bpDiastolic\":{},\"spo2\":{},\"respRate\":{},\"tempC\":{}.{},\"at\":{at},\"synthetic\":true}}",
        r.range(58, 104),
        r.range(100, 142),
        r.range(60, 92),
        r.range(94, 100),
        r.range(12, 20),
        temp_tenths / 10,
        temp_tenths % 10
    )
}

fn api<R: Read>(
    ctx: &Ctx,
    head: &RequestHead,
    body: &mut Body<R>,
    token: Option<&str>,
) -> Response {
    let m = head.method.as_str();
    let p = head.path.as_str();
    let touch = |ctx: &Ctx| {
        let mut st = ctx.lock();
        let now = st.clock(real_now_ms());
        st.touch(token, now).map(|i| (i, now))
    };
    let Some((info, now)) = touch(ctx) else {
        if m == "POST" {
            // Read the (bounded) body so that the client sees the 401 rather than a reset.
            let _ = body.discard(UPLOAD_LIMIT);
        }
        return Response::json_error(401, "session expired");
    };
    let with_expiry =
        |r: Response, expires_at: u64| r.header("Session-Expires", expires_at.to_string());

    let resp = match (m, p) {
        ("GET", "/api/patients") => {
            let items: Vec<String> = (1..=PATIENTS).map(patient_json).collect();
            Response::json(200, format!("[{}]", items.join(",")))
        }
        ("GET", _) if p.starts_with("/api/patients/") => {
            let id = &p["/api/patients/".len()..];
            match id.parse::<u32>() {
                Ok(n)
                    if (1..=PATIENTS).contains(&n)
                        && !id.starts_with('0')
                        && !id.starts_with('+') =>
                {
                    Response::json(200, patient_detail_json(n))
                }
                _ => Response::json_error(404, "no such patient"),
            }
        }
        ("GET", "/api/vitals") => {
            let patient = head
                .query_param("patient")
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(1);
            Response::json(200, vitals_json(patient.clamp(1, PATIENTS), now))
        }
        ("POST", "/api/notes") => match body.read_all(AUDIT_BODY_LIMIT) {
            Err(e) => Response::json_error(e.status, e.reason),
            Ok(bytes) => match json::parse(&bytes) {
                Ok(_) => Response::json(
                    200,
                    format!("{{\"stored\":true,\"length\":{}}}", bytes.len()),
                ),
                Err(e) => Response::json_error(400, &e.to_string()),
            },
        },
        ("GET", "/api/slow") => {
            let ms = match head.query_param("ms") {
                None => 1000,
                Some(v) => match v.parse::<u64>() {
                    Ok(n) => n.min(SLOW_CAP_MS),
                    Err(_) => {
                        return with_expiry(
                            Response::json_error(400, "ms must be an integer"),
                            info.expires_at,
                        )
                    }
                },
            };
            std::thread::sleep(Duration::from_millis(ms));
            return match touch(ctx) {
                Some((end, _)) => with_expiry(
                    Response::json(200, format!("{{\"sleptMs\":{ms}}}")),
                    end.expires_at,
                ),
                None => Response::json(200, format!("{{\"sleptMs\":{ms}}}")),
            };
        }
        ("POST", "/api/upload") => {
            return match body.discard(UPLOAD_LIMIT) {
                Err(e) => Response::json_error(e.status, e.reason),
                Ok(n) => {
                    let r = Response::json(200, format!("{{\"bytes\":{n}}}"));
                    match touch(ctx) {
                        Some((end, _)) => with_expiry(r, end.expires_at),
                        None => r,
                    }
                }
            };
        }
        (_, "/api/patients" | "/api/vitals" | "/api/slow") => {
            Response::json_error(405, "method not allowed").header("Allow", "GET")
        }
        (_, "/api/notes" | "/api/upload") => {
            Response::json_error(405, "method not allowed").header("Allow", "POST")
        }
        _ if p.starts_with("/api/patients/") => {
            Response::json_error(405, "method not allowed").header("Allow", "GET")
        }
        _ => Response::json_error(404, "no such endpoint"),
    };
    with_expiry(resp, info.expires_at)
}

// ---------------------------------------------------------------- test hooks

fn test_hook<R: Read>(ctx: &Ctx, m: &str, p: &str, body: &mut Body<R>) -> Response {
    match (m, p) {
        ("POST", "/__test/mode") => {
            let v = match read_json(body, SMALL_BODY_LIMIT) {
                Ok(v) => v,
                Err(r) => return r,
            };
            match v.get("mode").and_then(Json::as_str).and_then(Mode::parse) {
                Some(mode) => {
                    ctx.lock().mode = mode;
                    Response::json(200, format!("{{\"mode\":{}}}", quote(mode.name())))
                }
                None => Response::json_error(
                    400,
                    "mode must be one of normal, garbage, hang, 500, badjson-fields",
                ),
            }
        }
        ("POST", "/__test/clock") => {
            let v = match read_json(body, SMALL_BODY_LIMIT) {
                Ok(v) => v,
                Err(r) => return r,
            };
            match v.get("offsetMs").and_then(Json::as_i64) {
                Some(off) if off.unsigned_abs() <= 10 * 365 * 86_400_000 => {
                    let mut st = ctx.lock();
                    st.clock_offset_ms = off;
                    let now = st.clock(real_now_ms());
                    Response::json(200, format!("{{\"offsetMs\":{off},\"serverTime\":{now}}}"))
                }
                _ => {
                    Response::json_error(400, "offsetMs must be an integer (|offset| <= 10 years)")
                }
            }
        }
        ("GET", "/__test/stats") => {
            let st = ctx.lock();
            let now = st.clock(real_now_ms());
            Response::json(200, st.stats_json(now))
        }
        ("POST", "/__test/reset") => {
            ctx.lock().reset();
            Response::json(200, "{\"ok\":true}".into())
        }
        ("POST", "/__test/expire") => {
            ctx.lock().expire_all();
            Response::json(200, "{\"ok\":true}".into())
        }
        (_, "/__test/mode" | "/__test/clock" | "/__test/reset" | "/__test/expire") => {
            Response::text(405, "method not allowed").header("Allow", "POST")
        }
        (_, "/__test/stats") => Response::text(405, "method not allowed").header("Allow", "GET"),
        _ => Response::text(404, "not found"),
    }
}

// ---------------------------------------------------------------- static files

pub fn mime_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "txt" | "md" | "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Maps a URL path to a file below `root`/`pkg`. `Err` is the response to
/// send instead (400 for traversal attempts, 404 otherwise).
pub fn resolve_static(cfg: &Config, raw_path: &str) -> Result<PathBuf, Response> {
    if raw_path.starts_with("//") {
        return Err(Response::text(400, "bad path"));
    }
    let decoded = http::percent_decode(raw_path)
        .ok_or_else(|| Response::text(400, "bad percent-encoding in path"))?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return Err(Response::text(400, "bad path"));
    }
    let (base, rel) = if decoded == "/pkg" {
        return Err(Response::new(301).header("Location", "/pkg/"));
    } else if let Some(rest) = decoded.strip_prefix("/pkg/") {
        (&cfg.pkg, rest)
    } else {
        (&cfg.root, decoded.strip_prefix('/').unwrap_or(&decoded))
    };
    let mut full = base.clone();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(Response::text(400, "path traversal rejected")),
            s if s.starts_with('.') => return Err(Response::text(404, "not found")),
            s => full.push(s),
        }
    }
    if full.is_dir() {
        if !decoded.ends_with('/') {
            return Err(Response::new(301).header("Location", format!("{raw_path}/")));
        }
        full.push("index.html");
    }
    if full.is_file() {
        Ok(full)
    } else {
        Err(Response::text(404, "not found"))
    }
}

fn serve_static(cfg: &Config, head: &RequestHead) -> Response {
    let path = match resolve_static(cfg, &head.path) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(_) => return Response::text(404, "not found"),
    };
    let mime = mime_type(&path);
    let mut r = Response::new(200).header("Content-Type", mime);
    if mime.starts_with("text/html") {
        r = r
            .header("Cache-Control", "no-store")
            .header("Content-Security-Policy", CSP);
    } else {
        r = r.header("Cache-Control", "no-cache");
    }
    r.body = bytes;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_cli() {
        let c = Config::from_args(args(&[])).unwrap();
        assert_eq!(
            (
                c.host.as_str(),
                c.port,
                c.idle_secs,
                c.absolute_secs,
                c.test_hooks
            ),
            ("127.0.0.1", 8080, 900, 43200, false)
        );
        assert_eq!(c.audit_file, PathBuf::from("www-demo/audit.jsonl"));
        let c = Config::from_args(args(&[
            "--port",
            "0",
            "--host=0.0.0.0",
            "--root",
            "r",
            "--pkg",
            "p",
            "--idle-secs",
            "5",
            "--absolute-secs=60",
            "--audit-file",
            "a.jsonl",
            "--test-hooks",
        ]))
        .unwrap();
        assert_eq!(
            (
                c.host.as_str(),
                c.port,
                c.idle_secs,
                c.absolute_secs,
                c.test_hooks
            ),
            ("0.0.0.0", 0, 5, 60, true)
        );
        assert_eq!(
            (c.root, c.pkg, c.audit_file),
            ("r".into(), "p".into(), "a.jsonl".into())
        );
        assert!(Config::from_args(args(&["--port"])).is_err());
        assert!(Config::from_args(args(&["--port", "x"])).is_err());
        assert!(Config::from_args(args(&["--port", "70000"])).is_err());
        assert!(Config::from_args(args(&["--bogus"])).is_err());
        assert!(Config::from_args(args(&["--idle-secs", "0"])).is_err());
    }

    #[test]
    fn resolves_static_paths_safely() {
        let dir = std::env::temp_dir().join(format!("alo-static-{}", std::process::id()));
        let _ = std::fs::create_dir_all(dir.join("root/sub"));
        let _ = std::fs::create_dir_all(dir.join("pkg"));
        std::fs::write(dir.join("root/index.html"), "<p>hi</p>").unwrap();
        std::fs::write(dir.join("root/sub/index.html"), "sub").unwrap();
        std::fs::write(dir.join("pkg/a.wasm"), "w").unwrap();
        let cfg = Config {
            root: dir.join("root"),
            pkg: dir.join("pkg"),
            ..Config::default()
        };

        assert_eq!(
            resolve_static(&cfg, "/").unwrap(),
            dir.join("root/index.html")
        );
        assert_eq!(
            resolve_static(&cfg, "/index.html").unwrap(),
            dir.join("root/index.html")
        );
        assert_eq!(
            resolve_static(&cfg, "/sub/").unwrap(),
            dir.join("root/sub/index.html")
        );
        assert_eq!(
            resolve_static(&cfg, "/pkg/a.wasm").unwrap(),
            dir.join("pkg/a.wasm")
        );
        assert_eq!(resolve_static(&cfg, "/sub").unwrap_err().status, 301);
        assert_eq!(resolve_static(&cfg, "/pkg").unwrap_err().status, 301);
        assert_eq!(resolve_static(&cfg, "/../x").unwrap_err().status, 400);
        assert_eq!(resolve_static(&cfg, "/%2e%2e/x").unwrap_err().status, 400);
        assert_eq!(
            resolve_static(&cfg, "/pkg/../../etc/passwd")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(resolve_static(&cfg, "/a%5c..%5cb").unwrap_err().status, 400);
        assert_eq!(
            resolve_static(&cfg, "//evil.example/").unwrap_err().status,
            400
        );
        assert_eq!(resolve_static(&cfg, "/%zz").unwrap_err().status, 400);
        assert_eq!(
            resolve_static(&cfg, "/.git/config").unwrap_err().status,
            404
        );
        assert_eq!(resolve_static(&cfg, "/missing.js").unwrap_err().status, 404);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn mime_types() {
        for (f, m) in [
            ("a.html", "text/html; charset=utf-8"),
            ("a.js", "text/javascript; charset=utf-8"),
            ("a.mjs", "text/javascript; charset=utf-8"),
            ("a.css", "text/css; charset=utf-8"),
            ("a.wasm", "application/wasm"),
            ("a.json", "application/json"),
            ("a.js.map", "application/json"),
            ("a.png", "image/png"),
            ("a.svg", "image/svg+xml"),
            ("a.bin", "application/octet-stream"),
        ] {
            assert_eq!(mime_type(Path::new(f)), m);
        }
    }

    #[test]
    fn tokens_are_random_hex() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert!(valid_token(&a) && valid_token(&b));
        assert_ne!(a, b);
        assert!(!valid_token("abc"));
        assert!(!valid_token(&"G".repeat(64)));
    }

    #[test]
    fn synthetic_data_is_valid_json() {
        for id in 1..=PATIENTS {
            assert!(json::parse_str(&patient_json(id)).is_ok());
            let d = json::parse_str(&patient_detail_json(id)).unwrap();
            assert_eq!(
                d.get("mrn").and_then(Json::as_str),
                Some(format!("SYN-{id:04}").as_str())
            );
            assert!(json::parse_str(&vitals_json(id, 1)).is_ok());
        }
        assert_eq!(
            json::parse_str(&patient_json(1))
                .unwrap()
                .get("name")
                .and_then(Json::as_str),
            Some("Test Patient 01")
        );
    }
}
