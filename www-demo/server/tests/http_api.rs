//! Spawns the built server with --port 0 --test-hooks and talks raw HTTP to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server {
    child: Child,
    addr: String,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(tag: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("alo-server-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("root")).unwrap();
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(
        dir.join("root/index.html"),
        "<!doctype html><title>demo</title>",
    )
    .unwrap();
    std::fs::write(dir.join("pkg/autologoff_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_autologoff-demo-server"))
        .args(["--port", "0", "--test-hooks", "--root"])
        .arg(dir.join("root"))
        .arg("--pkg")
        .arg(dir.join("pkg"))
        .arg("--audit-file")
        .arg(dir.join("audit.jsonl"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|s| s.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Server { child, addr, dir }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The `sid` value from Set-Cookie.
    fn sid(&self) -> String {
        let c = self.header("set-cookie").expect("Set-Cookie");
        c.strip_prefix("sid=")
            .and_then(|r| r.split(';').next())
            .unwrap()
            .to_string()
    }
}

fn raw(s: &Server, request: &[u8]) -> Resp {
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("complete response");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

fn req(s: &Server, method: &str, path: &str, sid: Option<&str>, body: &str) -> Resp {
    let cookie = sid
        .map(|t| format!("Cookie: sid={t}\r\n"))
        .unwrap_or_default();
    let r = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\n{cookie}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        s.addr,
        body.len()
    );
    raw(s, r.as_bytes())
}

/// The integer after `"key":` in a compact JSON text.
fn num(json: &str, key: &str) -> u64 {
    let pat = format!("\"{key}\":");
    let start = json.find(&pat).unwrap_or_else(|| panic!("{key} in {json}")) + pat.len();
    json[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

#[test]
fn session_lifecycle_api_and_headers() {
    let s = start("session");

    // Login: HttpOnly, SameSite=Strict cookie, rotated at each login.
    let l1 = req(&s, "POST", "/login", None, r#"{"user":"dr test"}"#);
    assert_eq!(l1.status, 200);
    let cookie = l1.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    let sid1 = l1.sid();
    assert_eq!(sid1.len(), 64);
    assert!(l1.body.contains("\"user\":\"dr test\""), "{}", l1.body);
    assert!(num(&l1.body, "expiresAt") > num(&l1.body, "serverTime"));
    assert_eq!(l1.header("content-type"), Some("application/json"));
    assert_eq!(l1.header("cache-control"), Some("no-store"));

    let l2 = raw(
        &s,
        format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nCookie: sid={sid1}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\nuser=nurse"
        )
        .as_bytes(),
    );
    assert_eq!(l2.status, 200);
    let sid2 = l2.sid();
    assert_ne!(sid1, sid2);
    assert!(l2.body.contains("\"user\":\"nurse\""));
    // The session of the cookie sent at login was destroyed (no fixation).
    assert_eq!(req(&s, "GET", "/session", Some(&sid1), "").status, 401);

    // GET /session: 200 with cookie, 401 without.
    let g = req(&s, "GET", "/session", Some(&sid2), "");
    assert_eq!(g.status, 200, "{}", g.body);
    assert!(num(&g.body, "expiresAt") > num(&g.body, "serverTime"));
    let g401 = req(&s, "GET", "/session", None, "");
    assert_eq!(g401.status, 401);
    assert_eq!(g401.body, r#"{"error":"no session"}"#);

    // POST /session keepalive.
    let k = req(&s, "POST", "/session", Some(&sid2), "");
    assert_eq!(k.status, 200);
    assert!(num(&k.body, "expiresAt") >= num(&g.body, "expiresAt"));

    // API: 401 without cookie, 200 with Session-Expires + no-store.
    let p401 = req(&s, "GET", "/api/patients", None, "");
    assert_eq!(p401.status, 401);
    assert_eq!(p401.body, r#"{"error":"session expired"}"#);
    let p = req(&s, "GET", "/api/patients", Some(&sid2), "");
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Test Patient 01") && p.body.contains("SYN-0001"));
    assert_eq!(p.header("cache-control"), Some("no-store"));
    let exp: u64 = p
        .header("session-expires")
        .expect("Session-Expires")
        .parse()
        .unwrap();
    assert!(exp >= num(&k.body, "expiresAt"));
    assert_eq!(
        req(&s, "GET", "/api/patients/3", Some(&sid2), "").status,
        200
    );
    assert_eq!(
        req(&s, "GET", "/api/patients/99", Some(&sid2), "").status,
        404
    );
    assert_eq!(req(&s, "GET", "/api/vitals", Some(&sid2), "").status, 200);
    let notes = req(&s, "POST", "/api/notes", Some(&sid2), r#"{"text":"x"}"#);
    assert_eq!(
        (notes.status, notes.body.as_str()),
        (200, r#"{"stored":true,"length":12}"#)
    );
    let up = req(&s, "POST", "/api/upload", Some(&sid2), &"u".repeat(5000));
    assert_eq!((up.status, up.body.as_str()), (200, r#"{"bytes":5000}"#));
    let slow = req(&s, "GET", "/api/slow?ms=50", Some(&sid2), "");
    assert_eq!(
        (slow.status, slow.body.as_str()),
        (200, r#"{"sleptMs":50}"#)
    );

    // Stats: one keepalive, three GETs of /session so far.
    let st = req(&s, "GET", "/__test/stats", None, "");
    assert_eq!(st.status, 200);
    assert!(
        st.body.starts_with(
            r#"{"keepalives":1,"gets":3,"deletes":0,"sessions":[{"live":false,"keepalives":0,"#
        ),
        "{}",
        st.body
    );
    assert!(
        st.body.contains(r#"{"live":true,"keepalives":1,"#),
        "{}",
        st.body
    );

    // DELETE: 204 + Clear-Site-Data; the old cookie is dead for good.
    let d = req(&s, "DELETE", "/session", Some(&sid2), "");
    assert_eq!(d.status, 204);
    assert_eq!(d.header("clear-site-data"), Some(r#""cache", "storage""#));
    assert_eq!(req(&s, "GET", "/session", Some(&sid2), "").status, 401);
    assert_eq!(req(&s, "POST", "/session", Some(&sid2), "").status, 401);
    assert_eq!(req(&s, "GET", "/api/patients", Some(&sid2), "").status, 401);
    assert_eq!(req(&s, "DELETE", "/session", None, "").status, 204);

    // Test modes and server-side expiry.
    let sid3 = req(&s, "POST", "/login", None, "").sid();
    assert!(req(&s, "POST", "/__test/mode", None, r#"{"mode":"garbage"}"#).status == 200);
    let gb = req(&s, "GET", "/session", Some(&sid3), "");
    assert_eq!((gb.status, gb.body.as_str()), (200, "not json{"));
    req(
        &s,
        "POST",
        "/__test/mode",
        None,
        r#"{"mode":"badjson-fields"}"#,
    );
    assert_eq!(
        req(&s, "POST", "/session", Some(&sid3), "").body,
        r#"{"expiresAt":"soon"}"#
    );
    req(&s, "POST", "/__test/mode", None, r#"{"mode":"500"}"#);
    assert_eq!(req(&s, "GET", "/session", Some(&sid3), "").status, 500);
    assert_eq!(
        req(&s, "POST", "/__test/mode", None, r#"{"mode":"nope"}"#).status,
        400
    );
    req(&s, "POST", "/__test/mode", None, r#"{"mode":"normal"}"#);
    assert_eq!(req(&s, "GET", "/session", Some(&sid3), "").status, 200);
    assert_eq!(req(&s, "POST", "/__test/expire", None, "").status, 200);
    assert_eq!(req(&s, "GET", "/session", Some(&sid3), "").status, 401);
    assert_eq!(req(&s, "POST", "/__test/reset", None, "").status, 200);
    assert_eq!(
        req(&s, "GET", "/__test/stats", None, "").body,
        r#"{"keepalives":0,"gets":0,"deletes":0,"sessions":[]}"#
    );
}

#[test]
fn audit_dedup_static_and_malformed() {
    let s = start("audit");

    let b1 = r#"[{"seq":1,"type":"warn","at":"2024-01-01T00:00:00.000Z","tab":"t1"},{"seq":2,"type":"lock","at":"2024-01-01T00:00:01.000Z","reason":"idle","tab":"t1"}]"#;
    let b2 = r#"[{"seq":2,"type":"lock","at":"2024-01-01T00:00:01.000Z","reason":"idle","tab":"t1"},{"seq":1,"type":"lock","at":"2024-01-01T00:00:02.000Z","reason":"remote","tab":"t2"}]"#;
    let r1 = req(&s, "POST", "/audit", None, b1);
    assert_eq!(
        (r1.status, r1.body.as_str()),
        (200, r#"{"accepted":2,"duplicates":0}"#)
    );
    let r2 = req(&s, "POST", "/audit", None, b2);
    assert_eq!(
        (r2.status, r2.body.as_str()),
        (200, r#"{"accepted":1,"duplicates":1}"#)
    );
    let all = req(&s, "GET", "/audit", None, "");
    assert_eq!(all.status, 200);
    assert_eq!(all.body.matches("\"seq\"").count(), 3);
    let i_t1 = all.body.find(r#""tab":"t1""#).unwrap();
    let i_t2 = all.body.find(r#""tab":"t2""#).unwrap();
    assert!(i_t1 < i_t2, "sorted by (seq, tab): {}", all.body);
    let file = std::fs::read_to_string(s.dir.join("audit.jsonl")).unwrap();
    assert_eq!(file.lines().count(), 3);
    assert!(file.lines().next().unwrap().starts_with(
        r#"{"seq":1,"type":"warn","at":"2024-01-01T00:00:00.000Z","tab":"t1","receivedAt":"#
    ));
    assert!(file.contains(r#"{"seq":2,"type":"lock","at":"2024-01-01T00:00:01.000Z","reason":"idle","tab":"t1","receivedAt":"#));

    assert_eq!(req(&s, "POST", "/audit", None, r#"{"seq":1}"#).status, 400);
    assert_eq!(
        req(&s, "POST", "/audit", None, r#"[{"seq":1,"type":"x"}]"#).status,
        400
    );
    assert_eq!(req(&s, "POST", "/audit", None, "[").status, 400);
    let big = format!("[{}]", "1,".repeat(600_000));
    assert_eq!(req(&s, "POST", "/audit", None, &big).status, 413);

    // Static files, MIME types, security headers.
    let idx = req(&s, "GET", "/", None, "");
    assert_eq!(idx.status, 200);
    assert_eq!(idx.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(idx.header("cache-control"), Some("no-store"));
    assert!(idx
        .header("content-security-policy")
        .unwrap()
        .contains("'wasm-unsafe-eval'"));
    assert_eq!(idx.header("x-content-type-options"), Some("nosniff"));
    let w = req(&s, "GET", "/pkg/autologoff_bg.wasm", None, "");
    assert_eq!(
        (w.status, w.header("content-type")),
        (200, Some("application/wasm"))
    );
    assert_eq!(req(&s, "GET", "/../etc/passwd", None, "").status, 400);
    assert_eq!(req(&s, "GET", "/nope.js", None, "").status, 404);
    assert_eq!(req(&s, "GET", "/__test/nope", None, "").status, 404);

    // Malformed requests: 4xx, and the server stays up.
    assert_eq!(raw(&s, b"GARBAGE\r\n\r\n").status, 400);
    assert_eq!(raw(&s, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n").status, 400);
    assert_eq!(
        raw(
            &s,
            b"POST /audit HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        .status,
        411
    );
    assert_eq!(req(&s, "PUT", "/session", None, "").status, 405);
    assert_eq!(req(&s, "GET", "/session", None, "").status, 401);
}
