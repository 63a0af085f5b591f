//! Dashboards beyond their queries: every dashboard is checked against Grafana's published
//! schema (npm `@grafana/schema`, pinned, through `scripts/fleet-dashboard-schema.mjs`), a
//! mutated one is rejected with the panel named, and every datasource reference anywhere in a
//! dashboard (panels, rows, queries, variables, annotations) names a datasource variable the
//! dashboard defines.
//!
//! Needs node and npm (the checker installs its pinned packages into target/ on first use).

mod monitoring_common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use monitoring_common::{load_dashboards, repo_root};
use serde_json::Value;

/// Runs the schema checker on `files` (all shipped dashboards when empty); None when node is
/// missing outside CI (under CI a missing node fails the test).
fn check_schema(files: &[&Path]) -> Option<Output> {
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let npm_ok = Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !(node_ok && npm_ok) {
        assert!(
            std::env::var_os("CI").is_none(),
            "node and npm are needed for the dashboard schema check"
        );
        eprintln!("SKIPPED: node/npm missing");
        return None;
    }
    Some(
        Command::new("node")
            .arg(repo_root().join("scripts/fleet-dashboard-schema.mjs"))
            .args(files)
            .output()
            .expect("run node"),
    )
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

/// The schema check runs dashboards one invocation at a time: the checker shares one work
/// directory under target/.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn shipped_dashboards_match_grafanas_published_schema() {
    let _g = serial();
    let Some(out) = check_schema(&[]) else {
        return;
    };
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("2 dashboard(s) valid against @grafana/schema 13.2.3"),
        "{t}"
    );
}

#[test]
fn schema_check_rejects_unknown_keys_wrong_types_and_enum_values() {
    let _g = serial();
    let (_, mut d) = load_dashboards()
        .into_iter()
        .find(|(n, _)| n == "overview.json")
        .unwrap();
    // Break the first three timeseries panels (top level or inside rows) one way each: the
    // compiler reports one problem per assignment, so each needs its own panel.
    let mut titles = Vec::new();
    let mut n = 0;
    for p in d["panels"].as_array_mut().unwrap() {
        let candidates: Vec<&mut Value> = if p["type"] == "row" {
            p["panels"]
                .as_array_mut()
                .map(|a| a.iter_mut().collect())
                .unwrap_or_default()
        } else {
            vec![p]
        };
        for q in candidates {
            if q["type"] != "timeseries" || n >= 3 {
                continue;
            }
            match n {
                0 => q["options"]["legend"]["displayMode"] = "sideways".into(),
                1 => q["options"]["tooltipp"] = serde_json::json!({"mode": "single"}),
                _ => q["gridPos"]["w"] = "wide".into(),
            }
            titles.push(q["title"].as_str().unwrap().to_string());
            n += 1;
        }
    }
    assert_eq!(titles.len(), 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, serde_json::to_string_pretty(&d).unwrap()).unwrap();
    let Some(out) = check_schema(&[&path]) else {
        return;
    };
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    for needle in [
        format!("panel {:?} (id", titles[0]),
        "\"sideways\"".to_string(),
        format!("panel {:?} (id", titles[1]),
        "'\"tooltipp\"' does not exist".to_string(),
        "\"w\": \"wide\"".to_string(),
    ] {
        assert!(t.contains(&needle), "{needle} not in:\n{t}");
    }
}

/// Every `datasource` value in the tree, with its JSON path.
fn datasource_refs(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                if k == "datasource" {
                    out.push((p.clone(), x.clone()));
                }
                datasource_refs(x, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                datasource_refs(x, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn panels_reference_only_existing_datasource_variables() {
    for (name, d) in load_dashboards() {
        let vars: BTreeSet<String> = d["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["type"] == "datasource")
            .filter_map(|v| v["name"].as_str().map(String::from))
            .collect();
        assert!(!vars.is_empty(), "{name}: no datasource variable");
        let mut refs = Vec::new();
        datasource_refs(&d, "", &mut refs);
        assert!(
            refs.len() > 10,
            "{name}: only {} datasource references",
            refs.len()
        );
        let mut problems = Vec::new();
        for (path, r) in refs {
            // Grafana's own annotation source is built in, not a variable.
            if r["uid"] == "-- Grafana --" && r["type"] == "grafana" {
                continue;
            }
            let uid = r["uid"].as_str().or_else(|| r.as_str()).unwrap_or_default();
            let var = uid
                .strip_prefix("${")
                .and_then(|u| u.strip_suffix('}'))
                .or_else(|| uid.strip_prefix('$'));
            match var {
                Some(v) if vars.contains(v) => {}
                _ => problems.push(format!("{path} = {r}")),
            }
            if r.is_object() && r["type"] != "prometheus" {
                problems.push(format!("{path}: type {} is not prometheus", r["type"]));
            }
        }
        assert!(
            problems.is_empty(),
            "{name}: datasource references to no variable of {vars:?}:\n{}",
            problems.join("\n")
        );
    }
}
