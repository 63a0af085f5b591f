//! End-to-end tests of the `probe` binary: a real `probe serve`, a real `probe agent` and
//! Debian's real Prometheus on loopback; `promtool check metrics` on the agent's output;
//! SIGHUP and `/-/reload` with a bad config; graceful shutdown; the `probe run` CLI.
//!
//! Build the binary first: `cargo build -p probes --bins` (or `--release`); the tests use the
//! newer of target/release/probe and target/debug/probe.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::*;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn agent_config(server: SocketAddr, listen: &str) -> String {
    format!(
        r#"[agent]
region = "E2E Region"
site = "loopback"
latitude = 41.3
longitude = 69.2
isp = "Loopback ISP"
listen = "{listen}"
daily_budget_bytes = 2_000_000_000

[tests.download]
interval = "1h"
jitter = "1s"
timeout = "15s"
duration = "3s"
grace = "1s"
streams = 2
max_bytes = 200_000_000

[tests.upload]
interval = "1h"
jitter = "1s"
timeout = "15s"
duration = "3s"
grace = "1s"
streams = 2
max_bytes = 200_000_000

[tests.latency]
interval = "5s"
jitter = "1s"
timeout = "4s"

[tests.loss]
interval = "30s"
jitter = "1s"
timeout = "10s"
packets = 20
packet_interval = "10ms"

[tests.http]
interval = "30s"
jitter = "1s"
timeout = "10s"

[[targets]]
name = "loopback-server"
kind = "probe"
url = "http://{server}/"
tests = ["download", "upload", "latency", "loss", "http"]
"#
    )
}

