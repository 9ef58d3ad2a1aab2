//! Reference backend for the autologoff demo and browser tests.
//!
//! std-only HTTP/1.1 server (thread per connection, `Connection: close`)
//! implementing the session-expiry protocol of docs/protocol.md, an audit
//! sink, synthetic clinical API endpoints and static file serving.

mod http;
mod json;
mod server;
mod state;

use server::{Config, Ctx};
use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

fn main() {
    let cfg = match Config::from_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            if e.is_empty() {
                println!("{}", server::USAGE);
                return;
            }
            eprintln!("error: {e}\n{}", server::USAGE);
            std::process::exit(2);
        }
    };

    let mut st = state::State::new(cfg.idle_secs * 1000, cfg.absolute_secs * 1000);
    match server::load_audit(&mut st, &cfg.audit_file) {
        Ok(n) if n > 0 => eprintln!("loaded {n} audit records from {}", cfg.audit_file.display()),
        Ok(_) => {}
        Err(e) => {
            eprintln!(
                "error: cannot read audit file {}: {e}",
                cfg.audit_file.display()
            );
            std::process::exit(1);
        }
    }

    let listener = match TcpListener::bind((cfg.host.as_str(), cfg.port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}:{}: {e}", cfg.host, cfg.port);
            std::process::exit(1);
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(cfg.port);
    let host = if cfg.host.contains(':') {
        format!("[{}]", cfg.host)
    } else {
        cfg.host.clone()
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{host}:{port}/");
        let _ = out.flush();
    }
    if cfg.test_hooks {
        eprintln!("test hooks enabled (/__test/*)");
    }

    let ctx = Arc::new(Ctx {
        cfg,
        state: Mutex::new(st),
    });
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let ctx = Arc::clone(&ctx);
                if let Err(e) = std::thread::Builder::new()
                    .spawn(move || server::handle_connection(stream, ctx))
                {
                    eprintln!("error: cannot spawn connection thread: {e}");
                }
            }
            Err(e) => {
                eprintln!("warning: accept failed: {e}");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}
