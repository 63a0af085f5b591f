//! End-to-end tests of the `planner` binary on the embedded Uzbekistan dataset: the JSON summary,
//! the files written with `--out`, and the exit codes and messages for bad input.

mod common;
use common::planner_bin;

use std::process::{Command, Output};
use std::sync::OnceLock;

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

/// One full analysis of the embedded data with `--json --out DIR`, shared by the tests.
fn embedded_run() -> &'static (Value, tempfile::TempDir) {
    static RUN: OnceLock<(Value, tempfile::TempDir)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let o = planner(&[
            "analyze",
            "--json",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "planner analyze failed: {}",
            text(&o.stderr)
        );
        let v: Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
        (v, dir)
    })
}

#[test]
fn analyze_json_describes_the_embedded_dataset() {
    let (v, _) = embedded_run();
    assert_eq!(v["schema_version"], 1);
    let d = &v["dataset"];
    assert_eq!(d["regions"], 14, "{d}");
    // 234 distinct settlements after merging GeoNames seat twins (see geodata/build/README.md).
    assert!(
        d["settlements"].as_u64().unwrap() >= 230,
        "settlements = {}",
        d["settlements"]
    );
    assert!(
        d["population"].as_u64().unwrap() > 10_000_000,
        "population = {}",
        d["population"]
    );
    assert!(
        d["road_km"].as_f64().unwrap() >= 5_000.0,
        "road_km = {}",
        d["road_km"]
    );
    for route in [
        "M39", "AH5", "E40", "AH62", "AH63", "AH7", "M37", "M34", "AH65",
    ] {
        let km = d["routes"][route]
            .as_f64()
            .unwrap_or_else(|| panic!("no km for route {route}: {}", d["routes"]));
        assert!(km > 100.0, "{route}: {km} km");
    }
    assert!(d["sites"].as_u64().unwrap() > 0);
    assert!(d["cells_by_technology"]["2g"].as_u64().unwrap() > 0);
    assert!(
        d["synthetic_layers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "sites"),
        "sites must be labelled synthetic"
    );
}

#[test]
fn analyze_json_has_coverage_per_technology_region_and_route() {
    let (v, _) = embedded_run();
    let c = &v["coverage"];
    let settlements = v["dataset"]["settlements"].as_u64().unwrap();
    for tech in ["2g", "3g", "4g", "5g", "mobile_internet"] {
        let t = &c[tech];
        for key in [
            "settlements_total",
            "settlements_covered",
            "population_total",
            "population_covered",
            "international_road_km",
            "international_road_km_covered",
            "international_road_km_uncovered",
            "international_road_km_covered_pct",
        ] {
            assert!(t[key].is_number(), "coverage.{tech}.{key} missing: {t}");
        }
        assert_eq!(t["settlements_total"].as_u64().unwrap(), settlements);
        assert!(t["settlements_covered"].as_u64().unwrap() <= settlements);
        let (k, kc) = (
            t["international_road_km"].as_f64().unwrap(),
            t["international_road_km_covered"].as_f64().unwrap(),
        );
        assert!(k > 0.0 && kc <= k + 1e-9, "{tech}: {kc} of {k}");
    }
    // Mobile Internet is 3G or better, so it covers at least what 3G covers.
    assert!(
        c["mobile_internet"]["population_covered"].as_u64()
            >= c["3g"]["population_covered"].as_u64()
    );
    let regions = c["by_region"].as_array().unwrap();
    assert!(
        regions
            .iter()
            .filter(|r| r["service"] == "mobile_internet" && r["region"] != "")
            .count()
            == 14
    );
    let routes = c["by_route"].as_array().unwrap();
    assert!(routes
        .iter()
        .any(|r| r["route"] == "E40" && r["service"] == "4g"));
    let h = &c["headline"];
    assert!(h["text"]
        .as_str()
        .unwrap()
        .contains("% of international highway km has no mobile Internet"));
    let p = h["percent_without_mobile_internet"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&p));
}

