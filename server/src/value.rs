//! Values from requests, as error messages show them.

use serde_json::Value;

/// A value from a request, shortened for an error message (at most 40 characters).
pub fn shown(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}
