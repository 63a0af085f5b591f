//! File-based service discovery at fleet scale: `scripts/fleet-targets.py` generates
//! `targets/agents*.yml` for 1,000 agents over the 14 regions of the embedded dataset; the shipped
//! `prometheus.yml` with them passes `promtool check config`, and a real Prometheus running it
//! discovers all 1,000 with exactly the bounded label set (an extra label in a discovery file is
//! dropped by the job's relabelling). All addresses are on loopback (127.1.0.0/16).

mod monitoring_common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use monitoring_common::{config_dir, repo_root, Prometheus};

const PROMTOOL: &str = "/usr/bin/promtool";
const AGENTS: usize = 1000;

fn generate(out: &Path, extra_args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg(repo_root().join("scripts/fleet-targets.py"))
        .arg("--agents")
        .arg(AGENTS.to_string())
        .arg("--out")
        .arg(out)
        .args(extra_args)
        .output()
        .expect("run python3 scripts/fleet-targets.py")
}

/// A copy of config/prometheus (config, rules) with the generated discovery files in targets/.
fn fleet_config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = config_dir().join("prometheus");
    std::fs::copy(
        src.join("prometheus.yml"),
        dir.path().join("prometheus.yml"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    for name in ["recording.yml", "alerts.yml"] {
        std::fs::copy(
            src.join("rules").join(name),
            dir.path().join("rules").join(name),
        )
        .unwrap();
    }
    let out = generate(&dir.path().join("targets"), &[]);
    assert!(
        out.status.success(),
        "fleet-targets.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn thousand_agent_discovery_files_pass_promtool() {
    if !Path::new(PROMTOOL).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{PROMTOOL} missing: scripts/bootstrap.sh"
        );
        eprintln!("SKIPPED: {PROMTOOL} missing");
        return;
    }
    let dir = fleet_config_dir();
    let files: Vec<_> = std::fs::read_dir(dir.path().join("targets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 14, "{files:?}");
    assert!(files
        .iter()
        .all(|f| f.starts_with("agents-") && f.ends_with(".yml")));
    let out = Command::new(PROMTOOL)
        .args(["check", "config", "prometheus.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");

    // promtool reads the discovery files too: a malformed one fails the check.
    std::fs::write(
        dir.path().join("targets/agents-broken.yml"),
        "- targets: [\"127.1.9.9:9469\"]\n  labels: {bad-name: x}\n",
    )
    .unwrap();
    let out = Command::new(PROMTOOL)
        .args(["check", "config", "prometheus.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("agents*.yml"),
        "{text}"
    );
}

#[test]
fn prometheus_discovers_the_fleet_with_bounded_labels() {
    if !Path::new("/usr/bin/prometheus").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus missing: scripts/bootstrap.sh"
        );
        eprintln!("SKIPPED: /usr/bin/prometheus missing");
        return;
    }
    let dir = fleet_config_dir();
    // An operator adds labels of their own to one agent: they must not reach the series.
    let extra = "- targets: [\"127.1.200.1:9469\"]\n  labels: {region: UZ-TK, site: extra-labels, owner: field-team, rack: r7}\n";
    let mut files: Vec<(String, String)> = vec![("targets/agents-extra.yml".into(), extra.into())];
    for entry in std::fs::read_dir(dir.path().join("targets")).unwrap() {
        let p = entry.unwrap().path();
        files.push((
            format!("targets/{}", p.file_name().unwrap().to_string_lossy()),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    for name in ["recording.yml", "alerts.yml"] {
        files.push((
            format!("rules/{name}"),
            std::fs::read_to_string(dir.path().join("rules").join(name)).unwrap(),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let cfg = std::fs::read_to_string(dir.path().join("prometheus.yml")).unwrap();
    let prom = Prometheus::start(&cfg, &refs);

    let t0 = Instant::now();
    let targets = loop {
        let (_, v) = prom.api("/api/v1/targets?state=active");
        let active: Vec<serde_json::Value> = v["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t["labels"]["job"] == "probe-agent")
            .collect();
        if active.len() == AGENTS + 1 {
            break active;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{} of {} agents discovered",
            active.len(),
            AGENTS + 1
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let mut regions = BTreeSet::new();
    let mut sites = BTreeSet::new();
    for t in &targets {
        let labels: BTreeSet<&str> = t["labels"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            labels,
            BTreeSet::from(["instance", "job", "region", "site"]),
            "target labels of {}",
            t["scrapeUrl"]
        );
        let url = t["scrapeUrl"].as_str().unwrap();
        assert!(url.starts_with("http://127.1."), "{url}");
        regions.insert(t["labels"]["region"].as_str().unwrap().to_string());
        sites.insert(t["labels"]["site"].as_str().unwrap().to_string());
    }
    assert_eq!(regions.len(), 14, "{regions:?}");
    assert_eq!(sites.len(), AGENTS + 1, "every site label unique");
}

#[test]
fn generator_rejects_bad_region_codes_and_non_loopback_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let regions = dir.path().join("regions.geojson");
    std::fs::write(
        &regions,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{"code":"UZ-TK"}},{"type":"Feature","geometry":null,"properties":{"code":"Tashkent"}}]}"#,
    )
    .unwrap();
    let out = generate(
        &dir.path().join("t"),
        &["--regions", regions.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "regions.geojson: feature 1: property `code` = 'Tashkent' is not an ISO 3166-2 code"
        ),
        "{err}"
    );
    assert!(!dir.path().join("t").exists(), "nothing written on error");

    let out = generate(&dir.path().join("t"), &["--first-address", "10.0.0.1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("10.0.0.1 is not a loopback address"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
