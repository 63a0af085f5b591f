//! `planner analyze --speeds-from URL` against a real Prometheus (Debian's /usr/bin/prometheus on
//! a loopback port) holding agent speeds backfilled with `promtool tsdb create-blocks-from
//! openmetrics`, so the medians are known exactly: once with the project's recording rules
//! loaded, once without (raw-expression fallback); plus the failure messages and exit code for
//! an unreachable URL, an HTTP error, a Prometheus error answer and a non-Prometheus answer.
//! `planner report --speeds-from URL` is checked against the same Prometheus: the "Measured
//! speeds" section of report.html and the `speeds` layer of coverage.gpkg.

mod monitoring_common;

mod common;
use common::planner_bin;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use monitoring_common::{fast_rule_files, free_port, http_get, repo_root, url_encode};
use serde_json::Value;

fn planner(args: &[&str]) -> Output {
    Command::new(planner_bin())
        .args(args)
        .output()
        .expect("run planner")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Series of the backfill: instance, region label, target, scope, download and upload in
/// bytes/s (constant, so every median is exact).
const AGENTS: [(&str, &str, &str, &str, f64, f64); 9] = [
    // UZ-TO: region medians 18e6 / 4.5e6 over both scopes, and 18e6 / 4.5e6 in each scope
    // (international / domestic = 1: no bottleneck).
    ("a1:9101", "UZ-TO", "t1", "domestic", 20e6, 5e6),
    ("a2:9101", "UZ-TO", "t1", "domestic", 16e6, 4e6),
    ("a1:9101", "UZ-TO", "t2", "international", 19e6, 4.6e6),
    ("a2:9101", "UZ-TO", "t2", "international", 17e6, 4.4e6),
    // A region name that is unique: matched to UZ-QR, and it has a configured baseline in
    // recording.yml (20/5 Mbit/s → target 36/9 Mbit/s = 4.5e6/1.125e6 B/s). Domestic only.
    ("a3:9101", "Karakalpakstan", "t1", "domestic", 3e6, 1e6),
    // Names two regions (UZ-TK and UZ-TO): a warning, not used.
    ("a4:9101", "Tashkent", "t1", "domestic", 9e6, 2e6),
    // No such region.
    ("a5:9101", "Atlantis", "t1", "domestic", 7e6, 1e6),
    // UZ-SA: medians 17.5e6 / 5.25e6 meet the targets, but international download is 1/6 of
    // domestic (below the default minimum ratio 0.5): the international path is the bottleneck.
    ("a6:9101", "UZ-SA", "t1", "domestic", 30e6, 6e6),
    ("a6:9101", "UZ-SA", "t2", "international", 5e6, 4.5e6),
];

/// OpenMetrics text of AGENTS: one sample a minute over the last three hours.
fn openmetrics() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let mut s = String::new();
    for (dir, idx) in [("download", 0), ("upload", 1)] {
        s.push_str(&format!("# TYPE probe_{dir}_bytes_per_second gauge\n"));
        for (inst, region, target, scope, down, up) in AGENTS {
            let v = if idx == 0 { down } else { up };
            // Ends 30 s ago: the newest sample is within the 5-minute lookback of an instant query.
            for k in (0..180).rev() {
                let ts = now - 30 - k * 60;
                s.push_str(&format!(
                    "probe_{dir}_bytes_per_second{{job=\"probe-agent\",instance=\"{inst}\",region=\"{region}\",scope=\"{scope}\",site=\"s-{inst}\",target=\"{target}\"}} {v} {ts}\n"
                ));
            }
        }
    }
    s.push_str("# EOF\n");
    s
}

