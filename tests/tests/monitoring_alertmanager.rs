//! Alert delivery, end to end: Debian's Prometheus evaluates the project's rules over real
//! `probe agent`s (two scraped, one pushing by remote write) measuring a real `probe serve`, and
//! sends alerts to Debian's Alertmanager running `config/alertmanager/alertmanager.yml` (its
//! routes and inhibit rules unchanged; receivers replaced by webhooks into this test process,
//! timers shortened). The test degrades the speed server, stops agents and brings everything
//! back, and asserts which receiver gets which alert, with region labels and runbook links,
//! that an agent's per-test alerts are inhibited while the agent is down, and that everything
//! resolves.
//!
//! Only the alerts the scenario provokes get short `for:` durations and windows (see
//! [`fast_alert_rules`]); every other alert keeps its shipped timing and so cannot fire within
//! the test, which makes "no other alert arrived" a meaningful assertion.
//!
//! Needs the `probe` binary (`cargo build -p probes --bins`), prometheus and
//! prometheus-alertmanager (scripts/bootstrap.sh).

mod common;
mod monitoring_common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{spawn_probe, Proc};
use monitoring_common::{config_dir, fast_rule_files, http_get, prometheus_config, Prometheus};
use serde_json::Value;

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const AMTOOL: &str = "/usr/bin/amtool";
const PROMETHEUS: &str = "/usr/bin/prometheus";
/// The speed server's normal per-client rate, bytes per second.
const NORMAL_BYTES_PER_SECOND: f64 = 50e6;
const RUNBOOK_BASE: &str = "https://example.invalid/coverage-planner/blob/main/docs/monitoring.md#";

/// True when every tool is installed; outside CI a missing tool skips the test, under CI it
/// fails it (scripts/bootstrap.sh installs them).
fn tools_present(tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools.iter().filter(|t| !Path::new(t).exists()).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{missing:?} missing: run scripts/bootstrap.sh"
    );
    eprintln!("SKIPPED: {missing:?} missing (scripts/bootstrap.sh installs them)");
    false
}

