//! End-to-end tests of the one input-check path: `planner validate` and `planner analyze` (and
//! `plan`) on the same small user dataset (GeoJSON regions, CSV settlements and sites, an ASCII
//! grid DEM read by GDAL) report the same problems, `analyze` refusing with exit 2 what
//! `validate` reports with exit 1; outputs are all or nothing; a closed stdout ends quietly.

mod common;
use common::planner_bin;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn planner(args: &[&str]) -> Output {
    Command::new(planner_bin())
        .args(args)
        .output()
        .expect("run planner")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const WGS84_PRJ: &str = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;

/// Two regions side by side over lon 60.0–60.5, lat 40.0–40.5, with a DEM covering them.
const REGIONS: &str = r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"code":"XX-A","name_en":"West"},"geometry":{"type":"Polygon","coordinates":[[[60.0,40.0],[60.25,40.0],[60.25,40.5],[60.0,40.5],[60.0,40.0]]]}},
{"type":"Feature","properties":{"code":"XX-B","name_en":"East"},"geometry":{"type":"Polygon","coordinates":[[[60.25,40.0],[60.5,40.0],[60.5,40.5],[60.25,40.5],[60.25,40.0]]]}}
]}"#;

const SETTLEMENTS: &str = "id,name,lon,lat,population,region\n\
s1,Alpha,60.10,40.10,5000,XX-A\n\
s2,Beta,60.40,40.30,3000,XX-B\n\
s3,Gamma,60.20,40.40,800,\n";

const SITES: &str = "site_id,lon,lat,height_m,technology,band_mhz,eirp_dbm\n\
m1,60.12,40.12,30,4g,800,61\n\
m1,60.12,40.12,30,2g,900,60\n\
m2,60.38,40.28,30,4g,800,61\n";

/// A user dataset in a temporary folder; `edit` changes one file's text before writing.
struct Data {
    dir: tempfile::TempDir,
}

impl Data {
    fn new(settlements: &str, sites: &str, extra_config: &str) -> Data {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("regions.geojson"), REGIONS).unwrap();
        std::fs::write(p.join("settlements.csv"), settlements).unwrap();
        std::fs::write(p.join("sites.csv"), sites).unwrap();
        // 10 × 10 cells of 0.05°, flat at 200 m.
        let mut asc = String::from(
            "ncols 10\nnrows 10\nxllcorner 60.0\nyllcorner 40.0\ncellsize 0.05\nNODATA_value -9999\n",
        );
        for _ in 0..10 {
            asc.push_str(&"200 ".repeat(10));
            asc.push('\n');
        }
        std::fs::write(p.join("dem.asc"), asc).unwrap();
        std::fs::write(p.join("dem.prj"), WGS84_PRJ).unwrap();
        std::fs::write(
            p.join("planner.toml"),
            format!(
                "[inputs.sources]\nname = \"test area\"\nregions = {{ path = \"regions.geojson\" }}\n\
                 settlements = {{ path = \"settlements.csv\" }}\nsites = {{ path = \"sites.csv\" }}\n\
                 dem = \"dem.asc\"\n{extra_config}"
            ),
        )
        .unwrap();
        Data { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("planner.toml")
    }

    fn run(&self, cmd: &str, extra: &[&str]) -> Output {
        let cfg = self.config();
        let mut args = vec![cmd, "--config", cfg.to_str().unwrap()];
        args.extend_from_slice(extra);
        planner(&args)
    }

    /// `validate` exits 1 and `analyze` exits 2, both naming `needle`.
    fn both_refuse(&self, needle: &str) {
        let v = self.run("validate", &[]);
        assert_eq!(
            v.status.code(),
            Some(1),
            "validate: {}{}",
            text(&v.stdout),
            text(&v.stderr)
        );
        assert!(text(&v.stdout).contains(needle), "{}", text(&v.stdout));
        let a = self.run("analyze", &["--quiet"]);
        assert_eq!(
            a.status.code(),
            Some(2),
            "analyze: {}{}",
            text(&a.stdout),
            text(&a.stderr)
        );
        assert!(text(&a.stderr).contains(needle), "{}", text(&a.stderr));
        assert!(
            text(&a.stdout).is_empty(),
            "nothing is computed: {}",
            text(&a.stdout)
        );
        // `plan` and `report` load their inputs through the same checks.
        let out = self.dir.path().join("report-out");
        for (cmd, extra) in [
            ("plan", vec!["--quiet"]),
            ("report", vec!["--quiet", "--out", out.to_str().unwrap()]),
        ] {
            let o = self.run(cmd, &extra);
            assert_eq!(o.status.code(), Some(2), "{cmd}: {}", text(&o.stderr));
            assert!(
                text(&o.stderr).contains(needle),
                "{cmd}: {}",
                text(&o.stderr)
            );
        }
        assert!(!out.join("report.html").exists(), "report wrote nothing");
    }
}