/// Prometheus over a backfilled TSDB, killed on drop.
struct Prom {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Prom {
    fn start(with_rules: bool) -> Prom {
        let dir = tempfile::tempdir().expect("temp dir");
        let om = dir.path().join("speeds.om");
        std::fs::write(&om, openmetrics()).unwrap();
        let data = dir.path().join("data");
        let o = Command::new("/usr/bin/promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&om)
            .arg(&data)
            .output()
            .expect("run /usr/bin/promtool (Debian package `prometheus`)");
        assert!(
            o.status.success(),
            "promtool backfill failed: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        let mut cfg = String::from("global:\n  evaluation_interval: 1s\n");
        if with_rules {
            for (name, content) in fast_rule_files() {
                if name == "recording.yml" {
                    std::fs::write(dir.path().join(name), content).unwrap();
                }
            }
            cfg.push_str("rule_files: [recording.yml]\n");
        }
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, cfg).unwrap();
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
            let mut child = Command::new("/usr/bin/prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start /usr/bin/prometheus");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(st)) = child.try_wait() {
                    last = format!(
                        "exited with {st}: {}",
                        std::fs::read_to_string(dir.path().join("prometheus.log"))
                            .unwrap_or_default()
                    );
                    break;
                }
                if let Ok((200, _)) = http_get(port, "/-/ready") {
                    return Prom { child, port, dir };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = "not ready after 30 s".into();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("Prometheus did not start: {last}");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Number of series `expr` returns now.
    fn count(&self, expr: &str) -> usize {
        let (status, body) = http_get(
            self.port,
            &format!("/api/v1/query?query={}", url_encode(expr)),
        )
        .expect("query Prometheus");
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("JSON");
        v["data"]["result"].as_array().map(Vec::len).unwrap_or(0)
    }

    /// Waits until the recording rules have produced the per-region 1 d and 7 d medians, the
    /// per-scope medians and the minimum international ratios of the labels.
    fn wait_recorded(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let exprs = [
            "region:probe_download_bytes_per_second:median_1d",
            "region:probe_upload_bytes_per_second:median_7d",
            "region:probe_download_bytes_per_second:target",
            // The scope group reads the per-target medians of another group, so its series
            // appear an evaluation later.
            "region_scope:probe_download_bytes_per_second:median_1d",
            "region_scope:probe_upload_bytes_per_second:median_1d",
            "region:probe_international_ratio:min",
        ];
        while exprs.iter().any(|e| self.count(e) < 3) {
            assert!(
                Instant::now() < deadline,
                "recording rules produced no series in 30 s; log:\n{}",
                std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path) -> PathBuf {
    let p = dir.join("planner.toml");
    std::fs::write(
        &p,
        "[analysis]\nroad_step_m = 1000.0\n\n[speeds]\ntimeout_s = 20.0\n\
         # 90 / 32 Mbit/s, for regions without a target in Prometheus\n\
         target_download_bytes_per_second = 11.25e6\ntarget_upload_bytes_per_second = 4e6\n",
    )
    .unwrap();
    p
}

fn region<'a>(speeds: &'a Value, code: &str) -> &'a Value {
    speeds["regions"]
        .as_array()
        .expect("speeds.regions list")
        .iter()
        .find(|r| r["region"] == code)
        .unwrap_or_else(|| panic!("no row for {code} in {speeds:#}"))
}

fn approx(v: &Value, want: f64) -> bool {
    v.as_f64()
        .is_some_and(|x| (x - want).abs() <= 1e-6 * want.abs().max(1.0))
}

/// Checks shared by both sources: UZ-TO measured from two agents, the labels that match no
/// region (or two) are warned about, other regions listed without measurements.
fn check_common(speeds: &Value) {
    let to = region(speeds, "UZ-TO");
    assert_eq!(to["measured"], true, "{to:#}");
    assert_eq!(to["agents"], 2, "{to:#}");
    assert!(approx(&to["download_bytes_per_second"], 18e6), "{to:#}");
    assert!(approx(&to["upload_bytes_per_second"], 4.5e6), "{to:#}");
    assert!(approx(&to["download_7d_bytes_per_second"], 18e6), "{to:#}");
    // No recorded baseline for the code label, so the configured targets apply.
    assert_eq!(to["download_target_source"], "config", "{to:#}");
    assert!(
        approx(&to["download_target_bytes_per_second"], 11.25e6),
        "{to:#}"
    );
    assert!(approx(&to["download_ratio_to_target"], 1.6), "{to:#}");
    assert!(approx(&to["upload_ratio_to_target"], 1.125), "{to:#}");
    assert_eq!(to["below_target"], false, "{to:#}");

    let qr = region(speeds, "UZ-QR");
    assert_eq!(qr["label"], "Karakalpakstan", "{qr:#}");
    assert_eq!(qr["agents"], 1, "{qr:#}");
    assert!(approx(&qr["download_bytes_per_second"], 3e6), "{qr:#}");
    assert_eq!(qr["below_target"], true, "{qr:#}");

    let an = region(speeds, "UZ-AN");
    assert_eq!(an["measured"], false, "{an:#}");
    assert!(an["download_bytes_per_second"].is_null(), "{an:#}");
    assert_eq!(an["agents"], 0, "{an:#}");

    assert_eq!(speeds["regions"].as_array().unwrap().len(), 14);
    assert_eq!(speeds["regions_measured"], 3, "{speeds:#}");
    assert_eq!(speeds["regions_below_target"], serde_json::json!(["UZ-QR"]));

    // Domestic vs international: UZ-TO even, UZ-SA limited abroad, UZ-QR domestic only.
    assert!(
        approx(&to["domestic_download_bytes_per_second"], 18e6),
        "{to:#}"
    );
    assert!(
        approx(&to["international_download_bytes_per_second"], 18e6),
        "{to:#}"
    );
    assert!(
        approx(&to["international_upload_bytes_per_second"], 4.5e6),
        "{to:#}"
    );
    assert!(approx(&to["international_download_ratio"], 1.0), "{to:#}");
    assert_eq!(to["international_bottleneck"], false, "{to:#}");
    let sa = region(speeds, "UZ-SA");
    assert_eq!(sa["below_target"], false, "{sa:#}");
    assert!(approx(&sa["download_bytes_per_second"], 17.5e6), "{sa:#}");
    assert!(
        approx(&sa["domestic_download_bytes_per_second"], 30e6),
        "{sa:#}"
    );
    assert!(
        approx(&sa["international_download_bytes_per_second"], 5e6),
        "{sa:#}"
    );
    assert!(
        approx(&sa["international_download_ratio"], 0.1667),
        "{sa:#}"
    );
    assert!(approx(&sa["international_upload_ratio"], 0.75), "{sa:#}");
    assert!(approx(&sa["international_ratio_min"], 0.5), "{sa:#}");
    assert_eq!(sa["international_bottleneck"], true, "{sa:#}");
    assert!(
        approx(&qr["domestic_download_bytes_per_second"], 3e6),
        "{qr:#}"
    );
    assert!(qr["international_download_ratio"].is_null(), "{qr:#}");
    assert_eq!(qr["international_bottleneck"], false, "{qr:#}");
    assert_eq!(
        speeds["regions_international_bottleneck"],
        serde_json::json!(["UZ-SA"])
    );
    assert_eq!(
        speeds["unmatched_labels"],
        serde_json::json!(["Atlantis", "Tashkent"])
    );
    let warnings = speeds["warnings"].to_string();
    for w in [
        "`Atlantis` matches no region",
        "`Tashkent` names several regions (UZ-TK, UZ-TO)",
        "`Karakalpakstan` matched region UZ-QR by name",
    ] {
        assert!(warnings.contains(w), "no warning {w:?} in {warnings}");
    }
}

#[test]
fn speeds_from_recording_rules_reach_json_text_and_csv() {
    let prom = Prom::start(true);
    prom.wait_recorded();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let out = dir.path().join("out");
    let url = prom.url();
    let o = planner(&[
        "analyze",
        "--config",
        cfg.to_str().unwrap(),
        "--model",
        "free_space",
        "--quiet",
        "--json",
        "--speeds-from",
        &url,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "planner failed: {}", text(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    let speeds = &v["speeds"];
    assert_eq!(speeds["source"], "recording_rules", "{speeds:#}");
    assert_eq!(speeds["url"], url.as_str());
    assert!(approx(&speeds["target_factor"], 1.8), "{speeds:#}");
    check_common(speeds);
    // UZ-QR's target is the recorded baseline × 1.8, not the configured fallback.
    let qr = region(speeds, "UZ-QR");
    assert_eq!(qr["download_target_source"], "prometheus", "{qr:#}");
    assert!(
        approx(&qr["download_target_bytes_per_second"], 4.5e6),
        "{qr:#}"
    );
    assert!(
        approx(&qr["upload_target_bytes_per_second"], 1.125e6),
        "{qr:#}"
    );
    assert!(approx(&qr["download_ratio_to_target"], 0.6667), "{qr:#}");
    assert!(approx(&qr["upload_ratio_to_target"], 0.8889), "{qr:#}");
    // The minimum ratios come from recording.yml. Its UZ-QR override (0.3) is keyed by the
    // label `UZ-QR`, but these agents say `Karakalpakstan`, so the default 0.5 applies to them —
    // exactly what the InternationalSpeedShareLow alert compares with.
    assert!(approx(&qr["international_ratio_min"], 0.5), "{qr:#}");
    assert_eq!(qr["international_ratio_min_source"], "prometheus", "{qr:#}");
    let sa = region(speeds, "UZ-SA");
    assert_eq!(sa["international_ratio_min_source"], "prometheus", "{sa:#}");
    assert!(v["coverage"].is_object(), "the analysis still runs");

    // The same object in summary.json, and one CSV row per region.
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(&summary["speeds"], speeds);
    let csv = std::fs::read_to_string(out.join("speeds.csv")).expect("speeds.csv written");
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("region,name,label,measured,agents,download_bytes_per_second,"),
        "{header}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 14, "{csv}");
    let qr_row = rows.iter().find(|l| l.starts_with("UZ-QR,")).unwrap();
    assert!(
        qr_row.starts_with("UZ-QR,Karakalpakstan,Karakalpakstan,true,1,3000000.0,1000000.0,")
            && qr_row.ends_with(",true,3000000.0,,1000000.0,,,,0.5,prometheus,false"),
        "{qr_row}"
    );
}

#[test]
fn speeds_fall_back_to_raw_expressions_without_rules() {
    let prom = Prom::start(false);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let url = prom.url();
    let o = planner(&[
        "analyze",
        "--config",
        cfg.to_str().unwrap(),
        "--dataset-only",
        "--json",
        "--speeds-from",
        &url,
    ]);
    assert!(o.status.success(), "planner failed: {}", text(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    let speeds = &v["speeds"];
    assert_eq!(speeds["source"], "raw_expressions", "{speeds:#}");
    assert!(speeds["target_factor"].is_null(), "{speeds:#}");
    check_common(speeds);
    // Without rules every target is the configured one: UZ-QR at 3 of 11.25 MB/s.
    let qr = region(speeds, "UZ-QR");
    assert_eq!(qr["download_target_source"], "config", "{qr:#}");
    assert!(approx(&qr["download_ratio_to_target"], 0.2667), "{qr:#}");
    // Without rules the minimum ratio is the planner config's (default 0.5).
    assert!(approx(&qr["international_ratio_min"], 0.5), "{qr:#}");
    assert_eq!(qr["international_ratio_min_source"], "config", "{qr:#}");
    // Warnings also reach stderr in JSON mode.
    assert!(text(&o.stderr).contains("warning: region label `Atlantis`"));

    // Human summary: Mbit/s, the flag, the source and the regions without data.
    let o = planner(&[
        "analyze",
        "--dataset-only",
        "--speeds-from",
        &url,
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "planner failed: {}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(s.contains("recording rules not found"), "{s}");
    let to_line = s
        .lines()
        .find(|l| l.trim_start().starts_with("UZ-TO"))
        .unwrap();
    assert!(
        to_line.contains("144.0") && to_line.contains("90.0") && to_line.ends_with("ok"),
        "{to_line}"
    );
    let qr_line = s
        .lines()
        .find(|l| l.trim_start().starts_with("UZ-QR"))
        .unwrap();
    assert!(
        qr_line.contains("24.0") && qr_line.ends_with("BELOW TARGET"),
        "{qr_line}"
    );
    assert!(s.contains("no measurements: UZ-AN, UZ-BU"), "{s}");
    assert!(
        s.contains("1 of 3 measured regions below target: UZ-QR"),
        "{s}"
    );
    let sa_line = s
        .lines()
        .filter(|l| l.trim_start().starts_with("UZ-SA"))
        .nth(1)
        .unwrap_or_else(|| panic!("no domestic/international line for UZ-SA in {s}"));
    assert!(
        sa_line.contains("240.0")
            && sa_line.contains("40.0")
            && sa_line.contains("0.17")
            && sa_line.ends_with("INTERNATIONAL BOTTLENECK"),
        "{sa_line}"
    );
    assert!(
        s.contains("1 of 3 measured regions limited by the international path: UZ-SA"),
        "{s}"
    );

    // A URL below the server root gets Prometheus's 404.
    let bad = format!("{url}/nothing-here");
    let o = planner(&["analyze", "--dataset-only", "--speeds-from", &bad]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let e = text(&o.stderr);
    assert!(
        e.contains(&format!("Prometheus at {bad} answered HTTP 404")) && e.contains("server root"),
        "{e}"
    );
}

#[test]
fn unreachable_prometheus_exits_4_naming_the_url() {
    // Bound and dropped: nothing listens there now.
    let url = format!("http://127.0.0.1:{}", free_port());
    let o = planner(&["analyze", "--dataset-only", "--json", "--speeds-from", &url]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let e = text(&o.stderr);
    assert!(
        e.contains(&format!("cannot reach Prometheus at {url}"))
            && e.contains("check that Prometheus is running"),
        "{e}"
    );
    assert!(o.stdout.is_empty(), "no partial report on failure");

    let o = planner(&[
        "analyze",
        "--dataset-only",
        "--speeds-from",
        "localhost:9090",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("not http or https"),
        "{}",
        text(&o.stderr)
    );

    // HTTPS to a plain-HTTP server: the TLS stack is set up (no missing crypto provider) and
    // the failed handshake is reported like any other connection failure.
    let port = serve_fixed("200 OK", "{}");
    let url = format!("https://127.0.0.1:{port}");
    let o = planner(&["analyze", "--dataset-only", "--speeds-from", &url]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let e = text(&o.stderr);
    assert!(
        e.contains(&format!("cannot reach Prometheus at {url}")),
        "{e}"
    );

    let o = planner(&["--help"]);
    assert!(text(&o.stdout).contains("4  measured speeds could not be read"));
}

/// One-shot HTTP server on loopback answering every request with `status` and `body`.
fn serve_fixed(status: &'static str, body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn prometheus_error_and_non_prometheus_answers_exit_4() {
    let port = serve_fixed(
        "400 Bad Request",
        r#"{"status":"error","errorType":"bad_data","error":"parse error: unexpected end of input"}"#,
    );
    let url = format!("http://127.0.0.1:{port}");
    let o = planner(&["analyze", "--dataset-only", "--speeds-from", &url]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let e = text(&o.stderr);
    assert!(
        e.contains(&format!("Prometheus at {url} rejected the query"))
            && e.contains("bad_data: parse error"),
        "{e}"
    );

    let port = serve_fixed("200 OK", "<html>a login page</html>");
    let url = format!("http://127.0.0.1:{port}");
    let o = planner(&["analyze", "--dataset-only", "--speeds-from", &url]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let e = text(&o.stderr);
    assert!(
        e.contains(&format!("the answer of {url}"))
            && e.contains("not a Prometheus API response")
            && e.contains("<html>a login page"),
        "{e}"
    );
}

/// The example plan config with a coarse road step (as tests/tests/report_e2e.rs, so the report
/// takes seconds) and the speeds fallback targets of `write_config`; `url` becomes `[speeds] url`.
fn write_report_config(dir: &Path, url: Option<&str>) -> PathBuf {
    let text =
        std::fs::read_to_string(repo_root().join("config/planner/plan-uzbekistan.toml")).unwrap();
    let mut text = text.replace("road_step_m = 250.0", "road_step_m = 1000.0");
    assert!(text.contains("road_step_m = 1000.0"));
    assert!(
        !text.contains("[speeds]"),
        "the example config gained a [speeds] table"
    );
    text.push_str("\n[speeds]\ntimeout_s = 20.0\ntarget_download_bytes_per_second = 11.25e6\ntarget_upload_bytes_per_second = 4e6\n");
    if let Some(u) = url {
        text.push_str(&format!("url = \"{u}\"\n"));
    }
    let p = dir.join("report.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The `<tr id="speeds-CODE" …>…</tr>` row of report.html's speeds table.
fn speeds_row<'a>(html: &'a str, code: &str) -> &'a str {
    let start = html
        .find(&format!("<tr id=\"speeds-{code}\""))
        .unwrap_or_else(|| panic!("no speeds row for {code}"));
    let len = html[start..].find("</tr>").expect("row end");
    &html[start..start + len]
}

#[test]
fn report_shows_measured_speeds_and_flags_regions_below_target() {
    let prom = Prom::start(true);
    prom.wait_recorded();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_report_config(dir.path(), None);
    let out = dir.path().join("report");
    let url = prom.url();
    let o = planner(&[
        "report",
        "-q",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--speeds-from",
        &url,
    ]);
    assert!(
        o.status.success(),
        "planner report failed: {}",
        text(&o.stderr)
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");

    assert!(html.contains("<h2 id=\"speeds\">Measured speeds</h2>"));
    assert!(
        html.contains(&format!(
            "Prometheus at <b>{url}</b> (source: recording rules)"
        )),
        "source line missing"
    );
    assert!(html.contains("baseline × 1.8 recorded in Prometheus"));
    assert!(html.contains(
        "<p id=\"speeds-summary\"><b>1</b> of 3 measured regions below target: UZ-QR.</p>"
    ));
    assert!(html.contains("<div class=\"v\" id=\"kf-speeds-below\">1 of 3</div>"));

    // UZ-TO: two agents at 20/5 and 16/4 MB/s → medians 144 / 36 Mbit/s against the config's
    // 90 / 32 Mbit/s (no recorded baseline for it): met.
    let to = speeds_row(&html, "UZ-TO");
    assert!(!to.contains("below"), "{to}");
    assert!(
        to.contains("<td class=\"t\">Tashkent UZ-TO</td><td class=\"t\">UZ-TO</td><td>2</td>"),
        "{to}"
    );
    assert!(
        to.contains("<td>144.0</td><td>90.0</td><td>1.60</td><td>36.0</td><td>32.0</td>"),
        "{to}"
    );
    assert!(
        to.contains("<td class=\"t\">planner config</td><td class=\"t\">ok</td>"),
        "{to}"
    );

    // UZ-QR (label by name): 24 / 8 Mbit/s against the recorded 36 / 9 Mbit/s: highlighted.
    let qr = speeds_row(&html, "UZ-QR");
    assert!(
        qr.starts_with("<tr id=\"speeds-UZ-QR\" class=\"below\">"),
        "{qr}"
    );
    assert!(
        qr.contains("<td class=\"t\">Karakalpakstan</td><td>1</td><td>24.0</td><td>36.0</td><td>0.67</td><td>8.0</td><td>9.0</td><td>0.89</td><td>24.0</td><td>8.0</td><td class=\"t\">Prometheus</td><td class=\"t below\">below target</td>"),
        "{qr}"
    );
    // Only measured regions get a row; the others are listed.
    assert_eq!(html.matches("<tr id=\"speeds-UZ").count(), 3);
    // Domestic vs international: the regions with both scopes, UZ-SA flagged.
    assert!(html.contains(
        "<p id=\"speeds-scope-summary\"><b>1</b> of 3 measured regions limited by the international path: UZ-SA.</p>"
    ));
    assert_eq!(html.matches("<tr id=\"speeds-scope-").count(), 2);
    let start = html
        .find("<tr id=\"speeds-scope-UZ-SA\"")
        .expect("UZ-SA scope row");
    let sa = &html[start..start + html[start..].find("</tr>").unwrap()];
    assert!(
        sa.contains("class=\"below\"")
            && sa.contains("<td>240.0</td><td>40.0</td><td>0.17</td>")
            && sa.contains("<td>0.50 (Prometheus)</td>")
            && sa.contains("international path is the bottleneck"),
        "{sa}"
    );
    assert!(
        html.contains(
            "<p id=\"speeds-unmeasured\">No measurements (11): Andijan UZ-AN, Bukhara UZ-BU,"
        ),
        "unmeasured list missing"
    );
    assert!(html.contains("region label `Atlantis` matches no region"));
    assert!(html.contains("region label `Tashkent` names several regions (UZ-TK, UZ-TO)"));
    // Still self-contained: the map's scripts are inline (Leaflet is vendored), nothing is
    // loaded from elsewhere and the only URLs are SVG namespace identifiers. The vendored
    // Leaflet (its own code sets `img.src`) and the heatmaps' base64 payloads are left out of
    // the search, as in planner's report_gpkg test.
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../planner/assets/leaflet");
    let mut page = html.clone();
    for f in ["leaflet.js", "leaflet.css"] {
        page = page.replace(&std::fs::read_to_string(assets.join(f)).unwrap(), "");
    }
    let page = page
        .split("data:image/png;base64,")
        .map(|p| {
            p.trim_start_matches(|c: char| {
                c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='
            })
        })
        .collect::<Vec<_>>()
        .join("");
    // The Prometheus address is printed as the speeds' source (text, never fetched).
    assert!(page.contains(&format!("<b>{url}</b>")));
    let lower = page.replace(&url, "").to_ascii_lowercase();
    assert!(lower.contains("<script"), "the interactive map is missing");
    for bad in [
        "<script src",
        "<link",
        "<img",
        "<iframe",
        "src=",
        "href=",
        "url(",
        "@import",
    ] {
        assert!(!lower.contains(bad), "report.html contains {bad:?}");
    }
    assert_eq!(
        lower.matches("http").count(),
        lower
            .matches("xmlns=\"http://www.w3.org/2000/svg\"")
            .count(),
        "unexpected URL in report.html"
    );

    // The GeoPackage's speeds layer: every region, UZ-QR flagged, in bytes per second.
    let gpkg = out.join("coverage.gpkg");
    let o = Command::new("ogrinfo")
        .args(["-ro", "-q", "-geom=NO", "-where", "below_target = 1"])
        .arg(&gpkg)
        .arg("speeds")
        .output()
        .expect("run ogrinfo (Debian gdal-bin)");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert_eq!(s.matches("OGRFeature(speeds)").count(), 1, "{s}");
    for f in [
        "region (String) = UZ-QR",
        "label (String) = Karakalpakstan",
        "agents (Integer64) = 1",
        "download_bytes_per_second (Real) = 3000000",
        "download_target_bytes_per_second (Real) = 4500000",
        "download_target_source (String) = prometheus",
        "international_ratio_min (Real) = 0.5",
        "international_bottleneck (Integer) = 0",
    ] {
        assert!(s.contains(f), "no {f:?} in {s}");
    }
    let o = Command::new("ogrinfo")
        .args(["-ro", "-so"])
        .arg(&gpkg)
        .arg("speeds")
        .output()
        .expect("run ogrinfo");
    assert!(
        text(&o.stdout).contains("Feature Count: 14"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn report_with_unreachable_speeds_url_exits_4_before_the_analyses() {
    // `[speeds] url` of the config is used without --speeds-from; nothing listens there.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let cfg = write_report_config(dir.path(), Some(&url));
    let out = dir.path().join("report");
    let o = planner(&[
        "report",
        "-q",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let e = text(&o.stderr);
    assert!(
        e.starts_with(&format!("error: cannot reach Prometheus at {url}"))
            && e.contains("check that Prometheus is running"),
        "{e}"
    );
    assert!(!out.exists(), "no partial report on failure");
}
