//! `autologoff-server`: the reference deployment (shared/SERVER.md "The binary").
//!
//! Serves `/session` and `/audit`, the demo's guarded API, the demo page and the built
//! SDK; `audit export` prints the stored audit trail for an auditor.

mod cli;
mod demo;
mod export;
mod gateway;
mod hooks;
mod listener;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
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
