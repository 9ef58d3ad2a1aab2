//! The audit sink in a real SQLite file and a real Postgres: each (tab, seq) once, only the
//! contract's fields, export order and filters, a database that goes away and comes back.

mod common;

use autologoff_server::audit::{parse_batch, AuditError, AuditSink, ExportFilter, SqlSink};
use common::Postgres;

const BATCH: &str = r#"[
  {"seq":1,"type":"warn","at":"2026-12-03T06:50:00.000Z","tab":"tab-a"},
  {"seq":2,"type":"lock","at":"2026-12-03T06:51:00.000Z","reason":"idle","tab":"tab-a",
   "patient":"Jane Testpatient","mrn":"SYN-0042","title":"Chart of Jane Testpatient"},
  {"seq":3,"type":"purge","at":"2026-12-03T06:51:00.001Z","tab":"tab-a"},
  {"seq":2,"type":"lock","at":"2026-12-03T06:51:00.000Z","reason":"idle","tab":"tab-a"}
]"#;

async fn keeps_the_trail<K: AuditSink>(sink: K) {
    let batch = parse_batch(BATCH.as_bytes()).unwrap();
    let first = sink.store(&batch, Some("dr-a"), 1_000).await.unwrap();
    assert_eq!(
        (first.accepted, first.duplicates),
        (3, 1),
        "the repeated record counts as a duplicate"
    );
    let again = sink.store(&batch[..2], Some("dr-a"), 2_000).await.unwrap();
    assert_eq!(
        (again.accepted, again.duplicates),
        (0, 2),
        "a re-sent batch is stored once"
    );

    let other = parse_batch(
        br#"[{"seq":1,"type":"lock","at":"2026-12-03T07:00:00Z","reason":"manual","tab":"tab-b"}]"#,
    )
    .unwrap();
    sink.store(&other, Some("dr-b"), 3_000).await.unwrap();
    let unattributed = parse_batch(br#"[{"seq":9,"type":"error","at":"2026-12-03T07:00:00Z","reason":"server error","tab":"tab-c"}]"#).unwrap();
    sink.store(&unattributed, None, 3_000).await.unwrap();

    let all = sink.export(&ExportFilter::default()).await.unwrap();
    let keys: Vec<(i64, &str, i64)> = all
        .iter()
        .map(|r| (r.received_at, r.record.tab.as_str(), r.record.seq))
        .collect();
    assert_eq!(
        keys,
        vec![
            (1000, "tab-a", 1),
            (1000, "tab-a", 2),
            (1000, "tab-a", 3),
            (3000, "tab-b", 1),
            (3000, "tab-c", 9)
        ]
    );
    assert_eq!(all[1].record.reason.as_deref(), Some("idle"));
    assert_eq!(all[1].user.as_deref(), Some("dr-a"));
    assert_eq!(all[4].user, None);

    let since = sink
        .export(&ExportFilter {
            since: Some(3_000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(since.len(), 2, "since is inclusive");
    let until = sink
        .export(&ExportFilter {
            until: Some(3_000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(until.len(), 3, "until is exclusive");
    let user = sink
        .export(&ExportFilter {
            user: Some("dr-b".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(user.len(), 1);
    assert_eq!(user[0].record.tab, "tab-b");
}

#[tokio::test]
async fn sqlite_keeps_the_trail_in_a_file() {
    let path = std::env::temp_dir().join(format!("alo-audit-{}.db", common::free_port()));
    let url = format!("sqlite:{}", path.display());
    keeps_the_trail(SqlSink::open(&url).await.unwrap()).await;
    // Reopened (a restart): the rows are there, the migration is not run twice.
    let reopened = SqlSink::open(&url).await.unwrap();
    assert_eq!(
        reopened
            .export(&ExportFilter::default())
            .await
            .unwrap()
            .len(),
        5
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_the_trail_and_nothing_else() {
    let pg = Postgres::start();
    let sink = SqlSink::open(&pg.url()).await.unwrap();
    keeps_the_trail(sink).await;
    // What a buggy client sent beyond the contract's fields is nowhere in the database.
    let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let dump: Vec<(String,)> = sqlx::query_as("SELECT row_to_json(a)::text FROM audit_records a")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(dump.len(), 5);
    for (row,) in &dump {
        for phi in ["Testpatient", "SYN-0042", "Chart of"] {
            assert!(!row.contains(phi), "{phi} stored: {row}");
        }
    }
    let unique: (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_constraint WHERE conname = 'audit_records_tab_seq' AND contype = 'u'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unique.0, 1, "UNIQUE (tab, seq)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_storing_the_same_batch_at_once_store_it_once() {
    let pg = Postgres::start();
    let a = SqlSink::open(&pg.url()).await.unwrap();
    let b = SqlSink::open(&pg.url()).await.unwrap();
    let body: Vec<String> = (0..500)
        .map(|i| format!(r#"{{"seq":{i},"type":"extend","at":"2026-12-03T06:50:00Z","reason":"activity","tab":"tab-r"}}"#))
        .collect();
    let batch = parse_batch(format!("[{}]", body.join(",")).as_bytes()).unwrap();
    let (ra, rb) = tokio::join!(
        a.store(&batch, Some("dr-a"), 1),
        b.store(&batch, Some("dr-a"), 1)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.accepted + rb.accepted, 500);
    assert_eq!(ra.duplicates + rb.duplicates, 500);
    assert_eq!(a.export(&ExportFilter::default()).await.unwrap().len(), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_refuses_and_stores_nothing_then_recovers() {
    let mut pg = Postgres::start();
    let sink = SqlSink::open(&pg.url()).await.unwrap();
    let batch = parse_batch(
        br#"[{"seq":1,"type":"lock","at":"2026-12-03T06:50:00Z","reason":"idle","tab":"tab-d"}]"#,
    )
    .unwrap();
    pg.stop();
    match sink.store(&batch, Some("dr-a"), 1).await {
        Err(AuditError::Unavailable(_)) => {}
        other => panic!("a stopped Postgres answered {other:?}"),
    }
    assert!(sink.ping().await.is_err());
    pg.resume();
    let mut stored = None;
    for _ in 0..50 {
        if let Ok(s) = sink.store(&batch, Some("dr-a"), 2).await {
            stored = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(stored.map(|s| s.accepted), Some(1));
    assert_eq!(
        sink.export(&ExportFilter::default()).await.unwrap().len(),
        1
    );
}
