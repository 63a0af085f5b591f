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

[web]
enable_lifecycle = true

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
        !om.contains(
            "\nprobe_success{target=\"loopback-server\",scope=\"domestic\",test=\"download\"} 1 "
        ),
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
    // Keys and lines only: the file's text (which may hold secrets) never leaves the agent.
    assert!(body.contains("  - line 1\n"), "{body}");
    assert!(!body.contains("region"), "{body}");
    let (_, _, index) = http(agent_addr, "GET", "/", &[]);
    assert!(index.contains("last reload failed"), "{index}");
    assert!(!index.contains("region"), "{index}");
    // A cross-origin form post cannot trigger a reload.
    let (status, _, _) = http(
        agent_addr,
        "POST",
        "/-/reload",
        &[("Content-Type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(status, 415);
    let (status, _, _) = http(
        agent_addr,
        "POST",
        "/-/reload",
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(status, 403);
    assert_eq!(http(agent_addr, "GET", "/-/reload", &[]).0, 405);
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
        assert!((u / 20e6 - 1.0).abs() < 0.15, "{kind} upload {u}");
        assert!(get("latency", "latency_median_seconds") < 0.05);
        // On Linux both figures come from the sockets' kernel counters (TCP_INFO), whatever
        // the server kind, and say so.
        for test in ["download", "upload"] {
            let r = results.iter().find(|r| r["test"] == test).unwrap();
            assert_eq!(r["byte_counter"], "kernel", "{kind} {test}: {r}");
            let (a, b) = (
                r["window_start_unix_seconds"].as_f64().unwrap(),
                r["window_end_unix_seconds"].as_f64().unwrap(),
            );
            assert!(b - a >= 0.5, "{kind} {test} window {a}..{b}");
        }
    }
    // The LibreSpeed paths, path by path, at the root and under /backend/ like a standard
    // install, as the reference PHP backend answers them.
    for prefix in ["", "/backend"] {
        for path in ["/getIP", "/getIP.php"] {
            let (status, head, body) = http(addr, "GET", &format!("{prefix}{path}"), &[]);
            assert_eq!(status, 200);
            assert!(
                head.to_ascii_lowercase().contains("application/json"),
                "{head}"
            );
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["processedString"], "127.0.0.1 - localhost IPv4 access");
            assert_eq!(v["rawIspInfo"], "");
        }
        // CORS only with `cors`, preflight answered with the same headers.
        let (status, head, _) = http(
            addr,
            "OPTIONS",
            &format!("{prefix}/empty.php?cors=true"),
            &[
                ("Origin", "https://speedtest.example"),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
        );
        let h = head.to_ascii_lowercase();
        assert_eq!(status, 200, "{head}");
        assert!(h.contains("access-control-allow-origin: *"), "{head}");
        assert!(
            h.contains("access-control-allow-methods: get, post"),
            "{head}"
        );
        assert!(
            h.contains("access-control-allow-headers: content-encoding, content-type"),
            "{head}"
        );
        let (_, head, _) = http(addr, "POST", &format!("{prefix}/empty.php"), &[]);
        assert!(!head
            .to_ascii_lowercase()
            .contains("access-control-allow-origin"));
        let (_, head, _) = http(
            addr,
            "GET",
            &format!("{prefix}/garbage.php?cors=true&ckSize=1"),
            &[],
        );
        let h = head.to_ascii_lowercase();
        assert!(h.contains("access-control-allow-origin: *"), "{head}");
        assert!(!h.contains("access-control-allow-headers"), "{head}");
    }
    // ckSize like PHP's intval and the reference's clamps: 0 and junk → 4 MiB, huge → 1024 MiB
    // (here capped by --max-bytes-per-request's default of 1 GiB), negative → nothing.
    for (ck, bytes) in [
        ("0", 4u64 << 20),
        ("abc", 4 << 20),
        ("2", 2 << 20),
        ("3.7", 3 << 20),
        ("-1", 0),
        ("99999999999999999999", 1024 << 20),
    ] {
        let s = std::net::TcpStream::connect(addr).unwrap();
        let mut s = std::io::BufReader::new(s);
        write!(
            s.get_mut(),
            "GET /garbage.php?ckSize={ck} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut head = String::new();
        loop {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut s, &mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("content-length: {bytes}\r\n")),
            "ckSize={ck}: {head}"
        );
    }
    // A declared body above the limit is refused after the headers, before any of it is sent.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n"
    )
    .unwrap();
    let mut answer = [0u8; 12];
    std::io::Read::read_exact(&mut s, &mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 413");
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
    // validate binds agent.listen: port 0 always works, a held port or an address the machine
    // does not have is a finding.
    let dir = tempfile::tempdir().unwrap();
    let minimal = std::fs::read_to_string(fixtures.join("good_minimal.toml")).unwrap();
    let with_listen = |listen: &str| {
        let p = dir
            .path()
            .join(format!("agent-{}.toml", listen.replace([':', '.'], "_")));
        write(
            &p,
            &minimal.replace("[agent]\n", &format!("[agent]\nlisten = \"{listen}\"\n")),
        );
        p
    };
    let good = code(&["validate", with_listen("127.0.0.1:0").to_str().unwrap()]);
    assert_eq!(good.status.code(), Some(0), "{good:?}");
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let held_addr = held.local_addr().unwrap().to_string();
    let busy = code(&["validate", with_listen(&held_addr).to_str().unwrap()]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("is in use by another process"),
        "{busy:?}"
    );
    let foreign = code(&["validate", with_listen("192.0.2.1:9469").to_str().unwrap()]);
    assert_eq!(foreign.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&foreign.stderr).contains("is not an address of this machine"),
        "{foreign:?}"
    );
    // An unreadable file is an error (2), not a finding.
    assert_eq!(
        code(&["validate", "/nonexistent/agent.toml"]).status.code(),
        Some(2)
    );
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
            // One TCP segment per packet, so that packets × headers is what the meters'
            // byte counts hold besides payload (a GSO packet is counted with one header).
            sh("ip", &["-n", ns, "link", "set", dev, "gso_max_segs", "1"]);
            sh("ip", &["-n", ns, "link", "set", dev, "up"]);
            sh("ip", &["-n", ns, "link", "set", "lo", "up"]);
            // The ingress qdisc counts only with a filter attached (u32 matching everything;
            // this kernel has no matchall classifier).
            sh("tc", &["-n", ns, "qdisc", "add", "dev", dev, "ingress"]);
            sh(
                "tc",
                &[
                    "-n", ns, "filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all",
                    "u32", "match", "u32", "0", "0", "flowid", ":1",
                ],
            );
        }
        Some(p)
    }

    /// Shape both directions to `mbit` with a token bucket; add `one_way_ms` of delay with
    /// netem when the kernel has it. Returns whether the delay is in place.
    fn shape(&self, mbit: u64, one_way_ms: u64) -> bool {
        let rate_bytes = mbit * 1_000_000 / 8;
        // 2 ms worth of burst (at least ten full frames) and 50 ms of queue (at least twenty
        // full frames). The queue bounds how long a lost packet's hole holds later bytes back
        // from the receiver's in-order count (the kernel counter the probe reads): bytes held
        // at a window edge are credited on the other side of it, so the error is at most about
        // the queueing delay over the window length. A fixed 200 kB floor was 320 ms at
        // 5 Mbit/s and moved up to 3 % of a 5 s window's bytes; 100 ms still gave 2.3 %.
        let burst = (rate_bytes / 500).max(15_140).to_string();
        let limit = (rate_bytes / 20).max(20 * 1514).to_string();
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

/// One point of a [`LinkMeter`]: cumulative bytes and packets the link delivered, read between
/// two clock readings `spread_s` apart whose midpoint is `unix_s`.
#[derive(Clone, Copy, Debug)]
struct LinkSample {
    unix_s: f64,
    spread_s: f64,
    bytes: u64,
    packets: u64,
}

/// What a link actually delivered, sampled every 10 ms by a background thread until dropped.
/// The accuracy tests compare the probe with this over the probe's own reported window: a
/// shaper that bursts, or a machine too busy to fill the link, then shows up as what it is
/// instead of as an error of the probe against the nominal rate.
struct LinkMeter {
    samples: std::sync::Arc<std::sync::Mutex<Vec<LinkSample>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn unix_now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Run the calling thread (and the `tc` processes it starts, which inherit the policy) under
/// SCHED_FIFO: on a machine loaded by builds, a normal-priority sampler was starved for
/// hundreds of milliseconds, and interpolating across such gaps at a CPU-bound 500 Mbit/s
/// (whose rate is anything but steady) misdated megabytes. Only the tests that run as root use
/// the meter; if the call fails the sampler stays at normal priority and `at` reports gaps.
fn raise_to_realtime() {
    #[allow(unsafe_code)]
    // SAFETY: sched_setscheduler reads the sched_param for the duration of the call; pid 0 is
    // the calling thread.
    unsafe {
        let param = libc::sched_param { sched_priority: 10 };
        libc::sched_setscheduler(0, libc::SCHED_FIFO, &param);
    }
}

impl LinkMeter {
    /// Sample `read` (cumulative bytes and packets) until the meter is dropped.
    fn start(mut read: impl FnMut() -> Option<(u64, u64)> + Send + 'static) -> LinkMeter {
        use std::sync::atomic::Ordering;
        let samples = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (samples, stop) = (samples.clone(), stop.clone());
            std::thread::spawn(move || {
                raise_to_realtime();
                while !stop.load(Ordering::Relaxed) {
                    let before = unix_now_s();
                    let counters = read();
                    let after = unix_now_s();
                    if let Some((bytes, packets)) = counters {
                        samples.lock().unwrap().push(LinkSample {
                            unix_s: (before + after) / 2.0,
                            spread_s: after - before,
                            bytes,
                            packets,
                        });
                    }
                    // Pacing of the sampler, not synchronisation: every reading is timestamped.
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        LinkMeter {
            samples,
            stop,
            thread: Some(thread),
        }
    }

    /// Cumulative (bytes, packets) at Unix time `t`, interpolated between the closest precise
    /// samples on either side (a reading that took more than 20 ms, e.g. a `tc` starved by the
    /// load, is not dated well enough to be used).
    fn at(&self, t: f64) -> Result<(f64, f64), String> {
        // The edge may be moments ago: wait (bounded) for a precise reading after it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline
            && !self
                .samples
                .lock()
                .unwrap()
                .iter()
                .any(|s| s.unix_s > t && s.spread_s <= 0.020)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let samples = self.samples.lock().unwrap();
        let good: Vec<LinkSample> = samples
            .iter()
            .copied()
            .filter(|s| s.spread_s <= 0.020)
            .collect();
        let after = good.iter().position(|s| s.unix_s >= t);
        let (a, b) = match after {
            Some(0) | None => {
                return Err(format!(
                    "no link sample on both sides of {t:.3} ({} of {} samples precise)",
                    good.len(),
                    samples.len()
                ))
            }
            Some(i) => (good[i - 1], good[i]),
        };
        // Interpolating across a long gap assumes a steady rate, which a CPU-bound link lacks
        // (a starved sampler's 300 ms gaps misdated 6 % at 500 Mbit/s); a gap of a few tc
        // runs is harmless on a shaped link (105 ms was seen at 5 Mbit/s under load).
        if b.unix_s - a.unix_s > 0.250 {
            return Err(format!(
                "the link samples around {t:.3} are {:.0} ms apart (sampler starved)",
                (b.unix_s - a.unix_s) * 1000.0
            ));
        }
        let f = if b.unix_s > a.unix_s {
            (t - a.unix_s) / (b.unix_s - a.unix_s)
        } else {
            0.0
        };
        let lerp = |x: u64, y: u64| x as f64 + f * (y as f64 - x as f64);
        Ok((lerp(a.bytes, b.bytes), lerp(a.packets, b.packets)))
    }

    /// TCP payload bytes per second the link carried between Unix times `t0` and `t1`: bytes
    /// minus `header_bytes` (link, IP and TCP headers) for every packet.
    fn payload_rate(&self, t0: f64, t1: f64, header_bytes: f64) -> Result<f64, String> {
        let (b0, p0) = self.at(t0)?;
        let (b1, p1) = self.at(t1)?;
        Ok(((b1 - b0) - (p1 - p0) * header_bytes) / (t1 - t0))
    }
}

impl Drop for LinkMeter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Bytes and packets the ingress qdisc of `dev` in namespace `ns` has seen (`tc -s`): what the
/// link delivered to the receiving host's stack, counted as the kernel processes each packet
/// (after the receive backlog, so a receiver starved of CPU does not make the link look
/// faster than what reached TCP). Ingress bytes exclude the Ethernet header.
fn tc_ingress_counters(ns: &str, dev: &str) -> Option<(u64, u64)> {
    let out = Command::new("tc")
        .args(["-n", ns, "-s", "-j", "qdisc", "show", "dev", dev])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let q = v.as_array()?.iter().find(|q| q["kind"] == "ingress")?;
    Some((q["bytes"].as_u64()?, q["packets"].as_u64()?))
}

/// Wait until something listens on TCP `port` in namespace `ns` (`ss -N`), up to 20 s.
fn wait_listening(ns: &str, port: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let filter = format!("sport = :{port}");
    loop {
        let out = Command::new("ss")
            .args(["-N", ns, "-Hltn", &filter])
            .output()
            .expect("run ss (iproute2)");
        if !out.stdout.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on port {port} in {ns} after 20 s: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A shaped link under test: where the client lives, the server's address, and meters of what
/// the link delivered each way.
struct AccuracyLink<'a> {
    cli: &'a str,
    server_ip: &'a str,
    mbit: u64,
    rtt: String,
    /// Bytes a full-size packet occupies on the shaper (1448 bytes of TCP payload plus
    /// headers): the nominal goodput capacity is `rate × 1448 / frame_bytes`.
    frame_bytes: f64,
    /// Header bytes per packet as the meters count them (IP and TCP: 52).
    header_bytes: f64,
    /// Server → client (download data).
    down: LinkMeter,
    /// Client → server (upload data).
    up: LinkMeter,
    /// Time from a byte's count on `up` to the client's kernel knowing it was acknowledged
    /// (the ACK's way back), subtracted from the probe's upload window edges.
    up_lag_s: f64,
}

/// Largest accepted |probe / carried − 1|, in percent.
const ACCURACY_PERCENT: f64 = 2.0;

/// [`accuracy_case`], measured once more when the reference failed: a link meter starved on a
/// loaded machine (a 590 ms gap in its samples was seen with two test suites and a build beside
/// it) says nothing about the probe, so the case is repeated rather than judged without a
/// reference. A second failure, of the meter or of the probe, fails the test.
fn judged_case(link: &AccuracyLink, protocol: Protocol) -> (String, Vec<String>) {
    let (row, failures) = accuracy_case(link, protocol);
    if failures.is_empty() || !failures.iter().any(|f| f.contains(METER_FAILED)) {
        return (row, failures);
    }
    eprintln!(
        "the link meter failed ({}); measuring the case again",
        failures.join("; ")
    );
    accuracy_case(link, protocol)
}

/// Marks a failure of the link meter (not of the probe) in [`accuracy_case`]'s failures.
const METER_FAILED: &str = "link meter:";

/// The protocols judged on the shaped links: the HTTP prober against `probe serve`'s own
/// endpoints (with iperf3 beside it) and the ndt7 client against its ndt7 server.
#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    Http,
    Ndt7,
}

/// One accuracy case: `probe run` download/upload (then, for HTTP, iperf3 both ways) from the
/// client namespace to the server; returns the BENCHMARKS table row and any failures. The
/// probe's figures are judged against what the link carried in the probe's own reported window
/// (`window_start/end_unix_seconds`); the nominal goodput capacity and iperf3 are reported beside.
fn accuracy_case(link: &AccuracyLink, protocol: Protocol) -> (String, Vec<String>) {
    let bin = probe_bin();
    let (mbit, rtt) = (link.mbit, &link.rtt);
    let capacity = mbit as f64 * 1e6 / 8.0 * 1448.0 / link.frame_bytes;
    let (url, kind, tests) = match protocol {
        Protocol::Http => (
            format!("http://{}:8080/", link.server_ip),
            "probe",
            "latency,download,upload",
        ),
        // One server (no Locate): the WebSocket URL of `probe serve`.
        Protocol::Ndt7 => (
            format!("ws://{}:8080/", link.server_ip),
            "ndt7",
            "download,upload",
        ),
    };
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            link.cli,
            bin.to_str().unwrap(),
            "run",
            "--server",
            &url,
            "--json",
        ])
        .args([
            "--tests",
            tests,
            "--duration",
            "7s",
            "--grace",
            "2s",
            "--streams",
            "4",
            "--kind",
            kind,
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
    let result = |test: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["test"] == test)
            .unwrap_or_else(|| panic!("no {test} result in {text}"))
            .clone()
    };
    let num = |r: &serde_json::Value, f: &str| {
        r[f].as_f64()
            .unwrap_or_else(|| panic!("no {f} in {r} ({mbit} Mbit/s)"))
    };
    // HTTP: the latency test's minimum; ndt7: the server's TCPInfo.MinRTT.
    let rtt_from = if protocol == Protocol::Http {
        "latency"
    } else {
        "download"
    };
    let rtt_measured_ms = num(&result(rtt_from), "latency_min_seconds") * 1000.0;
    let mut failures = Vec::new();
    let mut judged = Vec::new();
    // The ndt7 upload figure is the server's (bytes received, counted where the link meter
    // counts them), so no ACK lag applies to its window.
    let up_lag_s = if protocol == Protocol::Http {
        link.up_lag_s
    } else {
        0.0
    };
    for (test, meter, lag_s) in [
        ("download", &link.down, 0.0),
        ("upload", &link.up, up_lag_s),
    ] {
        let r = result(test);
        assert_eq!(
            r["byte_counter"], "kernel",
            "{test} at {mbit} Mbit/s must use the sockets' kernel counters: {r}"
        );
        let measured = num(&r, &format!("{test}_bytes_per_second"));
        let (w0, w1) = (
            num(&r, "window_start_unix_seconds"),
            num(&r, "window_end_unix_seconds"),
        );
        let carried = match meter.payload_rate(w0 - lag_s, w1 - lag_s, link.header_bytes) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!(
                    "{kind} {test} at {mbit} Mbit/s: {METER_FAILED} {e}"
                ));
                f64::NAN
            }
        };
        let err = (measured / carried - 1.0) * 100.0;
        if err.is_nan() || err.abs() > ACCURACY_PERCENT {
            failures.push(format!(
                "{kind} {test} at {mbit} Mbit/s, RTT {rtt}: probe {:.3} MB/s is {err:+.2} % off the {:.3} MB/s the link carried in the same window",
                measured / 1e6,
                carried / 1e6
            ));
        }
        // A shaper that let through far less than its rate means the case measured nothing
        // like the intended link. ndt7 is one TCP connection: on a loaded 2-core machine one
        // flow on the 500 Mbit/s veth (one segment per packet) got 47 % of the rate while its
        // figure matched the carried bytes within 1.2 %, so it is held to a quarter.
        let least = if protocol == Protocol::Ndt7 {
            0.25
        } else {
            0.5
        };
        if carried < least * capacity {
            failures.push(format!(
                "{kind} {test} at {mbit} Mbit/s: the link carried only {:.3} MB/s of {:.3} MB/s capacity",
                carried / 1e6,
                capacity / 1e6
            ));
        }
        judged.push((carried, measured, err));
    }
    let vs_nominal = |x: f64| (x / capacity - 1.0) * 100.0;
    if protocol == Protocol::Ndt7 {
        let side = |f: &str, test: &str| {
            result(test)[f]
                .as_f64()
                .map(|x| format!("{:.3}", x / 1e6))
                .unwrap_or_else(|| "—".into())
        };
        let row = format!(
            "| {mbit} Mbit/s | {rtt} | {rtt_measured_ms:.2} ms | {:.3} | {:.3} | {:.3} ({:+.2} %) | {} | {:.3} | {:.3} ({:+.2} %) | {} |",
            capacity / 1e6,
            judged[0].0 / 1e6,
            judged[0].1 / 1e6,
            judged[0].2,
            side("ndt7_download_server_bytes_per_second", "download"),
            judged[1].0 / 1e6,
            judged[1].1 / 1e6,
            judged[1].2,
            side("ndt7_upload_client_bytes_per_second", "upload"),
        );
        return (row, failures);
    }
    let (i_down, i_up) = (
        iperf3(link.cli, link.server_ip, true, 5, 2, 4),
        iperf3(link.cli, link.server_ip, false, 5, 2, 4),
    );
    let row = format!(
        "| {mbit} Mbit/s | {rtt} | {rtt_measured_ms:.2} ms | {:.3} | {:.3} | {:.3} ({:+.2} %) | {:.3} ({:+.1} %) | {:.3} | {:.3} ({:+.2} %) | {:.3} ({:+.1} %) |",
        capacity / 1e6,
        judged[0].0 / 1e6,
        judged[0].1 / 1e6,
        judged[0].2,
        i_down / 1e6,
        vs_nominal(i_down),
        judged[1].0 / 1e6,
        judged[1].1 / 1e6,
        judged[1].2,
        i_up / 1e6,
        vs_nominal(i_up),
    );
    (row, failures)
}

