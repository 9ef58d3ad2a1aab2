//! An issuer the test plays itself: discovery, JWKS and a token endpoint on a loopback
//! port, handing out whatever ID token the test forged for each code. Keys are made here
//! (P-256 and Ed25519) and used through jsonwebtoken, the crate's own JOSE library.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{CLIENT_ID, SECRET};

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).unwrap();
    b
}

/// A signing key and its public JWK.
pub struct Key {
    pub kid: String,
    alg: Algorithm,
    enc: EncodingKey,
    pub jwk: Value,
}

impl Key {
    pub fn es256(kid: &str) -> Key {
        use p256::pkcs8::EncodePrivateKey;
        let secret = loop {
            if let Ok(k) = p256::SecretKey::from_slice(&random::<32>()) {
                break k;
            }
        };
        let der = secret.to_pkcs8_der().unwrap();
        Key::new(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(der.as_bytes()),
        )
    }

    pub fn ed25519(kid: &str) -> Key {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let key = ed25519_dalek::SigningKey::from_bytes(&random::<32>());
        let der = key.to_pkcs8_der().unwrap();
        // jsonwebtoken derives a JWK only from a PKCS#8 v1 key; dalek writes v2 (with the
        // public key), so the JWK is written here (RFC 8037).
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        Key {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            enc: EncodingKey::from_ed_der(der.as_bytes()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA", "use": "sig", "kid": kid}),
        }
    }

    fn new(kid: &str, alg: Algorithm, enc: EncodingKey) -> Key {
        let mut jwk = Jwk::from_encoding_key(&enc, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        Key {
            kid: kid.to_owned(),
            alg,
            enc,
            jwk: serde_json::to_value(jwk).unwrap(),
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// Signed with this key, under another key's id.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut h = Header::new(self.alg);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&h, claims, &self.enc).unwrap()
    }
}

/// `alg: none`: a header, the claims, an empty signature.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    let h = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(h.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// HS256 with the client secret as the key (what a confused verifier would accept).
pub fn hmac(secret: &str, kid: &str, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &h,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A code the issuer will redeem once, for the ID token the test forged.
pub struct Minted {
    pub code: String,
    pub id_token: String,
}

impl Minted {
    pub fn signature(&self) -> &str {
        self.id_token
            .rsplit('.')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.id_token)
    }
}

struct Inner {
    url: String,
    jwks: Mutex<Value>,
    jwks_reads: AtomicUsize,
    /// code → (ID token, PKCE challenge).
    codes: Mutex<HashMap<String, (String, String)>>,
    /// code → an answer of the token endpoint's that is not a token response.
    broken: Mutex<HashMap<String, (StatusCode, String)>>,
    pkce_checked: AtomicBool,
}

pub struct Forger {
    pub url: String,
    pub es: Key,
    pub ed: Key,
    /// Never published.
    pub stranger: Key,
    /// Published by [`Forger::rotate`], in place of the others.
    pub rotated: Key,
    inner: Arc<Inner>,
}

impl Forger {
    pub async fn start() -> Forger {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (es, ed) = (Key::es256("es-1"), Key::ed25519("ed-1"));
        let inner = Arc::new(Inner {
            url: url.clone(),
            jwks: Mutex::new(json!({ "keys": [es.jwk, ed.jwk] })),
            jwks_reads: AtomicUsize::new(0),
            codes: Mutex::new(HashMap::new()),
            broken: Mutex::new(HashMap::new()),
            pkce_checked: AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Forger {
            url,
            es,
            ed,
            stranger: Key::es256("stranger"),
            rotated: Key::es256("es-2"),
            inner,
        }
    }

    pub fn mint(&self, id_token: String, challenge: &str) -> Minted {
        let code = hex(&random::<16>());
        self.inner
            .codes
            .lock()
            .unwrap()
            .insert(code.clone(), (id_token.clone(), challenge.to_owned()));
        Minted { code, id_token }
    }

    /// A code whose redemption answers `status` with `body` (an issuer in trouble).
    pub fn mint_broken(&self, status: StatusCode, body: &str) -> String {
        let code = hex(&random::<16>());
        self.inner
            .broken
            .lock()
            .unwrap()
            .insert(code.clone(), (status, body.to_owned()));
        code
    }

    pub fn jwks_reads(&self) -> usize {
        self.inner.jwks_reads.load(Ordering::SeqCst)
    }

    pub fn pkce_checked(&self) -> bool {
        self.inner.pkce_checked.load(Ordering::SeqCst)
    }

    /// The issuer's keys are now only the rotated one.
    pub fn rotate(&self) {
        *self.inner.jwks.lock().unwrap() = json!({ "keys": [self.rotated.jwk] });
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn discovery(State(s): State<Arc<Inner>>) -> Json<Value> {
    Json(json!({
        "issuer": s.url,
        "authorization_endpoint": format!("{}/authorize", s.url),
        "token_endpoint": format!("{}/token", s.url),
        "jwks_uri": format!("{}/jwks", s.url),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}

async fn jwks(State(s): State<Arc<Inner>>) -> Json<Value> {
    s.jwks_reads.fetch_add(1, Ordering::SeqCst);
    Json(s.jwks.lock().unwrap().clone())
}

fn invalid_grant() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant"})),
    )
        .into_response()
}

/// RFC 6749 4.1.3 with RFC 7636: the client authenticated (Basic), the code known and
/// unused, the verifier's S256 the challenge the login sent.
async fn token(State(s): State<Arc<Inner>>, headers: HeaderMap, body: String) -> Response {
    let basic = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{SECRET}")));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return invalid_grant();
    }
    if let Some((status, body)) = form
        .get("code")
        .and_then(|c| s.broken.lock().unwrap().remove(c))
    {
        return (status, body).into_response();
    }
    let Some((id_token, challenge)) = form
        .get("code")
        .and_then(|c| s.codes.lock().unwrap().remove(c))
    else {
        return invalid_grant();
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
        return invalid_grant();
    }
    s.pkce_checked.store(true, Ordering::SeqCst);
    Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": id_token}))
        .into_response()
}
