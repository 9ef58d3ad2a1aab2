//! The ID token's checks (shared/GATEWAY.md): no I/O, told the time. The signature is
//! jsonwebtoken's (RustCrypto backend); which algorithms, which key and every claim
//! rule are decided here.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::clock::Ms;

/// The only algorithms an ID token may be signed with: never `none`, never an HMAC (a
/// token "signed" with the client secret proves nothing about the issuer).
pub const ALLOWED: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// A re-authentication's `auth_time` may be this much earlier than the sign-in's start
/// (clock skew between the issuer and this server).
pub const AUTH_TIME_SKEW_MS: Ms = 5_000;

/// The longest user name taken from a claim (characters).
pub const MAX_USER_CHARS: usize = 256;

/// Why an ID token was refused: the problem class a page and a log line may name (never
/// the token, never a claim's value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Malformed,
    Algorithm,
    UnknownKey,
    Signature,
    Issuer,
    Audience,
    AuthorizedParty,
    Expired,
    Nonce,
    /// A re-authentication whose `auth_time` is missing or older than the sign-in.
    NotReauthenticated,
    /// The user claim is missing or not 1–256 printable characters.
    User,
}

impl TokenProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenProblem::Malformed => "ID token malformed",
            TokenProblem::Algorithm => "ID token algorithm not allowed",
            TokenProblem::UnknownKey => "ID token signed with an unknown key",
            TokenProblem::Signature => "ID token signature invalid",
            TokenProblem::Issuer => "ID token from another issuer",
            TokenProblem::Audience => "ID token for another client (aud)",
            TokenProblem::AuthorizedParty => "ID token for another client (azp)",
            TokenProblem::Expired => "ID token expired",
            TokenProblem::Nonce => "ID token nonce mismatch",
            TokenProblem::NotReauthenticated => {
                "re-authentication not proven: the identity provider did not report a fresh sign-in (auth_time)"
            }
            TokenProblem::User => "user claim missing or not 1–256 printable characters",
        }
    }
}

/// The header of a token: its algorithm (allowed ones only) and key id.
pub fn header(token: &str) -> Result<(Algorithm, String), TokenProblem> {
    if token.len() > super::provider::MAX_TOKEN_ANSWER || token.split('.').count() != 3 {
        return Err(TokenProblem::Malformed);
    }
    // `alg: none` and anything unknown do not parse as an `Algorithm`.
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenProblem::Algorithm)?;
    if !ALLOWED.contains(&header.alg) {
        return Err(TokenProblem::Algorithm);
    }
    let kid = header.kid.ok_or(TokenProblem::UnknownKey)?;
    Ok((header.alg, kid))
}

/// Whether `key` may verify `alg`: its type and curve fit, and its own `alg`/`use`, when
/// given, agree.
fn key_fits(key: &Jwk, alg: Algorithm) -> bool {
    let kind = match (&key.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256 | Algorithm::PS256) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
            p.curve == EllipticCurve::Ed25519
        }
        _ => false,
    };
    let own_alg = match key.common.key_algorithm {
        None => true,
        Some(a) => {
            let named = match alg {
                Algorithm::RS256 => KeyAlgorithm::RS256,
                Algorithm::PS256 => KeyAlgorithm::PS256,
                Algorithm::ES256 => KeyAlgorithm::ES256,
                Algorithm::EdDSA => KeyAlgorithm::EdDSA,
                _ => return false,
            };
            a == named
        }
    };
    let usable = matches!(
        key.common.public_key_use,
        None | Some(PublicKeyUse::Signature)
    );
    kind && own_alg && usable
}

/// Verifies the signature with `key` and returns the claims (none of them checked yet).
pub fn verify(token: &str, alg: Algorithm, key: &Jwk) -> Result<Value, TokenProblem> {
    if !key_fits(key, alg) {
        return Err(TokenProblem::UnknownKey);
    }
    let decoding = DecodingKey::from_jwk(key).map_err(|_| TokenProblem::UnknownKey)?;
    let mut v = Validation::new(alg);
    // The claims are checked below, on the server's clock and by GATEWAY.md's rules.
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Value>(token, &decoding, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidSignature => TokenProblem::Signature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                TokenProblem::Algorithm
            }
            ErrorKind::InvalidKeyFormat
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey => TokenProblem::UnknownKey,
            _ => TokenProblem::Malformed,
        }
    })?;
    if !data.claims.is_object() {
        return Err(TokenProblem::Malformed);
    }
    Ok(data.claims)
}

/// What an ID token must say for this sign-in.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub user_claim: &'a str,
    /// `Some(start of the sign-in)` for a re-authentication.
    pub reauth_since: Option<Ms>,
    pub now: Ms,
}

fn seconds(v: Option<&Value>) -> Option<Ms> {
    let v = v?;
    let s = v
        .as_i64()
        .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))?;
    s.checked_mul(1000)
}

