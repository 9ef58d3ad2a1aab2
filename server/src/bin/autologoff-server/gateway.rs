//! `autologoff-server gateway`: the flags of shared/GATEWAY.md, then the library's
//! [`autologoff_server::gateway`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use autologoff_server::gateway::{Config, Gateway, Inject, LoginSource, OidcLogin};
use autologoff_server::oidc::Secret;
use axum::http::Uri;
use clap::Args;

/// Automatic logoff in front of any backend (reverse proxy) or beside its proxy
/// (forward auth at /.autologoff/auth).
#[derive(Args, Debug)]
pub struct GatewayArgs {
    /// The app to forward to (http://host:port); absent: forward auth only.
    #[arg(long, value_name = "URL", value_parser = http_url)]
    pub upstream: Option<Uri>,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub listen: SocketAddr,
    /// The origin browsers see (default http://<the bound address>); https makes the
    /// cookie __Host-autologoff with Secure.
    #[arg(long, value_name = "URL", value_parser = http_url)]
    pub public_url: Option<Uri>,
    /// Inactivity after which a session ends.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_secs: u64,
    /// Longest a session lives, whatever the activity (from --idle-secs to 604800).
    #[arg(long, default_value_t = 43_200, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub absolute_secs: u64,
    /// Session store: memory (one process) or redis://host:port/db (several gateways).
    #[arg(long, default_value = "memory", value_name = "URL")]
    pub store: String,
    /// Audit sink: none, sqlite:PATH or postgres://…
    #[arg(long, default_value = "none", value_name = "URL")]
    pub audit: String,
    /// A path prefix forwarded with no session and no identity headers (repeatable).
    #[arg(long = "public", value_name = "PREFIX")]
    pub public: Vec<String>,
    /// Connect and answer-head timeout for the upstream (then 504).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub upstream_timeout_secs: u64,
    /// Sign in through the hospital's identity provider: its issuer URL, exactly as its
    /// discovery document names it (read at start).
    #[arg(long, value_name = "URL")]
    pub oidc_issuer: Option<String>,
    /// With --oidc-issuer: this gateway's client id at the issuer.
    #[arg(long, value_name = "ID")]
    pub oidc_client_id: Option<String>,
    /// With --oidc-issuer: a file holding the client secret (or set
    /// AUTOLOGOFF_OIDC_CLIENT_SECRET; never a flag's value). None: a public client.
    #[arg(long, value_name = "PATH")]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// With --oidc-issuer: the ID token claim that names the user [default: sub].
    #[arg(long, value_name = "CLAIM")]
    pub oidc_user_claim: Option<String>,
    /// With --oidc-issuer: a scope to ask for besides openid (repeatable).
    #[arg(long = "oidc-scope", value_name = "SCOPE")]
    pub oidc_scope: Vec<String>,
    /// Sign in through the upstream's own login page at PATH (its answer header
    /// Autologoff-Login: <user> starts a session).
    #[arg(long, value_name = "PATH")]
    pub login_from_upstream: Option<String>,
    /// Add POST /.autologoff/demo-login {"user": NAME} with NO password: demos and tests.
    #[arg(long)]
    pub demo_login: bool,
    /// Pass the upstream's Cache-Control instead of no-store.
    #[arg(long)]
    pub keep_cache_control: bool,
    /// Zero code: put the autologoff SDK on every HTML page of a live session.
    #[arg(long)]
    pub inject_sdk: bool,
    /// With --inject-sdk: more init options for the SDK (a JSON object).
    #[arg(long, value_name = "FILE", requires = "inject_sdk")]
    pub sdk_options: Option<PathBuf>,
    /// With --inject-sdk: the SDK as npm run build makes it (index.js, autologoff_bg.wasm).
    #[arg(long, value_name = "DIR", default_value = "pkg")]
    pub sdk_dir: PathBuf,
}

