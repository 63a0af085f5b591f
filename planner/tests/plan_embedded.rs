//! `planner plan` on the embedded Uzbekistan data (coarse road step to stay fast): the proposed
//! sites bring settlements' mobile-Internet coverage to the configured target, and the before /
//! after objects have the shape of `planner analyze --json`'s `coverage`.

use std::path::Path;

use planner::config::PlannerConfig;
use planner::plan;
use planner::planning::{self, PlanOptions};

fn config() -> PlannerConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/planner/plan-uzbekistan.toml");
    let mut cfg = PlannerConfig::load(&path).unwrap();
    cfg.analysis.road_step_m = 1000.0;
    cfg
}

#[test]
fn plan_reaches_the_configured_settlement_target() {
    let cfg = config();
    let ds = geodata::embedded::uzbekistan().unwrap();
    let p = planning::plan(&ds, &cfg, Path::new("."), &PlanOptions::default()).unwrap();
    let j = p.to_json();
    let target = j["targets"]["settlements_pct"].as_f64().unwrap();
    assert_eq!(target, 99.0);
    let before = &j["coverage_before"]["mobile_internet"];
    let after = &j["coverage_after"]["mobile_internet"];
    let b = before["settlements_covered_pct"].as_f64().unwrap();
    let a = after["settlements_covered_pct"].as_f64().unwrap();
    assert!(
        b < target,
        "the embedded data starts below the target ({b} %)"
    );
    assert!(a >= target, "after the plan: {a} % < {target} %");
    assert!(j["targets_met"].as_bool().unwrap());
    assert!(
        after["international_road_km_covered_pct"].as_f64().unwrap() >= 95.0,
        "{after}"
    );
    // Same shape as `planner analyze --json`'s coverage object, produced by the same code.
    let analysis = planner::analyze::run(&ds, &cfg, &Default::default()).unwrap();
    let ref_cov = planner::render::analysis::report_json(&analysis.dataset, Some(&analysis))
        ["coverage"]
        .clone();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&j["coverage_before"]), keys(&ref_cov));
    assert_eq!(
        j["coverage_before"], ref_cov,
        "before = a plain analysis of the same data"
    );
    for svc in ["2g", "3g", "4g", "5g", "mobile_internet"] {
        assert_eq!(keys(&j["coverage_after"][svc]), keys(&ref_cov[svc]));
    }

    let sites = j["sites"].as_array().unwrap();
    assert!(!sites.is_empty());
    let horizon = j["horizon_years"].as_f64().unwrap();
    let mut cum = 0.0;
    for (k, s) in sites.iter().enumerate() {
        assert_eq!(s["rank"].as_u64().unwrap() as usize, k + 1);
        for f in [
            "id",
            "lon",
            "lat",
            "type",
            "cost",
            "capex",
            "opex",
            "backhaul",
            "marginal_gain",
        ] {
            let present = if f == "opex" {
                s.get("opex_per_year").is_some()
            } else {
                s.get(f).is_some()
            };
            assert!(present, "site lacks `{f}`: {s}");
        }
        let cost = s["cost"].as_f64().unwrap();
        let expect = s["capex"].as_f64().unwrap() + horizon * s["opex_per_year"].as_f64().unwrap();
        assert!((cost - expect).abs() < 0.02, "{s}");
        let kind = s["backhaul"]["kind"].as_str().unwrap();
        assert!(kind == "fibre" || kind == "microwave");
        let g = &s["marginal_gain"];
        assert!(
            g["population"].as_u64().unwrap() > 0 || g["highway_km"].as_f64().unwrap() > 0.0,
            "a pick must gain something: {s}"
        );
        cum += cost;
        assert!((s["cumulative_cost"].as_f64().unwrap() - cum).abs() < 0.1);
    }
    // The curve starts at the before figures, rises monotonically and ends at the after ones.
    let curve = j["curve"].as_array().unwrap();
    assert_eq!(curve.len(), sites.len() + 1);
    assert_eq!(
        curve[0]["population_covered"].as_u64(),
        before["population_covered"].as_u64()
    );
    for w in curve.windows(2) {
        for f in ["population_covered", "settlements_covered"] {
            assert!(w[1][f].as_u64() >= w[0][f].as_u64());
        }
        assert!(w[1]["cost"].as_f64() > w[0]["cost"].as_f64());
    }
    // Files of `--out`: ranked list (CSV, GeoJSON), curve, and the JSON document.
    let dir = tempfile::tempdir().unwrap();
    let written = p.write(dir.path()).unwrap();
    assert_eq!(written.len(), 4);
    let csv = std::fs::read_to_string(dir.path().join("plan_sites.csv")).unwrap();
    assert_eq!(csv.lines().count(), sites.len() + 1);
    assert!(csv.starts_with("rank,id,lon,lat,type,source,region,"));
    let curve_csv = std::fs::read_to_string(dir.path().join("plan_curve.csv")).unwrap();
    assert_eq!(curve_csv.lines().count(), curve.len() + 1);
    let gj: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("plan_sites.geojson")).unwrap())
            .unwrap();
    assert_eq!(gj["features"].as_array().unwrap().len(), sites.len());
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("plan.json")).unwrap()).unwrap();
    // Compare after the same text round trip (serde_json's float parsing is not always exact).
    let reparsed: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&j).unwrap()).unwrap();
    assert!(on_disk == reparsed, "plan.json differs from --json");
    let last = curve.last().unwrap();
    assert_eq!(last["settlements_covered"], after["settlements_covered"]);
    assert_eq!(last["population_covered"], after["population_covered"]);
    assert!(
        (last["international_road_km_covered"].as_f64().unwrap()
            - after["international_road_km_covered"].as_f64().unwrap())
        .abs()
            < 0.01
    );
}

