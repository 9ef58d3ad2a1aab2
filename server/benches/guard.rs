//! `npm run bench:server`: what the guard costs. A `GET /api/whoami` on loopback through
//! the session layer (memory store, Redis store) and the same route bare, with 10,000 live
//! sessions, rounds interleaved so the machine's noise hits every variant alike; then the
//! bytes each live session costs in each store; then what the sweeper of the server's own
//! audit records costs: the guarded request with the sweeper running vs not, and Redis
//! commands and milliseconds per sweep with 10,000 live sessions. Printed, not asserted.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use autologoff_server::audit::SqlSink;
use autologoff_server::store::{MemoryStore, RedisStore, Session, SessionId, SessionStore};
use autologoff_server::{LiveSession, SessionLayer, Sessions};
use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const SESSIONS: usize = 10_000;
const CONNECTIONS: usize = 16;
const ROUND: Duration = Duration::from_millis(1500);
const ROUNDS: usize = 5;

async fn whoami(Extension(me): Extension<LiveSession>) -> String {
    me.user
}

async fn bare() -> &'static str {
    "dr-bench"
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/whoami", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Starts 10,000 sessions and returns their cookies.
async fn logins<S: SessionStore>(sessions: &Sessions<S>) -> Vec<String> {
    let mut cookies = Vec::with_capacity(SESSIONS);
    for i in 0..SESSIONS {
        let started = sessions
            .start(&format!("dr-{i}"), &Default::default())
            .await
            .unwrap();
        cookies.push(format!("sid={}", started.id().as_str()));
    }
    cookies
}

async fn guarded<S: SessionStore>(store: S, sink: Option<SqlSink>) -> (String, Vec<String>) {
    let mut builder = Sessions::builder(store).secure(false);
    if let Some(sink) = sink {
        builder = builder.records(sink);
    }
    let sessions = builder.build().unwrap();
    let cookies = logins(&sessions).await;
    let app = Router::new()
        .route("/api/whoami", get(whoami))
        .route_layer(SessionLayer::new(sessions));
    (serve(app).await, cookies)
}

