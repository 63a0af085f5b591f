//! End-to-end test of `planner report --out DIR` on the embedded data: the GeoPackage's layers
//! and feature counts in `ogrinfo -so -al`, and the HTML page opened by a real headless Chromium
//! (/usr/bin/chromium, installed by scripts/bootstrap.sh): no console messages, no network
//! requests, the key figures of `planner plan --json` on the page, and a screenshot kept in
//! target/test-artifacts/report.png.
//!
//! Network requests are caught by pointing Chromium at a loopback "proxy" that only records and
//! closes connections, so nothing ever leaves the machine. Chromium's own background services
//! (component updater, sign-in, network time on Google hosts) also knock on the proxy despite
//! the flags; those hosts are filtered out, everything else counts as a page request. A
//! deliberately bad page first proves the harness sees both a console error and a request.

mod common;
use common::planner_bin;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The example plan config with a coarse road step, so the run takes seconds.
fn config(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("config/planner/plan-uzbekistan.toml")).unwrap();
    let text = text.replace("road_step_m = 250.0", "road_step_m = 1000.0");
    assert!(text.contains("road_step_m = 1000.0"));
    let p = dir.join("plan.toml");
    std::fs::write(&p, text).unwrap();
    p
}

struct Run {
    dir: tempfile::TempDir,
    plan: Value,
}

/// One `planner report` and one `planner plan --json` with the same config, shared by the tests.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let out = dir.path().join("out");
        let o = Command::new(planner_bin())
            .args(["report", "-q", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = Command::new(planner_bin())
            .args(["plan", "-q", "--json", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let plan = serde_json::from_slice(&o.stdout).unwrap();
        Run { dir, plan }
    })
}

/// A loopback listener standing in for an HTTP proxy: records each request line and closes.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    fn start() -> Recorder {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st2.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((mut c, _)) => {
                        c.set_nonblocking(false).ok();
                        c.set_read_timeout(Some(Duration::from_millis(500))).ok();
                        let mut buf = [0u8; 512];
                        let n = c.read(&mut buf).unwrap_or(0);
                        let text = String::from_utf8_lossy(&buf[..n]);
                        s2.lock()
                            .unwrap()
                            .push(text.lines().next().unwrap_or("").to_string());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Recorder {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// Requests that are not Chromium's own background services.
    fn page_requests(&self) -> Vec<String> {
        let background = ["google.com", "googleapis.com", "gvt1.com", "gstatic.com"];
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|line| {
                let host = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .trim_start_matches("http://")
                    .trim_start_matches("https://")
                    .split(['/', ':'])
                    .next()
                    .unwrap_or("")
                    .to_string();
                !background
                    .iter()
                    .any(|b| host == *b || host.ends_with(&format!(".{b}")))
            })
            .cloned()
            .collect()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs headless Chromium on `file` with `extra` flags through the recorder; kills it after 90 s.
fn chromium(file: &Path, extra: &[String], rec: &Recorder) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-pings",
        "--disable-domain-reliability",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--proxy-server=http://127.0.0.1:{}", rec.port))
    // Route even loopback through the recorder.
    .arg("--proxy-bypass-list=<-loopback>")
    .args(extra)
    .arg(format!("file://{}", file.display()))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("start /usr/bin/chromium (scripts/bootstrap.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(90);
    // Drain the pipes in threads so a chatty Chromium cannot block on a full pipe.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

fn console_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect()
}

#[test]
fn geopackage_lists_every_layer_with_counts() {
    let r = run();
    let out = Command::new("ogrinfo")
        .args(["-so", "-al"])
        .arg(r.dir.path().join("out/coverage.gpkg"))
        .output()
        .expect("run ogrinfo (gdal-bin)");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut counts = std::collections::BTreeMap::new();
    let mut layer = String::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Layer name: ") {
            layer = n.trim().to_string();
        } else if let Some(c) = line.strip_prefix("Feature Count: ") {
            counts.insert(layer.clone(), c.trim().parse::<u64>().unwrap());
        }
    }
    let names: Vec<&str> = counts.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        vec![
            "fibre_routes",
            "fixed_nodes",
            "proposed_sites",
            "regions",
            "road_stretches",
            "settlements",
            "sites",
            "unserved_settlements"
        ]
    );
    let mi = &r.plan["coverage_before"]["mobile_internet"];
    assert_eq!(
        counts["settlements"],
        mi["settlements_total"].as_u64().unwrap()
    );
    assert_eq!(
        counts["proposed_sites"],
        r.plan["sites"].as_array().unwrap().len() as u64
    );
    assert_eq!(counts["regions"], 14);
    assert_eq!(counts["sites"], 1940);
    assert_eq!(counts["fixed_nodes"], 585);
    assert_eq!(counts["unserved_settlements"], counts["fibre_routes"]);
    assert!(counts["road_stretches"] > 0);
    assert!(text.contains("EPSG") || text.contains("WGS 84"), "{text}");
}

