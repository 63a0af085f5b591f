//! `planner report` files from the library on the embedded data (coarse road step): the
//! GeoPackage lists every layer with exactly the expected feature counts in Debian's
//! `ogrinfo -so -al`, the HTML page is self-contained (inline scripts and styles only), and in
//! Debian's headless Chromium with the network disabled (scripts/report-browser.mjs) the
//! interactive map renders with its layers and heatmap, toggles work, nothing is requested and
//! nothing is logged as an error; screenshots are kept under target/test-artifacts/report/.
//! The report is built once and shared by the tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use planner::config::PlannerConfig;
use planner::planning::PlanOptions;
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

struct Built {
    ds: geodata::Dataset,
    data: report::ReportData,
    dir: tempfile::TempDir,
    written: Vec<std::path::PathBuf>,
}

fn built() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/planner/plan-uzbekistan.toml");
        let mut cfg = PlannerConfig::load(&path).unwrap();
        cfg.analysis.road_step_m = 1000.0;
        let ds = geodata::embedded::uzbekistan().unwrap();
        let data = report::build(&ds, &cfg, Path::new("."), &PlanOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let written = planner::render::report::write(dir.path(), &ds, &data).unwrap();
        Built {
            ds,
            data,
            dir,
            written,
        }
    })
}

#[test]
fn geopackage_and_html_on_the_embedded_data() {
    let Built {
        ds,
        data,
        dir,
        written,
    } = built();
    let written = written.clone();
    assert_eq!(
        written,
        vec![
            dir.path().join("report.html"),
            dir.path().join("coverage.gpkg"),
            dir.path().join("coverage.kmz"),
            dir.path().join("report.json")
        ]
    );
    // Nothing left behind under a temporary name.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");

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
    assert_eq!(counts.len(), planner::render::gpkg::LAYERS.len());
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
    // The vendored Leaflet is checked by the browser test; everything else must fetch nothing.
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/leaflet");
    let page = html
        .replace(
            &std::fs::read_to_string(assets.join("leaflet.js")).unwrap(),
            "",
        )
        .replace(
            &std::fs::read_to_string(assets.join("leaflet.css")).unwrap(),
            "",
        );
    assert!(page.len() < html.len() - 150_000, "Leaflet is inlined");
    // Heatmap images are data: URIs inside the map's JSON.
    let page = page
        .split("data:image/png;base64,")
        .map(|p| {
            p.trim_start_matches(|c: char| {
                c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='
            })
        })
        .collect::<Vec<_>>()
        .join("");
    let lower = page.to_ascii_lowercase();
    assert_eq!(
        lower.matches("<script").count(),
        3,
        "map data, Leaflet, map script"
    );
    assert!(!lower.contains("<script src") && !lower.contains("<script type=\"module\""));
    for bad in [
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
    // Provenance, attribution and wording for people.
    for needed in [
        "id=\"generated\">Generated ",
        concat!("by planner ", env!("CARGO_PKG_VERSION")),
        "OpenStreetMap contributors",
        "ODbL",
        "GeoNames",
        "SimpleMaps",
        "Natural Earth",
        "GLOBE",
        "id=\"models\"",
        "id=\"model-parameters\"",
        "Synthetic layers",
        "The selection stopped because",
        // The embedded layers are credited as such, not as user-supplied.
        "<td class=\"t\">embedded default dataset</td><td class=\"t\">© OpenStreetMap contributors",
        "<td class=\"t\">embedded default dataset</td><td class=\"t\">Neighbouring countries, map background only",
    ] {
        assert!(html.contains(needed), "report.html lacks `{needed}`");
    }
    // Neighbouring countries (context): a Leaflet layer of their own, under everything in both
    // static maps with a legend entry, names drawn off the dataset.
    assert!(html.contains("overlays['Neighbouring countries']"));
    assert!(
        html.contains("\"context\":{"),
        "map data has the context layer"
    );
    assert_eq!(
        html.matches("<g class=\"context\"").count(),
        3,
        "two coverage maps and the broadband map"
    );
    assert_eq!(html.matches("<g class=\"context-labels\"").count(), 3);
    for (code, name) in [
        ("AF", "Afghanistan"),
        ("KG", "Kyrgyzstan"),
        ("KZ", "Kazakhstan"),
        ("TJ", "Tajikistan"),
        ("TM", "Turkmenistan"),
    ] {
        assert!(
            html.contains(&format!("<title>{name} ({code})</title>")),
            "{name}"
        );
        assert!(
            html.contains(&format!("\"code\":\"{code}\"")),
            "{code} in the map data"
        );
    }
    for name in ["Kazakhstan", "Turkmenistan"] {
        assert!(
            html.contains(&format!(">{name}</text>")),
            "{name} is named on the static maps"
        );
    }
    assert!(
        html.contains(">neighbouring country</text>"),
        "static legend"
    );
    assert!(html.contains("Neighbouring country</div>"), "map legend");
    assert!(!html.contains("the dataset carries no neighbouring countries"));
    for internal in ["Stopped:", "TargetReached", "tower_sharing", "new_build"] {
        assert!(!html.contains(internal), "report.html shows `{internal}`");
    }
    // The ports add up as printed.
    let bt = &data.broadband.totals;
    assert_eq!(bt.ports_to_build, bt.port_deficit.max(bt.ports_target));
    for (id, v) in [
        ("ports-demand", bt.demand_ports),
        ("ports-installed", bt.ports_total),
        ("ports-deficit", bt.port_deficit),
        ("ports-target", bt.ports_target),
        ("ports-to-build", bt.ports_to_build),
    ] {
        assert!(
            html.contains(&format!("id=\"{id}\">{}<", planner::summary::group(v))),
            "{id}"
        );
    }
    assert_eq!(data.heatmaps.len(), 2);
    for h in &data.heatmaps {
        assert!(h.technologies().len() >= 3, "{}", h.key);
        assert_eq!(h.rx_dbm.len(), (h.grid.cols * h.grid.rows) as usize);
    }
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

fn gdal_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("run {} (Debian gdal-bin): {e}", args[0]));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every heatmap raster table of the GeoPackage in Debian's `gdalinfo`: type, no-data, colour
/// table, exactly the heatmap's box and size, and pixel values equal to the analysis' levels
/// (floored) and classes, read back with `gdallocationinfo`.
#[test]
fn geopackage_raster_tables_in_gdalinfo() {
    let b = built();
    let gpkg = b.dir.path().join("coverage.gpkg");
    let gpkg_s = gpkg.to_str().unwrap();
    let tables = planner::render::raster::gpkg_tables(&b.data.heatmaps);
    // 2 heatmaps × (2G, 3G, 4G at least) × (dBm, class).
    assert!(tables.len() >= 12, "{tables:?}");
    let info = gdal_json(&["gdalinfo", "-json", gpkg_s]);
    let subs: Vec<String> = info["metadata"]["SUBDATASETS"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.ends_with("_NAME"))
        .map(|(_, v)| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(subs.len(), tables.len(), "{subs:?}");
    // The vector layers are still all there.
    let counts = ogrinfo_counts(&gpkg);
    assert_eq!(counts.len(), planner::render::gpkg::LAYERS.len());
    let mut below_floor = 0usize;
    let mut checked = 0usize;
    for h in &b.data.heatmaps {
        for t in h.technologies() {
            let ti = planner::coverage::tech_index(t);
            for kind in ["rx_dbm", "rx_class"] {
                let table = planner::render::raster::gpkg_table(kind, h.key, t);
                let name = format!("GPKG:{gpkg_s}:{table}");
                assert!(subs.contains(&name), "{name} not in {subs:?}");
                let j = gdal_json(&["gdalinfo", "-json", &name]);
                assert_eq!(
                    j["size"],
                    serde_json::json!([h.grid.cols, h.grid.rows]),
                    "{table}"
                );
                let gt: Vec<f64> = j["geoTransform"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                let ext = [
                    gt[0],
                    gt[3] + h.grid.rows as f64 * gt[5],
                    gt[0] + h.grid.cols as f64 * gt[1],
                    gt[3],
                ];
                for k in 0..4 {
                    assert!(
                        (ext[k] - h.bbox[k]).abs() < 1e-9,
                        "{table}: {ext:?} vs {:?}",
                        h.bbox
                    );
                }
                let band = &j["bands"][0];
                if kind == "rx_dbm" {
                    assert_eq!(band["type"], "Float32", "{table}");
                    assert_eq!(band["noDataValue"].as_f64(), Some(-9999.0), "{table}");
                } else {
                    assert_eq!(band["type"], "Byte", "{table}");
                    let entries = band["colorTable"]["entries"]
                        .as_array()
                        .expect("colour table");
                    let c0 = planner::render::heatmap::CLASSES[0].rgb;
                    assert_eq!(
                        entries[1],
                        serde_json::json!([c0[0], c0[1], c0[2], 255]),
                        "{table}"
                    );
                    assert_eq!(entries[0][3], 0, "class 0 is transparent");
                }
                // Values at a sample of cells (every 97th, plus the strongest), as GDAL reads them.
                let w = h.grid.cols as usize;
                let strongest = (0..h.rx_dbm.len())
                    .filter(|&k| h.rx_dbm[k][ti].is_finite())
                    .max_by(|&a, &c| h.rx_dbm[a][ti].total_cmp(&h.rx_dbm[c][ti]))
                    .unwrap();
                let cells: Vec<usize> =
                    (0..h.rx_dbm.len()).step_by(97).chain([strongest]).collect();
                let input: String = cells
                    .iter()
                    .map(|k| format!("{} {}\n", k % w, k / w))
                    .collect();
                let mut child = Command::new("gdallocationinfo")
                    .args(["-valonly", &name])
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(input.as_bytes())
                    .unwrap();
                let out = child.wait_with_output().unwrap();
                assert!(out.status.success());
                let vals: Vec<f64> = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(|l| l.trim().parse().unwrap())
                    .collect();
                assert_eq!(vals.len(), cells.len(), "{table}");
                for (k, v) in cells.iter().zip(vals) {
                    let rx = h.rx_dbm[*k][ti];
                    if kind == "rx_dbm" {
                        let want = if rx.is_finite() && rx >= -140.0 {
                            f64::from(rx)
                        } else {
                            -9999.0
                        };
                        below_floor += usize::from(rx.is_finite() && rx < -140.0);
                        // gdallocationinfo prints 15 significant digits of the Float32.
                        assert!((v - want).abs() < 1e-6, "{table} cell {k}: {v} vs {want}");
                    } else {
                        let want = planner::render::heatmap::class_of(rx).map_or(0, |c| c + 1);
                        assert_eq!(v, want as f64, "{table} cell {k}: {rx} dBm");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "{checked}");
    // The model gives levels far below any receiver's floor; those are no-data, not -230 dBm.
    assert!(below_floor > 0);
}

fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The page in real headless Chromium, network off. Fails under CI when node or Chromium is
/// missing; elsewhere it says so and passes.
#[test]
fn report_html_in_headless_chromium() {
    let have = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !(have("node", "--version") && have("npm", "--version") && Path::new(&chromium).exists()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "node, npm and {chromium} (Debian chromium, scripts/bootstrap.sh) are needed for the report browser test"
        );
        eprintln!("SKIPPED: node/npm/chromium missing");
        return;
    }
    let b = built();
    let artifacts = repo_root().join("target/test-artifacts/report");
    let out = Command::new("node")
        .arg(repo_root().join("scripts/report-browser.mjs"))
        .arg(b.dir.path().join("report.html"))
        .arg(&artifacts)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let facts: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(facts["console_errors"], serde_json::json!([]));
    assert_eq!(facts["requests"], serde_json::json!([]));
    let overlays = facts["overlays"].as_array().unwrap();
    assert!(overlays.len() >= 10, "{overlays:?}");
    assert!(facts["layers_on_map"].as_u64().unwrap() > 100);
    assert_eq!(facts["heatmap_images"].as_array().unwrap().len(), 1);
    // 2 heatmaps × the technologies present + "No heatmap".
    let choices = facts["heatmap_choices"].as_array().unwrap().len();
    let techs: usize = b.data.heatmaps.iter().map(|h| h.technologies().len()).sum();
    assert_eq!(choices, techs + 1);
    for f in [
        "report-1400.png",
        "map-1400.png",
        "report-a4-print.png",
        "report-a4.pdf",
    ] {
        let m = std::fs::metadata(artifacts.join(f)).unwrap();
        assert!(m.len() > 10_000, "{f} is {} bytes", m.len());
    }
}

/// The KMZ: a zip whose first entry is doc.kml, parsed by Python's XML parser as KML 2.2, with
/// every image it references inside the archive, one ground overlay per heatmap and technology
/// on the heatmap's box, a legend screen overlay and placemark counts equal to the report's; and
/// GDAL's LIBKML driver (Debian `ogrinfo`) reads the same counts per folder.
#[test]
fn kmz_parses_as_kml_22_with_the_report_counts() {
    let b = built();
    let kmz = b.dir.path().join("coverage.kmz");
    let script = r#"
import json, sys, zipfile, xml.etree.ElementTree as ET
K = "{http://www.opengis.net/kml/2.2}"
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
names = z.namelist()
root = ET.fromstring(z.read("doc.kml"))
folders = {}
for f in root.iter(K + "Folder"):
    folders[f.find(K + "name").text] = {
        "points": sum(1 for p in f.iter(K + "Placemark") if p.find(K + "Point") is not None),
        "lines": sum(1 for p in f.iter(K + "Placemark") if p.find(K + "LineString") is not None),
    }
hrefs = [i.find(K + "href").text for i in root.iter(K + "Icon")]
boxes = [[float(g.find(K + "LatLonBox/" + K + s).text) for s in ("west", "south", "east", "north")]
         for g in root.iter(K + "GroundOverlay")]
print(json.dumps({"root": root.tag, "first": names[0], "names": names, "folders": folders,
  "hrefs": hrefs, "boxes": boxes, "screen": len(list(root.iter(K + "ScreenOverlay"))),
  "visible": [g.find(K + "visibility").text for g in root.iter(K + "GroundOverlay")],
  "png_ok": all(z.read(n)[:8] == b"\x89PNG\r\n\x1a\n" for n in names if n.endswith(".png"))}))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&kmz)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["root"], "{http://www.opengis.net/kml/2.2}kml");
    assert_eq!(j["first"], "doc.kml");
    assert_eq!(j["png_ok"], true);
    assert_eq!(j["screen"], 1);
    let names: Vec<&str> = j["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for h in j["hrefs"].as_array().unwrap() {
        assert!(names.contains(&h.as_str().unwrap()), "{h} not in the KMZ");
    }
    let overlays: usize = b.data.heatmaps.iter().map(|h| h.technologies().len()).sum();
    let boxes = j["boxes"].as_array().unwrap();
    assert_eq!(boxes.len(), overlays);
    for bx in boxes {
        let got: Vec<f64> = bx
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for k in 0..4 {
            assert!(
                (got[k] - b.data.heatmaps[0].bbox[k]).abs() < 1e-9,
                "{got:?}"
            );
        }
    }
    let visible = j["visible"].as_array().unwrap();
    assert_eq!(visible.iter().filter(|v| *v == "1").count(), 1);

    let before = &b.data.plan.prepared.before;
    let after = &b.data.plan.after;
    let unserved = |a: &planner::analyze::Analysis| {
        (0..b.ds.settlements.len())
            .filter(|&i| !a.coverage.mobile_internet(i))
            .count()
    };
    let gaps = |a: &planner::analyze::Analysis| {
        a.gaps
            .stretches
            .iter()
            .filter(|s| s.service == "mobile_internet" && !s.covered)
            .count()
    };
    let f = planner::render::kmz::FOLDERS;
    let expected = [
        (f[1], b.ds.sites.len(), 0),
        (f[2], b.data.plan.selection.sites.len(), 0),
        (f[3], unserved(before), 0),
        (f[4], unserved(after), 0),
        (f[5], 0, gaps(before)),
        (f[6], 0, gaps(after)),
    ];
    for (name, points, lines) in expected {
        assert_eq!(
            j["folders"][name],
            serde_json::json!({"points": points, "lines": lines}),
            "{name}"
        );
    }
    // Real figures: 1,940 sites; some settlements and road stretches lack service today and
    // fewer after the plan.
    assert_eq!(b.ds.sites.len(), 1940);
    assert!(unserved(before) > unserved(after) && gaps(before) > 0);
    // The same report figures printed in report.html.
    let html = std::fs::read_to_string(b.dir.path().join("report.html")).unwrap();
    assert!(html.contains(&format!(
        "id=\"kf-sites\">{}<",
        b.data.plan.selection.sites.len()
    )));

    // GDAL's LIBKML driver reads every placemark folder as a layer with the same counts.
    let out = Command::new("ogrinfo")
        .args(["-so", "-al"])
        .arg(&kmz)
        .env("GDAL_SKIP", "KML")
        .output()
        .expect("ogrinfo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("using driver `LIBKML'"), "{text}");
    let mut counts = BTreeMap::new();
    let mut layer = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Layer name: ") {
            layer = Some(n.trim().to_string());
        } else if let Some(c) = line.strip_prefix("Feature Count: ") {
            counts.insert(layer.take().unwrap(), c.trim().parse::<usize>().unwrap());
        }
    }
    for (name, points, lines) in expected {
        assert_eq!(
            counts.get(name),
            Some(&(points + lines)),
            "{name}: {counts:?}"
        );
    }
}

/// The per-operator view: each operator's sites evaluated alone. Cross-checked against the full
/// analysis (a settlement has mobile Internet iff some operator gives it; where one operator
/// only does, the analysis' best 3G/4G/5G server above threshold is that operator's), and the
/// same figures in report.html and report.json.
#[test]
fn per_operator_view_matches_the_analysis() {
    let b = built();
    let ops = &b.data.operators;
    let before = &b.data.plan.prepared.before;
    let n = b.ds.settlements.len();
    let covered: Vec<usize> = (0..n)
        .filter(|&i| before.coverage.mobile_internet(i))
        .collect();
    assert_eq!(ops.settlements_covered_any, covered.len());
    let pop: u64 = covered
        .iter()
        .map(|&i| b.ds.settlements[i].population)
        .sum();
    assert_eq!(ops.population_covered_any, pop);
    assert_eq!(ops.settlements_total, n);
    // The embedded data has several operators, each serving some settlements.
    assert!(ops.operators.len() >= 2, "{:?}", ops.operators);
    assert_eq!(
        ops.operators.iter().map(|o| o.sites).sum::<usize>(),
        b.ds.sites.len()
    );
    for o in &ops.operators {
        assert!(o.settlements_covered > 0 && o.settlements_covered <= covered.len());
        assert!(o.sole_operator_settlements <= o.settlements_covered);
    }
    // covered by ≥ 1 = covered by exactly 1 + covered by ≥ 2.
    assert_eq!(
        ops.sole_operator_settlements.len() + ops.settlements_covered_by_several,
        ops.settlements_covered_any
    );
    assert_eq!(
        ops.operators
            .iter()
            .map(|o| o.sole_operator_settlements)
            .sum::<usize>(),
        ops.sole_operator_settlements.len()
    );
    // Sum over operators of settlements served ≥ any + several (several counted at least twice).
    let sum: usize = ops.operators.iter().map(|o| o.settlements_covered).sum();
    assert!(sum >= ops.settlements_covered_any + ops.settlements_covered_by_several);
    for s in &ops.sole_operator_settlements {
        let i = b.ds.settlements.iter().position(|x| x.id == s.id).unwrap();
        let best = &before.coverage.per_target[i].best;
        let mut above = Vec::new();
        for t in [
            geodata::Technology::G3,
            geodata::Technology::G4,
            geodata::Technology::G5,
        ] {
            if let Some(x) = best[planner::coverage::tech_index(t)] {
                if before.coverage.covered(i, t) {
                    let site = &b.ds.sites[x.site as usize];
                    above.push(
                        site.operator
                            .clone()
                            .unwrap_or_else(|| "unknown operator".into()),
                    );
                }
            }
        }
        assert!(!above.is_empty(), "{} has mobile Internet", s.name);
        assert!(
            above.iter().all(|o| *o == s.operator),
            "{}: best servers {above:?}, sole operator {}",
            s.name,
            s.operator
        );
    }
    let html = std::fs::read_to_string(b.dir.path().join("report.html")).unwrap();
    assert!(html.contains(&format!(
        "id=\"op-sole\">{}<",
        planner::summary::group(ops.sole_operator_settlements.len() as u64)
    )));
    assert!(html.contains(&format!(
        "id=\"op-several\">{}<",
        planner::summary::group(ops.settlements_covered_by_several as u64)
    )));
    for o in &ops.operators {
        assert!(html.contains(&format!(
            "<tr><td class=\"t\">{}</td><td>{}</td><td>{}</td>",
            o.operator,
            planner::summary::group(o.sites as u64),
            planner::summary::group(o.settlements_covered as u64)
        )));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(
        json["operators"]["sole_operator_settlements"]
            .as_array()
            .unwrap()
            .len(),
        ops.sole_operator_settlements.len()
    );
    assert_eq!(
        json["operators"]["operators"][0]["population_covered"],
        ops.operators[0].population_covered
    );
    eprintln!(
        "operators: {:?}; sole-operator settlements {} ({} people); several {}",
        ops.operators
            .iter()
            .map(|o| (
                &o.operator,
                o.sites,
                o.settlements_covered,
                o.sole_operator_settlements
            ))
            .collect::<Vec<_>>(),
        ops.sole_operator_settlements.len(),
        ops.sole_operator_settlements
            .iter()
            .map(|s| s.population)
            .sum::<u64>(),
        ops.settlements_covered_by_several
    );
}