/// Checks the claims and returns the user.
pub fn check(claims: &Value, want: &Expected<'_>) -> Result<String, TokenProblem> {
    if claims.get("iss").and_then(Value::as_str) != Some(want.issuer) {
        return Err(TokenProblem::Issuer);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == want.client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(want.client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(TokenProblem::Audience);
    }
    match claims.get("azp") {
        None => {}
        Some(azp) if azp.as_str() == Some(want.client_id) => {}
        Some(_) => return Err(TokenProblem::AuthorizedParty),
    }
    match seconds(claims.get("exp")) {
        Some(exp) if exp > want.now => {}
        _ => return Err(TokenProblem::Expired),
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(want.nonce) {
        return Err(TokenProblem::Nonce);
    }
    if let Some(since) = want.reauth_since {
        match seconds(claims.get("auth_time")) {
            Some(at) if at >= since - AUTH_TIME_SKEW_MS => {}
            _ => return Err(TokenProblem::NotReauthenticated),
        }
    }
    let user = claims
        .get(want.user_claim)
        .and_then(Value::as_str)
        .ok_or(TokenProblem::User)?;
    let chars = user.chars().count();
    if chars == 0 || chars > MAX_USER_CHARS || user.chars().any(char::is_control) {
        return Err(TokenProblem::User);
    }
    Ok(user.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: Ms = 1_800_000_000_000;

    fn want(reauth_since: Option<Ms>) -> Expected<'static> {
        Expected {
            issuer: "https://idp.example",
            client_id: "ward",
            nonce: "n-1",
            user_claim: "sub",
            reauth_since,
            now: NOW,
        }
    }

    fn good() -> Value {
        json!({
            "iss": "https://idp.example", "aud": "ward", "exp": NOW / 1000 + 300,
            "nonce": "n-1", "sub": "dr-a", "auth_time": NOW / 1000 - 2
        })
    }

    fn with(k: &str, v: Value) -> Value {
        let mut c = good();
        c[k] = v;
        c
    }

    fn without(k: &str) -> Value {
        let mut c = good();
        c.as_object_mut().unwrap().remove(k);
        c
    }

    #[test]
    fn every_claim_rule() {
        assert_eq!(check(&good(), &want(None)), Ok("dr-a".into()));
        assert_eq!(check(&good(), &want(Some(NOW))), Ok("dr-a".into()));
        let aud_list = with("aud", json!(["other", "ward"]));
        assert_eq!(check(&aud_list, &want(None)), Ok("dr-a".into()));
        let azp = with("azp", json!("ward"));
        assert_eq!(check(&azp, &want(None)), Ok("dr-a".into()));
        for (claims, problem) in [
            (
                with("iss", json!("https://idp.example/")),
                TokenProblem::Issuer,
            ),
            (without("iss"), TokenProblem::Issuer),
            (with("aud", json!("other")), TokenProblem::Audience),
            (with("aud", json!(["other"])), TokenProblem::Audience),
            (without("aud"), TokenProblem::Audience),
            (with("azp", json!("other")), TokenProblem::AuthorizedParty),
            (with("exp", json!(NOW / 1000)), TokenProblem::Expired),
            (with("exp", json!("soon")), TokenProblem::Expired),
            (without("exp"), TokenProblem::Expired),
            (with("nonce", json!("n-2")), TokenProblem::Nonce),
            (without("nonce"), TokenProblem::Nonce),
            (without("sub"), TokenProblem::User),
            (with("sub", json!("")), TokenProblem::User),
            (with("sub", json!(7)), TokenProblem::User),
            (with("sub", json!("dr\na")), TokenProblem::User),
            (with("sub", json!("é".repeat(257))), TokenProblem::User),
        ] {
            assert_eq!(check(&claims, &want(None)), Err(problem), "{claims}");
        }
        assert_eq!(
            check(&with("sub", json!("é".repeat(256))), &want(None)).map(|u| u.chars().count()),
            Ok(256)
        );
    }

    #[test]
    fn reauthentication_needs_a_fresh_auth_time() {
        let since = NOW - 1000;
        let at = |s: Ms| with("auth_time", json!(s / 1000));
        assert!(check(&at(since), &want(Some(since))).is_ok());
        assert!(
            check(&at(since - 5000), &want(Some(since))).is_ok(),
            "5 s skew"
        );
        for claims in [
            at(since - 6000),
            without("auth_time"),
            with("auth_time", json!("now")),
        ] {
            assert_eq!(
                check(&claims, &want(Some(since))),
                Err(TokenProblem::NotReauthenticated),
                "{claims}"
            );
        }
        // Not asked for: an old or missing auth_time is fine.
        assert!(check(&without("auth_time"), &want(None)).is_ok());
    }

    #[test]
    fn headers_outside_the_allowlist_are_refused() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let token = |h: Value| {
            format!(
                "{}.{}.sig",
                URL_SAFE_NO_PAD.encode(h.to_string()),
                URL_SAFE_NO_PAD.encode("{}")
            )
        };
        for alg in ["none", "HS256", "HS512", "RS384", "ES384", "nonsense"] {
            assert_eq!(
                header(&token(json!({"alg": alg, "kid": "k"}))),
                Err(TokenProblem::Algorithm),
                "{alg}"
            );
        }
        for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
            assert!(
                header(&token(json!({"alg": alg, "kid": "k"}))).is_ok(),
                "{alg}"
            );
        }
        assert_eq!(
            header(&token(json!({"alg": "ES256"}))),
            Err(TokenProblem::UnknownKey),
            "kid required"
        );
        assert_eq!(header("a.b"), Err(TokenProblem::Malformed));
    }
}
