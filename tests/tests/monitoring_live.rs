//! Every Grafana panel's query returns data from a real Prometheus fed by a real probe agent
//! measuring a real `probe serve`, all on loopback: once for a scraped fleet, once for a pushing
//! one (the agent remote-writes, Prometheus scrapes nothing).
//!
//! Needs the `probe` binary (scripts/test.sh builds it; or `cargo build -p probes --bins`).

mod monitoring_common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use monitoring_common::*;

/// Per-client rate limit of the test's `probe serve`, bytes per second.
const RATE_LIMIT_BYTES_PER_SECOND: f64 = 50e6;

/// The most recently built `probe` binary (release or debug).
fn probe_binary() -> Option<PathBuf> {
    ["release", "debug"]
        .iter()
        .map(|p| repo_root().join("target").join(p).join("probe"))
        .filter(|p| p.is_file())
        .max_by_key(|p| {
            p.metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH)
        })
}

/// A child process killed when dropped, with its output captured to a file for diagnostics.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn start(cmd: &mut Command, log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log).expect("create process log");
        let err = file.try_clone().expect("clone log handle");
        let child = cmd
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        Proc { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_running(&mut self, what: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{what} exited with {status}:\n{}", self.log());
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_http_ok(port: u16, path: &str, proc_: &mut Proc, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        proc_.assert_running(what);
        if let Ok((200, _)) = http_get(port, path) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not answer {path} on port {port}:\n{}",
            proc_.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Agent config: every test against the local server on short schedules, plus a target on a
/// port nothing listens on so the failure panels have something to show.
fn agent_config(agent_port: u16, server_port: u16, dead_port: u16, extra: &str) -> String {
    let mut cfg = format!(
        r#"[agent]
region = "UZ-TK"
site = "e2e-loopback"
latitude = 41.2995
longitude = 69.2401
isp = "loopback"
listen = "127.0.0.1:{agent_port}"
daily_budget_bytes = 100000000000

[tests.download]
interval = "20s"
jitter = "1s"
timeout = "5s"
duration = "1s"
grace = "200ms"
streams = 2
max_bytes = 2000000000

[tests.upload]
interval = "20s"
jitter = "1s"
timeout = "5s"
duration = "1s"
grace = "200ms"
streams = 2
max_bytes = 2000000000

[tests.latency]
interval = "2s"
jitter = "500ms"
timeout = "1s"

[tests.loss]
interval = "3s"
jitter = "500ms"
timeout = "2s"
packets = 20
packet_interval = "10ms"

[tests.dns]
interval = "2s"
jitter = "500ms"
timeout = "1s"

[tests.http]
interval = "3s"
jitter = "500ms"
timeout = "2s"

[[targets]]
name = "local"
url = "http://localhost:{server_port}/"
tests = ["download", "upload", "latency", "loss", "dns", "http"]

# The same server as an international target: the domestic vs international rules and panels
# need both scopes in a region.
[[targets]]
name = "abroad"
scope = "international"
url = "http://127.0.0.1:{server_port}/"
tests = ["download", "upload", "latency"]

[[targets]]
name = "nothing-listening"
url = "http://127.0.0.1:{dead_port}/"
tests = ["latency"]
"#
    );
    cfg.push_str(extra);
    cfg
}

#[test]
fn every_dashboard_query_returns_data_from_a_scraped_agent() {
    every_dashboard_query_returns_data(false);
}

#[test]
fn every_dashboard_query_returns_data_from_a_pushing_agent() {
    every_dashboard_query_returns_data(true);
}

/// `push`: the agent remote-writes to Prometheus (receiver on, no scrape job) instead of being
/// scraped; its series carry the same job/instance/region/site labels either way.
fn every_dashboard_query_returns_data(push: bool) {
    let probe = probe_binary().expect(
        "no target/release/probe or target/debug/probe: build it first \
         (`cargo build -p probes --bins`; scripts/test.sh builds release binaries)",
    );
    let tmp = tempfile::tempdir().unwrap();

    let server_port = free_port();
    let mut server = Proc::start(
        Command::new(&probe)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{server_port}"))
            // 400 Mbit/s per client: a known rate for the plausibility check below, and it
            // keeps loopback transfers from eating the shared CPU.
            .arg("--max-client-bytes-per-second")
            .arg(RATE_LIMIT_BYTES_PER_SECOND.to_string()),
        tmp.path().join("serve.log"),
    );
    wait_http_ok(server_port, "/ping", &mut server, "probe serve");

    let agent_port = free_port();
    let dead_port = free_port();
    let rules = fast_rule_files();
    let files: Vec<(&str, &str)> = rules.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let (prom, extra) = if push {
        let prom = Prometheus::start_with_flags(
            &prometheus_config(&[]),
            &files,
            &["--web.enable-remote-write-receiver"],
        );
        let extra = format!(
            "\n[remote_write]\nurl = \"http://127.0.0.1:{}/api/v1/write\"\ninterval = \"1s\"\n",
            prom.port
        );
        (prom, extra)
    } else {
        let prom = Prometheus::start(
            &prometheus_config(&[(format!("127.0.0.1:{agent_port}"), "UZ-TK", "e2e-loopback")]),
            &files,
        );
        (prom, String::new())
    };
    let config = tmp.path().join("agent.toml");
    std::fs::write(
        &config,
        agent_config(agent_port, server_port, dead_port, &extra),
    )
    .unwrap();
    let validate = Command::new(&probe)
        .arg("validate")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "probe validate rejects the test config:\n{}{}",
        String::from_utf8_lossy(&validate.stdout),
        String::from_utf8_lossy(&validate.stderr)
    );
    let mut agent = Proc::start(
        Command::new(&probe)
            .arg("agent")
            .arg("--config")
            .arg(&config),
        tmp.path().join("agent.log"),
    );
    wait_http_ok(agent_port, "/-/healthy", &mut agent, "probe agent");
    if push {
        assert!(
            prom.query("up").unwrap().is_empty(),
            "a pushing fleet is not scraped"
        );
    }

    let queries: Vec<DashboardQuery> = load_dashboards()
        .iter()
        .flat_map(|(name, d)| dashboard_queries(name, d))
        .collect();
    assert!(queries.len() > 30);

    // Download and upload run first within ~1 s each; every other test within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(75);
    let mut empty: Vec<String>;
    loop {
        agent.assert_running("probe agent");
        server.assert_running("probe serve");
        empty = Vec::new();
        for q in &queries {
            let expr = substitute_variables(&q.expr);
            match prom.query(&expr) {
                Ok(result) if !result.is_empty() => {}
                Ok(_) => empty.push(format!(
                    "{} / {}: no data\n    {expr}",
                    q.dashboard, q.panel
                )),
                Err(e) => panic!(
                    "{} / {}: Prometheus rejects the query: {e}\n    {expr}",
                    q.dashboard, q.panel
                ),
            }
        }
        if empty.is_empty() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(
        empty.is_empty(),
        "{} of {} dashboard queries return no data:\n{}\n--- agent log:\n{}\n--- Prometheus log:\n{}",
        empty.len(),
        queries.len(),
        empty.join("\n"),
        agent.log(),
        prom.log()
    );

    // Plausibility of what the dashboards show: a loopback link is fast, the latency small, the
    // map marker at the configured coordinates.
    let value = |expr: &str| -> f64 {
        let r = prom.query(expr).unwrap();
        r[0]["value"][1].as_str().unwrap().parse().unwrap()
    };
    let down = value("region:probe_download_bytes_per_second:median_1d{region=\"UZ-TK\"}");
    assert!(
        down > 0.5 * RATE_LIMIT_BYTES_PER_SECOND && down < 1.05 * RATE_LIMIT_BYTES_PER_SECOND,
        "download median {down} B/s on a link limited to {RATE_LIMIT_BYTES_PER_SECOND} B/s"
    );
    let rtt = value("probe_latency_seconds{target=\"local\",stat=\"median\"}");
    assert!(rtt > 0.0 && rtt < 0.1, "loopback median RTT {rtt} s");
    let info = prom.query("probe_agent_info").unwrap();
    let latitude: f64 = info[0]["metric"]["latitude"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((latitude - 41.2995).abs() < 1e-6, "{info:?}");
    assert_eq!(info[0]["metric"]["region"], "UZ-TK", "{info:?}");
    let failed = prom
        .query("probe_success{target=\"nothing-listening\"} == 0")
        .unwrap();
    assert_eq!(
        failed.len(),
        1,
        "the dead target must show as failing: {failed:?}"
    );
}

#[test]
fn monitoring_walkthrough_agent_config_validates() {
    // The README/docs walkthrough must work as written: its agent config passes `probe validate`.
    let probe = probe_binary().expect("no probe binary: `cargo build -p probes --bins` first");
    let docs = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = docs
        .find("cat > /tmp/agent.toml <<'EOF'\n")
        .expect("walkthrough agent config in the README's monitoring section")
        + "cat > /tmp/agent.toml <<'EOF'\n".len();
    let end = start + docs[start..].find("\nEOF\n").expect("end of the heredoc");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("agent.toml");
    std::fs::write(&path, &docs[start..end]).unwrap();
    let out = Command::new(&probe)
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the walkthrough's agent config is rejected:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
