//! Checks the deployable monitoring configuration with the real tools: Debian's `promtool` and
//! `prometheus` for the scrape config, rules and rule unit tests, a real Prometheus for every
//! Grafana query, `systemd-analyze` for the units, and cargo-deb's metadata for the package.

mod monitoring_common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use monitoring_common::*;
use serde_json::Value;

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e} (is the Debian package installed?)"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn prometheus_dir() -> PathBuf {
    config_dir().join("prometheus")
}

fn rule_test_files() -> Vec<PathBuf> {
    let dir = prometheus_dir().join("rules/tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no rule unit tests in {}", dir.display());
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Names following `key` at the start of a YAML list item (`- alert: Name`, `- record: name`).
fn yaml_item_values(text: &str, key: &str) -> Vec<String> {
    let prefix = format!("- {key}:");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(&prefix))
        .map(|v| v.trim().trim_matches('"').to_string())
        .collect()
}

#[test]
fn prometheus_config_passes_promtool_check_config() {
    let out = run(Command::new("/usr/bin/promtool")
        .arg("check")
        .arg("config")
        .arg("prometheus.yml")
        .current_dir(prometheus_dir()));
    let t = text(&out);
    assert!(out.status.success(), "promtool check config failed:\n{t}");
    assert!(
        t.contains("SUCCESS: 2 rule files found"),
        "both rule files must be referenced:\n{t}"
    );
    assert!(!t.contains("WARNING"), "promtool warned:\n{t}");
}

#[test]
fn rule_files_pass_promtool_check_rules() {
    let out = run(Command::new("/usr/bin/promtool")
        .args(["check", "rules", "recording.yml", "alerts.yml"])
        .current_dir(prometheus_dir().join("rules")));
    let t = text(&out);
    assert!(out.status.success(), "promtool check rules failed:\n{t}");
    assert!(!t.contains("WARNING"), "promtool warned:\n{t}");
}

#[test]
fn rule_unit_tests_pass() {
    // One promtool per file, in parallel: the slowest file bounds the test's duration.
    let handles: Vec<_> = rule_test_files()
        .into_iter()
        .map(|f| {
            std::thread::spawn(move || {
                let out = run(Command::new("/usr/bin/promtool")
                    .args(["test", "rules"])
                    .arg(&f)
                    .current_dir(f.parent().unwrap()));
                (f, out)
            })
        })
        .collect();
    let mut failures = Vec::new();
    for h in handles {
        let (f, out) = h.join().unwrap();
        if !out.status.success() {
            failures.push(format!("{}:\n{}", f.display(), text(&out)));
        }
    }
    assert!(
        failures.is_empty(),
        "promtool test rules failed:\n{}",
        failures.join("\n")
    );
}

/// Which alerts have a unit-test case expecting them to fire, and which one expecting silence.
fn alert_test_cases() -> (BTreeSet<String>, BTreeSet<String>) {
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for f in rule_test_files() {
        let content = read(&f);
        let lines: Vec<&str> = content.lines().map(str::trim).collect();
        let mut alert: Option<String> = None;
        for (i, l) in lines.iter().enumerate() {
            if l.starts_with("- eval_time:") {
                alert = None;
            } else if let Some(name) = l.strip_prefix("alertname:") {
                alert = Some(name.trim().to_string());
            } else if *l == "exp_alerts: []" {
                silent.insert(alert.clone().expect("exp_alerts after alertname"));
            } else if *l == "exp_alerts:" {
                let next = lines[i + 1..]
                    .iter()
                    .find(|l| !l.is_empty() && !l.starts_with('#'));
                if next.is_some_and(|n| n.starts_with("- exp_labels:")) {
                    firing.insert(alert.clone().expect("exp_alerts after alertname"));
                }
            }
        }
    }
    (firing, silent)
}

