//! `planner report` files from the library on the embedded data (coarse road step): the
//! GeoPackage lists every layer with exactly the expected feature counts in Debian's
//! `ogrinfo -so -al`, and the HTML page is self-contained (nothing to fetch, no scripts).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use planner::config::PlannerConfig;
use planner::plan::PlanOptions;
use planner::report;

fn ogrinfo_counts(path: &Path) -> BTreeMap<String, u64> {
    let out = Command::new("ogrinfo")
        .args(["-so", "-al"])
        .arg(path)
        .output()
        .expect("run ogrinfo (Debian gdal-bin)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut counts = BTreeMap::new();
    let mut layer = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Layer name: ") {
            layer = Some(n.trim().to_string());
        } else if let Some(c) = line.strip_prefix("Feature Count: ") {
            counts.insert(
                layer.take().expect("count after name"),
                c.trim().parse().unwrap(),
            );
        }
    }
    counts
}

#[test]
fn geopackage_and_html_on_the_embedded_data() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/planner/plan-uzbekistan.toml");
    let mut cfg = PlannerConfig::load(&path).unwrap();
    cfg.analysis.road_step_m = 1000.0;
    let ds = geodata::embedded::uzbekistan().unwrap();
    let data = report::build(&ds, &cfg, Path::new("."), &PlanOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let written = report::write(dir.path(), &ds, &data).unwrap();
    assert_eq!(
        written,
        vec![
            dir.path().join("report.html"),
            dir.path().join("coverage.gpkg")
        ]
    );
    // Nothing left behind under a temporary name.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    let counts = ogrinfo_counts(&dir.path().join("coverage.gpkg"));
    let stretches = |a: &planner::analyze::Analysis| {
        a.gaps
            .stretches
            .iter()
            .filter(|s| s.service == "mobile_internet")
            .count() as u64
    };
    let unserved = data
        .broadband
        .settlements
        .iter()
        .filter(|s| !s.served)
        .count() as u64;
    let expected: BTreeMap<String, u64> = [
        ("regions", ds.regions.len() as u64),
        ("settlements", ds.settlements.len() as u64),
        (
            "road_stretches",
            stretches(&data.plan.prepared.before) + stretches(&data.plan.after),
        ),
        ("sites", ds.sites.len() as u64),
        ("proposed_sites", data.plan.selection.sites.len() as u64),
        ("fixed_nodes", ds.fixed_nodes.len() as u64),
        ("unserved_settlements", unserved),
        ("fibre_routes", unserved),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts, expected);
    assert_eq!(counts.len(), report::gpkg::LAYERS.len());
    // Real figures of the embedded data, so an empty layer cannot pass.
    assert_eq!(counts["regions"], 14);
    assert_eq!(counts["settlements"], 234);
    assert_eq!(counts["sites"], 1940);
    assert!(counts["proposed_sites"] > 0 && unserved > 0);

    // Investment: the scenario meets its own targets, regions add up to the total, and the
    // ports built cover the national target.
    let inv = &data.investment;
    assert!(inv.mobile_targets_met);
    assert_eq!(inv.targets.settlements_pct, Some(100.0));
    let sum = |f: fn(&planner::invest::RegionInvestment) -> f64| -> f64 {
        inv.by_region.iter().map(f).sum()
    };
    assert!((sum(|r| r.total_capex) - inv.total.total_capex).abs() < 1.0);
    assert!((sum(|r| r.mobile_capex) - inv.total.mobile_capex).abs() < 1.0);
    assert_eq!(
        inv.by_region.iter().map(|r| r.broadband_ports).sum::<u64>(),
        inv.total.broadband_ports
    );
    let bt = &data.broadband.totals;
    assert_eq!(
        inv.total.broadband_ports,
        bt.port_deficit.max(bt.ports_target)
    );
    assert_eq!(inv.total.broadband_new_nodes, unserved);
    // 100 % of settlements needs at least as many sites as the plan's 99 %.
    assert!(inv.total.mobile_sites as usize >= data.plan.selection.sites.len());

    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script",
        "<link",
        "<img",
        "<iframe",
        "@import",
        "url(",
        "src=",
        "href=",
        "@font-face",
    ] {
        assert!(
            !lower.contains(bad),
            "report.html must be self-contained: found `{bad}`"
        );
    }
    // The only URLs are the SVG namespace identifiers (never fetched).
    let urls = lower.matches("http").count();
    let ns = lower
        .matches("xmlns=\"http://www.w3.org/2000/svg\"")
        .count();
    assert_eq!(urls, ns, "unexpected URL in report.html");
    assert!(ns >= 6, "maps and charts are inline SVG ({ns})");
    let after = &data.plan.after.gaps.services[4].1;
    assert!(html.contains(&format!(
        "id=\"kf-settlements-after\">{:.2} %<",
        after.settlements_covered_pct
    )));
    assert!(html.contains(&format!(
        "id=\"kf-sites\">{}<",
        data.plan.selection.sites.len()
    )));
}
