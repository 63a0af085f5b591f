//! Push through NAT, end to end: a real `probe agent` measuring a real `probe serve` remote-writes
//! to a real store on loopback — Debian's Prometheus (remote-write receiver enabled, no scrape
//! configuration) and Debian's VictoriaMetrics (the single-node form of its cluster, same write
//! and query API). The store is killed for an outage and restarted on the same port and data
//! directory, and every measurement taken during the outage must arrive with its own timestamp.
//! VictoriaMetrics is reached through a tenant gateway in the test process that, like the
//! authenticating proxy in front of Grafana Mimir or Thanos Receive, refuses any request without
//! the tenant header (`[remote_write.headers]`), and answers 502 while the store is down.
//!
//! Build the binary first: `cargo build -p probes --bins`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod common;
use common::*;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const VICTORIA_METRICS: &str = "/usr/bin/victoria-metrics";
/// The tenant the agent sends and the gateway requires (Mimir's header name).
const TENANT_HEADER: &str = "X-Scope-OrgID";
const TENANT: &str = "uz-probes";
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

/// Agent config: fast latency and http runs against `server`, pushing to `receiver`, with
/// `extra` appended (e.g. a `[remote_write.headers]` table).
fn agent_config(server: SocketAddr, receiver: SocketAddr, extra: &str) -> String {
    let prom = receiver;
    let mut cfg = format!(
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
    );
    cfg.push_str(extra);
    cfg
}

/// The two stores the agent is tested against.
#[derive(Clone, Copy, Debug)]
enum Store {
    Prometheus,
    VictoriaMetrics,
}

impl Store {
    fn binary(self) -> &'static str {
        match self {
            Store::Prometheus => PROMETHEUS,
            Store::VictoriaMetrics => VICTORIA_METRICS,
        }
    }

    /// Start the store on `port` with its data under `dir`, ready to accept writes.
    fn start(self, dir: &Path, port: u16, log: &Path) -> Proc {
        match self {
            Store::Prometheus => start_prometheus(dir, port, log, true),
            Store::VictoriaMetrics => start_victoria_metrics(dir, port, log),
        }
    }

    /// Raw samples `(unix seconds, value)` of the one series `selector` matches in `[from, to]`.
    fn raw_samples(self, addr: SocketAddr, selector: &str, from: f64, to: f64) -> Vec<(f64, f64)> {
        match self {
            Store::Prometheus => raw_samples(addr, selector, (to - from).ceil() as u64 + 1, to),
            Store::VictoriaMetrics => vm_export(addr, selector, from, to),
        }
    }

    /// How the outage starts. Prometheus is killed outright: its WAL keeps what it
    /// acknowledged. VictoriaMetrics has no WAL by design and loses the last seconds of
    /// acknowledged samples on a hard kill (seen here: ~10 s), so it is stopped with SIGTERM,
    /// which flushes; the agent sees the same refused connections either way.
    fn stop_signal(self) -> &'static str {
        match self {
            Store::Prometheus => "KILL",
            Store::VictoriaMetrics => "TERM",
        }
    }

    /// Lines of the store's log that report refused samples.
    fn rejections(self, log: &str) -> Vec<String> {
        let bad: &[&str] = match self {
            Store::Prometheus => &["out of bounds", "out of order", "duplicate sample"],
            // VictoriaMetrics accepts any timestamp within retention; it logs what it skips.
            Store::VictoriaMetrics => &["cannot unmarshal", "skipping", "too big"],
        };
        log.lines()
            .filter(|l| bad.iter().any(|b| l.to_ascii_lowercase().contains(b)))
            .map(str::to_string)
            .collect()
    }
}

