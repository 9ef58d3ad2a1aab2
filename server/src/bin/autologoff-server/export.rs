//! `audit export`: the stored trail for an auditor, as JSONL or CSV.

use std::io::Write;
use std::process::ExitCode;

use autologoff_server::audit::{AuditSink, ExportFilter, Source, SqlSink};
use autologoff_server::iso_ms;
use serde::Serialize;

use crate::cli::{redacted, Export, Format, SourceArg};

/// One exported row: the columns in the order SERVER.md gives.
#[derive(Serialize)]
struct Row<'a> {
    tab: &'a str,
    seq: i64,
    #[serde(rename = "type")]
    kind: &'a str,
    at: &'a str,
    reason: Option<&'a str>,
    user: Option<&'a str>,
    received_at: String,
    source: &'static str,
}

pub async fn run(args: Export) -> ExitCode {
    if args.audit == "none" {
        eprintln!("error: --audit none has no records to export");
        return ExitCode::from(2);
    }
    let sink = match SqlSink::open(&args.audit).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --audit {}: {e}", redacted(&args.audit));
            return ExitCode::from(2);
        }
    };
    let filter = ExportFilter {
        since: args.since,
        until: args.until,
        user: args.user,
        source: args.source.map(|s| match s {
            SourceArg::Client => Source::Client,
            SourceArg::Server => Source::Server,
        }),
    };
    let records = match sink.export(&filter).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = std::io::stdout().lock();
    let written = match args.format {
        Format::Jsonl => jsonl(out, &records),
        Format::Csv => csv(out, &records),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing the export: {e}");
            ExitCode::FAILURE
        }
    }
}

fn rows(records: &[autologoff_server::audit::StoredRecord]) -> impl Iterator<Item = Row<'_>> {
    records.iter().map(|r| Row {
        tab: &r.record.tab,
        seq: r.record.seq,
        kind: &r.record.kind,
        at: &r.record.at,
        reason: r.record.reason.as_deref(),
        user: r.user.as_deref(),
        received_at: iso_ms(r.received_at),
        source: r.source.as_str(),
    })
}

fn jsonl(
    mut out: impl Write,
    records: &[autologoff_server::audit::StoredRecord],
) -> Result<(), String> {
    for row in rows(records) {
        serde_json::to_writer(&mut out, &row).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

fn csv(out: impl Write, records: &[autologoff_server::audit::StoredRecord]) -> Result<(), String> {
    let mut w = ::csv::Writer::from_writer(out);
    // The header row comes from Row's field names, written before the first row.
    for row in rows(records) {
        w.serialize(row).map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())
}
