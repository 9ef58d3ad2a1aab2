//! Values as error messages and logs show them: shortened, and never a secret.

use http::Uri;
use serde_json::Value;

/// A value from a request, shortened for an error message (at most 40 characters).
pub fn shown(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// A URL as it may be printed: without a password.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme && url[scheme + 3..at].contains(':') => {
            let user = url[scheme + 3..at].split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// A request's path as a log line shows it: at most 200 characters, printable ASCII
/// (anything else as `?`), never the query string.
pub fn logged_path(uri: &Uri) -> String {
    uri.path()
        .chars()
        .take(200)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}
