//! `autologoff-server gateway`: the flags of shared/GATEWAY.md, then the library's
//! [`autologoff_server::gateway`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use autologoff_server::gateway::{Config, Gateway, Inject, LoginSource};
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

pub async fn run(args: GatewayArgs) -> ExitCode {
    let login = match (args.login_from_upstream, args.demo_login) {
        (Some(path), false) => LoginSource::Upstream(path),
        (None, true) => LoginSource::Demo,
        (None, false) => {
            eprintln!("error: no login source: give exactly one of --login-from-upstream PATH or --demo-login");
            return ExitCode::from(2);
        }
        (Some(_), true) => {
            eprintln!("error: two login sources: give exactly one of --login-from-upstream PATH or --demo-login");
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
    let demo = login == LoginSource::Demo;
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