fn shipped_config() -> String {
    let path = config_dir().join("alertmanager/alertmanager.yml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn shipped_config_passes_amtool_check_config() {
    if !tools_present(&[AMTOOL]) {
        return;
    }
    let out = Command::new(AMTOOL)
        .arg("check-config")
        .arg(config_dir().join("alertmanager/alertmanager.yml"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("SUCCESS"), "{text}");
}

/// Every region of the default dataset reaches a team, and each severity its channel; alerts
/// without a region reach the NOC.
#[test]
fn routes_send_each_region_and_severity_to_its_receiver() {
    if !tools_present(&[AMTOOL]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(&cfg, shipped_config()).unwrap();
    let team = |region: &str| match region {
        "UZ-TK" | "UZ-TO" | "UZ-SI" | "UZ-JI" => "team-central",
        "UZ-SA" | "UZ-QA" | "UZ-SU" | "UZ-NW" | "UZ-BU" => "team-south",
        "UZ-QR" | "UZ-XO" => "team-west",
        "UZ-AN" | "UZ-FA" | "UZ-NG" => "team-east",
        _ => unreachable!(),
    };
    let mut cases: Vec<(Vec<String>, String)> = Vec::new();
    for region in [
        "UZ-AN", "UZ-BU", "UZ-FA", "UZ-JI", "UZ-NG", "UZ-NW", "UZ-QA", "UZ-QR", "UZ-SA", "UZ-SI",
        "UZ-SU", "UZ-TK", "UZ-TO", "UZ-XO",
    ] {
        for (severity, suffix) in [("critical", "-page"), ("warning", ""), ("info", "-tickets")] {
            cases.push((
                vec![
                    "alertname=ProbeAgentDown".into(),
                    format!("region={region}"),
                    format!("severity={severity}"),
                ],
                format!("{}{suffix}", team(region)),
            ));
        }
    }
    for (labels, receiver) in [
        (
            vec!["alertname=ProbeTargetDown", "severity=critical"],
            "noc-page",
        ),
        (vec!["alertname=ProbeServerDown", "severity=warning"], "noc"),
        (
            vec![
                "alertname=ProbeAgentDown",
                "severity=critical",
                "region=XX-YY",
            ],
            "noc-page",
        ),
    ] {
        cases.push((
            labels.into_iter().map(String::from).collect(),
            receiver.into(),
        ));
    }
    for (labels, expected) in cases {
        let out = Command::new(AMTOOL)
            .args(["config", "routes", "test"])
            .arg(format!("--config.file={}", cfg.display()))
            .args(&labels)
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(got, expected, "route for {labels:?}");
    }
}

/// Alertmanager's config for the test: the shipped routes and inhibit rules with short group
/// timers, and every receiver replaced by a webhook to `hook` at `/<receiver name>`.
fn test_alertmanager_config(hook: SocketAddr) -> String {
    let shipped = shipped_config();
    let (head, receivers) = shipped
        .split_once("\nreceivers:\n")
        .expect("alertmanager.yml ends with its receivers: section");
    let names: Vec<&str> = receivers
        .lines()
        .filter_map(|l| l.strip_prefix("  - name: "))
        .map(str::trim)
        .collect();
    assert!(names.len() >= 5, "receivers found: {names:?}");
    let mut cfg = String::new();
    for line in head.lines() {
        let l = line
            .replace("group_wait: 30s", "group_wait: 1s")
            .replace("group_interval: 5m", "group_interval: 1s");
        cfg.push_str(&l);
        cfg.push('\n');
    }
    assert!(cfg.contains("group_wait: 1s") && cfg.contains("group_interval: 1s"));
    cfg.push_str("\nreceivers:\n");
    for n in names {
        cfg.push_str(&format!(
            "  - name: {n}\n    webhook_configs:\n      - url: http://{hook}/{n}\n        send_resolved: true\n"
        ));
    }
    cfg
}

/// Rewrites one alert's block of alerts.yml (from its `- alert:` line to the next) with
/// `(from, to)` replacements, each of which must apply.
fn rewrite_alert(rules: &str, alert: &str, edits: &[(&str, &str)]) -> String {
    let marker = format!("      - alert: {alert}\n");
    let start = rules
        .find(&marker)
        .unwrap_or_else(|| panic!("alert {alert} not in alerts.yml"));
    let end = rules[start + marker.len()..]
        .find("      - alert: ")
        .map(|e| start + marker.len() + e)
        .unwrap_or(rules.len());
    let mut block = rules[start..end].to_string();
    for (from, to) in edits {
        assert!(block.contains(from), "{alert}: {from:?} not found");
        block = block.replace(from, to);
    }
    format!("{}{block}{}", &rules[..start], &rules[end..])
}

/// Timing of the provoked alerts, shortened so the scenario takes seconds. The thresholds stay.
fn fast_alert_rules() -> Vec<(&'static str, String)> {
    let mut files = fast_rule_files();
    for (name, text) in &mut files {
        if *name != "alerts.yml" {
            continue;
        }
        let mut t = rewrite_alert(text, "ProbeAgentDown", &[("for: 5m", "for: 1s")]);
        t = rewrite_alert(
            &t,
            "ProbeAgentPushStale",
            &[("> 15 * 60", "> 6"), ("for: 5m", "for: 1s")],
        );
        t = rewrite_alert(
            &t,
            "ProbeResultsStale",
            &[("> 4 * 3600", "> 12"), ("for: 15m", "for: 1s")],
        );
        t = rewrite_alert(
            &t,
            "ProbeSpeedDegraded",
            &[("[3h]", "[8s]"), ("for: 1h", "for: 1s")],
        );
        *text = t;
    }
    files
}

/// One webhook delivery: the receiver (URL path) and Alertmanager's JSON payload.
#[derive(Clone, Debug)]
struct Delivery {
    receiver: String,
    body: Value,
}

/// Webhook receiver on loopback collecting every delivery; runs until the test process exits.
fn start_webhook() -> (SocketAddr, Arc<Mutex<Vec<Delivery>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let s = s.clone();
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                let mut reader = BufReader::new(&conn);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0u8; len];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let receiver = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/')
                    .to_string();
                if let Ok(body) = serde_json::from_slice(&body) {
                    lock(&s).push(Delivery { receiver, body });
                }
                let _ = (&conn).write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            });
        }
    });
    (addr, seen)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Debian's Alertmanager on a loopback port with clustering off; killed when dropped.
