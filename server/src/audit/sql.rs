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

use super::{AuditError, AuditRecord, AuditSink, ExportFilter, Stored, StoredRecord};
use crate::clock::Ms;

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
                "SELECT tab, seq, type, at, reason, user_name, received_at FROM audit_records WHERE 1 = 1",
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
            q.push(" ORDER BY received_at, tab, seq");
            bounded(q.build_query_as::<Row>().fetch_all(pool)).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(tab, seq, kind, at, reason, user, received_at)| StoredRecord {
                    record: AuditRecord {
                        tab,
                        seq,
                        kind,
                        at,
                        reason,
                    },
                    user,
                    received_at,
                },
            )
            .collect())
    }

    async fn ping(&self) -> Result<(), AuditError> {
        on_pool!(self, pool => bounded(sqlx::query("SELECT 1").execute(pool)).await.map(|_| ()))
    }
}