/// Debian's VictoriaMetrics single node on loopback. `-search.latencyOffset=0s` makes samples
/// queryable at once (the default hides the newest 30 s, meant for scrapes still in flight).
fn start_victoria_metrics(dir: &Path, port: u16, log: &Path) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(VICTORIA_METRICS)
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg(format!(
            "-storageDataPath={}",
            dir.join("vm-data").display()
        ))
        .arg("-retentionPeriod=1")
        .arg("-search.latencyOffset=0s")
        .arg("-loggerLevel=WARN")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting victoria-metrics");
    let p = Proc {
        child,
        name: "victoria-metrics",
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for("victoria-metrics ready", Duration::from_secs(60), || {
        matches!(try_http(addr, "GET", "/health", &[]), Ok((200, _, _))).then_some(())
    });
    p
}

/// Raw samples from VictoriaMetrics' export API (JSON lines, one per series, with the stored
/// values and millisecond timestamps).
fn vm_export(vm: SocketAddr, selector: &str, from: f64, to: f64) -> Vec<(f64, f64)> {
    let path = format!(
        "/api/v1/export?match[]={}&start={from:.3}&end={to:.3}",
        urlencode(selector)
    );
    let Ok((200, _, body)) = try_http(vm, "GET", &path, &[]) else {
        return Vec::new();
    };
    let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() <= 1,
        "{selector} matched several series: {body}"
    );
    let Some(line) = lines.first() else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let values = v["values"].as_array().cloned().unwrap_or_default();
    let ts = v["timestamps"].as_array().cloned().unwrap_or_default();
    ts.iter()
        .zip(values.iter())
        .filter_map(|(t, v)| Some((t.as_f64()? / 1000.0, v.as_f64()?)))
        .collect()
}

/// What the tenant gateway saw.
#[derive(Default)]
struct GatewayCounts {
    /// Requests with the right tenant, forwarded (whatever the store answered).
    forwarded: u64,
    /// Requests without the tenant header or with another tenant, refused with 401.
    refused: u64,
    /// Forwarded requests the store could not take (it was down): answered 502.
    upstream_down: u64,
}

/// An HTTP gateway on loopback that requires `TENANT_HEADER: TENANT` on every request, as the
/// authenticating proxy of a multi-tenant store does (Mimir answers 401 "no org id"), and
/// forwards the request to `upstream`. The thread runs until the test process exits.
fn start_tenant_gateway(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<GatewayCounts>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Mutex::new(GatewayCounts::default()));
    let c = counts.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let c = c.clone();
            std::thread::spawn(move || {
                let _ = gateway_connection(conn, upstream, &c);
            });
        }
    });
    (addr, counts)
}

/// Serves the requests of one keep-alive client connection.
fn gateway_connection(
    conn: TcpStream,
    upstream: SocketAddr,
    counts: &Mutex<GatewayCounts>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        let (status, reply) = if header(&TENANT_HEADER.to_ascii_lowercase()) != Some(TENANT) {
            lock(counts).refused += 1;
            (401, b"no org id\n".to_vec())
        } else {
            lock(counts).forwarded += 1;
            match forward(upstream, request_line.trim_end(), &headers, &body) {
                Ok(r) => r,
                Err(_) => {
                    lock(counts).upstream_down += 1;
                    (502, b"store unavailable\n".to_vec())
                }
            }
        };
        write!(
            conn,
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n",
            reply.len()
        )?;
        conn.write_all(&reply)?;
    }
}

