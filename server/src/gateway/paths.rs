//! Paths as the gateway judges them: one percent-decode, nothing that could mean
//! something else to the upstream, and the redirects it builds from them.

use axum::http::{header, HeaderMap, Method};

/// The path of a request after one percent-decode, or why it is refused (`400`, never
/// forwarded): not an absolute path, a dot segment (also `..;` as Tomcat reads it), an
/// encoded `/` or `\`, a `\` at all, a double-encoded `.`, `/` or `\`, invalid
/// percent-encoding or bytes that are not UTF-8.
pub(super) fn decoded(raw: &str) -> Result<String, String> {
    if !raw.starts_with('/') {
        return Err("path must start with /".into());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let byte = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("path has invalid percent-encoding")?;
                if byte == b'/' || byte == b'\\' {
                    return Err("path has an encoded / or \\".into());
                }
                out.push(byte);
                i += 3;
            }
            b'\\' => return Err("path has a \\".into()),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    let path = String::from_utf8(out).map_err(|_| "path is not UTF-8 once decoded")?;
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e)) {
        return Err("path has a double-encoded ., / or \\".into());
    }
    let dots = path
        .split('/')
        .map(|seg| seg.split(';').next().unwrap_or(""))
        .any(|seg| seg == "." || seg == "..");
    if dots {
        return Err("path has a dot segment".into());
    }
    Ok(path)
}

/// Whether `path` is `prefix` or under it (`/public` covers `/public` and `/public/x`,
/// not `/publicity`; `/public/` covers what starts with it).
pub(super) fn under(path: &str, prefix: &str) -> bool {
    if prefix.ends_with('/') {
        return path.starts_with(prefix);
    }
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
}

/// A top-level page load: `GET`/`HEAD` with `Sec-Fetch-Mode: navigate`, or with no
/// `Sec-Fetch-Mode` and an `Accept` that names `text/html`.
pub(super) fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    match headers.get("sec-fetch-mode") {
        Some(mode) => mode.as_bytes() == b"navigate",
        None => headers
            .get_all(header::ACCEPT)
            .iter()
            .any(|a| a.to_str().is_ok_and(|a| a.contains("text/html"))),
    }
}

/// Where to go back to after a sign-in: `rd` when it is a path starting with a single
/// `/` (not `//`, not `/\`, no scheme, also after one percent-decode), else `/`.
pub(super) fn safe_rd(rd: &str) -> &str {
    let plain = |s: &str| {
        s.starts_with('/')
            && !s.starts_with("//")
            && !s.starts_with("/\\")
            && !s.chars().any(char::is_control)
    };
    let once = percent_decode(rd, false);
    if plain(rd) && once.as_deref().is_some_and(plain) && !rd.contains(' ') {
        rd
    } else {
        "/"
    }
}

/// `%XX` decoded (and `+` as a space in a form); `None` on invalid encoding or UTF-8.
pub(super) fn percent_decode(s: &str, form: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let h = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' if form => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `s` as a query value: everything but unreserved characters and `/` percent-encoded.
pub(super) fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The value of `name` in a query string (first occurrence, decoded).
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v, true)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_decoded_once_and_escapes_refused() {
        assert_eq!(decoded("/chart/1").unwrap(), "/chart/1");
        assert_eq!(
            decoded("/%2Eautologoff/session").unwrap(),
            "/.autologoff/session"
        );
        assert_eq!(decoded("/a%20b").unwrap(), "/a b");
        for bad in [
            "/public/../chart",
            "/public/%2e%2e/chart",
            "/public/.%2E/chart",
            "/x/./y",
            "/public/..;/chart",
            "/public%2F..%2Fchart",
            "/public%5c..%5cchart",
            "/public\\..\\chart",
            "/public/%252e%252e/chart",
            "/bad%zz",
            "/bad%4",
            "/bad%ff",
            "*",
            "",
        ] {
            assert!(decoded(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn prefixes_cover_whole_segments() {
        assert!(under("/public", "/public"));
        assert!(under("/public/a.css", "/public"));
        assert!(!under("/publicity", "/public"));
        assert!(under("/static/x", "/static/"));
        assert!(!under("/static", "/static/"));
    }

    #[test]
    fn redirects_stay_on_this_origin() {
        assert_eq!(safe_rd("/chart?id=3"), "/chart?id=3");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "/%2F/evil.example",
            "/%5Cevil.example",
            "",
            "chart",
            "/a\r\nSet-Cookie: x",
        ] {
            assert_eq!(safe_rd(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn navigations() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, "text/html,*/*".parse().unwrap());
        assert!(is_navigation(&Method::GET, &h));
        assert!(!is_navigation(&Method::POST, &h));
        h.insert("sec-fetch-mode", "cors".parse().unwrap());
        assert!(!is_navigation(&Method::GET, &h));
        h.insert("sec-fetch-mode", "navigate".parse().unwrap());
        assert!(is_navigation(&Method::HEAD, &h));
        assert!(!is_navigation(&Method::GET, &HeaderMap::new()));
    }
}
