//! Minimal HTTP/1.x request parsing and response writing.
//!
//! The parser works on bytes (no I/O) so that it is unit-testable; the
//! connection code in `server.rs` feeds it. Every malformed input yields an
//! `HttpError` carrying a 4xx status and a short reason, never a panic.

use std::io::{self, Read, Write};

pub const MAX_HEAD: usize = 16 * 1024;
pub const MAX_HEADERS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct HttpError {
    pub status: u16,
    pub reason: &'static str,
}

impl HttpError {
    pub const fn new(status: u16, reason: &'static str) -> Self {
        HttpError { status, reason }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestHead {
    pub method: String,
    /// The raw request target, e.g. `/api/slow?ms=10`.
    pub target: String,
    /// Target up to (not including) `?`; still percent-encoded.
    pub path: String,
    /// Text after `?` (empty if none).
    pub query: String,
    pub version: String,
    /// Header names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    pub content_length: u64,
}

impl RequestHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Value of cookie `name` from all `Cookie` headers.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k.trim() == name).then(|| v.trim().trim_matches('"'))
            })
            .next()
    }

    /// Value of query parameter `name` (percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k).as_deref() == Some(name))
                .then(|| form_decode(v))
                .flatten()
        })
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Position just after the blank line ending the head, if the buffer holds it.
pub fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// Parses a complete request head (request line + headers, blank line optional).
pub fn parse_head(head: &[u8]) -> Result<RequestHead, HttpError> {
    let text =
        std::str::from_utf8(head).map_err(|_| HttpError::new(400, "request head is not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::new(400, "malformed request line"));
    };
    if method.is_empty() || method.len() > 16 || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HttpError::new(400, "malformed method"));
    }
    if !target.starts_with('/')
        || target.len() > 8192
        || !target.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(HttpError::new(400, "malformed request target"));
    }
    match version {
        "HTTP/1.1" | "HTTP/1.0" => {}
        v if v.starts_with("HTTP/") => {
            return Err(HttpError::new(505, "HTTP version not supported"))
        }
        _ => return Err(HttpError::new(400, "malformed HTTP version")),
    }

    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            return Err(HttpError::new(400, "obsolete header folding"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::new(400, "malformed header line"));
        };
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(HttpError::new(400, "malformed header name"));
        }
        if value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return Err(HttpError::new(400, "control character in header value"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        if headers.len() > MAX_HEADERS {
            return Err(HttpError::new(431, "too many headers"));
        }
    }

    if headers.iter().any(|(k, _)| k == "transfer-encoding") {
        return Err(HttpError::new(
            411,
            "chunked/transfer-encoded bodies are not supported; send Content-Length",
        ));
    }
    let mut content_length: Option<u64> = None;
    for (_, v) in headers.iter().filter(|(k, _)| k == "content-length") {
        // "5, 5" is allowed by RFC 9110 when all values agree.
        for item in v.split(',') {
            let item = item.trim();
            if item.is_empty() || item.len() > 15 || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HttpError::new(400, "malformed Content-Length"));
            }
            let n: u64 = item
                .parse()
                .map_err(|_| HttpError::new(400, "malformed Content-Length"))?;
            if content_length.is_some_and(|c| c != n) {
                return Err(HttpError::new(400, "conflicting Content-Length"));
            }
            content_length = Some(n);
        }
    }

    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    let path = path.split('#').next().unwrap_or(path);
    Ok(RequestHead {
        method: method.to_string(),
        target: target.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        version: version.to_string(),
        headers,
        content_length: content_length.unwrap_or(0),
    })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s` (`+` kept as is). `None` on bad escapes or non-UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    decode(s, false)
}

/// application/x-www-form-urlencoded decoding (`+` is a space).
pub fn form_decode(s: &str) -> Option<String> {
    decode(s, true)
}

fn decode(s: &str, plus_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = hex_val(*b.get(i + 1)?)?;
                let lo = hex_val(*b.get(i + 2)?)?;
                out.push(hi * 16 + lo);
                i += 3;
            }
            b'+' if plus_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// HEAD: send headers (with the body's Content-Length) but no body.
    pub head_only: bool,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            head_only: false,
        }
    }

    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_string(), v.into()));
        self
    }

    pub fn text(status: u16, reason: &str) -> Self {
        let mut r = Response::new(status).header("Content-Type", "text/plain; charset=utf-8");
        r.body = format!("{reason}\n").into_bytes();
        r
    }

    pub fn json(status: u16, body: String) -> Self {
        let mut r = Response::new(status)
            .header("Content-Type", "application/json")
            .header("Cache-Control", "no-store");
        r.body = body.into_bytes();
        r
    }

    pub fn json_error(status: u16, msg: &str) -> Self {
        Response::json(status, format!("{{\"error\":{}}}", crate::json::quote(msg)))
    }

    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            self.status,
            reason_phrase(self.status)
        );
        for (k, v) in &self.headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        if self.status != 204 && self.status != 304 {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n");
        w.write_all(head.as_bytes())?;
        if !self.head_only && self.status != 204 && self.status != 304 {
            w.write_all(&self.body)?;
        }
        w.flush()
    }
}

/// Reads the request head from `r`. Returns the parsed head and any bytes
/// already read past it (the start of the body).
pub fn read_head(r: &mut impl Read) -> Result<(RequestHead, Vec<u8>), HttpError> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find_head_end(&buf) {
            let head = parse_head(&buf[..end])?;
            return Ok((head, buf[end..].to_vec()));
        }
        if buf.len() > MAX_HEAD {
            return Err(HttpError::new(431, "request head too large"));
        }
        match r.read(&mut chunk) {
            Ok(0) => {
                return Err(if buf.is_empty() {
                    HttpError::new(0, "connection closed")
                } else {
                    HttpError::new(400, "incomplete request head")
                })
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HttpError::new(408, "timed out reading request"))
            }
            Err(_) => return Err(HttpError::new(0, "read error")),
        }
    }
}

/// The body of one request: the bytes read with the head plus the rest of
/// `Content-Length` from the stream.
pub struct Body<'a, R: Read> {
    pub remaining: u64,
    pub prefix: Vec<u8>,
    pub stream: &'a mut R,
}

impl<'a, R: Read> Body<'a, R> {
    pub fn new(head: &RequestHead, prefix: Vec<u8>, stream: &'a mut R) -> Self {
        let mut prefix = prefix;
        prefix.truncate(head.content_length.min(usize::MAX as u64) as usize);
        let remaining = head.content_length - prefix.len() as u64;
        Body {
            remaining,
            prefix,
            stream,
        }
    }

    pub fn len(&self) -> u64 {
        self.remaining + self.prefix.len() as u64
    }

    /// Reads the whole body; 413 when it is longer than `limit`.
    pub fn read_all(&mut self, limit: u64) -> Result<Vec<u8>, HttpError> {
        if self.len() > limit {
            return Err(HttpError::new(413, "request body too large"));
        }
        let mut out = std::mem::take(&mut self.prefix);
        let mut chunk = [0u8; 16 * 1024];
        while self.remaining > 0 {
            let want = (self.remaining as usize).min(chunk.len());
            match self.stream.read(&mut chunk[..want]) {
                Ok(0) => return Err(HttpError::new(400, "body shorter than Content-Length")),
                Ok(n) => {
                    out.extend_from_slice(&chunk[..n]);
                    self.remaining -= n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(HttpError::new(408, "timed out reading body")),
            }
        }
        Ok(out)
    }

    /// Reads and discards the body (up to `limit` bytes); returns its size.
    pub fn discard(&mut self, limit: u64) -> Result<u64, HttpError> {
        if self.len() > limit {
            return Err(HttpError::new(413, "request body too large"));
        }
        let mut total = self.prefix.len() as u64;
        self.prefix.clear();
        let mut chunk = [0u8; 64 * 1024];
        while self.remaining > 0 {
            let want = (self.remaining as usize).min(chunk.len());
            match self.stream.read(&mut chunk[..want]) {
                Ok(0) => return Err(HttpError::new(400, "body shorter than Content-Length")),
                Ok(n) => {
                    total += n as u64;
                    self.remaining -= n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(HttpError::new(408, "timed out reading body")),
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Result<RequestHead, HttpError> {
        parse_head(s.as_bytes())
    }

    #[test]
    fn parses_a_simple_request() {
        let h = head("GET /api/slow?ms=10&x=a%20b HTTP/1.1\r\nHost: x\r\nCookie: a=1; sid=abc\r\nX-Y:  z \r\n\r\n").unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(h.path, "/api/slow");
        assert_eq!(h.query, "ms=10&x=a%20b");
        assert_eq!(h.header("host"), Some("x"));
        assert_eq!(h.header("x-y"), Some("z"));
        assert_eq!(h.cookie("sid"), Some("abc"));
        assert_eq!(h.cookie("a"), Some("1"));
        assert_eq!(h.cookie("b"), None);
        assert_eq!(h.query_param("ms").as_deref(), Some("10"));
        assert_eq!(h.query_param("x").as_deref(), Some("a b"));
        assert_eq!(h.content_length, 0);
    }

    #[test]
    fn accepts_bare_lf_and_content_length() {
        let h = head("POST /audit HTTP/1.0\nContent-Length: 12\n\n").unwrap();
        assert_eq!(h.content_length, 12);
        assert_eq!(
            head("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n")
                .unwrap()
                .content_length,
            5
        );
    }

    #[test]
    fn rejects_malformed_heads() {
        let cases: &[(&str, u16)] = &[
            ("GARBAGE\r\n\r\n", 400),
            ("\r\n\r\n", 400),
            ("GET /\r\n\r\n", 400),
            ("GET  / HTTP/1.1\r\n\r\n", 400),
            ("get / HTTP/1.1\r\n\r\n", 400),
            ("GET x HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1 extra\r\n\r\n", 400),
            ("GET / FOO/1.1\r\n\r\n", 400),
            ("GET / HTTP/2.0\r\n\r\n", 505),
            ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
            (
                "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                400,
            ),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
        ];
        for (raw, status) in cases {
            assert_eq!(head(raw).map_err(|e| e.status), Err(*status), "{raw:?}");
        }
        assert_eq!(
            parse_head(b"GET /\xff HTTP/1.1\r\n\r\n").map_err(|e| e.status),
            Err(400)
        );
    }

    #[test]
    fn finds_head_end() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\nbody"), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
    }

    #[test]
    fn reads_head_and_body_from_a_stream() {
        let raw = b"POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world trailing";
        let mut cur = std::io::Cursor::new(&raw[..]);
        let (h, rest) = read_head(&mut cur).unwrap();
        let mut body = Body::new(&h, rest, &mut cur);
        assert_eq!(body.read_all(100).unwrap(), b"hello world");

        let mut cur = std::io::Cursor::new(&raw[..]);
        let (h, rest) = read_head(&mut cur).unwrap();
        assert_eq!(
            Body::new(&h, rest, &mut cur)
                .read_all(5)
                .map_err(|e| e.status),
            Err(413)
        );

        let short = b"POST /x HTTP/1.1\r\nContent-Length: 50\r\n\r\nabc";
        let mut cur = std::io::Cursor::new(&short[..]);
        let (h, rest) = read_head(&mut cur).unwrap();
        assert_eq!(
            Body::new(&h, rest, &mut cur)
                .read_all(100)
                .map_err(|e| e.status),
            Err(400)
        );

        let mut cur = std::io::Cursor::new(&b"GET / HTTP/1.1\r\n"[..]);
        assert_eq!(read_head(&mut cur).map_err(|e| e.status), Err(400));
        let big = vec![b'a'; MAX_HEAD + 10];
        let mut cur = std::io::Cursor::new(&big[..]);
        assert_eq!(read_head(&mut cur).map_err(|e| e.status), Err(431));
    }

    #[test]
    fn decodes_percent_and_form() {
        assert_eq!(percent_decode("/a%20b+c").as_deref(), Some("/a b+c"));
        assert_eq!(form_decode("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn writes_responses() {
        let mut out = Vec::new();
        Response::json(200, "{}".into()).write_to(&mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(s.contains("Content-Type: application/json\r\n"));
        assert!(s.contains("Cache-Control: no-store\r\n"));
        assert!(s.contains("Content-Length: 2\r\n"));
        assert!(s.contains("Connection: close\r\n"));
        assert!(s.ends_with("\r\n\r\n{}"));
        let mut out = Vec::new();
        Response::new(204).write_to(&mut out).unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("Content-Length"));
    }
}