/// One request to the store over a fresh connection; (status, body) of its answer.
fn forward(
    upstream: SocketAddr,
    request_line: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&upstream, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (method_path, _) = request_line.rsplit_once(' ').unwrap_or((request_line, ""));
    let mut req = format!(
        "{method_path} HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        if k.starts_with("content-") && k != "content-length" || k.starts_with("x-prometheus-") {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status from the store"))?;
    Ok((status, rest.as_bytes().to_vec()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The outage case against one store: series arrive with their labels, the store is killed
/// and restarted, and nothing measured meanwhile is lost (the queue bound, 100,000 samples by
/// default, is far above what a 25 s outage produces).
fn outage_case(store: Store, through_gateway: bool) {
    let bin = store.binary();
    if !Path::new(bin).exists() {
        // Under CI the tool must be there (scripts/bootstrap.sh installs it): fail, never skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "{bin} is missing: install it with scripts/bootstrap.sh"
        );
        eprintln!("SKIPPED: {bin} is missing (scripts/bootstrap.sh installs it)");
        return;
    }
    let t_start = unix_now();
    let dir = tempfile::tempdir().unwrap();
    let store_log = dir.path().join("store.log");
    let port = free_port();
    let store_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut running = store.start(dir.path(), port, &store_log);
    let (receiver, gateway) = if through_gateway {
        let (addr, counts) = start_tenant_gateway(store_addr);
        (addr, Some(counts))
    } else {
        (store_addr, None)
    };

    let (_server, server) = spawn_probe("probe serve", &["serve", "--listen", "127.0.0.1:0"]);
    let agent_cfg = dir.path().join("agent.toml");
    let extra = if through_gateway {
        format!("\n[remote_write.headers]\n{TENANT_HEADER} = \"{TENANT}\"\n")
    } else {
        String::new()
    };
    std::fs::write(&agent_cfg, agent_config(server, receiver, &extra)).unwrap();
    let (mut agent, agent_addr) = spawn_probe(
        "probe agent",
        &["agent", "--config", agent_cfg.to_str().unwrap()],
    );

    // 1. Series arrive with job/instance/extra labels, although nothing is scraped.
    let sel = r#"probe_runs_total{instance="rw-e2e",job="probe-agent",region="NAT Region",site="behind-nat",deployment="e2e",target="lo",test="latency",result="success"}"#;
    wait_for("pushed latency runs", Duration::from_secs(60), || {
        (!prom_query(store_addr, sel).is_empty()).then_some(())
    });
    for q in [
        r#"probe_agent_info{instance="rw-e2e",region="NAT Region",exported_region="NAT Region"}"#,
        r#"probe_latency_seconds{instance="rw-e2e",target="lo",stat="median"}"#,
        r#"probe_http_phase_seconds{instance="rw-e2e",target="lo",phase="ttfb"}"#,
        // Agent-level reload state is pushed too (ProbeConfigReloadFailed works behind NAT).
        r#"probe_config_last_reload_successful{instance="rw-e2e"} == 1"#,
    ] {
        wait_for(q, Duration::from_secs(15), || {
            (!prom_query(store_addr, q).is_empty()).then_some(())
        });
    }
    assert!(
        prom_query(store_addr, "up").is_empty(),
        "nothing is scraped: data must come from remote write only"
    );

    // 2. Outage: kill the store; the agent keeps measuring and queues.
    let t_kill = unix_now();
    running.signal(store.stop_signal());
    running.wait_exit(Duration::from_secs(10));
    drop(running);
    std::thread::sleep(OUTAGE);
    let queued = agent_metric(agent_addr, "probe_remote_write_queue_samples ");
    let retries = agent_metric(
        agent_addr,
        r#"probe_remote_write_requests_total{result="retry"} "#,
    );
    assert!(queued > 0.0, "samples queue during the outage");
    assert!(retries > 0.0, "failed sends are retried");
    let t_restart = unix_now();

    // 3. Recovery on the same port and data directory: the queue drains.
    let running = store.start(dir.path(), port, &store_log);
    wait_for("queue drained", Duration::from_secs(60), || {
        (agent_metric(agent_addr, "probe_remote_write_queue_samples ") < 50.0
            && agent_metric(
                agent_addr,
                "probe_remote_write_last_success_timestamp_seconds ",
            ) > t_restart)
            .then_some(())
    });
    // The drained samples become searchable shortly after they are accepted: poll until the
    // outage is covered rather than sleeping a guessed time.
    let expected = (t_restart - t_kill) / RUN_INTERVAL_S;
    let samples = wait_for("outage samples searchable", Duration::from_secs(30), || {
        let s = store.raw_samples(store_addr, sel, t_start - 1.0, unix_now());
        let n = s
            .iter()
            .filter(|p| p.0 > t_kill + 0.5 && p.0 < t_restart - 0.5)
            .count();
        (n as f64 >= expected * 0.75).then_some(s)
    });
    // Nothing lost: the success counter was pushed after every run, so its samples step by
    // exactly one from the first run on, and no gap is longer than a run interval + jitter.
    assert_eq!(
        samples.first().map(|s| s.1),
        Some(1.0),
        "{store:?}: {samples:?}"
    );
    for w in samples.windows(2) {
        assert_eq!(w[1].1 - w[0].1, 1.0, "{store:?}: a run is missing: {w:?}");
        assert!(
            w[1].0 - w[0].0 < RUN_INTERVAL_S + 1.5,
            "{store:?}: gap in the pushed samples: {w:?}"
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
        "{store:?}: no sample dropped or rejected"
    );
    let log = std::fs::read_to_string(&store_log).unwrap();
    let refused = store.rejections(&log);
    assert!(
        refused.is_empty(),
        "{store:?} refused samples:\n{}",
        refused.join("\n")
    );
    if let Some(counts) = &gateway {
        let c = lock(counts);
        assert_eq!(c.refused, 0, "a request lacked the {TENANT_HEADER} header");
        assert!(
            c.forwarded > 0 && c.upstream_down > 0,
            "gateway saw the outage"
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
        "remote write to {store:?}: {sent} samples in {requests} requests, {bytes} bytes: \
         {:.0} bytes/request, {:.0} samples/request, {:.1} bytes/sample; outage queue peaked \
         near {queued} samples",
        bytes / requests,
        sent / requests,
        bytes / sent
    );

    // 4. Graceful shutdown within the documented 5 s.
    agent.signal("TERM");
    let st = agent.wait_exit(Duration::from_secs(8));
    assert!(st.success(), "agent exit {st:?}");
    drop(running);
}

#[test]
fn agent_remote_writes_to_prometheus_and_survives_its_outage() {
    outage_case(Store::Prometheus, false);
}

#[test]
fn agent_remote_writes_to_victoria_metrics_with_tenant_and_survives_its_outage() {
    outage_case(Store::VictoriaMetrics, true);
}

/// A gateway that requires a tenant refuses an agent configured without one; the 401 is a
/// rejection (dropped and counted), not retried.
#[test]
fn missing_tenant_header_is_refused_and_counted() {
    // The gateway never reaches a store here: port 9 (discard) has no listener on loopback.
    let (gw, counts) = start_tenant_gateway("127.0.0.1:9".parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (_server, server) = spawn_probe("probe serve", &["serve", "--listen", "127.0.0.1:0"]);
    let agent_cfg = dir.path().join("agent.toml");
    std::fs::write(
        &agent_cfg,
        agent_config(
            server,
            gw,
            "\n[remote_write.headers]\nX-Scope-OrgID = \"other-tenant\"\n",
        ),
    )
    .unwrap();
    let (_agent, agent_addr) = spawn_probe(
        "probe agent",
        &["agent", "--config", agent_cfg.to_str().unwrap()],
    );
    wait_for("rejected requests", Duration::from_secs(60), || {
        (agent_metric(
            agent_addr,
            r#"probe_remote_write_requests_total{result="rejected"} "#,
        ) > 0.0)
            .then_some(())
    });
    let c = lock(&counts);
    assert!(c.refused > 0 && c.forwarded == 0, "{} refused", c.refused);
    assert_eq!(
        agent_metric(
            agent_addr,
            r#"probe_remote_write_requests_total{result="retry"} "#
        ),
        0.0
    );
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
    std::fs::write(&agent_cfg, agent_config(server, prom_addr, "")).unwrap();
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
