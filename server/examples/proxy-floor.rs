//! The floor under the gateway: a hyper reverse proxy that does nothing else (no
//! session, no header rules, no log), for `node bench/floor.mjs`, which runs it beside
//! nginx `proxy_pass` and the gateway on one upstream. Two ways of reaching the app:
//!
//! - `pooled`: hyper-util's pooled client (what the gateway used before 2026-12-07);
//! - `link`: one upstream connection per client connection, driven in that
//!   connection's task (what the gateway's `link` does).
//!
//! `cargo build --profile server -p autologoff-server --example proxy-floor`, then
//! `proxy-floor pooled|link PORT UPSTREAM_ADDR`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};

type Answer = Result<hyper::Response<Body>, Infallible>;

fn bad_gateway() -> hyper::Response<Body> {
    let mut res = hyper::Response::new(Body::empty());
    *res.status_mut() = hyper::StatusCode::BAD_GATEWAY;
    res
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, port, upstream] = args.as_slice() else {
        eprintln!("usage: proxy-floor pooled|link PORT UPSTREAM_ADDR");
        std::process::exit(2);
    };
    let port: u16 = port.parse().expect("PORT: a port number");
    let upstream: SocketAddr = upstream.parse().expect("UPSTREAM_ADDR: host:port");
    let pooled = match mode.as_str() {
        "pooled" => true,
        "link" => false,
        other => panic!("mode {other}: expected pooled or link"),
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(connector);
    println!("listening on http://127.0.0.1:{port}/");
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let client = client.clone();
        tokio::spawn(async move {
            if pooled {
                serve_pooled(tcp, client, upstream).await;
            } else {
                serve_link(tcp, upstream).await;
            }
        });
    }
}

async fn serve_pooled(tcp: TcpStream, client: Client<HttpConnector, Body>, upstream: SocketAddr) {
    let service = hyper::service::service_fn(move |r: hyper::Request<Incoming>| {
        let client = client.clone();
        async move {
            let (mut parts, body) = r.into_parts();
            let pq = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
            parts.uri = format!("http://{upstream}{pq}").parse().expect("a URI");
            let sent = client.request(hyper::Request::from_parts(parts, Body::new(body)));
            Answer::Ok(
                sent.await
                    .map_or_else(|_| bad_gateway(), |a| a.map(Body::new)),
            )
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tcp), service)
        .await;
}

async fn serve_link(tcp: TcpStream, upstream: SocketAddr) {
    let Ok(app) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = app.set_nodelay(true);
    let Ok((sender, link)) =
        hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(app)).await
    else {
        return;
    };
    let sender = Arc::new(tokio::sync::Mutex::new(sender));
    let service = hyper::service::service_fn(move |r: hyper::Request<Incoming>| {
        let sender = Arc::clone(&sender);
        async move {
            let mut s = sender.lock().await;
            if s.ready().await.is_err() {
                return Answer::Ok(bad_gateway());
            }
            let sent = s.send_request(r.map(Body::new));
            drop(s);
            Answer::Ok(
                sent.await
                    .map_or_else(|_| bad_gateway(), |a| a.map(Body::new)),
            )
        }
    });
    let server =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
    tokio::select! {
        _ = server => {}
        _ = link => {}
    }
}