#[test]
fn a_clean_user_dataset_passes_both() {
    let d = Data::new(SETTLEMENTS, SITES, "");
    let v = d.run("validate", &[]);
    assert!(v.status.success(), "{}", text(&v.stdout));
    assert!(
        text(&v.stdout).contains("ok: test area — 2 regions, 3 settlements"),
        "{}",
        text(&v.stdout)
    );
    let a = d.run("analyze", &["--quiet", "--json"]);
    assert!(a.status.success(), "{}", text(&a.stderr));
    let j: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert!(
        j["analysis"]["stats"]["links_evaluated"].as_u64().unwrap() > 0,
        "{j}"
    );
}

#[test]
fn swapped_site_coordinates_are_refused_by_both() {
    // lat,lon written into the lon,lat columns: valid numbers, far from the area.
    let sites = "site_id,lon,lat,height_m,technology,band_mhz,eirp_dbm\n\
                 m1,40.12,60.12,30,4g,800,61\n\
                 m2,40.28,60.38,30,4g,800,61\n";
    let d = Data::new(SETTLEMENTS, sites, "");
    d.both_refuse("sites.csv: line 2: field \"geometry\": (40.12, 60.12) lies outside every region and the DEM, but (60.12, 40.12) lies inside: latitude and longitude look swapped");
    let v = d.run("validate", &[]);
    assert!(
        text(&v.stdout).contains("sites.csv: line 3:"),
        "{}",
        text(&v.stdout)
    );
}

#[test]
fn a_site_outside_the_dem_is_refused_by_both_or_skipped_when_configured() {
    let sites = format!("{SITES}far,61.5,40.2,30,4g,800,61\n");
    let d = Data::new(SETTLEMENTS, &sites, "[model]\nmodel = \"terrain\"\n");
    d.both_refuse("sites.csv: line 5: field \"geometry\": site at (61.5, 40.2) lies outside the DEM or on no-data");

    let d = Data::new(
        SETTLEMENTS,
        &sites,
        "[model]\nmodel = \"terrain\"\n[analysis]\noutside_dem = \"skip\"\n",
    );
    let v = d.run("validate", &[]);
    assert!(v.status.success(), "{}", text(&v.stdout));
    let s = text(&v.stdout);
    assert!(
        s.contains(
            "1 item(s) lie outside the DEM and are skipped (analysis.outside_dem = \"skip\")"
        ),
        "{s}"
    );
    let a = d.run("analyze", &[]);
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert!(
        text(&a.stderr).contains("1 item(s) lie outside the DEM and are skipped"),
        "{}",
        text(&a.stderr)
    );
}

#[test]
fn a_region_attribute_that_disagrees_with_the_polygon_is_refused_by_both() {
    // Beta lies deep in XX-B (lon 60.40) but claims XX-A.
    let s = SETTLEMENTS.replace(
        "s2,Beta,60.40,40.30,3000,XX-B",
        "s2,Beta,60.40,40.30,3000,XX-A",
    );
    let d = Data::new(&s, SITES, "");
    d.both_refuse("settlements.csv: line 3: field \"region\": region \"XX-A\" disagrees with the location (60.4, 40.3), which lies in XX-B (East)");
}

