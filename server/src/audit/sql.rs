//! The audit sink in SQL (sqlx): a SQLite file for one process, Postgres for several
//! replicas. One schema (`migrations/`), the same statements for both.

use std::collections::HashSet;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::QueryBuilder;

use super::{AuditError, AuditRecord, AuditSink, ExportFilter, Source, Stored, StoredRecord};
use crate::clock::{iso_ms, Ms};
use crate::recorder::{RecordSink, ServerRecord};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Longest a request waits for the database before it is refused with `503`.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub enum SqlSink {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

type Row = (
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    String,
);

fn unavailable(e: impl std::fmt::Display) -> AuditError {
    AuditError::Unavailable(e.to_string())
}

async fn bounded<T, E: std::fmt::Display>(
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, AuditError> {
    match tokio::time::timeout(ANSWER_WITHIN, f).await {
        Ok(r) => r.map_err(unavailable),
        Err(_) => Err(AuditError::Unavailable("no answer within 3 s".into())),
    }
}

/// The same statements on either pool.
macro_rules! on_pool {
    ($self:ident, $pool:ident => $e:expr) => {
        match $self {
            SqlSink::Sqlite($pool) => $e,
            SqlSink::Postgres($pool) => $e,
        }
    };
}

impl SqlSink {
    /// `sqlite:PATH` (created if missing) or `postgres://…`; connects and migrates.
    pub async fn open(url: &str) -> Result<SqlSink, AuditError> {
        let sink = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(unavailable)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full);
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(ANSWER_WITHIN)
                .connect_with(options);
            SqlSink::Sqlite(bounded(pool).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(ANSWER_WITHIN)
                .connect(url);
            SqlSink::Postgres(bounded(pool).await?)
        } else {
            return Err(AuditError::Unavailable(
                "not an audit URL (none, sqlite:PATH or postgres://…)".into(),
            ));
        };
        let migrated = &sink;
        on_pool!(migrated, pool => bounded(MIGRATOR.run(pool)).await?);
        Ok(sink)
    }
}

impl SqlSink {
    /// The server's own records, in one transaction: `tab` empty, `seq` from the one
    /// deployment-wide counter (a row lock, so `seq` increases in commit order across
    /// replicas), `source = server`; a `timeout` whose session event is already stored
    /// (a claim taken over from a slow replica) is skipped.
    pub async fn store_server(
        &self,
        records: &[ServerRecord],
        written_at: Ms,
    ) -> Result<u64, AuditError> {
        if records.is_empty() {
            return Ok(0);
        }
        let n = records.len() as i64;
        on_pool!(self, pool => {
            let work = async {
                let mut tx = pool.begin().await?;
                let (last,): (i64,) = sqlx::query_as(
                    "UPDATE audit_counter SET n = n + $1 WHERE name = 'server' RETURNING n",
                )
                .bind(n)
                .fetch_one(&mut *tx)
                .await?;
                let mut q = QueryBuilder::new(
                    "INSERT INTO audit_records (tab, seq, type, at, reason, user_name, received_at, source, event_id) ",
                );
                q.push_values(records.iter().enumerate(), |mut row, (i, r)| {
                    row.push_bind("")
                        .push_bind(last - n + 1 + i as i64)
                        .push_bind(r.kind.as_str())
                        .push_bind(iso_ms(r.at))
                        .push_bind(r.reason)
                        .push_bind(r.user.as_str())
                        .push_bind(written_at)
                        .push_bind("server")
                        .push_bind(r.event.as_deref());
                });
                q.push(" ON CONFLICT DO NOTHING");
                let stored = q.build().execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                Ok::<u64, sqlx::Error>(stored)
            };
            bounded(work).await
        })
    }
}

impl RecordSink for SqlSink {
    fn write<'a>(
        &'a self,
        records: &'a [ServerRecord],
        written_at: Ms,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.store_server(records, written_at)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

impl AuditSink for SqlSink {
    async fn store(
        &self,
        batch: &[AuditRecord],
        user: Option<&str>,
        received_at: Ms,
    ) -> Result<Stored, AuditError> {
        let mut seen = HashSet::new();
        let unique: Vec<&AuditRecord> = batch
            .iter()
            .filter(|r| seen.insert((&r.tab, r.seq)))
            .collect();
        let repeated = (batch.len() - unique.len()) as u64;
        let accepted = on_pool!(self, pool => {
            let mut q = QueryBuilder::new(
                "INSERT INTO audit_records (tab, seq, type, at, reason, user_name, received_at) ",
            );
            q.push_values(&unique, |mut row, r| {
                row.push_bind(r.tab.as_str())
                    .push_bind(r.seq)
                    .push_bind(r.kind.as_str())
                    .push_bind(r.at.as_str())
                    .push_bind(r.reason.as_deref())
                    .push_bind(user)
                    .push_bind(received_at);
            });
            q.push(" ON CONFLICT (tab, seq) DO NOTHING");
            bounded(q.build().execute(pool)).await?.rows_affected()
        });
        Ok(Stored {
            accepted,
            duplicates: unique.len() as u64 - accepted + repeated,
        })
    }

    async fn export(&self, filter: &ExportFilter) -> Result<Vec<StoredRecord>, AuditError> {
        let rows: Vec<Row> = on_pool!(self, pool => {
            let mut q = QueryBuilder::new(
                "SELECT tab, seq, type, at, reason, user_name, received_at, source FROM audit_records WHERE 1 = 1",
            );
            if let Some(since) = filter.since {
                q.push(" AND received_at >= ").push_bind(since);
            }
            if let Some(until) = filter.until {
                q.push(" AND received_at < ").push_bind(until);
            }
            if let Some(user) = &filter.user {
                q.push(" AND user_name = ").push_bind(user.as_str());
            }
            if let Some(source) = filter.source {
                q.push(" AND source = ").push_bind(source.as_str());
            }
            q.push(" ORDER BY received_at, tab, seq");
            bounded(q.build_query_as::<Row>().fetch_all(pool)).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(tab, seq, kind, at, reason, user, received_at, source)| StoredRecord {
                    record: AuditRecord {
                        tab,
                        seq,
                        kind,
                        at,
                        reason,
                    },
                    user,
                    received_at,
                    source: if source == "server" {
                        Source::Server
                    } else {
                        Source::Client
                    },
                },
            )
            .collect())
    }

    async fn ping(&self) -> Result<(), AuditError> {
        on_pool!(self, pool => bounded(sqlx::query("SELECT 1").execute(pool)).await.map(|_| ()))
    }
}