#[test]
fn every_alert_is_unit_tested_firing_and_silent() {
    let alerts: BTreeSet<String> =
        yaml_item_values(&read(&prometheus_dir().join("rules/alerts.yml")), "alert")
            .into_iter()
            .collect();
    assert!(
        alerts.len() >= 10,
        "expected the full alert set, found {alerts:?}"
    );
    let (firing, silent) = alert_test_cases();
    let never_fired: Vec<_> = alerts.difference(&firing).collect();
    let never_silent: Vec<_> = alerts.difference(&silent).collect();
    assert!(
        never_fired.is_empty() && never_silent.is_empty(),
        "alerts without a unit test in config/prometheus/rules/tests/ where they fire: \
         {never_fired:?}; where they stay silent: {never_silent:?}"
    );
    // A test of an alert that no longer exists is a stale test.
    let unknown: Vec<_> = firing
        .union(&silent)
        .filter(|a| !alerts.contains(*a))
        .collect();
    assert!(
        unknown.is_empty(),
        "unit tests name unknown alerts: {unknown:?}"
    );
}

#[test]
fn every_recording_rule_is_unit_tested() {
    let records: BTreeSet<String> = yaml_item_values(
        &read(&prometheus_dir().join("rules/recording.yml")),
        "record",
    )
    .into_iter()
    .collect();
    let mut tested = BTreeSet::new();
    for f in rule_test_files() {
        for expr in yaml_item_values(&read(&f), "expr") {
            let name: String = expr
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            tested.insert(name);
        }
    }
    let untested: Vec<_> = records.difference(&tested).collect();
    assert!(
        untested.is_empty(),
        "recording rules without a promql_expr_test: {untested:?}"
    );
}

/// Copies rules and their unit tests to a temp dir with `from` replaced by `to` in `rules_file`,
/// and runs `promtool test rules` on `test_file` there.
fn unit_test_with_mutated_rules(rules_file: &str, from: &str, to: &str, test_file: &str) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let rules = prometheus_dir().join("rules");
    std::fs::create_dir(tmp.path().join("tests")).unwrap();
    for name in ["recording.yml", "alerts.yml"] {
        let mut content = read(&rules.join(name));
        if name == rules_file {
            assert_eq!(
                content.matches(from).count(),
                1,
                "mutation target {from:?} not unique"
            );
            content = content.replace(from, to);
        }
        std::fs::write(tmp.path().join(name), content).unwrap();
    }
    std::fs::copy(
        rules.join("tests").join(test_file),
        tmp.path().join("tests").join(test_file),
    )
    .unwrap();
    run(Command::new("/usr/bin/promtool")
        .args(["test", "rules", test_file])
        .current_dir(tmp.path().join("tests")))
}

#[test]
fn rule_unit_tests_catch_changed_thresholds() {
    // The unit tests must pin behaviour, not just run: a shorter `for`, a different target
    // factor and a different loss threshold each make them fail.
    for (file, from, to, test) in [
        (
            "alerts.yml",
            "expr: up{job=\"probe-agent\"} == 0\n        for: 5m",
            "expr: up{job=\"probe-agent\"} == 0\n        for: 1m",
            "agent_health_test.yml",
        ),
        (
            "recording.yml",
            "expr: vector(1.8)",
            "expr: vector(0.5)",
            "speed_targets_test.yml",
        ),
        (
            "alerts.yml",
            "[30m]) > 0.02",
            "[30m]) > 0.06",
            "measurements_test.yml",
        ),
        // Pushed agents: a test that stopped must be noticed from its remembered last run.
        (
            "alerts.yml",
            "time() - instance_target_test:probe_last_run_timestamp_seconds:pushed{job",
            "time() - probe_last_run_timestamp_seconds{job",
            "agent_push_test.yml",
        ),
        // ... but not a test that has not run since the agent restarted or reloaded.
        (
            "recording.yml",
            ">= on (instance) group_left ()",
            "< on (instance) group_left ()",
            "agent_push_test.yml",
        ),
        // A pushing agent away for longer than the look-back stays remembered (and alerted).
        (
            "recording.yml",
            "instance:probe_last_push_timestamp_seconds unless on (instance) probe_agent_info",
            "instance:probe_last_push_timestamp_seconds and on (instance) probe_agent_info",
            "agent_push_days_test.yml",
        ),
    ] {
        let out = unit_test_with_mutated_rules(file, from, to, test);
        assert!(
            !out.status.success(),
            "{test} still passes with {from:?} changed to {to:?} in {file}:\n{}",
            text(&out)
        );
    }
}