/// Debian's Prometheus scrapes a running agent that measures a running `probe serve`.
#[test]
fn prometheus_scrapes_agent_measuring_probe_serve() {
    if !Path::new("/usr/bin/prometheus").exists() {
        panic!("/usr/bin/prometheus is missing: install Debian's prometheus package (scripts/bootstrap.sh)");
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // The server paces each client to 10 MB/s so the expected figure is known on loopback.
    let rate = 10_000_000.0;
    let (_server, server_addr) = spawn_probe(
        "probe serve",
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--max-client-bytes-per-second",
            "10000000",
        ],
    );
    let cfg_path = dir.path().join("agent.toml");
    write(&cfg_path, &agent_config(server_addr, "127.0.0.1:0"));
    let (mut agent, agent_addr) = spawn_probe(
        "probe agent",
        &["agent", "--config", cfg_path.to_str().unwrap()],
    );

    let prom_port = free_port();
    let prom_addr: SocketAddr = format!("127.0.0.1:{prom_port}").parse().unwrap();
    let prom_cfg = dir.path().join("prometheus.yml");
    write(
        &prom_cfg,
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: probe\n    static_configs:\n      - targets: ['{agent_addr}']\n"
        ),
    );
    let tsdb = dir.path().join("tsdb");
    let prom = Command::new("/usr/bin/prometheus")
        .arg(format!("--config.file={}", prom_cfg.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg(format!("--web.listen-address={prom_addr}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting prometheus");
    let _prom = Proc {
        child: prom,
        name: "prometheus",
    };

    // Wait until Prometheus has scraped download, upload and latency results.
    let series = |q: &str| prom_query(prom_addr, q);
    let download = wait_for(
        "download series in Prometheus",
        Duration::from_secs(90),
        || series("probe_download_bytes_per_second").into_iter().next(),
    );
    let upload = wait_for(
        "upload series in Prometheus",
        Duration::from_secs(60),
        || series("probe_upload_bytes_per_second").into_iter().next(),
    );
    let latency = wait_for(
        "latency series in Prometheus",
        Duration::from_secs(30),
        || {
            series(r#"probe_latency_seconds{stat="median"}"#)
                .into_iter()
                .next()
        },
    );
    assert_eq!(download.0["target"], "loopback-server");
    assert_eq!(download.0["job"], "probe");
    let (d, u, l) = (download.1, upload.1, latency.1);
    assert!(
        (d / rate - 1.0).abs() < 0.15,
        "download {d} B/s vs paced {rate} B/s"
    );
    assert!(
        (u / rate - 1.0).abs() < 0.15,
        "upload {u} B/s vs paced {rate} B/s"
    );
    assert!(l > 0.0 && l < 0.05, "idle loopback latency {l} s");
    let ok = wait_for(
        "probe_success for download/upload/latency",
        Duration::from_secs(30),
        || {
            let s = series(r#"probe_success{test=~"download|upload|latency"}"#);
            (s.len() == 3).then_some(s)
        },
    );
    assert!(ok.iter().all(|(_, v)| *v == 1.0), "{ok:?}");
    let info = series("probe_agent_info");
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].0["region"], "E2E Region");
    assert_eq!(info[0].0["latitude"], "41.3");
    let loss = wait_for("loss series", Duration::from_secs(30), || {
        series("probe_packet_loss_ratio").into_iter().next()
    });
    assert_eq!(loss.1, 0.0, "no loss on loopback");
    let ttfb = wait_for("HTTP phase series", Duration::from_secs(30), || {
        series(r#"probe_http_phase_seconds{phase="ttfb"}"#)
            .into_iter()
            .next()
    });
    assert!(ttfb.1 > 0.0 && ttfb.1 < 1.0, "ttfb {}", ttfb.1);
    for name in [
        "probe_jitter_seconds",
        "probe_tcp_connect_seconds",
        "probe_responsiveness_rpm",
    ] {
        let v = series(name);
        assert!(!v.is_empty() && v[0].1 >= 0.0, "{name}: {v:?}");
    }
    let used = series(r#"probe_bytes_used_total{test="download"}"#);
    assert!(
        !used.is_empty() && used[0].1 > 1e6 && used[0].1 <= 200e6,
        "{used:?}"
    );
    let loaded = series("probe_loaded_latency_seconds");
    assert!(!loaded.is_empty() && loaded[0].1 > 0.0);

    // The exposition lints clean with promtool, in the classic text format.
    let (status, head, text) = http(agent_addr, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(text.contains("probe_bytes_used_total{"), "{text}");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promtool");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {report}\n{text}"
    );

    // OpenMetrics by content negotiation.
    let (_, head, om) = http(
        agent_addr,
        "GET",
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
    );
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(om.trim_end().ends_with("# EOF"));
    assert!(
        !om.contains("\nprobe_success{target=\"loopback-server\",test=\"download\"} 1 "),
        "no sample timestamps"
    );

    // A bad config on SIGHUP keeps the running one and is reported.
    write(&cfg_path, "[agent]\nregion = \"\"\n");
    agent.signal("HUP");
    wait_for(
        "probe_config_last_reload_successful 0",
        Duration::from_secs(10),
        || {
            let (_, _, m) = http(agent_addr, "GET", "/metrics", &[]);
            m.contains("probe_config_last_reload_successful 0")
                .then_some(())
        },
    );
    let (status, _, body) = http(agent_addr, "POST", "/-/reload", &[]);
    assert_eq!(status, 500);
    assert!(
        body.contains("still running the previous configuration"),
        "{body}"
    );
    assert!(body.contains("missing field `site`"), "{body}");
    assert_eq!(http(agent_addr, "GET", "/-/healthy", &[]).0, 200);
    // A good config reloads over HTTP.
    write(
        &cfg_path,
        &agent_config(server_addr, &agent_addr.to_string()),
    );
    let (status, _, body) = http(agent_addr, "POST", "/-/reload", &[]);
    assert_eq!(status, 200, "{body}");
    let (_, _, m) = http(agent_addr, "GET", "/metrics", &[]);
    assert!(m.contains("probe_config_last_reload_successful 1"), "{m}");

    // Graceful shutdown on SIGTERM with exit code 0.
    agent.signal("TERM");
    let st = agent.wait_exit(Duration::from_secs(10));
    assert!(st.success(), "agent exit status {st:?}");
}

/// `probe run --json` against `probe serve`, and as a LibreSpeed client against the
/// LibreSpeed-compatible paths.
#[test]
fn probe_run_json_against_probe_serve_and_librespeed_paths() {
    let _serial = serial();
    let (_server, addr) = spawn_probe(
        "probe serve",
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--max-client-bytes-per-second",
            "20000000",
        ],
    );
    let url = format!("http://{addr}/");
    for kind in ["probe", "librespeed"] {
        let out = Command::new(probe_bin())
            .args([
                "run",
                "--server",
                &url,
                "--json",
                "--duration",
                "2s",
                "--grace",
                "0.5s",
                "--kind",
                kind,
            ])
            .args(["--tests", "latency,download,upload"])
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{kind}: exit {:?}: {text}",
            out.status
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["kind"], kind);
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        let get = |test: &str, field: &str| {
            results.iter().find(|r| r["test"] == test).unwrap()[field]
                .as_f64()
                .unwrap()
        };
        let d = get("download", "download_bytes_per_second");
        let u = get("upload", "upload_bytes_per_second");
        assert!((d / 20e6 - 1.0).abs() < 0.15, "{kind} download {d}");
        // Sender-side (LibreSpeed) figures include data still in socket buffers.
        let tol = if kind == "probe" { 0.15 } else { 0.35 };
        assert!((u / 20e6 - 1.0).abs() < tol, "{kind} upload {u}");
        assert!(get("latency", "latency_median_seconds") < 0.05);
        let receiver = results.iter().find(|r| r["test"] == "upload").unwrap()
            ["upload_measured_at_receiver"]
            .as_bool();
        assert_eq!(receiver, Some(kind == "probe"));
    }
    // The LibreSpeed getIP and garbage paths answer with and without `.php`.
    for path in ["/getIP", "/getIP.php"] {
        let (status, _, body) = http(addr, "GET", path, &[]);
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["processedString"], "127.0.0.1");
    }
    for path in ["/garbage?ckSize=1", "/garbage.php?ckSize=1"] {
        let (status, head, body) = http(addr, "GET", path, &[]);
        assert_eq!(status, 200);
        assert!(
            head.to_ascii_lowercase()
                .contains("cache-control: no-store"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains("content-length: 1048576"),
            "{head}"
        );
        assert!(!body.is_empty());
    }
    // A download larger than the per-request limit is refused.
    let (status, _, _) = http(addr, "GET", "/download?bytes=100000000000", &[]);
    assert_eq!(status, 413);
}

/// Exit codes: validate 0/1, run 1 on failed measurements, 2 on bad arguments.
#[test]
fn exit_codes_are_as_documented() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../probes/tests/fixtures");
    let code = |args: &[&str]| {
        Command::new(probe_bin())
            .args(args)
            .env("RUST_LOG", "off")
            .output()
            .unwrap()
    };
    let good = code(&[
        "validate",
        fixtures.join("good_minimal.toml").to_str().unwrap(),
    ]);
    assert_eq!(good.status.code(), Some(0));
    let bad = code(&[
        "validate",
        fixtures.join("bad_many_problems.toml").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(
        stderr.matches("\n  - ").count(),
        4,
        "all problems at once: {stderr}"
    );
    // Nothing listens on this port: the measurement fails with connection_refused.
    let port = free_port();
    let refused = code(&[
        "run",
        "--server",
        &format!("http://127.0.0.1:{port}/"),
        "--tests",
        "latency",
        "--json",
        "--kind",
        "probe",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(v["results"][0]["reason"], "connection_refused");
    assert_eq!(
        code(&["run", "--server", "not a url"]).status.code(),
        Some(2)
    );
    let missing = code(&["agent", "--config", "/nonexistent/agent.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/agent.toml"));
    // `probe serve` shuts down cleanly on SIGTERM.
    let (mut server, addr) = spawn_probe("probe serve", &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(http(addr, "GET", "/ping", &[]).0, 200);
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(10)).success());
}

/// Runs `cmd args…`, panicking with its stderr on failure.
fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Two network namespaces joined by a veth pair; removed on drop (also when a test fails).
struct NetnsPair {
    srv: String,
    cli: String,
    srv_if: String,
    cli_if: String,
}

impl NetnsPair {
    fn create(tag: &str) -> Option<NetnsPair> {
        let id = std::process::id() % 100_000;
        let p = NetnsPair {
            srv: format!("probe-{tag}-srv-{id}"),
            cli: format!("probe-{tag}-cli-{id}"),
            srv_if: format!("pv{id}s"),
            cli_if: format!("pv{id}c"),
        };
        if !Command::new("ip")
            .args(["netns", "add", &p.srv])
            .status()
            .ok()?
            .success()
        {
            return None;
        }
        sh("ip", &["netns", "add", &p.cli]);
        sh(
            "ip",
            &[
                "link", "add", &p.srv_if, "type", "veth", "peer", "name", &p.cli_if,
            ],
        );
        sh("ip", &["link", "set", &p.srv_if, "netns", &p.srv]);
        sh("ip", &["link", "set", &p.cli_if, "netns", &p.cli]);
        sh(
            "ip",
            &[
                "-n",
                &p.srv,
                "addr",
                "add",
                "10.77.0.1/24",
                "dev",
                &p.srv_if,
            ],
        );
        sh(
            "ip",
            &[
                "-n",
                &p.cli,
                "addr",
                "add",
                "10.77.0.2/24",
                "dev",
                &p.cli_if,
            ],
        );
        for (ns, dev) in [(&p.srv, &p.srv_if), (&p.cli, &p.cli_if)] {
            sh("ip", &["-n", ns, "link", "set", dev, "up"]);
            sh("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        Some(p)
    }

    /// Shape both directions to `mbit` with a token bucket; add `one_way_ms` of delay with
    /// netem when the kernel has it. Returns whether the delay is in place.
    fn shape(&self, mbit: u64, one_way_ms: u64) -> bool {
        let rate_bytes = mbit * 1_000_000 / 8;
        // 2 ms worth of burst (at least ten full frames) and 50 ms of queue (at least 200 kB).
        let burst = (rate_bytes / 500).max(15_140).to_string();
        let limit = (rate_bytes / 20).max(200_000).to_string();
        let rate = format!("{mbit}mbit");
        let mut delayed = true;
        for (ns, dev) in [(&self.srv, &self.srv_if), (&self.cli, &self.cli_if)] {
            let _ = Command::new("tc")
                .args(["-n", ns, "qdisc", "del", "dev", dev, "root"])
                .output();
            sh(
                "tc",
                &[
                    "-n", ns, "qdisc", "add", "dev", dev, "root", "handle", "1:", "tbf", "rate",
                    &rate, "burst", &burst, "limit", &limit,
                ],
            );
            let netem = Command::new("tc")
                .args([
                    "-n", ns, "qdisc", "add", "dev", dev, "parent", "1:1", "handle", "10:", "netem",
                ])
                .args(["delay", &format!("{one_way_ms}ms"), "limit", "100000"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            delayed &= netem;
        }
        delayed
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        // Deleting a namespace destroys its end of the veth pair, and with it the peer.
        for ns in [&self.srv, &self.cli] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn spawn_in_ns(ns: &str, name: &'static str, args: &[&str]) -> Proc {
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Proc { child, name }
}

/// iperf3 receiver-side goodput in bytes/s (`reverse` = server sends, i.e. download).
fn iperf3(ns: &str, server_ip: &str, reverse: bool, secs: u64, omit: u64, streams: usize) -> f64 {
    let secs = secs.to_string();
    let omit = omit.to_string();
    let streams = streams.to_string();
    let mut args = vec![
        "netns", "exec", ns, "iperf3", "-c", server_ip, "-p", "5201", "-J",
    ];
    args.extend_from_slice(&["-t", &secs, "-O", &omit, "-P", &streams]);
    if reverse {
        args.push("-R");
    }
    for _ in 0..20 {
        let out = Command::new("ip").args(&args).output().unwrap();
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            return v["end"]["sum_received"]["bits_per_second"]
                .as_f64()
                .unwrap()
                / 8.0;
        }
        std::thread::sleep(Duration::from_millis(250)); // server not listening yet
    }
    panic!("iperf3 client kept failing");
}

/// Tests that load the CPU or measure rates run one at a time, so they do not disturb each
/// other on a small machine.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// One accuracy case: `probe run` download/upload and iperf3 both ways from namespace `cli` to
/// the server at `server_ip`; returns the BENCHMARKS table row and any >5 % errors.
fn accuracy_case(
    cli: &str,
    server_ip: &str,
    mbit: u64,
    rtt: &str,
    frame_bytes: f64,
) -> (String, Vec<String>) {
    let bin = probe_bin();
    let capacity = mbit as f64 * 1e6 / 8.0 * 1448.0 / frame_bytes;
    let url = format!("http://{server_ip}:8080/");
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            cli,
            bin.to_str().unwrap(),
            "run",
            "--server",
            &url,
            "--json",
        ])
        .args([
            "--tests",
            "latency,download,upload",
            "--duration",
            "7s",
            "--grace",
            "2s",
            "--streams",
            "4",
            "--kind",
            "probe",
        ])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "probe run at {mbit} Mbit/s, RTT {rtt}: {text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let pick = |test: &str, f: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["test"] == test)
            .unwrap()[f]
            .as_f64()
            .unwrap()
    };
    let rtt_measured_ms = pick("latency", "latency_min_seconds") * 1000.0;
    let (down, up) = (
        pick("download", "download_bytes_per_second"),
        pick("upload", "upload_bytes_per_second"),
    );
    let (i_down, i_up) = (
        iperf3(cli, server_ip, true, 5, 2, 4),
        iperf3(cli, server_ip, false, 5, 2, 4),
    );
    let err = |x: f64| (x / capacity - 1.0) * 100.0;
    let row = format!(
        "| {mbit} Mbit/s | {rtt} | {rtt_measured_ms:.2} ms | {:.3} | {:.3} ({:+.1} %) | {:.3} ({:+.1} %) | {:.3} ({:+.1} %) | {:.3} ({:+.1} %) |",
        capacity / 1e6,
        down / 1e6,
        err(down),
        i_down / 1e6,
        err(i_down),
        up / 1e6,
        err(up),
        i_up / 1e6,
        err(i_up),
    );
    let mut failures = Vec::new();
    for (what, x) in [("download", down), ("upload", up)] {
        if err(x).abs() > 5.0 {
            failures.push(format!(
                "{what} at {mbit} Mbit/s, RTT {rtt}: {:.3} MB/s is {:+.1} % off capacity {:.3} MB/s",
                x / 1e6,
                err(x),
                capacity / 1e6
            ));
        }
    }
    (row, failures)
}

fn print_accuracy_table(title: &str, rows: &[String]) {
    println!("{title}");
    println!("| shaped rate | RTT | HTTP RTT min (probe) | goodput capacity MB/s | probe download MB/s (error) | iperf3 download MB/s (error) | probe upload MB/s (error) | iperf3 upload MB/s (error) |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

/// Accuracy on a shaped link: namespaces + veth + tc tbf (+ netem delay where the kernel has
/// it). The figures are goodput, so the reference is the link's goodput capacity
/// `rate / 8 × 1448 / 1514` (MSS with TCP timestamps over a full Ethernet frame, which is what
/// tbf counts on a veth). iperf3 runs on the same link for comparison. Needs root and `ip
/// netns`; skips with a message otherwise.
#[test]
fn shaped_link_accuracy_against_iperf3() {
    if !is_root() {
        eprintln!("SKIPPED shaped_link_accuracy_against_iperf3: needs root for ip netns / tc");
        return;
    }
    let _serial = serial();
    let Some(link) = NetnsPair::create("acc") else {
        eprintln!(
            "SKIPPED shaped_link_accuracy_against_iperf3: `ip netns add` failed (no netns support)"
        );
        return;
    };
    let bin = probe_bin();
    let bin = bin.to_str().unwrap();
    let _server = spawn_in_ns(
        &link.srv,
        "probe serve (netns)",
        &[bin, "serve", "--listen", "10.77.0.1:8080"],
    );
    let _iperf = spawn_in_ns(
        &link.srv,
        "iperf3 -s (netns)",
        &["iperf3", "-s", "-p", "5201"],
    );
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (mbit, one_way_ms) in [(20, 40), (100, 20), (500, 10)] {
        let delayed = link.shape(mbit, one_way_ms);
        let rtt = if delayed {
            format!("{} ms", 2 * one_way_ms)
        } else {
            "~0.1 ms (veth, no netem)".to_string()
        };
        let (row, f) = accuracy_case(&link.cli, "10.77.0.1", mbit, &rtt, 1514.0);
        rows.push(row);
        failures.extend(f);
    }
    print_accuracy_table("veth + tbf", &rows);
    assert!(
        failures.is_empty(),
        "outside 5 %:\n{}\n{}",
        failures.join("\n"),
        rows.join("\n")
    );
}

/// Accuracy with real propagation delay: the namespaces are joined through two TUN devices and
/// a userspace delay line (this kernel has no `sch_netem`), shaped by tbf on each TUN. A TUN
/// carries bare IP packets, so the goodput capacity is `rate / 8 × 1448 / 1500`.
#[test]
fn delayed_link_accuracy_against_iperf3() {
    if !is_root() || !Path::new("/dev/net/tun").exists() {
        eprintln!("SKIPPED delayed_link_accuracy_against_iperf3: needs root and /dev/net/tun");
        return;
    }
    let _serial = serial();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (mbit, rtt_ms) in [(20u64, 80u64), (100, 40), (500, 20)] {
        let Some(link) = DelayedLink::create(Duration::from_millis(rtt_ms / 2)) else {
            eprintln!("SKIPPED delayed_link_accuracy_against_iperf3: could not build the TUN link");
            return;
        };
        link.shape(mbit);
        let bin = probe_bin();
        let _server = spawn_in_ns(
            &link.srv,
            "probe serve (tun)",
            &[bin.to_str().unwrap(), "serve", "--listen", "10.78.0.1:8080"],
        );
        let _iperf = spawn_in_ns(
            &link.srv,
            "iperf3 -s (tun)",
            &["iperf3", "-s", "-p", "5201"],
        );
        std::thread::sleep(Duration::from_millis(300));
        let (row, f) = accuracy_case(
            &link.cli,
            "10.78.0.1",
            mbit,
            &format!("{rtt_ms} ms"),
            1500.0,
        );
        rows.push(row);
        failures.extend(f);
    }
    print_accuracy_table("TUN delay line + tbf", &rows);
    assert!(
        failures.is_empty(),
        "outside 5 %:\n{}\n{}",
        failures.join("\n"),
        rows.join("\n")
    );
}

/// A userspace delay line between two TUN devices: each packet read from one device is written
/// to the other after a fixed delay. Used where the kernel lacks `sch_netem`.
mod delay_line {
    #![allow(unsafe_code)]

    use std::fs::{File, OpenOptions};
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const IFF_TUN: libc::c_short = 0x0001;
    const IFF_NO_PI: libc::c_short = 0x1000;
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

    #[repr(C)]
    struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        flags: libc::c_short,
        _pad: [u8; 22],
    }

    /// Attach to an existing persistent TUN device (created with `ip tuntap add`).
    pub fn attach(name: &str) -> std::io::Result<File> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")?;
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TUN | IFF_NO_PI,
            _pad: [0; 22],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which IfReq mirrors (40 bytes)
        // and which lives for the duration of the call.
        let r = unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(f)
    }

    /// Forward packets `from` → `to` after `delay`, until `from` fails (device deleted).
    pub fn run(from: Arc<File>, to: Arc<File>, delay: Duration) {
        let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = (&*from).read(&mut buf) {
                if n == 0
                    || tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for (due, pkt) in rx {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let _ = (&*to).write(&pkt);
            }
        });
    }
}

/// Two namespaces joined through TUN devices and the delay line.
struct DelayedLink {
    srv: String,
    cli: String,
    srv_if: String,
    cli_if: String,
}

impl DelayedLink {
    fn create(one_way: Duration) -> Option<DelayedLink> {
        let id = std::process::id() % 100_000;
        let l = DelayedLink {
            srv: format!("probe-dly-srv-{id}"),
            cli: format!("probe-dly-cli-{id}"),
            srv_if: format!("pt{id}s"),
            cli_if: format!("pt{id}c"),
        };
        if !Command::new("ip")
            .args(["netns", "add", &l.srv])
            .status()
            .ok()?
            .success()
        {
            return None;
        }
        sh("ip", &["netns", "add", &l.cli]);
        for dev in [&l.srv_if, &l.cli_if] {
            sh("ip", &["tuntap", "add", "dev", dev, "mode", "tun"]);
        }
        let s = std::sync::Arc::new(delay_line::attach(&l.srv_if).ok()?);
        let c = std::sync::Arc::new(delay_line::attach(&l.cli_if).ok()?);
        delay_line::run(s.clone(), c.clone(), one_way);
        delay_line::run(c, s, one_way);
        for (ns, dev, local, peer) in [
            (&l.srv, &l.srv_if, "10.78.0.1", "10.78.0.2"),
            (&l.cli, &l.cli_if, "10.78.0.2", "10.78.0.1"),
        ] {
            sh("ip", &["link", "set", dev, "netns", ns]);
            sh(
                "ip",
                &["-n", ns, "addr", "add", local, "peer", peer, "dev", dev],
            );
            sh("ip", &["-n", ns, "link", "set", dev, "up"]);
            sh("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        Some(l)
    }

    fn shape(&self, mbit: u64) {
        let rate_bytes = mbit * 1_000_000 / 8;
        let burst = (rate_bytes / 500).max(15_000).to_string();
        let limit = (rate_bytes / 10).max(300_000).to_string();
        for (ns, dev) in [(&self.srv, &self.srv_if), (&self.cli, &self.cli_if)] {
            let _ = Command::new("tc")
                .args(["-n", ns, "qdisc", "del", "dev", dev, "root"])
                .output();
            sh(
                "tc",
                &[
                    "-n",
                    ns,
                    "qdisc",
                    "add",
                    "dev",
                    dev,
                    "root",
                    "tbf",
                    "rate",
                    &format!("{mbit}mbit"),
                    "burst",
                    &burst,
                    "limit",
                    &limit,
                ],
            );
        }
    }
}

impl Drop for DelayedLink {
    fn drop(&mut self) {
        // The TUN devices die with their namespaces (the delay line still holds them open, so
        // `ip tuntap del` would refuse).
        for ns in [&self.srv, &self.cli] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
