//! Flags. A bad one is refused by clap with a message naming it and the value, exit 2.

use std::net::SocketAddr;
use std::path::PathBuf;

use autologoff_server::parse_iso_utc;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "autologoff-server",
    version,
    about = "Sessions that only user activity extends: the expiry protocol, the audit trail, the demo",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: Serve,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The stored audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Automatic logoff in front of any backend (shared/GATEWAY.md).
    Gateway(Box<crate::gateway::GatewayArgs>),
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Print the stored records in (received_at, tab, seq) order.
    Export(Export),
}

#[derive(Args, Debug)]
pub struct Serve {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub listen: SocketAddr,
    /// Inactivity after which a session ends.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_secs: u64,
    /// Longest a session lives, whatever the activity (from --idle-secs to 604800).
    #[arg(long, default_value_t = 43_200, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub absolute_secs: u64,
    /// Session store: memory (one process) or redis://host:port/db (several replicas).
    #[arg(long, default_value = "memory", value_name = "URL", value_parser = store_url)]
    pub store: String,
    /// Audit sink: none, sqlite:PATH (one process) or postgres://… (several replicas).
    #[arg(long, default_value = "sqlite:autologoff-audit.db", value_name = "URL", value_parser = audit_url)]
    pub audit: String,
    /// Serve the demo page from this directory.
    #[arg(long = "static", value_name = "DIR")]
    pub static_dir: Option<PathBuf>,
    /// Serve the built SDK from this directory at /pkg/.
    #[arg(long, value_name = "DIR")]
    pub pkg: Option<PathBuf>,
    /// Add POST /login {"user": NAME} with NO password: for the demo only.
    #[arg(long)]
    pub demo_login: bool,
    /// Add /__test/* hooks (server clock, failure modes, counters): for tests only, and
    /// only in a build with the `test-hooks` feature.
    #[cfg(feature = "test-hooks")]
    #[arg(long)]
    pub test_hooks: bool,
}

#[derive(Args, Debug)]
pub struct Export {
    /// Audit sink to read: sqlite:PATH or postgres://…
    #[arg(long, value_name = "URL", value_parser = audit_url)]
    pub audit: String,
    /// Only records received at or after this ISO-8601 UTC instant.
    #[arg(long, value_name = "ISO-8601", value_parser = instant)]
    pub since: Option<i64>,
    /// Only records received before this ISO-8601 UTC instant.
    #[arg(long, value_name = "ISO-8601", value_parser = instant)]
    pub until: Option<i64>,
    /// Only this user's records.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Only the records the browsers sent (client) or the server wrote itself (server).
    #[arg(long, value_enum)]
    pub source: Option<SourceArg>,
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceArg {
    Client,
    Server,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

fn store_url(v: &str) -> Result<String, String> {
    if v == "memory" || v.starts_with("redis://") || v.starts_with("rediss://") {
        Ok(v.to_owned())
    } else {
        Err("expected memory or redis://host:port/db".into())
    }
}

fn audit_url(v: &str) -> Result<String, String> {
    let ok = v == "none"
        || (v.starts_with("sqlite:") && v.len() > "sqlite:".len())
        || v.starts_with("postgres://")
        || v.starts_with("postgresql://");
    if ok {
        Ok(v.to_owned())
    } else {
        Err("expected none, sqlite:PATH or postgres://…".into())
    }
}

fn instant(v: &str) -> Result<i64, String> {
    parse_iso_utc(v)
        .ok_or_else(|| "expected an ISO-8601 UTC instant like 2026-12-03T00:00:00Z".into())
}

pub use autologoff_server::redacted;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            redacted("postgres://app:s3cret@127.0.0.1:5/db"),
            "postgres://app:***@127.0.0.1:5/db"
        );
        assert_eq!(
            redacted("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(
            redacted("postgres://app@127.0.0.1:5/db"),
            "postgres://app@127.0.0.1:5/db"
        );
    }
}
