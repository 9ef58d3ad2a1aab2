//! The log's stderr, written in batches. A request's log line is appended to a buffer;
//! a writer thread, woken by the first line of a batch, waits [`GATHER`] for more and
//! writes them with one system call. A gateway under load logged each request with
//! its own `write`, a tenth of the CPU a proxied request cost (docs/perf-log.md).
//!
//! Warnings and errors are not held: they are written at once, after what is waiting,
//! so the order stays. [`Stderr::flush`] writes what is waiting (at exit).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long the writer thread gathers lines after the first one of a batch.
const GATHER: Duration = Duration::from_millis(20);

/// Past this many waiting bytes, the line's own writer writes them.
const MAX_WAITING: usize = 256 * 1024;

/// stderr for `tracing_subscriber::fmt().with_writer(…)`.
#[derive(Clone)]
pub struct Stderr {
    shared: Arc<Shared>,
    /// Whether the writer thread runs (else every line is written at once).
    held: bool,
}

struct Shared {
    waiting: Mutex<Vec<u8>>,
    woken: Condvar,
}

impl Stderr {
    pub fn start() -> Stderr {
        let shared = Arc::new(Shared {
            waiting: Mutex::new(Vec::new()),
            woken: Condvar::new(),
        });
        let writer = Arc::clone(&shared);
        let held = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run())
            .is_ok();
        Stderr { shared, held }
    }

    /// Writes what is waiting.
    pub fn flush(&self) {
        write_out(&mut lock(&self.shared.waiting));
    }
}

impl Shared {
    fn run(&self) {
        loop {
            let mut waiting = lock(&self.waiting);
            while waiting.is_empty() {
                waiting = self.woken.wait(waiting).unwrap_or_else(|p| p.into_inner());
            }
            drop(waiting);
            std::thread::sleep(GATHER);
            write_out(&mut lock(&self.waiting));
        }
    }
}

fn lock(m: &Mutex<Vec<u8>>) -> MutexGuard<'_, Vec<u8>> {
    // A panic while holding the buffer leaves bytes: keep logging.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn write_out(waiting: &mut Vec<u8>) {
    if !waiting.is_empty() {
        let _ = std::io::stderr().lock().write_all(waiting);
        waiting.clear();
    }
}

/// One event's writer: held back (`urgent` false) or written at once.
pub struct Line<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut waiting = lock(&self.shared.waiting);
        let first = waiting.is_empty();
        waiting.extend_from_slice(bytes);
        if self.urgent || waiting.len() > MAX_WAITING {
            write_out(&mut waiting);
        } else if first {
            self.shared.woken.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            shared: &self.shared,
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        Line {
            shared: &self.shared,
            urgent: !self.held || *meta.level() <= Level::WARN,
        }
    }
}