fn print_accuracy_table(title: &str, rows: &[String], ndt7: &[String]) {
    println!("{title}: HTTP prober against probe serve, iperf3 beside");
    println!("| shaped rate | RTT | HTTP RTT min (probe) | nominal goodput MB/s | download carried MB/s | probe download MB/s (vs carried) | iperf3 download MB/s (vs nominal) | upload carried MB/s | probe upload MB/s (vs carried) | iperf3 upload MB/s (vs nominal) |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    println!("{title}: ndt7 client against probe serve's ndt7 server");
    println!("| shaped rate | RTT | TCPInfo.MinRTT (server) | nominal goodput MB/s | download carried MB/s | ndt7 download MB/s, client (vs carried) | server's BytesAcked MB/s | upload carried MB/s | ndt7 upload MB/s, server (vs carried) | client's bytes acked MB/s |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in ndt7 {
        println!("{r}");
    }
}

/// A test that needs a capability the machine lacks: fails under CI (`CI` set), where the
/// capability must be there, and is skipped with a message on a developer's machine.
fn missing_capability(test: &str, what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {what}, and CI is set: the CI machine must provide it");
    }
    eprintln!("SKIPPED {test}: {what}");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

/// Accuracy on a shaped link: namespaces + veth + tc tbf (+ netem delay where the kernel has
/// it). The probe's download and upload figures must be within 2 % of the TCP payload the link
/// delivered in the probe's reported window, read from the receiving end's ingress qdisc
/// (`tc -s` bytes and packets, less 52 bytes of IP and TCP headers per packet). Counting at
/// the shaper's egress instead was off by up to 5 % at 20 Mbit/s under load: the receiver's
/// backlog (up to 1,000 packets, 0.6 s at 20 Mbit/s) lies between the two. The nominal
/// goodput capacity `rate / 8 × 1448 / 1514` and iperf3 on the same link are reported beside.
/// Needs root and `ip netns`; fails under CI without them, skips with a message otherwise.
#[test]
fn shaped_link_accuracy_against_iperf3() {
    if !is_root() {
        return missing_capability(
            "shaped_link_accuracy_against_iperf3",
            "needs root for ip netns / tc",
        );
    }
    let _serial = serial();
    let Some(link) = NetnsPair::create("acc") else {
        return missing_capability(
            "shaped_link_accuracy_against_iperf3",
            "`ip netns add` failed (no netns support)",
        );
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
    wait_listening(&link.srv, 8080);
    wait_listening(&link.srv, 5201);
    let mut rows = Vec::new();
    let mut ndt7_rows = Vec::new();
    let mut failures = Vec::new();
    for (mbit, one_way_ms) in [(5, 50), (20, 40), (100, 20), (500, 10)] {
        let delayed = link.shape(mbit, one_way_ms);
        let rtt = if delayed {
            format!("{} ms", 2 * one_way_ms)
        } else {
            "~0.1 ms (veth, no netem)".to_string()
        };
        let (srv, srv_if) = (link.srv.clone(), link.srv_if.clone());
        let (cli, cli_if) = (link.cli.clone(), link.cli_if.clone());
        let case = AccuracyLink {
            cli: &link.cli,
            server_ip: "10.77.0.1",
            mbit,
            rtt,
            frame_bytes: 1514.0,
            header_bytes: 52.0,
            down: LinkMeter::start(move || tc_ingress_counters(&cli, &cli_if)),
            up: LinkMeter::start(move || tc_ingress_counters(&srv, &srv_if)),
            // The ingress counters count a packet as it reaches the receiver; the ACKs of an
            // upload come back through the server's netem.
            up_lag_s: if delayed {
                one_way_ms as f64 / 1000.0
            } else {
                0.0
            },
        };
        let (row, f) = judged_case(&case, Protocol::Http);
        rows.push(row);
        failures.extend(f);
        let (row, f) = judged_case(&case, Protocol::Ndt7);
        ndt7_rows.push(row);
        failures.extend(f);
    }
    print_accuracy_table("veth + tbf (link figures from tc -s)", &rows, &ndt7_rows);
    assert!(
        failures.is_empty(),
        "outside {ACCURACY_PERCENT} %:\n{}\n{}\n{}",
        failures.join("\n"),
        rows.join("\n"),
        ndt7_rows.join("\n")
    );
}

/// Accuracy with real propagation delay: the namespaces are joined through two TUN devices and
/// a userspace delay line (this kernel has no `sch_netem`), shaped by tbf on each TUN. What the
/// link carried is counted by the delay line as it delivers each packet (bare IP: 52 bytes of
/// IP and TCP headers per packet), which also catches packets a starved delay line would lose
/// after the qdisc counted them. The nominal goodput capacity is `rate / 8 × 1448 / 1500`.
#[test]
fn delayed_link_accuracy_against_iperf3() {
    if !is_root() || !Path::new("/dev/net/tun").exists() {
        return missing_capability(
            "delayed_link_accuracy_against_iperf3",
            "needs root and /dev/net/tun",
        );
    }
    let _serial = serial();
    let mut rows = Vec::new();
    let mut ndt7_rows = Vec::new();
    let mut failures = Vec::new();
    for (mbit, rtt_ms) in [(5u64, 100u64), (20, 80), (100, 40), (500, 20)] {
        let one_way = Duration::from_millis(rtt_ms / 2);
        let Some(link) = DelayedLink::create(one_way) else {
            return missing_capability(
                "delayed_link_accuracy_against_iperf3",
                "could not build the TUN link",
            );
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
        wait_listening(&link.srv, 8080);
        wait_listening(&link.srv, 5201);
        let (to_cli, to_srv) = (link.to_cli.clone(), link.to_srv.clone());
        let case = AccuracyLink {
            cli: &link.cli,
            server_ip: "10.78.0.1",
            mbit,
            rtt: format!("{rtt_ms} ms"),
            frame_bytes: 1500.0,
            header_bytes: 52.0,
            down: LinkMeter::start(move || Some(to_cli.read())),
            up: LinkMeter::start(move || Some(to_srv.read())),
            // Delivery is counted on arrival at the server; its ACKs need one more one-way
            // delay to reach the client.
            up_lag_s: one_way.as_secs_f64(),
        };
        let (row, f) = judged_case(&case, Protocol::Http);
        rows.push(row);
        failures.extend(f);
        let (row, f) = judged_case(&case, Protocol::Ndt7);
        ndt7_rows.push(row);
        failures.extend(f);
    }
    print_accuracy_table(
        "TUN delay line + tbf (link figures from the delay line)",
        &rows,
        &ndt7_rows,
    );
    assert!(
        failures.is_empty(),
        "outside {ACCURACY_PERCENT} %:\n{}\n{}\n{}",
        failures.join("\n"),
        rows.join("\n"),
        ndt7_rows.join("\n")
    );
}

/// A userspace delay line between two TUN devices: each packet read from one device is written
/// to the other after a fixed delay. Used where the kernel lacks `sch_netem`.
mod delay_line {
    #![allow(unsafe_code)]

    use std::fs::{File, OpenOptions};
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicU64, Ordering};
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

    /// Bytes and packets a direction of the delay line has delivered.
    #[derive(Default)]
    pub struct Delivered {
        bytes: AtomicU64,
        packets: AtomicU64,
    }

    impl Delivered {
        /// Cumulative (bytes, packets).
        pub fn read(&self) -> (u64, u64) {
            (
                self.bytes.load(Ordering::Relaxed),
                self.packets.load(Ordering::Relaxed),
            )
        }
    }

    /// Forward packets `from` → `to` after `delay`, until `from` fails (device deleted),
    /// counting what was delivered.
    pub fn run(from: Arc<File>, to: Arc<File>, delay: Duration, delivered: Arc<Delivered>) {
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
                if let Ok(n) = (&*to).write(&pkt) {
                    delivered.bytes.fetch_add(n as u64, Ordering::Relaxed);
                    delivered.packets.fetch_add(1, Ordering::Relaxed);
                }
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
    /// Delivered server → client.
    to_cli: std::sync::Arc<delay_line::Delivered>,
    /// Delivered client → server.
    to_srv: std::sync::Arc<delay_line::Delivered>,
}

impl DelayedLink {
    fn create(one_way: Duration) -> Option<DelayedLink> {
        let id = std::process::id() % 100_000;
        let l = DelayedLink {
            srv: format!("probe-dly-srv-{id}"),
            cli: format!("probe-dly-cli-{id}"),
            srv_if: format!("pt{id}s"),
            cli_if: format!("pt{id}c"),
            to_cli: Default::default(),
            to_srv: Default::default(),
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
        // The server's TUN reads what the server sends: that direction reaches the client.
        delay_line::run(s.clone(), c.clone(), one_way, l.to_cli.clone());
        delay_line::run(c, s, one_way, l.to_srv.clone());
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
        // As on the veth link: 2 ms of burst, 50 ms of queue (at least twenty packets).
        let burst = (rate_bytes / 500).max(15_000).to_string();
        let limit = (rate_bytes / 20).max(20 * 1500).to_string();
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