#[test]
fn plan_config_rejections_are_all_reported() {
    let text = "[plan]\nroad_spacing_m = 0\nrank = \"cheapest\"\n";
    let e = PlannerConfig::parse(text, Path::new("p.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("plan.rank: unknown variant `cheapest`, expected `gain` or `gain_per_cost`"),
        "{e}"
    );
    let text = "[plan]\nroad_spacing_m = 0\nbudget = -5.0\n[plan.targets]\nsettlements_pct = 101\n[plan.weights]\npopulation = -1\n[broadband]\ntake_up = 2\n";
    let e = PlannerConfig::parse(text, Path::new("p.toml"))
        .unwrap_err()
        .to_string();
    for m in [
        "config p.toml has 5 problem(s)",
        "plan.road_spacing_m = 0 must be at least 1 metre",
        "plan.targets.settlements_pct = 101 must be a percentage in [0, 100]",
        "plan.weights.population = -1 must be a finite number ≥ 0",
        "plan.budget = -5 must be a positive amount",
        "broadband.take_up = 2 must be a share in [0, 1]",
    ] {
        assert!(e.contains(m), "missing `{m}` in:\n{e}");
    }
}

#[test]
fn user_candidate_list_errors_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("cands.csv");
    std::fs::write(
        &csv,
        "id,lon,lat,type\nt1,69.2,41.3,tower_sharing\nt2,69.3,,rooftop\n",
    )
    .unwrap();
    let mut cfg = config();
    cfg.plan.candidates_csv = Some(csv.clone());
    let ds = geodata::embedded::uzbekistan().unwrap();
    let e = planning::prepare(&ds, &cfg, dir.path(), &PlanOptions::default()).unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains(&format!(
            "candidate list {} has 1 problem(s)",
            csv.display()
        )),
        "{msg}"
    );
    assert!(
        msg.contains("line 3: field `lat` = `` must be a number in [-90, 90]"),
        "{msg}"
    );
}

#[test]
fn user_candidates_are_evaluated_and_ranked() {
    // Only the user's list: a tower to share at the largest settlement without mobile Internet,
    // and a plot in the empty north-west desert that covers nothing anyone needs.
    let mut cfg = config();
    let ds = geodata::embedded::uzbekistan().unwrap();
    let before = planner::analyze::run(&ds, &cfg, &Default::default()).unwrap();
    let target = (0..ds.settlements.len())
        .filter(|&i| !before.coverage.mobile_internet(i))
        .max_by_key(|&i| ds.settlements[i].population)
        .expect("the embedded data has settlements without mobile Internet");
    let s = &ds.settlements[target];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cands.csv"),
        format!(
            "id,lon,lat,type,height_m\nshare-1,{},{},tower_sharing,40\ndesert-1,56.5,45.2,new_build,\n",
            s.lon, s.lat
        ),
    )
    .unwrap();
    cfg.plan.candidates_csv = Some("cands.csv".into());
    cfg.plan.existing_sites = false;
    cfg.plan.from_settlements = false;
    cfg.plan.from_roads = plan::candidates::RoadCandidates::None;
    let p = planning::plan(&ds, &cfg, dir.path(), &PlanOptions::default()).unwrap();
    assert_eq!(p.prepared.candidates.len(), 2);
    let sites = &p.selection.sites;
    assert_eq!(sites.len(), 1, "{sites:?}");
    let pick = &sites[0];
    assert_eq!(pick.id, "share-1");
    assert_eq!(pick.site_type, plan::cost::SiteType::TowerSharing);
    assert_eq!(pick.source, plan::candidates::Source::User);
    assert_eq!(pick.height_m, 40.0);
    assert!(pick.marginal_gain.population >= s.population);
    assert!(pick.marginal_gain.settlements >= 1);
    // The desert plot gains nothing, so planning stops without it and the targets are not met.
    assert_eq!(p.selection.stop, plan::greedy::StopReason::NoGain);
    assert!(!p.selection.targets_met);
    assert!(p.after.coverage.mobile_internet(target));
}