struct Alertmanager {
    _proc: Proc,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start(config: &str) -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("alertmanager.yml");
        std::fs::write(&cfg, config).unwrap();
        let mut last = String::new();
        for _ in 0..3 {
            let port = common::free_port();
            let log = std::fs::File::create(dir.path().join("alertmanager.log")).unwrap();
            let child = Command::new(ALERTMANAGER)
                .arg(format!("--config.file={}", cfg.display()))
                .arg(format!(
                    "--storage.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                // An empty cluster address turns the gossip mesh (port 9094 on all interfaces) off.
                .arg("--cluster.listen-address=")
                .arg("--log.level=warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start prometheus-alertmanager");
            let mut p = Proc {
                child,
                name: "alertmanager",
            };
            let t0 = Instant::now();
            loop {
                if let Ok(Some(st)) = p.child.try_wait() {
                    last = format!(
                        "exited with {st}: {}",
                        std::fs::read_to_string(dir.path().join("alertmanager.log"))
                            .unwrap_or_default()
                    );
                    break;
                }
                if let Ok((200, _)) = http_get(port, "/-/ready") {
                    return Alertmanager {
                        _proc: p,
                        port,
                        _dir: dir,
                    };
                }
                if t0.elapsed() > Duration::from_secs(30) {
                    last = "not ready after 30 s".into();
                    let _ = p.child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("Alertmanager did not start: {last}");
    }

    /// Alerts Alertmanager holds, with their state (active, suppressed) and inhibitors.
    fn alerts(&self) -> Vec<Value> {
        let Ok((200, body)) = http_get(self.port, "/api/v2/alerts") else {
            return Vec::new();
        };
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }
}

/// The first delivery to `receiver` with an alert matching `alertname`, `status`
/// ("firing"/"resolved") and every `(label, value)`, waiting up to `within`.
fn wait_delivery(
    seen: &Mutex<Vec<Delivery>>,
    what: &str,
    within: Duration,
    pred: impl Fn(&Delivery) -> bool,
) -> Delivery {
    let t0 = Instant::now();
    loop {
        if let Some(d) = lock(seen).iter().find(|d| pred(d)) {
            return d.clone();
        }
        assert!(
            t0.elapsed() < within,
            "no delivery {what} within {within:?}; deliveries: {:#?}",
            summarize(&lock(seen))
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One line per alert delivered: receiver, status, name, the labels that tell alerts apart,
/// and start/end times.
fn summarize(d: &[Delivery]) -> Vec<String> {
    let mut out = Vec::new();
    for del in d {
        for a in del.body["alerts"].as_array().into_iter().flatten() {
            out.push(format!(
                "{} {} {} instance={} region={} test={} starts={} ends={}",
                del.receiver,
                a["status"].as_str().unwrap_or("?"),
                a["labels"]["alertname"].as_str().unwrap_or("?"),
                a["labels"]["instance"].as_str().unwrap_or("-"),
                a["labels"]["region"].as_str().unwrap_or("-"),
                a["labels"]["test"].as_str().unwrap_or("-"),
                a["startsAt"].as_str().unwrap_or("-"),
                a["endsAt"].as_str().unwrap_or("-"),
            ));
        }
    }
    out
}

/// Alerts of a delivery with the given name, status and instance.
fn alerts_in<'a>(d: &'a Delivery, alertname: &str, status: &str, instance: &str) -> Vec<&'a Value> {
    d.body["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| {
            a["labels"]["alertname"] == alertname
                && a["status"] == status
                && a["labels"]["instance"] == instance
        })
        .collect()
}

fn has_alert(d: &Delivery, receiver: &str, alertname: &str, status: &str, instance: &str) -> bool {
    d.receiver == receiver && !alerts_in(d, alertname, status, instance).is_empty()
}

/// Region label and runbook link as the routes and on-call need them.
fn assert_routed_alert(d: &Delivery, alertname: &str, instance: &str, region: &str) {
    for a in alerts_in(d, alertname, "firing", instance) {
        assert_eq!(a["labels"]["region"], region, "{a}");
        let runbook = a["annotations"]["runbook_url"].as_str().unwrap_or_default();
        assert_eq!(
            runbook,
            format!("{RUNBOOK_BASE}{}", alertname.to_ascii_lowercase()),
            "{a}"
        );
        assert!(
            a["annotations"]["summary"]
                .as_str()
                .is_some_and(|s| s.contains(region) || s.contains(instance)),
            "{a}"
        );
    }
    assert_eq!(d.body["groupLabels"]["alertname"], alertname, "{}", d.body);
    assert_eq!(d.body["groupLabels"]["region"], region, "{}", d.body);
}

/// Agent config: latency and a short download every few seconds against `server`, `extra`
/// appended (listen address, remote_write).
fn agent_config(region: &str, site: &str, listen: &str, server: SocketAddr, extra: &str) -> String {
    format!(
        r#"[agent]
region = "{region}"
site = "{site}"
latitude = 41.3
longitude = 69.2
listen = "{listen}"
daily_budget_bytes = 100_000_000_000

[tests.latency]
interval = "2s"
jitter = "200ms"
timeout = "1500ms"
samples = 3

[tests.download]
interval = "4s"
jitter = "300ms"
timeout = "3500ms"
duration = "1s"
grace = "200ms"
streams = 2
max_bytes = 500_000_000

[[targets]]
name = "speed-1"
url = "http://{server}/"
tests = ["latency", "download"]
{extra}"#
    )
}

/// `probe serve` on a fixed port, limited to `bytes_per_second` per client.
fn start_server(port: u16, bytes_per_second: Option<f64>) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve".to_string(), "--listen".into(), listen];
    if let Some(b) = bytes_per_second {
        args.push("--max-client-bytes-per-second".into());
        args.push(format!("{b}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    spawn_probe("probe serve", &args).0
}

fn start_agent(dir: &Path, name: &'static str, config: &str) -> Proc {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).unwrap();
    spawn_probe(name, &["agent", "--config", path.to_str().unwrap()]).0
}

#[test]
fn alerts_are_routed_grouped_inhibited_and_resolved() {
    if !tools_present(&[ALERTMANAGER, PROMETHEUS]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (hook, seen) = start_webhook();
    let am = Alertmanager::start(&test_alertmanager_config(hook));

    // Speed server at 50 MB/s per client address (all agents share 127.0.0.1): fast, yet far
    // from the byte cap within a 1 s download on any machine.
    let server_port = common::free_port();
    let server: SocketAddr = format!("127.0.0.1:{server_port}").parse().unwrap();
    let mut speed_server = start_server(server_port, Some(NORMAL_BYTES_PER_SECOND));

    // Two scraped agents in one region (grouping), one pushing agent in another.
    let port_a = common::free_port();
    let port_c = common::free_port();
    let cfg_a = agent_config(
        "UZ-TK",
        "tashkent-a",
        &format!("127.0.0.1:{port_a}"),
        server,
        "",
    );
    let cfg_c = agent_config(
        "UZ-TK",
        "tashkent-c",
        &format!("127.0.0.1:{port_c}"),
        server,
        "",
    );
    let agents = [
        (format!("127.0.0.1:{port_a}"), "UZ-TK", "tashkent-a"),
        (format!("127.0.0.1:{port_c}"), "UZ-TK", "tashkent-c"),
    ];
    let mut prom_cfg = prometheus_config(&agents);
    let rules = fast_alert_rules();
    let files: Vec<(&str, &str)> = rules.iter().map(|(n, c)| (*n, c.as_str())).collect();
    prom_cfg.push_str(&format!(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"127.0.0.1:{}\"]\n",
        am.port
    ));
    let prom =
        Prometheus::start_with_flags(&prom_cfg, &files, &["--web.enable-remote-write-receiver"]);
    let cfg_b = agent_config(
        "UZ-SA",
        "samarkand-b",
        "127.0.0.1:0",
        server,
        &format!(
            "\n[remote_write]\nurl = \"http://127.0.0.1:{}/api/v1/write\"\ninterval = \"1s\"\ntimeout = \"2s\"\nretry_backoff_min = \"250ms\"\nretry_backoff_max = \"1s\"\n",
            prom.port
        ),
    );
    let mut agent_a = start_agent(dir.path(), "agent-a", &cfg_a);
    let _agent_c = start_agent(dir.path(), "agent-c", &cfg_c);
    let mut agent_b = start_agent(dir.path(), "agent-b", &cfg_b);
    let a = format!("127.0.0.1:{port_a}");
    let c = format!("127.0.0.1:{port_c}");
    let b = "samarkand-b".to_string();

    // 1. Healthy baseline: every agent has enough fast downloads that its weekly median stays
    // fast through the degraded phase (which lasts about as long as 4 downloads).
    let t0 = Instant::now();
    loop {
        let runs = prom
            .query(r#"probe_runs_total{job="probe-agent",test="download",result="success"} >= 6"#)
            .unwrap_or_default();
        let rec = prom
            .query("instance_target:probe_download_bytes_per_second:median_7d")
            .unwrap_or_default();
        if runs.len() == 3 && rec.len() == 3 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "agents did not produce downloads: {runs:?}\n{}",
            prom.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        lock(&seen).is_empty(),
        "alerts before any fault: {:#?}",
        summarize(&lock(&seen))
    );

    // 2. Degrade the speed server: restart it on the same port at a fiftieth of the speed.
    let _ = speed_server.child.kill();
    let _ = speed_server.child.wait();
    speed_server = start_server(server_port, Some(NORMAL_BYTES_PER_SECOND / 50.0));
    let wait = Duration::from_secs(60);
    let central = wait_delivery(
        &seen,
        "ProbeSpeedDegraded (UZ-TK, both agents)",
        wait,
        |d| {
            has_alert(d, "team-central", "ProbeSpeedDegraded", "firing", &a)
                && has_alert(d, "team-central", "ProbeSpeedDegraded", "firing", &c)
        },
    );
    assert_routed_alert(&central, "ProbeSpeedDegraded", &a, "UZ-TK");
    assert_routed_alert(&central, "ProbeSpeedDegraded", &c, "UZ-TK");
    let south = wait_delivery(&seen, "ProbeSpeedDegraded (UZ-SA)", wait, |d| {
        has_alert(d, "team-south", "ProbeSpeedDegraded", "firing", &b)
    });
    assert_routed_alert(&south, "ProbeSpeedDegraded", &b, "UZ-SA");

    // 3. Restore it: the degradation resolves for every agent.
    let _ = speed_server.child.kill();
    let _ = speed_server.child.wait();
    let _speed_server = start_server(server_port, Some(NORMAL_BYTES_PER_SECOND));
    for (receiver, inst) in [
        ("team-central", &a),
        ("team-central", &c),
        ("team-south", &b),
    ] {
        wait_delivery(
            &seen,
            &format!("ProbeSpeedDegraded resolved for {inst}"),
            wait,
            |d| has_alert(d, receiver, "ProbeSpeedDegraded", "resolved", inst),
        );
    }

    // 4. Stop the scraped agent A: its region's on-call is paged.
    let _ = agent_a.child.kill();
    let _ = agent_a.child.wait();
    let down = wait_delivery(&seen, "ProbeAgentDown for A", wait, |d| {
        has_alert(d, "team-central-page", "ProbeAgentDown", "firing", &a)
    });
    assert_routed_alert(&down, "ProbeAgentDown", &a, "UZ-TK");

    // 5. Stop the pushing agent B: ProbeAgentPushStale pages its region, and its per-test
    // ProbeResultsStale alerts fire in Prometheus but are inhibited in Alertmanager.
    let _ = agent_b.child.kill();
    let _ = agent_b.child.wait();
    let stale = wait_delivery(&seen, "ProbeAgentPushStale for B", wait, |d| {
        has_alert(d, "team-south-page", "ProbeAgentPushStale", "firing", &b)
    });
    assert_routed_alert(&stale, "ProbeAgentPushStale", &b, "UZ-SA");
    let t0 = Instant::now();
    let inhibited = loop {
        let held: Vec<Value> = am
            .alerts()
            .into_iter()
            .filter(|x| x["labels"]["alertname"] == "ProbeResultsStale")
            .collect();
        let tests: BTreeSet<String> = held
            .iter()
            .filter(|x| {
                x["labels"]["instance"] == b.as_str()
                    && x["status"]["state"] == "suppressed"
                    && x["status"]["inhibitedBy"]
                        .as_array()
                        .is_some_and(|i| !i.is_empty())
            })
            .filter_map(|x| x["labels"]["test"].as_str().map(String::from))
            .collect();
        if tests.len() == 2 {
            break tests;
        }
        assert!(
            t0.elapsed() < wait,
            "ProbeResultsStale of B not held as inhibited: {held:#?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(
        inhibited,
        BTreeSet::from(["download".to_string(), "latency".to_string()])
    );

    // 6. Bring both agents back: their alerts resolve.
    let delivered_while_down = lock(&seen).len();
    let _agent_a = start_agent(dir.path(), "agent-a", &cfg_a);
    let _agent_b = start_agent(dir.path(), "agent-b", &cfg_b);
    wait_delivery(&seen, "ProbeAgentDown resolved for A", wait, |d| {
        has_alert(d, "team-central-page", "ProbeAgentDown", "resolved", &a)
    });
    wait_delivery(&seen, "ProbeAgentPushStale resolved for B", wait, |d| {
        has_alert(d, "team-south-page", "ProbeAgentPushStale", "resolved", &b)
    });

    // Nothing else was delivered up to the restart: no inhibited alert leaked, no unexpected
    // alert fired.
    let all = lock(&seen).clone();
    let names = |ds: &[Delivery]| -> BTreeSet<String> {
        ds.iter()
            .flat_map(|d| d.body["alerts"].as_array().cloned().unwrap_or_default())
            .filter_map(|x| x["labels"]["alertname"].as_str().map(String::from))
            .collect()
    };
    let expected = BTreeSet::from(
        [
            "ProbeAgentDown",
            "ProbeAgentPushStale",
            "ProbeSpeedDegraded",
        ]
        .map(String::from),
    );
    assert_eq!(
        names(&all[..delivered_while_down]),
        expected,
        "{:#?}",
        summarize(&all)
    );
    // After the restart B's inhibitor (ProbeAgentPushStale) and its ProbeResultsStale resolve
    // within moments of each other (its first push carries a new config-load time, which retires
    // the old last-run times), so Alertmanager may send a still-firing ProbeResultsStale once the
    // inhibition ends. Nothing else may appear, and such an alert must then resolve.
    let late = names(&all[delivered_while_down..]);
    assert!(
        late.iter()
            .all(|n| expected.contains(n) || n == "ProbeResultsStale"),
        "{:#?}",
        summarize(&all)
    );
    let late_tests: BTreeSet<String> = all[delivered_while_down..]
        .iter()
        .flat_map(|d| alerts_in(d, "ProbeResultsStale", "firing", &b))
        .filter_map(|x| x["labels"]["test"].as_str().map(String::from))
        .collect();
    for test in &late_tests {
        wait_delivery(
            &seen,
            &format!("ProbeResultsStale resolved for B's {test} test"),
            wait,
            |d| {
                alerts_in(d, "ProbeResultsStale", "resolved", &b)
                    .iter()
                    .any(|x| x["labels"]["test"] == test.as_str())
            },
        );
    }
    // One guard at a time: std's Mutex is not reentrant.
    let all = lock(&seen).clone();
    println!("{} deliveries:\n{}", all.len(), summarize(&all).join("\n"));
}