#[test]
fn an_unknown_region_code_is_refused_by_both() {
    let s = SETTLEMENTS.replace(
        "s1,Alpha,60.10,40.10,5000,XX-A",
        "s1,Alpha,60.10,40.10,5000,XX-Q",
    );
    let d = Data::new(&s, SITES, "");
    d.both_refuse("settlements.csv: line 2: field \"region\": region \"XX-Q\" is not the code of any region (known: XX-A, XX-B)");
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn an_unwritable_output_folder_fails_before_computing() {
    let d = Data::new(SETTLEMENTS, SITES, "");
    let blocker = d.dir.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let out = blocker.join("out");
    let a = d.run("analyze", &["--out", out.to_str().unwrap()]);
    assert_eq!(a.status.code(), Some(3), "{}", text(&a.stderr));
    assert!(
        text(&a.stderr).contains("cannot write"),
        "{}",
        text(&a.stderr)
    );
    // Nothing was computed: no summary on stdout.
    assert!(text(&a.stdout).is_empty(), "{}", text(&a.stdout));
}

#[test]
fn a_failed_write_leaves_the_previous_outputs_and_no_new_file() {
    let d = Data::new(SETTLEMENTS, SITES, "");
    let out = d.dir.path().join("out");
    let first = d.run(
        "analyze",
        &[
            "--quiet",
            "--model",
            "free_space",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    let before = names(&out);
    assert!(before.contains(&"summary.json".to_string()), "{before:?}");
    let summary = std::fs::read(out.join("summary.json")).unwrap();
    // A folder where settlements.csv must go: that file cannot be put in place.
    std::fs::remove_file(out.join("settlements.csv")).unwrap();
    std::fs::create_dir(out.join("settlements.csv")).unwrap();
    let second = d.run("analyze", &["--quiet", "--out", out.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(3), "{}", text(&second.stderr));
    assert!(
        text(&second.stderr).contains("settlements.csv"),
        "{}",
        text(&second.stderr)
    );
    assert_eq!(names(&out), before, "no new or temporary file");
    assert_eq!(
        std::fs::read(out.join("summary.json")).unwrap(),
        summary,
        "the previous summary is untouched"
    );
}

/// Runs `planner ARGS` with its stdout closed before it writes (what `| head` does once it has
/// read enough): it must end quietly, without a panic.
fn closed_stdout(args: &[&str]) -> std::process::ExitStatus {
    let mut child = Command::new(planner_bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let st = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    st
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let d = Data::new(SETTLEMENTS, SITES, "");
    let cfg = d.config();
    let cfg = cfg.to_str().unwrap();
    for args in [
        vec!["plan", "--json", "--quiet", "--config", cfg],
        vec!["analyze", "--json", "--quiet", "--config", cfg],
        vec!["validate", "--config", cfg],
    ] {
        let st = closed_stdout(&args);
        assert_eq!(st.code(), Some(0), "{args:?}");
    }
}

/// The shipped own-data example (config/planner/own-data.toml, files under example-data/ with
/// field mappings) passes `validate` and runs through `analyze`.
#[test]
fn the_own_data_example_validates_and_analyzes() {
    let cfg = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/planner/own-data.toml"
    );
    let v = planner(&["validate", "--config", cfg]);
    assert!(v.status.success(), "{}", text(&v.stdout));
    assert!(
        text(&v.stdout).contains(
            "ok: Example area (made up) — 2 regions, 4 settlements, 83.5 road km, 2 sites; 0 warning(s)"
        ),
        "{}",
        text(&v.stdout)
    );
    let out = tempfile::tempdir().unwrap();
    let a = planner(&[
        "analyze",
        "--config",
        cfg,
        "--json",
        "--quiet",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(a.status.success(), "{}", text(&a.stderr));
    let j: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(j["dataset"]["settlements"], 4, "{j}");
    assert_eq!(j["dataset"]["population"], 80_200, "{j}");
    assert!(j["analysis"]["stats"]["links_evaluated"].as_u64().unwrap() > 0);
    // The masts, given in UTM 41N metres with `crs`, were reprojected onto the towns they
    // serve: every town has 4G.
    assert_eq!(
        j["coverage"]["4g"]["settlements_covered"], 4,
        "{}",
        j["coverage"]["4g"]
    );
    // The field mappings took effect: regions by their `iso` codes, towns by their `code`.
    let regions: Vec<&str> = j["coverage"]["by_region"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["region"].as_str())
        .collect();
    assert!(
        regions.contains(&"XX-W") && regions.contains(&"XX-E"),
        "{regions:?}"
    );
    let csv = std::fs::read_to_string(out.path().join("settlements.csv")).unwrap();
    assert!(
        csv.lines().any(|l| l.starts_with("t1,Northgate,XX-W,")),
        "{csv}"
    );
}
