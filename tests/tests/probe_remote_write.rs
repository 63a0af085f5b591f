//! Push through NAT, end to end: a real `probe agent` measuring a real `probe serve` remote-writes
//! to Debian's real Prometheus (remote-write receiver enabled, no scrape configuration) on
//! loopback; the receiver is killed for an outage and restarted on the same port and TSDB, and
//! every measurement taken during the outage must arrive with its own timestamp.
//!
//! Build the binary first: `cargo build -p probes --bins`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod common;
use common::*;

const PROMETHEUS: &str = "/usr/bin/prometheus";
/// Latency runs every 2 s ± 0.2 s: enough samples in a short outage.
const RUN_INTERVAL_S: f64 = 2.0;
const OUTAGE: Duration = Duration::from_secs(25);

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Start Prometheus without scrape jobs, with or without its remote-write receiver; stderr
/// goes to `log` so the test can look for rejected samples.
fn start_prometheus(dir: &Path, port: u16, log: &Path, receiver: bool) -> Proc {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n").unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(receiver.then_some("--web.enable-remote-write-receiver"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting prometheus");
    let p = Proc {
        child,
        name: "prometheus",
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for("prometheus ready", Duration::from_secs(60), || {
        matches!(try_http(addr, "GET", "/-/ready", &[]), Ok((200, _, _))).then_some(())
    });
    p
}