/// `CONNECTIONS` clients, each cycling through the sessions, for one round.
async fn round(url: &str, cookies: &[String]) -> (usize, Vec<u32>) {
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let until = Instant::now() + ROUND;
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let (client, url, cookies) = (client.clone(), url.to_owned(), cookies.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = c * 613;
            while Instant::now() < until {
                let req = hyper::Request::get(&url)
                    .header("cookie", &cookies[i % cookies.len()])
                    .body(Body::empty())
                    .unwrap();
                let t = Instant::now();
                let res = client.request(req).await.unwrap();
                assert_eq!(res.status(), 200);
                res.into_body().collect().await.unwrap();
                lat.push(t.elapsed().as_micros() as u32);
                i += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all.len(), all)
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let redis = common::Redis::start();
    let bare_url = serve(Router::new().route("/api/whoami", get(bare))).await;
    let dir = std::env::temp_dir().join(format!("alo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sink = SqlSink::open(&format!("sqlite:{}", dir.join("audit.db").display()))
        .await
        .unwrap();
    let (mem_url, mem_cookies) = guarded(MemoryStore::new(), None).await;
    let (mem_sw_url, mem_sw_cookies) = guarded(MemoryStore::new(), Some(sink.clone())).await;
    let (redis_url, redis_cookies) =
        guarded(RedisStore::connect(&redis.url()).await.unwrap(), None).await;
    let redis2 = common::Redis::start();
    let (redis_sw_url, redis_sw_cookies) = guarded(
        RedisStore::connect(&redis2.url()).await.unwrap(),
        Some(sink.clone()),
    )
    .await;
    let variants: [(&str, &str, &[String]); 5] = [
        ("bare axum route (no layer)", &bare_url, &mem_cookies),
        ("layer + memory store", &mem_url, &mem_cookies),
        ("layer + memory + sweeper", &mem_sw_url, &mem_sw_cookies),
        ("layer + Redis store", &redis_url, &redis_cookies),
        ("layer + Redis + sweeper", &redis_sw_url, &redis_sw_cookies),
    ];
    let mut results: Vec<(usize, Vec<u32>, Vec<f64>)> =
        vec![(0, Vec::new(), Vec::new()); variants.len()];
    round(&bare_url, &mem_cookies).await; // warm-up
    for _ in 0..ROUNDS {
        for (i, (_, url, cookies)) in variants.iter().enumerate() {
            let (n, lat) = round(url, cookies).await;
            results[i].0 += n;
            results[i].1.extend(lat);
            results[i].2.push(n as f64 / ROUND.as_secs_f64());
        }
    }
    println!("guarded GET /api/whoami on loopback, {SESSIONS} live sessions, {CONNECTIONS} connections, {ROUNDS} interleaved rounds of {} ms", ROUND.as_millis());
    println!(
        "{:<28} {:>10} {:>16} {:>9} {:>9} {:>9}",
        "variant", "req/s", "round range", "p50 ms", "p99 ms", "vs bare"
    );
    let bare_rps = results[0].0 as f64 / (ROUNDS as f64 * ROUND.as_secs_f64());
    for (i, (name, _, _)) in variants.iter().enumerate() {
        let (n, lat, per_round) = &mut results[i];
        lat.sort_unstable();
        let rps = *n as f64 / (ROUNDS as f64 * ROUND.as_secs_f64());
        let lo = per_round.iter().cloned().fold(f64::MAX, f64::min);
        let hi = per_round.iter().cloned().fold(0.0, f64::max);
        println!(
            "{:<28} {:>10.0} {:>7.0}–{:<8.0} {:>9.3} {:>9.3} {:>8.1}%",
            name,
            rps,
            lo,
            hi,
            pct(lat, 0.50),
            pct(lat, 0.99),
            (1.0 - rps / bare_rps) * 100.0
        );
    }

    // Bytes per live session: process RSS (memory store) and Redis used_memory, over 10,000 more.
    let before = rss_bytes();
    let store = MemoryStore::new();
    let sessions = Sessions::builder(store.clone()).build().unwrap();
    logins(&sessions).await;
    let mem_per = (rss_bytes().saturating_sub(before)) as f64 / SESSIONS as f64;
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let used = |info: String| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let r0 = used(
        redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .unwrap(),
    );
    let rs = Sessions::builder(RedisStore::connect(&redis.url()).await.unwrap())
        .build()
        .unwrap();
    logins(&rs).await;
    let r1 = used(
        redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .unwrap(),
    );
    println!("bytes per live session: memory store ≈ {mem_per:.0} B (process RSS), Redis ≈ {:.0} B (used_memory, session hash + owner key)", (r1 - r0) as f64 / SESSIONS as f64);
    println!("(cost vs bare = 1 − req/s ÷ bare req/s; bare and guarded share the machine's 2 cores with the load generator)");
    sweep_cost().await;
}

/// Redis commands and ms per sweep: with 10,000 live sessions and none due (what every
/// replica does each second), and claiming + settling 1,000 expired ones. A Redis of its
/// own, with no sweeper running against it but this one.
async fn sweep_cost() {
    let redis = common::Redis::start();
    let url = &redis.url();
    let store = RedisStore::connect(url).await.unwrap();
    let now = store_now();
    for i in 0..SESSIONS {
        let s = Session {
            user: format!("dr-live-{i}"),
            created_at: now,
            last_activity: now,
            idle_ms: 900_000,
            absolute_ms: 43_200_000,
            event: format!("live-{i}"),
            previous_user: None,
        };
        store
            .create(&SessionId::generate().unwrap(), &s, None, now)
            .await
            .unwrap();
    }
    let client = redis::Client::open(url.as_str()).unwrap();
    let conn = client.get_multiplexed_async_connection().await.unwrap();
    let commands = || {
        let mut conn = conn.clone();
        async move {
            let info: String = redis::cmd("INFO")
                .arg("stats")
                .query_async(&mut conn)
                .await
                .unwrap();
            info.lines()
                .find_map(|l| l.strip_prefix("total_commands_processed:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        }
    };
    const IDLE_SWEEPS: u64 = 200;
    let c0 = commands().await;
    let t = Instant::now();
    for _ in 0..IDLE_SWEEPS {
        assert!(store.claim_expired(now, 500).await.unwrap().is_empty());
    }
    let per_idle_ms = t.elapsed().as_secs_f64() * 1000.0 / IDLE_SWEEPS as f64;
    let per_idle_cmds = (commands().await - c0 - 1) as f64 / IDLE_SWEEPS as f64;

    // 1,000 sessions that expired a moment ago.
    for i in 0..1000 {
        let id = SessionId::generate().unwrap();
        let at = now - 900_001;
        let s = Session {
            user: format!("dr-exp-{i}"),
            created_at: at,
            last_activity: at,
            idle_ms: 900_000,
            absolute_ms: 43_200_000,
            event: format!("bench-{i}"),
            previous_user: None,
        };
        store.create(&id, &s, None, at).await.unwrap();
    }
    let c0 = commands().await;
    let t = Instant::now();
    let mut claimed = 0;
    loop {
        let c = store.claim_expired(now, 500).await.unwrap();
        if c.is_empty() {
            break;
        }
        claimed += c.len();
        store.settle(&c).await.unwrap();
    }
    let busy_ms = t.elapsed().as_secs_f64() * 1000.0;
    let busy_cmds = commands().await - c0 - 1;
    println!(
        "sweeper, Redis, {SESSIONS} live sessions: a sweep with none due = {per_idle_cmds:.0} Redis commands (one EVALSHA and the two ZRANGEBYSCOREs it runs), {per_idle_ms:.3} ms; claiming and settling {claimed} expired = {busy_cmds} commands (script calls counted), {busy_ms:.1} ms ({:.3} ms per timeout, before the sink write)",
        busy_ms / claimed.max(1) as f64
    );
}

fn store_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
