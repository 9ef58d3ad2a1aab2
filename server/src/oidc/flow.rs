//! A sign-in in progress: what is stashed between the login and the callback, the PKCE
//! pair, and the `rd` rule (a same-origin path, or `/`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Ms;
use crate::store::{SessionId, StoreError};

/// How long a sign-in may take between the login and the callback.
pub const PENDING_MS: Ms = 600_000;
/// The longest `rd` kept (longer ones become `/`).
pub const MAX_RD: usize = 2048;

/// What the callback needs of the login that started it (stashed under its `state`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub nonce: String,
    pub verifier: String,
    pub rd: String,
    pub reauth: bool,
    /// When the login started (the server's clock): a re-authentication's `auth_time`
    /// must not be older (less the skew).
    pub started_at: Ms,
}

/// A new sign-in: its `state` (the stash key and the browser cookie), `nonce` and verifier.
pub struct Fresh {
    pub state: SessionId,
    pub pending: Pending,
}

impl Fresh {
    pub fn new(rd: &str, reauth: bool, now: Ms) -> Result<Fresh, StoreError> {
        Ok(Fresh {
            state: SessionId::generate()?,
            pending: Pending {
                nonce: SessionId::generate()?.as_str().to_owned(),
                // 64 unreserved characters: RFC 7636's 43..=128.
                verifier: SessionId::generate()?.as_str().to_owned(),
                rd: safe_rd(rd),
                reauth,
                started_at: now,
            },
        })
    }
}

/// RFC 7636 S256: `BASE64URL(SHA256(verifier))`.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What a `Location` path may not hold as is.
const LOCATION: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'^');

/// `rd` when it is a path of this origin: it starts with a single `/` (not `//`, not
/// `/\`), has no scheme and no control characters, also after percent-decoding (browsers
/// drop tabs and newlines, and read `\` as `/`). Anything else is `/`.
pub fn safe_rd(rd: &str) -> String {
    fn path_only(s: &str) -> bool {
        let b = s.as_bytes();
        b.first() == Some(&b'/')
            && !matches!(b.get(1), Some(b'/' | b'\\'))
            && !s.chars().any(|c| c.is_control())
    }
    if rd.len() > MAX_RD || !path_only(rd) {
        return "/".into();
    }
    let mut decoded = rd.to_owned();
    // Decode until nothing changes (bounded): `%252F%252F` is `//` two decodes away.
    for _ in 0..4 {
        let next = percent_decode_str(&decoded)
            .decode_utf8_lossy()
            .into_owned();
        if !path_only(&next) {
            return "/".into();
        }
        if next == decoded {
            break;
        }
        decoded = next;
    }
    utf8_percent_encode(rd, LOCATION).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rd_is_a_same_origin_path_or_slash() {
        for ok in [
            "/",
            "/ward?patient=7#notes",
            "/.autologoff/done",
            "/a/b%20c",
        ] {
            assert_eq!(safe_rd(ok), ok);
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil",
            "https://evil",
            "http:/evil",
            "javascript:alert(1)",
            "%2F%2Fevil",
            "/%2Fevil",
            "/%5Cevil",
            "/%252F%252Fevil",
            "/\t/evil",
            "/%09/evil",
            "/%0d%0aSet-Cookie:x",
            "evil",
            &format!("/{}", "a".repeat(MAX_RD)),
        ] {
            assert_eq!(safe_rd(bad), "/", "{bad:?}");
        }
        assert_eq!(safe_rd("/caf\u{e9} x"), "/caf%C3%A9%20x");
    }

    #[test]
    fn pkce_s256_matches_rfc_7636() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