#[test]
fn harness_detects_console_errors_and_requests() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><html><body><p>bad</p><script>console.error('boom-console-error')</script><img src=\"http://example.invalid/pixel.png\"></body></html>",
    )
    .unwrap();
    let rec = Recorder::start();
    let out = chromium(&bad, &["--dump-dom".into()], &rec);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = console_lines(&out.stderr);
    assert!(
        console.iter().any(|l| l.contains("boom-console-error")),
        "console error not seen: {console:?}"
    );
    let reqs = rec.page_requests();
    assert!(
        reqs.iter().any(|l| l.contains("example.invalid")),
        "request not seen: {reqs:?}"
    );
}

#[test]
fn report_opens_offline_in_chromium_with_the_key_figures() {
    let r = run();
    let html = r.dir.path().join("out/report.html");
    let rec = Recorder::start();
    let out = chromium(&html, &["--dump-dom".into()], &rec);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        console_lines(&out.stderr),
        Vec::<String>::new(),
        "console messages"
    );
    assert_eq!(
        rec.page_requests(),
        Vec::<String>::new(),
        "network requests"
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<svg"), "maps and charts rendered");
    let p = &r.plan;
    let fig = |id: &str, v: String| {
        let needle = format!("id=\"{id}\">{v}<");
        assert!(dom.contains(&needle), "missing {needle}");
    };
    let before = &p["coverage_before"]["mobile_internet"];
    let after = &p["coverage_after"]["mobile_internet"];
    fig(
        "kf-settlements-before",
        format!(
            "{:.2} %",
            before["settlements_covered_pct"].as_f64().unwrap()
        ),
    );
    fig(
        "kf-settlements-after",
        format!(
            "{:.2} %",
            after["settlements_covered_pct"].as_f64().unwrap()
        ),
    );
    fig(
        "kf-highway-after",
        format!(
            "{:.2} %",
            after["international_road_km_covered_pct"].as_f64().unwrap()
        ),
    );
    fig("kf-sites", p["sites"].as_array().unwrap().len().to_string());
    assert!(dom.contains(p["coverage_before"]["headline"]["text"].as_str().unwrap()));
    // The settlement target of the config is reached and the page shows before and after.
    assert!(after["settlements_covered_pct"].as_f64().unwrap() >= 99.0);
    assert!(before["settlements_covered_pct"].as_f64().unwrap() < 99.0);
    for s in p["sites"].as_array().unwrap() {
        assert!(dom.contains(&format!(">{}<", s["id"].as_str().unwrap())));
    }

    // Screenshot kept as a test artefact.
    let art = target_dir().join("test-artifacts");
    std::fs::create_dir_all(&art).unwrap();
    let png = art.join("report.png");
    let _ = std::fs::remove_file(&png);
    let rec = Recorder::start();
    let out = chromium(
        &html,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,3000".into(),
            "--hide-scrollbars".into(),
        ],
        &rec,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(console_lines(&out.stderr), Vec::<String>::new());
    assert_eq!(rec.page_requests(), Vec::<String>::new());
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        bytes.len() > 50_000,
        "a blank page would compress to a few KB"
    );
}

#[test]
fn plan_rejects_a_bad_candidate_list_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("cands.csv");
    std::fs::write(&csv, "id,lon,lat,type\nc1,69.2,41.3,skyscraper\n").unwrap();
    let o = Command::new(planner_bin())
        .args(["plan", "-q", "--candidates"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("candidate list {}", csv.display())),
        "{err}"
    );
    assert!(
        err.contains("line 2: field `type` = `skyscraper` is not a site type; use new_build, tower_sharing or rooftop"),
        "{err}"
    );
    let o = Command::new(planner_bin())
        .args(["plan", "-q", "--target-settlements-pct", "150"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("plan.targets.settlements_pct = 150 must be a percentage in [0, 100]"),
        "{err}"
    );
}