#[test]
fn analyze_out_writes_tables_and_layers() {
    let (v, dir) = embedded_run();
    let out = dir.path().join("out");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(&summary, v, "summary.json equals the --json output");
    let settlements = v["dataset"]["settlements"].as_u64().unwrap() as usize;
    let csv = std::fs::read_to_string(out.join("settlements.csv")).unwrap();
    assert!(
        csv.starts_with("id,name,region,lon,lat,population,rx_dbm_2g"),
        "{}",
        &csv[..80]
    );
    assert_eq!(csv.lines().count(), settlements + 1);
    for f in ["by_region.csv", "by_route.csv"] {
        assert!(
            std::fs::read_to_string(out.join(f))
                .unwrap()
                .lines()
                .count()
                > 5,
            "{f}"
        );
    }
    let gj: Value =
        serde_json::from_slice(&std::fs::read(out.join("settlements.geojson")).unwrap()).unwrap();
    assert_eq!(gj["type"], "FeatureCollection");
    assert_eq!(gj["features"].as_array().unwrap().len(), settlements);
    assert!(gj["features"][0]["properties"]["mobile_internet"].is_boolean());
    let roads: Value =
        serde_json::from_slice(&std::fs::read(out.join("road_stretches.geojson")).unwrap())
            .unwrap();
    let feats = roads["features"].as_array().unwrap();
    assert!(feats.iter().all(|f| f["geometry"]["type"] == "LineString"));
    // Covered + uncovered stretches add up to the road length, per service.
    let total_m: f64 = feats
        .iter()
        .filter(|f| f["properties"]["service"] == "4g")
        .map(|f| f["properties"]["length_m"].as_f64().unwrap())
        .sum();
    let road_km = v["coverage"]["4g"]["road_km"].as_f64().unwrap();
    assert!(
        (total_m / 1000.0 - road_km).abs() < 0.5,
        "{total_m} m vs {road_km} km"
    );
    // Nothing half-written is left behind.
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with('.')));
}

#[test]
fn human_summary_names_the_dataset_and_the_headline() {
    let o = planner(&["analyze", "--dataset-only"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(
        s.contains("Uzbekistan") && s.contains("regions") && s.contains("km per route"),
        "{s}"
    );
    assert!(s.contains("synthetic layers"), "{s}");
}

#[test]
fn bad_config_exits_2_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[analysis]\nroad_step_m = 0\nmax_range_m = -3\n").unwrap();
    let o = planner(&["analyze", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(e.contains("bad.toml") && e.contains("2 problem(s)"), "{e}");
    assert!(
        e.contains("analysis.road_step_m = 0 must be between 1 and 1000 metres"),
        "{e}"
    );
    assert!(
        e.contains("analysis.max_range_m = -3 must be above 0"),
        "{e}"
    );

    std::fs::write(&cfg, "[analysis]\nroad_step = 100\n").unwrap();
    let o = planner(&["analyze", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("unknown field `road_step`"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn validate_reports_problems_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[inputs]\nembedded = \"atlantis\"\n[model]\nmodel = \"nope\"\n",
    )
    .unwrap();
    let o = planner(&["validate", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let s = text(&o.stdout);
    assert!(
        s.contains("inputs.embedded = \"atlantis\" is not an embedded dataset"),
        "{s}"
    );
    assert!(s.contains("model:"), "{s}");

    let o = planner(&["validate"]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with("ok") || text(&o.stdout).contains("\nok"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn unwritable_output_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let out = blocker.join("out");
    let o = planner(&[
        "analyze",
        "--quiet",
        "--model",
        "free_space",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("cannot write"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn help_documents_exit_codes() {
    let o = planner(&["--help"]);
    let s = text(&o.stdout);
    assert!(
        s.contains("Exit codes") && s.contains("3  an output file could not be written"),
        "{s}"
    );
}
