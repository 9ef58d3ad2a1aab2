//! `autologoff-server`: the reference deployment (shared/SERVER.md "The binary").
//!
//! Serves `/session` and `/audit`, the demo's guarded API, the demo page and the built
//! SDK; `audit export` prints the stored audit trail for an auditor.

mod cli;
mod demo;
mod deployment;
mod export;
mod gateway;
#[cfg(feature = "test-hooks")]
mod hooks;
mod listener;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // Logs (requests, warnings) go to stderr through `tracing`; a flag refused at start is
    // a message to the operator, printed as it is. Never a query string, body, cookie or id.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.command {
        Some(cli::Command::Audit {
            command: cli::AuditCommand::Export(export),
        }) => runtime.block_on(export::run(export)),
        Some(cli::Command::Gateway(args)) => runtime.block_on(gateway::run(*args)),
        None => runtime.block_on(serve::run(args.serve)),
    }
}