fn http_url(v: &str) -> Result<Uri, String> {
    let uri: Uri = v.parse().map_err(|e| format!("not a URL: {e}"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err("expected http://host:port".into()),
    }
}

/// The environment variable the OIDC client secret may come from.
const SECRET_ENV: &str = "AUTOLOGOFF_OIDC_CLIENT_SECRET";

const SOURCES: &str = "--oidc-issuer URL, --login-from-upstream PATH or --demo-login";

/// Exactly one login source, from the flags (and the secret's file or environment).
fn login_source(args: &mut GatewayArgs) -> Result<LoginSource, String> {
    let oidc = args.oidc_issuer.is_some();
    let given = [oidc, args.login_from_upstream.is_some(), args.demo_login];
    match given.iter().filter(|g| **g).count() {
        0 => return Err(format!("no login source: give exactly one of {SOURCES}")),
        1 => {}
        _ => return Err(format!("two login sources: give exactly one of {SOURCES}")),
    }
    if !oidc {
        let stray = [
            ("--oidc-client-id", args.oidc_client_id.is_some()),
            (
                "--oidc-client-secret-file",
                args.oidc_client_secret_file.is_some(),
            ),
            ("--oidc-user-claim", args.oidc_user_claim.is_some()),
            ("--oidc-scope", !args.oidc_scope.is_empty()),
        ];
        if let Some((flag, _)) = stray.iter().find(|(_, given)| *given) {
            return Err(format!("{flag} needs --oidc-issuer"));
        }
    }
    if let Some(path) = args.login_from_upstream.take() {
        return Ok(LoginSource::Upstream(path));
    }
    let Some(issuer) = args.oidc_issuer.take() else {
        return Ok(LoginSource::Demo);
    };
    let Some(client_id) = args.oidc_client_id.take() else {
        return Err(format!("--oidc-issuer {issuer} needs --oidc-client-id ID"));
    };
    let mut login = OidcLogin::new(issuer, client_id);
    login.secret = secret(args.oidc_client_secret_file.as_deref())?;
    if let Some(claim) = args.oidc_user_claim.take() {
        login.user_claim = claim;
    }
    login.scopes = std::mem::take(&mut args.oidc_scope);
    Ok(LoginSource::Oidc(login))
}

/// The client secret: from the file, or the environment; never both, never empty.
fn secret(file: Option<&std::path::Path>) -> Result<Option<Secret>, String> {
    let env = std::env::var_os(SECRET_ENV);
    let (text, from) = match (file, env) {
        (Some(path), Some(_)) => {
            return Err(format!(
                "--oidc-client-secret-file {} and {SECRET_ENV} both give a secret: give one",
                path.display()
            ))
        }
        (Some(path), None) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "--oidc-client-secret-file {}: cannot read it: {e}",
                    path.display()
                )
            })?;
            (
                text,
                format!("--oidc-client-secret-file {}", path.display()),
            )
        }
        (None, Some(v)) => {
            let text = v
                .into_string()
                .map_err(|_| format!("{SECRET_ENV}: not UTF-8"))?;
            (text, SECRET_ENV.to_owned())
        }
        (None, None) => return Ok(None),
    };
    // A file's trailing newline is not part of the secret.
    let text = text.trim_end_matches(['\r', '\n']);
    if text.is_empty() || text.chars().any(char::is_control) {
        return Err(format!(
            "{from}: the secret is empty or holds control characters"
        ));
    }
    Ok(Some(Secret::new(text)))
}

pub async fn run(mut args: GatewayArgs) -> ExitCode {
    let login = match login_source(&mut args) {
        Ok(l) => l,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(2);
        }
    };
    if args.absolute_secs < args.idle_secs {
        eprintln!(
            "error: --absolute-secs ({}) must be at least --idle-secs ({})",
            args.absolute_secs, args.idle_secs
        );
        return ExitCode::from(2);
    }
    let demo = matches!(login, LoginSource::Demo);
    let mut config = Config::new(login);
    config.upstream = args.upstream;
    config.public_url = args.public_url;
    config.idle = Duration::from_secs(args.idle_secs);
    config.absolute = Duration::from_secs(args.absolute_secs);
    config.store = args.store;
    config.audit = args.audit;
    config.public = args.public;
    config.upstream_timeout = Duration::from_secs(args.upstream_timeout_secs);
    config.keep_cache_control = args.keep_cache_control;
    config.inject = args.inject_sdk.then_some(Inject {
        sdk_dir: args.sdk_dir,
        options_file: args.sdk_options,
    });
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: --listen {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let Ok(addr) = listener.local_addr() else {
        eprintln!("error: --listen {}: no local address", args.listen);
        return ExitCode::FAILURE;
    };
    let gateway = match Gateway::open(config, addr).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("listening on http://{addr}/");
    if demo {
        eprintln!("demo login enabled (POST /.autologoff/demo-login without a password): not for production");
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match gateway.serve(listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