/// Units with /usr/bin/probe replaced by an existing executable (systemd-analyze verify checks
/// that ExecStart= points at one): the built `probe` binary if there is one, else /bin/true.
fn units_for_verification() -> (tempfile::TempDir, Vec<PathBuf>) {
    let exe = ["release", "debug"]
        .iter()
        .map(|p| repo_root().join("target").join(p).join("probe"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("/bin/true"));
    let tmp = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for name in ["probe-agent.service", "probe-server.service"] {
        let content = read(&config_dir().join("systemd").join(name));
        let path = tmp.path().join(name);
        std::fs::write(
            &path,
            content.replace("/usr/bin/probe", &exe.display().to_string()),
        )
        .unwrap();
        units.push(path);
    }
    (tmp, units)
}

#[test]
fn systemd_units_verify_cleanly() {
    let (_tmp, units) = units_for_verification();
    let out = run(Command::new("/usr/bin/systemd-analyze")
        .arg("verify")
        .args(&units));
    let t = text(&out);
    // verify exits 0 even for unknown keys; any message at all is a problem in the unit.
    assert!(
        out.status.success() && t.trim().is_empty(),
        "systemd-analyze verify:\n{t}"
    );
}

#[test]
fn systemd_units_are_sandboxed() {
    let (_tmp, units) = units_for_verification();
    for unit in &units {
        // Exposure 0.0 (locked down) … 10.0 (unprotected); both units score ~1.1. Threshold 15
        // means 1.5: a dropped sandboxing option pushes the score over it.
        let out = run(Command::new("/usr/bin/systemd-analyze")
            .args(["security", "--offline=yes", "--threshold=15", "--no-pager"])
            .arg(unit));
        assert!(
            out.status.success(),
            "{} is less sandboxed than allowed:\n{}",
            unit.display(),
            text(&out)
        );
    }
    let required = [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "MemoryMax=",
        "Restart=on-failure",
        "WantedBy=multi-user.target",
    ];
    for name in ["probe-agent.service", "probe-server.service"] {
        let content = read(&config_dir().join("systemd").join(name));
        let missing: Vec<_> = required.iter().filter(|k| !content.contains(*k)).collect();
        assert!(missing.is_empty(), "{name} lacks {missing:?}");
    }
    let agent = read(&config_dir().join("systemd/probe-agent.service"));
    assert!(agent.contains("ExecStart=/usr/bin/probe agent --config /etc/probe/agent.toml"));
    assert!(agent.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    // A bad config must fail the reload (and the start) with the validator's message.
    assert!(agent.contains("ExecReload=/usr/bin/probe validate /etc/probe/agent.toml"));
    assert!(agent.contains("ExecStartPre=/usr/bin/probe validate /etc/probe/agent.toml"));
    let server = read(&config_dir().join("systemd/probe-server.service"));
    assert!(server.contains("ExecStart=/usr/bin/probe serve $PROBE_SERVE_ARGS"));
    // SIGHUP's default action kills a process that does not handle it.
    assert!(
        !server.contains("ExecReload="),
        "the server does not reload on SIGHUP"
    );
}

#[test]
fn dashboards_are_well_formed() {
    let provisioned_uid = {
        let ds = read(&config_dir().join("grafana/provisioning/datasources/prometheus.yml"));
        assert!(
            ds.contains("type: prometheus"),
            "datasource provisioning must be Prometheus"
        );
        ds.lines()
            .find_map(|l| l.trim().strip_prefix("uid:").map(|u| u.trim().to_string()))
            .expect("provisioned datasource has a fixed uid")
    };
    let provider = read(&config_dir().join("grafana/provisioning/dashboards/dashboards.yml"));
    assert!(provider.contains("type: file") && provider.contains("path:"));

    let mut uids = BTreeSet::new();
    for (name, d) in load_dashboards() {
        let mut problems = Vec::new();
        let uid = d["uid"].as_str().unwrap_or_default().to_string();
        if uid.is_empty() || !uids.insert(uid.clone()) {
            problems.push(format!("missing or duplicate uid {uid:?}"));
        }
        let vars: BTreeMap<String, Value> = d["templating"]["list"]
            .as_array()
            .expect("templating.list")
            .iter()
            .map(|v| (v["name"].as_str().unwrap().to_string(), v.clone()))
            .collect();
        let ds = vars.get("datasource").expect("a `datasource` variable");
        if ds["type"] != "datasource" || ds["query"] != "prometheus" {
            problems.push("the datasource variable must select Prometheus datasources".into());
        }
        if ds["current"]["value"] != provisioned_uid.as_str() {
            problems.push(format!(
                "the datasource variable defaults to {}, the provisioned uid is {provisioned_uid}",
                ds["current"]["value"]
            ));
        }
        let mut ids = BTreeSet::new();
        let panels = d["panels"].as_array().expect("panels");
        for p in panels {
            let title = p["title"].as_str().unwrap_or("?");
            if !ids.insert(p["id"].as_i64().unwrap_or(-1)) {
                problems.push(format!("panel {title:?}: duplicate or missing id"));
            }
            let g = &p["gridPos"];
            let (x, w) = (g["x"].as_i64().unwrap_or(-1), g["w"].as_i64().unwrap_or(-1));
            if x < 0 || w <= 0 || x + w > 24 || g["h"].as_i64().unwrap_or(0) <= 0 {
                problems.push(format!(
                    "panel {title:?}: gridPos {g} outside the 24-column grid"
                ));
            }
            if p["type"] == "row" {
                continue;
            }
            if p["datasource"]["uid"] != "${datasource}" {
                problems.push(format!(
                    "panel {title:?}: datasource is not ${{datasource}}"
                ));
            }
            let targets = p["targets"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if targets.is_empty() {
                problems.push(format!("panel {title:?} has no query"));
            }
            for t in targets {
                let expr = t["expr"].as_str().unwrap_or_default();
                if expr.trim().is_empty() {
                    problems.push(format!("panel {title:?}: empty expr"));
                }
                if t["datasource"]["uid"] != "${datasource}" {
                    problems.push(format!(
                        "panel {title:?}: query datasource is not ${{datasource}}"
                    ));
                }
                for var in ["region", "agent", "target"] {
                    if expr.contains(&format!("${var}")) && !vars.contains_key(var) {
                        problems.push(format!("panel {title:?} uses undefined ${var}"));
                    }
                }
            }
        }
        let types: BTreeSet<&str> = panels.iter().filter_map(|p| p["type"].as_str()).collect();
        if name == "overview.json" {
            let geomap = panels
                .iter()
                .find(|p| p["type"] == "geomap")
                .expect("a geomap panel");
            let expr = geomap["targets"][0]["expr"].as_str().unwrap();
            assert!(expr.contains("probe_agent_info") && expr.contains("latitude"));
            let loc = &geomap["options"]["layers"][0]["location"];
            assert_eq!(loc["latitude"], "latitude");
            assert_eq!(loc["longitude"], "longitude");
            for needle in [
                "region:probe_download_bytes_per_second:target",
                "probe_jitter_seconds",
                "probe_packet_loss_ratio",
                "probe_loaded_latency_seconds",
                "probe_bytes_used_total",
            ] {
                assert!(
                    d.to_string().contains(needle),
                    "overview has no panel on {needle}"
                );
            }
        } else {
            for var in ["region", "agent", "target"] {
                assert!(vars.contains_key(var), "{name} lacks variable ${var}");
            }
            assert!(types.contains("timeseries"));
        }
        assert!(problems.is_empty(), "{name}:\n  {}", problems.join("\n  "));
    }
}

#[test]
fn dashboard_queries_and_rules_are_valid_promql_in_a_real_prometheus() {
    // Rules evaluated every second so their health is known quickly; nothing scraped.
    let rules = fast_rule_files();
    let files: Vec<(&str, &str)> = rules.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let prom = Prometheus::start(&prometheus_config(&[]), &files);

    // The check below relies on Prometheus rejecting a malformed expression.
    assert!(
        prom.query("sum by (").is_err(),
        "Prometheus accepted a malformed expression"
    );

    let mut bad = Vec::new();
    let mut count = 0;
    for (name, d) in load_dashboards() {
        for q in dashboard_queries(&name, &d) {
            count += 1;
            let expr = substitute_variables(&q.expr);
            if let Err(e) = prom.query(&expr) {
                bad.push(format!("{} / {}: {e}\n    {expr}", q.dashboard, q.panel));
            }
        }
    }
    assert!(count > 30, "expected every panel's queries, found {count}");
    assert!(
        bad.is_empty(),
        "queries Prometheus rejects:\n{}",
        bad.join("\n")
    );

    // The rule files load, and after an evaluation no rule is unhealthy (e.g. a many-to-many
    // match error shows up only at evaluation time).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, json) = prom.api("/api/v1/rules");
        assert_eq!(status, 200);
        let rules: Vec<Value> = json["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap().clone())
            .collect();
        assert!(rules.len() > 30, "rule files not loaded: {json}");
        let errors: Vec<String> = rules
            .iter()
            .filter(|r| r["health"] == "err")
            .map(|r| format!("{}: {}", r["name"], r["lastError"]))
            .collect();
        assert!(errors.is_empty(), "rules failing evaluation: {errors:?}");
        let unevaluated: Vec<&Value> = rules.iter().filter(|r| r["health"] != "ok").collect();
        if unevaluated.is_empty() {
            let alerting: BTreeSet<String> = rules
                .iter()
                .filter(|r| r["type"] == "alerting")
                .map(|r| r["name"].as_str().unwrap().to_string())
                .collect();
            let (firing, _) = alert_test_cases();
            assert_eq!(
                alerting, firing,
                "alerts Prometheus loaded vs alerts unit-tested"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rules never evaluated: {unevaluated:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // With no agent scraped, the configuration itself must not trip an alert other than the
    // one saying so.
    let firing = prom
        .query("ALERTS{alertname!=\"ProbeAgentsAbsent\"}")
        .expect("ALERTS query");
    assert!(
        firing.is_empty(),
        "alerts pending/firing without any data: {firing:?}"
    );
}

/// Asset source paths of `[package.metadata.deb]` in probes/Cargo.toml (relative to probes/).
fn deb_assets() -> Vec<(String, String)> {
    let cargo = read(&repo_root().join("probes/Cargo.toml"));
    let section = cargo
        .split("[package.metadata.deb]")
        .nth(1)
        .expect("probes/Cargo.toml has [package.metadata.deb]");
    let assets = section.split("assets = [").nth(1).expect("deb assets");
    let assets = &assets[..assets.find("\n]").expect("end of assets")];
    assets
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix('[')?;
            let mut parts = l.split('"').skip(1).step_by(2);
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

#[test]
fn deb_package_assets_exist() {
    let assets = deb_assets();
    assert!(assets.len() >= 5, "deb assets: {assets:?}");
    let probes = repo_root().join("probes");
    let mut missing = Vec::new();
    for (src, dest) in &assets {
        if src.starts_with("target/") {
            continue; // built by cargo-deb
        }
        let path = probes.join(src);
        let exists = if src.contains('*') {
            let dir = path.parent().unwrap();
            let ext = src.rsplit('.').next().unwrap();
            std::fs::read_dir(dir)
                .map(|d| {
                    d.flatten()
                        .any(|e| e.path().extension().is_some_and(|x| x == ext))
                })
                .unwrap_or(false)
        } else {
            path.is_file()
        };
        if !exists {
            missing.push(format!("{src} (for {dest})"));
        }
    }
    assert!(
        missing.is_empty(),
        "deb assets missing from the tree: {missing:?}"
    );
    let dests: Vec<&str> = assets.iter().map(|(_, d)| d.as_str()).collect();
    assert!(dests.contains(&"usr/bin/") && dests.contains(&"etc/probe/agent.toml"));
    let cargo = read(&repo_root().join("probes/Cargo.toml"));
    for unit in ["probe-agent", "probe-server"] {
        assert!(
            cargo.contains(&format!("unit-name = \"{unit}\"")),
            "{unit} not packaged"
        );
    }
}

#[test]
fn deb_package_builds_and_contains_binary_units_and_config() {
    // Needs cargo-deb (scripts/build-deb.sh installs the pinned version) and a built `probe`:
    // the release binary (scripts/test.sh builds it) or else the debug one. Packaging an existing
    // binary takes seconds (stripped copy, fast compression).
    let has_cargo_deb = Command::new("cargo")
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let profile = if repo_root().join("target/release/probe").is_file() {
        "release"
    } else if repo_root().join("target/debug/probe").is_file() {
        "dev"
    } else {
        ""
    };
    if profile.is_empty() || !has_cargo_deb {
        // `make test` (and so CI) installs cargo-deb and builds the release binaries first, so
        // there a missing tool is a broken set-up, not a reason to skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "cargo-deb or the probe binary is missing in CI: scripts/test.sh should have provided them"
        );
        eprintln!(
            "SKIPPED: needs a built probe binary (found: {}) and cargo-deb (found: {has_cargo_deb}); \
             run scripts/build-deb.sh",
            !profile.is_empty()
        );
        return;
    }
    let out_dir = tempfile::tempdir().unwrap();
    let deb = out_dir.path().join("probe.deb");
    let out = run(Command::new("cargo")
        .args([
            "deb",
            "-p",
            "probes",
            "--no-build",
            "--fast",
            "--profile",
            profile,
            "--output",
        ])
        .arg(&deb)
        .current_dir(repo_root()));
    assert!(out.status.success(), "cargo deb failed:\n{}", text(&out));

    let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    let info = text(&info);
    assert!(info.contains("Package: probe"), "{info}");
    assert!(
        info.contains("postinst") && info.contains("prerm"),
        "no maintainer scripts:\n{info}"
    );

    let contents = text(&run(Command::new("dpkg-deb").arg("--contents").arg(&deb)));
    for path in [
        "./usr/bin/probe",
        "./etc/probe/agent.toml",
        "./usr/lib/systemd/system/probe-agent.service",
        "./usr/lib/systemd/system/probe-server.service",
        "./usr/share/probe/prometheus/rules/alerts.yml",
        "./usr/share/probe/grafana/dashboards/overview.json",
    ] {
        assert!(
            contents.contains(path),
            "{path} not in the package:\n{contents}"
        );
    }
    let ctrl = out_dir.path().join("ctrl");
    let out = run(Command::new("dpkg-deb")
        .arg("--control")
        .arg(&deb)
        .arg(&ctrl));
    assert!(out.status.success(), "{}", text(&out));
    let conffiles = read(&ctrl.join("conffiles"));
    assert!(
        conffiles.contains("/etc/probe/agent.toml"),
        "conffiles: {conffiles}"
    );
    // The unit's ExecStartPre runs `probe validate /etc/probe/agent.toml`: the packaged config
    // (with the server list it refers to) must pass, or the agent would not start on install.
    let root = out_dir.path().join("root");
    let out = run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    assert!(out.status.success(), "{}", text(&out));
    let out = run(Command::new(root.join("usr/bin/probe"))
        .arg("validate")
        .arg(root.join("etc/probe/agent.toml")));
    assert!(
        out.status.success(),
        "the packaged /etc/probe/agent.toml does not validate:\n{}",
        text(&out)
    );

    // The agent is enabled and started on install; the server is only installed.
    let postinst = read(&ctrl.join("postinst"));
    assert!(
        postinst.contains("deb-systemd-helper enable probe-agent.service")
            && postinst.contains("deb-systemd-invoke $_dh_action probe-agent.service"),
        "{postinst}"
    );
    assert!(
        !postinst.contains("deb-systemd-invoke $_dh_action probe-server.service"),
        "{postinst}"
    );
}

#[test]
fn every_alert_links_to_a_runbook_section() {
    let alerts = read(&prometheus_dir().join("rules/alerts.yml"));
    let docs = read(&repo_root().join("docs/monitoring.md"));
    let anchors: BTreeSet<String> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|h| h.trim().to_lowercase())
        .collect();
    let mut problems = Vec::new();
    let names = yaml_item_values(&alerts, "alert");
    let urls: Vec<&str> = alerts
        .lines()
        .filter_map(|l| l.trim().strip_prefix("runbook_url:"))
        .collect();
    assert_eq!(
        names.len(),
        urls.len(),
        "every alert needs exactly one runbook_url"
    );
    for (name, url) in names.iter().zip(urls) {
        let anchor = url
            .trim()
            .trim_matches('"')
            .rsplit('#')
            .next()
            .unwrap_or_default();
        if anchor != name.to_lowercase() || !anchors.contains(anchor) {
            problems.push(format!(
                "{name}: runbook_url {url} has no section `### {name}`"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
