//! Agent scheduling rules against a real `probe serve` on loopback: heavy tests never overlap,
//! and the daily data budget stops runs (reason `budget_exhausted`) instead of being exceeded.

use std::time::Duration;

use probes::probers::TestKind;

async fn paced_server(bytes_per_s: f64) -> std::net::SocketAddr {
    let server = probes::serve::Server::bind(probes::serve::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_client_bytes_per_second: Some(bytes_per_s),
        ..Default::default()
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));
    addr
}

fn config(server: std::net::SocketAddr, budget: u64) -> String {
    format!(
        r#"[agent]
region = "R"
site = "S"
latitude = 10.0
longitude = 20.0
listen = "127.0.0.1:0"
daily_budget_bytes = {budget}

[tests.download]
interval = "1h"
jitter = "1s"
timeout = "10s"
duration = "1.5s"
grace = "0.5s"
streams = 2
max_bytes = 20_000_000

[tests.upload]
interval = "1h"
jitter = "1s"
timeout = "10s"
duration = "1.5s"
grace = "0.5s"
streams = 2
max_bytes = 20_000_000

[[targets]]
name = "srv"
url = "http://{server}/"
tests = ["latency"]
"#
    )
}

async fn start(
    text: &str,
) -> (
    probes::agent::RunningAgent,
    tokio::sync::oneshot::Sender<()>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, text).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let agent = probes::agent::start(&path, async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    (agent, tx, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_tests_run_one_at_a_time() {
    let server = paced_server(5e6).await;
    let (agent, tx, _dir) = start(&config(server, 1_000_000_000)).await;
    let cfg = agent.state.config();
    let target = cfg.targets[0].clone();
    let (d, u) = (
        cfg.tests[&TestKind::Download].clone(),
        cfg.tests[&TestKind::Upload].clone(),
    );
    let st = agent.state.clone();
    let (a, b, c) = tokio::join!(
        st.run_once(&target, TestKind::Download, &d),
        st.run_once(&target, TestKind::Upload, &u),
        st.run_once(&target, TestKind::Download, &d),
    );
    let mut spans: Vec<(f64, f64)> = [&a, &b, &c]
        .iter()
        .map(|r| {
            assert!(r.success(), "{:?}", r.outcome);
            (
                r.started_unix_seconds,
                r.started_unix_seconds + r.duration_seconds,
            )
        })
        .collect();
    spans.sort_by(|x, y| x.0.total_cmp(&y.0));
    for w in spans.windows(2) {
        assert!(w[1].0 >= w[0].1 - 1e-3, "heavy runs overlap: {spans:?}");
    }
    tx.send(()).unwrap();
    agent.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_budget_stops_runs_before_it_is_exceeded() {
    let server = paced_server(10e6).await;
    // Room for one 20 MB download, not two.
    let (agent, tx, _dir) = start(&config(server, 30_000_000)).await;
    let cfg = agent.state.config();
    let target = cfg.targets[0].clone();
    let d = cfg.tests[&TestKind::Download].clone();
    let first = agent.state.run_once(&target, TestKind::Download, &d).await;
    assert!(first.success(), "{:?}", first.outcome);
    assert!(
        first.bytes_used > 5_000_000 && first.bytes_used <= 20_000_000,
        "{}",
        first.bytes_used
    );
    let second = agent.state.run_once(&target, TestKind::Download, &d).await;
    assert_eq!(second.result_label(), "budget_exhausted");
    assert_eq!(second.bytes_used, 0);
    assert!(agent.state.budget_remaining() < 20_000_000);
    let text = reqwest::get(format!("http://{}/metrics", agent.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"probe_failure_reason{target="srv",scope="domestic",test="download",reason="budget_exhausted"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"probe_runs_total{target="srv",scope="domestic",test="download",result="success"} 1"#
        ),
        "{text}"
    );
    let remaining = 30_000_000 - first.bytes_used;
    let (_, rest) = text
        .split_once("\nprobe_data_budget_remaining_bytes ")
        .unwrap();
    let shown: f64 = rest.split_whitespace().next().unwrap().parse().unwrap();
    // Light scheduled runs (latency) may have used a few bytes meanwhile.
    assert!(
        shown <= remaining as f64 && shown > remaining as f64 - 1e5,
        "{shown} vs {remaining}"
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    tx.send(()).unwrap();
    agent.wait().await.unwrap();
}