/// Raw samples `(unix seconds, value)` of one series over the `window_s` seconds before `at`,
/// read with a range-vector instant query (no step interpolation).
fn raw_samples(prom: SocketAddr, selector: &str, window_s: u64, at: f64) -> Vec<(f64, f64)> {
    let q = format!("{selector}[{window_s}s]");
    let Ok((200, _, body)) = try_http(
        prom,
        "GET",
        &format!("/api/v1/query?query={}&time={at:.3}", urlencode(&q)),
        &[],
    ) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
    assert!(
        result.len() <= 1,
        "{selector} matched several series: {body}"
    );
    result
        .first()
        .and_then(|r| r["values"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| Some((p[0].as_f64()?, p[1].as_str()?.parse().ok()?)))
        .collect()
}

/// Value of one self-metric line on the agent's `/metrics` (0 when absent).
fn agent_metric(agent: SocketAddr, line_prefix: &str) -> f64 {
    let (_, _, body) = http(agent, "GET", "/metrics", &[]);
    body.lines()
        .find_map(|l| l.strip_prefix(line_prefix)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Agent config: fast latency and http runs against `server`, pushing to `prom`.
fn agent_config(server: SocketAddr, prom: SocketAddr) -> String {
    format!(
        r#"[agent]
region = "NAT Region"
site = "behind-nat"
latitude = 41.3
longitude = 69.2
listen = "127.0.0.1:0"
daily_budget_bytes = 1_000_000_000

[tests.latency]
interval = "{RUN_INTERVAL_S}s"
jitter = "200ms"
timeout = "1500ms"
samples = 3

[tests.http]
interval = "5s"
jitter = "500ms"
timeout = "4s"

[[targets]]
name = "lo"
url = "http://{server}/"
tests = ["latency", "http"]

[remote_write]
url = "http://{prom}/api/v1/write"
interval = "1s"
timeout = "2s"
retry_backoff_min = "250ms"
retry_backoff_max = "2s"
instance = "rw-e2e"

[remote_write.labels]
deployment = "e2e"
"#
    )
}

#[test]
fn agent_remote_writes_and_survives_receiver_outage() {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} is missing: install Debian's prometheus package (scripts/bootstrap.sh)"
    );
    let t_start = unix_now();
    let dir = tempfile::tempdir().unwrap();
    let prom_log = dir.path().join("prometheus.log");
    let port = free_port();
    let prom_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut prom = start_prometheus(dir.path(), port, &prom_log, true);

    let (_server, server) = spawn_probe("probe serve", &["serve", "--listen", "127.0.0.1:0"]);
    let agent_cfg = dir.path().join("agent.toml");
    std::fs::write(&agent_cfg, agent_config(server, prom_addr)).unwrap();
    let (mut agent, agent_addr) = spawn_probe(
        "probe agent",
        &["agent", "--config", agent_cfg.to_str().unwrap()],
    );

    // 1. Series arrive with job/instance/extra labels, although Prometheus scrapes nothing.
    let sel = r#"probe_runs_total{instance="rw-e2e",job="probe-agent",region="NAT Region",site="behind-nat",deployment="e2e",target="lo",test="latency",result="success"}"#;
    wait_for("pushed latency runs", Duration::from_secs(60), || {
        (!prom_query(prom_addr, sel).is_empty()).then_some(())
    });
    for q in [
        r#"probe_agent_info{instance="rw-e2e",region="NAT Region",exported_region="NAT Region"}"#,
        r#"probe_latency_seconds{instance="rw-e2e",target="lo",stat="median"}"#,
        r#"probe_http_phase_seconds{instance="rw-e2e",target="lo",phase="ttfb"}"#,
        // Agent-level reload state is pushed too (ProbeConfigReloadFailed works behind NAT).
        r#"probe_config_last_reload_successful{instance="rw-e2e"} == 1"#,
    ] {
        wait_for(q, Duration::from_secs(15), || {
            (!prom_query(prom_addr, q).is_empty()).then_some(())
        });
    }
    assert!(
        prom_query(prom_addr, "up").is_empty(),
        "nothing is scraped: data must come from remote write only"
    );

    // 2. Outage: kill the receiver; the agent keeps measuring and queues.
    let t_kill = unix_now();
    prom.signal("KILL");
    prom.wait_exit(Duration::from_secs(10));
    drop(prom);
    std::thread::sleep(OUTAGE);
    let queued = agent_metric(agent_addr, "probe_remote_write_queue_samples ");
    let retries = agent_metric(
        agent_addr,
        r#"probe_remote_write_requests_total{result="retry"} "#,
    );
    assert!(queued > 0.0, "samples queue during the outage");
    assert!(retries > 0.0, "failed sends are retried");
    let t_restart = unix_now();

    // 3. Recovery on the same port and TSDB: the queue drains.
    let prom = start_prometheus(dir.path(), port, &prom_log, true);
    wait_for("queue drained", Duration::from_secs(60), || {
        (agent_metric(agent_addr, "probe_remote_write_queue_samples ") < 50.0
            && agent_metric(
                agent_addr,
                "probe_remote_write_last_success_timestamp_seconds ",
            ) > t_restart)
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let now = unix_now();
    let window = (now - t_start).ceil() as u64 + 1;
    let samples = raw_samples(prom_addr, sel, window, now);
    let in_outage: Vec<f64> = samples
        .iter()
        .map(|s| s.0)
        .filter(|t| *t > t_kill + 0.5 && *t < t_restart - 0.5)
        .collect();
    let expected = (t_restart - t_kill) / RUN_INTERVAL_S;
    assert!(
        in_outage.len() as f64 >= expected * 0.75,
        "{} samples stamped inside the {:.0} s outage, expected about {expected:.0}: {samples:?}",
        in_outage.len(),
        t_restart - t_kill
    );
    // Nothing lost: the success counter was pushed after every run, so its samples step by
    // exactly one from the first run on, and no gap is longer than a run interval + jitter.
    assert_eq!(samples.first().map(|s| s.1), Some(1.0), "{samples:?}");
    for w in samples.windows(2) {
        assert_eq!(w[1].1 - w[0].1, 1.0, "a run is missing: {w:?}");
        assert!(
            w[1].0 - w[0].0 < RUN_INTERVAL_S + 1.5,
            "gap in the pushed samples: {w:?}"
        );
    }
    let dropped = agent_metric(
        agent_addr,
        r#"probe_remote_write_samples_total{result="dropped"} "#,
    );
    let rejected = agent_metric(
        agent_addr,
        r#"probe_remote_write_samples_total{result="rejected"} "#,
    );
    assert_eq!(
        (dropped, rejected),
        (0.0, 0.0),
        "no sample dropped or rejected"
    );
    let log = std::fs::read_to_string(&prom_log).unwrap();
    for bad in ["out of bounds", "out of order", "duplicate sample"] {
        assert!(
            !log.to_ascii_lowercase().contains(bad),
            "Prometheus rejected samples ({bad}):\n{log}"
        );
    }

    // Figures for the docs: compressed bytes and samples per accepted request.
    let sent = agent_metric(
        agent_addr,
        r#"probe_remote_write_samples_total{result="sent"} "#,
    );
    let requests = agent_metric(
        agent_addr,
        r#"probe_remote_write_requests_total{result="success"} "#,
    );
    let bytes = agent_metric(agent_addr, "probe_remote_write_sent_bytes_total ");
    println!(
        "remote write: {sent} samples in {requests} requests, {bytes} bytes: {:.0} bytes/request, \
         {:.0} samples/request, {:.1} bytes/sample; outage queue peaked near {queued} samples",
        bytes / requests,
        sent / requests,
        bytes / sent
    );

    // 4. Graceful shutdown within the documented 5 s.
    agent.signal("TERM");
    let st = agent.wait_exit(Duration::from_secs(8));
    assert!(st.success(), "agent exit {st:?}");
    drop(prom);
}

/// A receiver that answers a 4xx other than 429 (here: Prometheus without its remote-write
/// receiver) makes the agent drop and count the batches instead of retrying them forever.
#[test]
fn rejected_batches_are_dropped_and_counted() {
    assert!(Path::new(PROMETHEUS).exists(), "{PROMETHEUS} is missing");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let prom_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let log = dir.path().join("prometheus.log");
    let _prom = start_prometheus(dir.path(), port, &log, false);
    let (_server, server) = spawn_probe("probe serve", &["serve", "--listen", "127.0.0.1:0"]);
    let agent_cfg = dir.path().join("agent.toml");
    std::fs::write(&agent_cfg, agent_config(server, prom_addr)).unwrap();
    let (_agent, agent_addr) = spawn_probe(
        "probe agent",
        &["agent", "--config", agent_cfg.to_str().unwrap()],
    );
    let rejected = wait_for("rejected samples", Duration::from_secs(60), || {
        let n = agent_metric(
            agent_addr,
            r#"probe_remote_write_samples_total{result="rejected"} "#,
        );
        (n > 0.0).then_some(n)
    });
    let requests = agent_metric(
        agent_addr,
        r#"probe_remote_write_requests_total{result="rejected"} "#,
    );
    assert!(requests >= 1.0, "{requests}");
    for line in [
        r#"probe_remote_write_requests_total{result="retry"} "#,
        r#"probe_remote_write_samples_total{result="sent"} "#,
        "probe_remote_write_last_success_timestamp_seconds ",
    ] {
        assert_eq!(agent_metric(agent_addr, line), 0.0, "{line}");
    }
    println!("{rejected} samples rejected in {requests} requests");
}
