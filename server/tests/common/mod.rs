//! Real services for the tests: a throwaway Redis and Postgres on free loopback ports,
//! stopped by PID when the fixture is dropped (also when a test fails).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use autologoff_server::audit::{AuditSink, ExportFilter, Source, SqlSink, StoredRecord};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16, what: &str) {
    let until = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < until,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `redis-server --port N --save '' --appendonly no`.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let mut r = Redis {
            port: free_port(),
            child: None,
        };
        r.resume();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops the server (its data is gone: it keeps nothing on disk).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (npm test installs it: bash .ci/setup.sh services)");
        self.child = Some(child);
        wait_for_port(self.port, "redis-server");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Postgres cluster in a temp dir (`initdb`, `pg_ctl`), run as the `postgres` user when
/// the tests run as root (Postgres refuses root).
pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    running: bool,
}

fn pg_bin(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL under /usr/lib/postgresql (npm test installs it: bash .ci/setup.sh services)")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    versions.sort();
    versions
        .last()
        .expect("a PostgreSQL version")
        .join("bin")
        .join(name)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

fn as_postgres(bin: PathBuf) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

impl Postgres {
    pub fn start() -> Postgres {
        let dir =
            std::env::temp_dir().join(format!("alo-pg-{}-{}", std::process::id(), free_port()));
        let made = if is_root() {
            Command::new("install")
                .args(["-d", "-o", "postgres"])
                .arg(&dir)
                .status()
        } else {
            std::fs::create_dir_all(&dir).map(|_| std::process::ExitStatus::default())
        };
        assert!(made.is_ok_and(|s| s.success()), "cannot make {dir:?}");
        let init = as_postgres(pg_bin("initdb"))
            .args(["-D"])
            .arg(dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb");
        assert!(init.success(), "initdb failed");
        let mut pg = Postgres {
            port: free_port(),
            dir,
            running: false,
        };
        pg.resume();
        pg
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn ctl(&self, args: &[&str]) -> bool {
        as_postgres(pg_bin("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn stop(&mut self) {
        if self.running {
            self.ctl(&["-m", "immediate", "-w", "stop"]);
            self.running = false;
        }
    }

    pub fn resume(&mut self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        assert!(
            self.ctl(&["-o", &opts, "-w", "-t", "30", "start"]),
            "pg_ctl start failed"
        );
        self.running = true;
        wait_for_port(self.port, "postgres");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server's own records in `sink` (`source = server`), in export order.
pub async fn server_rows(sink: &SqlSink) -> Vec<StoredRecord> {
    sink.export(&ExportFilter {
        source: Some(Source::Server),
        ..ExportFilter::default()
    })
    .await
    .expect("the export answers")
}

/// Polls until `n` server records are stored (the writer task is asynchronous), at
/// most `within`; returns them.
pub async fn wait_for_server_rows(sink: &SqlSink, n: usize, within: Duration) -> Vec<StoredRecord> {
    let until = Instant::now() + within;
    loop {
        let rows = server_rows(sink).await;
        if rows.len() >= n || Instant::now() > until {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
