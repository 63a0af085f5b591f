//! LibreSpeed installs addressed by their root URL: a standard install keeps its backend under
//! `backend/` (`backend/empty.php`, `backend/garbage.php`, `backend/getIP.php`), so both
//! `probe run --server http://host/` and an agent target `kind = "librespeed"` with
//! `url = "http://host/"` must find it there, say so, and fail clearly when nothing answers.
//!
//! The server is a small real HTTP server on loopback that answers only below `/backend/`
//! (404 everywhere else, like a web server whose document root holds the LibreSpeed files).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::routing::any;
use axum::Router;
use futures_util::StreamExt;
use probes::endpoint::ServerKind;
use probes::net::Resolver;
use probes::oneshot::{run, RunOptions};
use probes::probers::TestKind;
use probes::FailureReason;

#[derive(Default)]
struct Hits {
    garbage: AtomicU64,
    /// Requests outside `/backend/` (all answered 404).
    misses: AtomicU64,
}

#[derive(serde::Deserialize)]
struct Ck {
    #[serde(rename = "ckSize")]
    ck_size: Option<u64>,
}

/// `garbage.php`: ckSize chunks of 1 MiB (default 4, at most 1024), streamed at about
/// 13 MB/s per request (64 KiB every 5 ms) so loopback runs stay under the byte caps.
async fn garbage(State(h): State<Arc<Hits>>, Query(q): Query<Ck>) -> Body {
    h.garbage.fetch_add(1, Ordering::Relaxed);
    let chunks = q.ck_size.unwrap_or(4).clamp(1, 1024) * 16;
    let piece = bytes::Bytes::from(vec![0x5au8; 1 << 16]);
    Body::from_stream(
        futures_util::stream::repeat(piece)
            .take(chunks as usize)
            .then(|p| async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok::<_, std::io::Error>(p)
            }),
    )
}

/// `empty.php`: reads and discards any body (at about 13 MB/s, as `garbage.php` sends),
/// answers 200 with nothing.
async fn empty(body: Body) -> &'static str {
    let mut s = body.into_data_stream();
    while let Some(Ok(chunk)) = s.next().await {
        tokio::time::sleep(Duration::from_secs_f64(chunk.len() as f64 / 13e6)).await;
    }
    ""
}

async fn get_ip() -> &'static str {
    "127.0.0.1"
}

async fn miss(State(h): State<Arc<Hits>>) -> axum::http::StatusCode {
    h.misses.fetch_add(1, Ordering::Relaxed);
    axum::http::StatusCode::NOT_FOUND
}

