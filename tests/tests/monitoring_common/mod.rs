//! Shared helpers of the monitoring tests: a real Prometheus on a loopback port, a minimal HTTP
//! client for its API, and the PromQL expressions of the Grafana dashboards.
//!
//! Each `monitoring_*.rs` test binary includes this module and uses a subset of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace root (the tests crate lives one level below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent directory")
        .to_path_buf()
}

/// `config/` of the workspace.
pub fn config_dir() -> PathBuf {
    repo_root().join("config")
}

/// A loopback port nothing listens on right now.
///
/// The port is released before the caller binds it, so another process could take it in
/// between; callers that start servers retry on a bind failure.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral loopback port")
        .port()
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters stay as they are).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Status code and body of a plain HTTP GET on loopback.
///
/// HTTP/1.0 so the server neither keeps the connection open nor uses chunked encoding: the body
/// is everything up to EOF.
pub fn http_get(port: u16, path_and_query: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "no end of HTTP headers")
    })?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no status"))?;
    Ok((status, body.to_string()))
}

/// A Prometheus server started from Debian's `/usr/bin/prometheus` on a loopback port, with its
/// own config and TSDB in a temporary directory; killed when dropped.
pub struct Prometheus {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus with `config_yaml` (written to prometheus.yml in the temporary
    /// directory; relative paths in it resolve against that directory) and waits until it is
    /// ready. `extra_files` are written beside the config first.
    pub fn start(config_yaml: &str, extra_files: &[(&str, &str)]) -> Prometheus {
        Prometheus::start_with_flags(config_yaml, extra_files, &[])
    }

    /// [`Prometheus::start`] with extra command-line flags (e.g.
    /// `--web.enable-remote-write-receiver`).
    pub fn start_with_flags(
        config_yaml: &str,
        extra_files: &[(&str, &str)],
        flags: &[&str],
    ) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir for Prometheus");
        for (name, content) in extra_files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create config subdirectory");
            }
            std::fs::write(&path, content).expect("write Prometheus side file");
        }
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, config_yaml).expect("write prometheus.yml");
        let mut last_err = String::new();
        // A free port can be taken between probing and binding: retry a few times.
        for _ in 0..3 {
            let port = free_port();
            let log_path = dir.path().join("prometheus.log");
            let log = std::fs::File::create(&log_path).expect("create prometheus.log");
            let mut child = Command::new("/usr/bin/prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .args(flags)
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start /usr/bin/prometheus (Debian package `prometheus`)");
            match wait_ready(&mut child, port, Duration::from_secs(30)) {
                Ok(()) => return Prometheus { child, port, dir },
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    last_err = format!("{e}; log:\n{log}");
                }
            }
        }
        panic!("Prometheus did not become ready: {last_err}");
    }

    /// Prometheus's own log (warnings and errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// GET on the API; returns the HTTP status and the parsed JSON body.
    pub fn api(&self, path_and_query: &str) -> (u16, Value) {
        let (status, body) = http_get(self.port, path_and_query)
            .unwrap_or_else(|e| panic!("GET {path_and_query} from Prometheus: {e}"));
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path_and_query}: body is not JSON ({e}): {body}"));
        (status, json)
    }

    /// Evaluates `expr` as an instant query now. Ok(result array) or Err(Prometheus's error).
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let (status, json) = self.api(&format!("/api/v1/query?query={}", url_encode(expr)));
        if status != 200 || json["status"] != "success" {
            return Err(format!(
                "HTTP {status}: {} {}",
                json["errorType"].as_str().unwrap_or("?"),
                json["error"].as_str().unwrap_or("?")
            ));
        }
        Ok(json["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

/// Waits until the Prometheus child answers /-/ready, or fails if it exits or times out.
fn wait_ready(child: &mut Child, port: u16, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("Prometheus exited with {status}"));
        }
        if let Ok((200, _)) = http_get(port, "/-/ready") {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(format!("not ready after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One PromQL expression of a dashboard: where it comes from and the query text.
#[derive(Debug, Clone)]
pub struct DashboardQuery {
    pub dashboard: String,
    pub panel: String,
    pub expr: String,
}

/// Every PromQL expression in a dashboard: panel targets (also inside collapsed rows) and
/// template-variable queries (`label_values(sel, label)` becomes `count by (label) (sel)`, the
/// equivalent query, since Grafana's helper is not PromQL).
pub fn dashboard_queries(name: &str, dashboard: &Value) -> Vec<DashboardQuery> {
    let mut out = Vec::new();
    let mut panels: Vec<&Value> = Vec::new();
    for p in dashboard["panels"].as_array().into_iter().flatten() {
        panels.push(p);
        panels.extend(p["panels"].as_array().into_iter().flatten());
    }
    for p in panels {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = t["expr"].as_str() {
                out.push(DashboardQuery {
                    dashboard: name.to_string(),
                    panel: format!(
                        "{} [{}]",
                        p["title"].as_str().unwrap_or("?"),
                        t["refId"].as_str().unwrap_or("?")
                    ),
                    expr: expr.to_string(),
                });
            }
        }
    }
    for v in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if v["type"] != "query" {
            continue;
        }
        let q = v["query"]["query"]
            .as_str()
            .or_else(|| v["query"].as_str())
            .unwrap_or_default();
        out.push(DashboardQuery {
            dashboard: name.to_string(),
            panel: format!("variable ${}", v["name"].as_str().unwrap_or("?")),
            expr: label_values_to_promql(q),
        });
    }
    out
}

/// `label_values(selector, label)` → `count by (label) (selector)`; anything else unchanged.
pub fn label_values_to_promql(q: &str) -> String {
    let q = q.trim();
    if let Some(inner) = q
        .strip_prefix("label_values(")
        .and_then(|s| s.strip_suffix(')'))
    {
        if let Some((sel, label)) = inner.rsplit_once(',') {
            return format!("count by ({}) ({})", label.trim(), sel.trim());
        }
    }
    q.to_string()
}

/// Replaces Grafana's template variables with what "All" selects, so the query is plain PromQL.
pub fn substitute_variables(expr: &str) -> String {
    let mut s = expr.to_string();
    for (from, to) in [
        ("$__rate_interval", "1m"),
        ("$__interval", "1m"),
        ("$__range", "1h"),
        ("${region}", ".*"),
        ("${agent}", ".*"),
        ("${target}", ".*"),
        ("$region", ".*"),
        ("$agent", ".*"),
        ("$target", ".*"),
    ] {
        s = s.replace(from, to);
    }
    s
}

/// The two dashboards, parsed.
pub fn load_dashboards() -> Vec<(String, Value)> {
    let dir = config_dir().join("grafana/dashboards");
    let mut out = Vec::new();
    for name in ["overview.json", "agent.json"] {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
        out.push((name.to_string(), json));
    }
    out
}

/// The project's rule files (name, content) with every group evaluated each second instead of
/// every 1-2 minutes, so recorded series and rule health are known within seconds.
pub fn fast_rule_files() -> Vec<(&'static str, String)> {
    let dir = config_dir().join("prometheus/rules");
    ["recording.yml", "alerts.yml"]
        .into_iter()
        .map(|name| {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            let fast = text
                .replace("interval: 2m", "interval: 1s")
                .replace("interval: 1m", "interval: 1s");
            (name, fast)
        })
        .collect()
}

/// A Prometheus config evaluating the rule files of [`fast_rule_files`] (written beside it) every
/// second and scraping `agents` (address, region, site) as job `probe-agent` like
/// config/prometheus/prometheus.yml does.
pub fn prometheus_config(agents: &[(String, &str, &str)]) -> String {
    let mut s = String::from(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files: [recording.yml, alerts.yml]\n",
    );
    if !agents.is_empty() {
        s.push_str("scrape_configs:\n  - job_name: probe-agent\n    static_configs:\n");
        for (addr, region, site) in agents {
            s.push_str(&format!(
                "      - targets: [\"{addr}\"]\n        labels: {{region: \"{region}\", site: \"{site}\"}}\n"
            ));
        }
        s.push_str(
            "    metric_relabel_configs:\n      - action: labeldrop\n        regex: exported_(region|site)\n",
        );
    }
    s
}