/// A LibreSpeed install whose backend lives under `/backend/` only.
async fn install() -> (SocketAddr, Arc<Hits>) {
    let hits = Arc::new(Hits::default());
    let backend = Router::new()
        .route("/garbage.php", any(garbage))
        .route("/empty.php", any(empty))
        .route("/getIP.php", any(get_ip));
    let app = Router::new()
        .nest("/backend", backend)
        .fallback(miss)
        .with_state(hits.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (addr, hits)
}

fn options(server: &str, kind: Option<ServerKind>, tests: Vec<TestKind>) -> RunOptions {
    probes::net::install_crypto_provider();
    RunOptions {
        server: reqwest::Url::parse(server).unwrap(),
        kind,
        tests,
        duration: Duration::from_millis(2500),
        grace: Duration::from_millis(500),
        streams: 2,
        max_bytes: 300_000_000,
        ca_file: None,
        resolver: Resolver::System,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_run_at_an_install_root_finds_the_backend() {
    let (addr, hits) = install().await;
    let root = format!("http://{addr}/");
    let r = run(&options(
        &root,
        None,
        vec![TestKind::Download, TestKind::Upload, TestKind::Latency],
    ))
    .await
    .unwrap();
    assert_eq!(r.kind, Some(ServerKind::Librespeed), "{}", r.why);
    // Why: /info is not probe serve, the root has no empty.php, backend/ has.
    assert!(
        r.why.contains(&format!("GET {root}info answered 404")),
        "{}",
        r.why
    );
    assert!(
        r.why.contains(&format!("GET {root}empty.php answered 404")),
        "{}",
        r.why
    );
    assert!(
        r.why.contains(&format!(
            "GET {root}backend/empty.php answered 200 (LibreSpeed backend)"
        )),
        "{}",
        r.why
    );
    for res in &r.results {
        assert!(res.success(), "{}: {:?}", res.test, res.outcome);
    }
    assert!(hits.garbage.load(Ordering::Relaxed) > 0);
    let json = probes::oneshot::to_json(&reqwest::Url::parse(&root).unwrap(), &r);
    assert_eq!(json["kind"], "librespeed");
    assert!(json["kind_detection"]
        .as_str()
        .unwrap()
        .contains("backend/"));

    // --kind librespeed skips the kind detection but still finds backend/.
    let r = run(&options(
        &root,
        Some(ServerKind::Librespeed),
        vec![TestKind::Latency],
    ))
    .await
    .unwrap();
    assert_eq!(r.kind, Some(ServerKind::Librespeed));
    assert!(r.why.starts_with("--kind librespeed; GET "), "{}", r.why);
    assert!(
        r.why.contains("backend/empty.php answered 200"),
        "{}",
        r.why
    );
    assert!(r.results[0].success(), "{:?}", r.results[0].outcome);

    // The backend URL itself works as given.
    let r = run(&options(
        &format!("{root}backend/"),
        Some(ServerKind::Librespeed),
        vec![TestKind::Latency],
    ))
    .await
    .unwrap();
    assert!(
        r.why
            .contains(&format!("GET {root}backend/empty.php answered 200")),
        "{}",
        r.why
    );
    assert!(!r.why.contains("backend/backend"), "{}", r.why);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_run_names_every_path_tried_when_no_backend_answers() {
    // An HTTP server with nothing at all: every probe answers 404.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, Router::new()).await });
    let root = format!("http://{addr}/");
    let r = run(&options(
        &root,
        Some(ServerKind::Librespeed),
        vec![TestKind::Latency],
    ))
    .await
    .unwrap();
    assert_eq!(r.kind, None);
    let e = r.results[0].outcome.as_ref().unwrap_err();
    assert_eq!(e.reason, FailureReason::HttpStatus);
    assert!(
        e.message
            .contains(&format!("GET {root}empty.php answered 404")),
        "{}",
        e.message
    );
    assert!(
        e.message
            .contains(&format!("GET {root}backend/empty.php answered 404")),
        "{}",
        e.message
    );
    // Without --kind, the detection lists every kind it tried.
    let r = run(&options(&root, None, vec![TestKind::Latency]))
        .await
        .unwrap();
    assert_eq!(r.kind, None);
    for probe in ["info", "empty.php", "backend/empty.php", "__down?bytes=0"] {
        assert!(
            r.why.contains(&format!("GET {root}{probe} answered 404")),
            "{probe}: {}",
            r.why
        );
    }
}

fn agent_config(url: &str) -> String {
    format!(
        r#"[agent]
region = "R"
site = "S"
latitude = 0.0
longitude = 0.0
listen = "127.0.0.1:0"
daily_budget_bytes = 1_000_000_000

[tests.download]
interval = "1h"
jitter = "30m"
duration = "2s"
grace = "0.5s"

[tests.latency]
interval = "1h"
jitter = "30m"

[[targets]]
name = "ls"
kind = "librespeed"
url = "{url}"
tests = ["download", "latency"]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_librespeed_target_at_an_install_root_finds_the_backend() {
    let (addr, hits) = install().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, agent_config(&format!("http://{addr}/"))).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let agent = probes::agent::start(&path, async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    let cfg = agent.state.config();
    let t = cfg.targets[0].clone();
    let r = agent
        .state
        .run_once(&t, TestKind::Latency, &cfg.tests[&TestKind::Latency])
        .await;
    assert!(r.success(), "{:?}", r.outcome);
    // Found once: later runs go straight to backend/ (one lookup GET at the root in all).
    let found = t.endpoints.backend.as_ref().unwrap().get().cloned();
    assert_eq!(
        found.map(|u| u.to_string()),
        Some(format!("http://{addr}/backend/"))
    );
    assert_eq!(
        hits.misses.load(Ordering::Relaxed),
        1,
        "GET /empty.php once"
    );
    let r = agent
        .state
        .run_once(&t, TestKind::Download, &cfg.tests[&TestKind::Download])
        .await;
    assert!(r.success(), "{:?}", r.outcome);
    assert!(r.outcome.unwrap().download_bytes_per_second.unwrap() > 0.0);
    assert!(hits.garbage.load(Ordering::Relaxed) > 0);
    // The download looked nothing up again.
    assert_eq!(hits.misses.load(Ordering::Relaxed), 1);
    tx.send(()).unwrap();
    agent.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_librespeed_target_without_a_backend_fails_with_the_paths_tried() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, Router::new()).await });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, agent_config(&format!("http://{addr}/"))).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let agent = probes::agent::start(&path, async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    let cfg = agent.state.config();
    let t = cfg.targets[0].clone();
    let r = agent
        .state
        .run_once(&t, TestKind::Latency, &cfg.tests[&TestKind::Latency])
        .await;
    let e = r.outcome.unwrap_err();
    assert_eq!(e.reason, FailureReason::HttpStatus);
    assert!(
        e.message.contains("no LibreSpeed backend at"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("backend/empty.php answered 404"),
        "{}",
        e.message
    );
    assert!(t.endpoints.backend.as_ref().unwrap().get().is_none());
    tx.send(()).unwrap();
    agent.wait().await.unwrap();
}
