//! One bad-input test per validation rule, each asserting the message names the file, the
//! feature/line (or dataset item), the field, what is wrong and what to do.

use std::path::{Path, PathBuf};

use geo_types::{line_string, LineString, MultiPolygon};
use geodata::sources::{LayerSource, Sources};
use geodata::{
    Cell, Dataset, Dem, FixedNode, FixedTechnology, GeodataError, Location, Road, RoadClass,
    Settlement, Site, Technology,
};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Loads the given layers from a temp dir and returns the error text (the load must fail).
fn load_err(files: &[(&str, &str)], sources: Sources) -> (String, GeodataError) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    let e = sources.load(dir.path()).expect_err("load must fail");
    let s = e
        .to_string()
        .replace(&format!("{}/", dir.path().display()), "");
    (s, e)
}

fn assert_has(s: &str, needle: &str) {
    assert!(s.contains(needle), "expected {needle:?} in:\n{s}");
}

fn settlements(name: &str) -> Sources {
    Sources {
        settlements: Some(LayerSource::new(name)),
        ..Default::default()
    }
}

const S_HEAD: &str = "id,name,lon,lat,population,region\n";

#[test]
fn coordinates_out_of_range_or_not_finite() {
    let (s, _) = load_err(
        &[(
            "s.csv",
            &format!("{S_HEAD}a,A,200,41,10,\nb,B,69,inf,10,\n"),
        )],
        settlements("s.csv"),
    );
    assert_has(&s, "s.csv: line 2: field \"lon\": 200 is out of range — give decimal degrees between -180 and 180 (WGS84)");
    assert_has(&s, "s.csv: line 3: field \"lat\": \"inf\" is not a number — give decimal degrees between -90 and 90");
    let gj = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"x","population":5},"geometry":{"type":"Point","coordinates":[69,95]}}]}"#;
    let (s, _) = load_err(&[("s.geojson", gj)], settlements("s.geojson"));
    assert_has(&s, "s.geojson: feature 1: field \"geometry\": latitude 95 is outside -90..90 — give WGS84 longitude/latitude in decimal degrees (lon first)");
}

#[test]
fn missing_and_empty_geometries() {
    let gj = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"id":"a","population":5},"geometry":null},
      {"type":"Feature","properties":{"id":"b","population":5},"geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}]}"#;
    let (s, _) = load_err(&[("s.geojson", gj)], settlements("s.geojson"));
    assert_has(&s, "s.geojson: feature 1: field \"geometry\": feature has no geometry — give the feature's location");
    assert_has(
        &s,
        "s.geojson: feature 2: field \"geometry\": LineString geometry where a point is expected",
    );
    let regions = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"XX-A"},"geometry":{"type":"MultiPolygon","coordinates":[]}}]}"#;
    let (s, _) = load_err(
        &[("r.geojson", regions)],
        Sources {
            regions: Some(LayerSource::new("r.geojson")),
            ..Default::default()
        },
    );
    assert_has(&s, "r.geojson: feature 1: field \"geometry\": boundary is empty — give the region's polygon(s)");
}

fn regions_with(geometry: &str) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"code":"XX-A"}},"geometry":{geometry}}}]}}"#
    )
}

#[test]
fn polygon_rings_must_be_closed_long_enough_and_simple() {
    let src = Sources {
        regions: Some(LayerSource::new("r.geojson")),
        ..Default::default()
    };
    let (s, _) = load_err(
        &[(
            "r.geojson",
            &regions_with(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#),
        )],
        src.clone(),
    );
    assert_has(&s, "r.geojson: feature 1: field \"geometry\": exterior ring is not closed: it starts at (0.0, 0.0) and ends at (0.0, 1.0) — fix the geometry");
    let (s, _) = load_err(
        &[(
            "r.geojson",
            &regions_with(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#),
        )],
        src.clone(),
    );
    assert_has(&s, "r.geojson: feature 1: field \"geometry\": exterior ring has 3 positions; a ring needs at least 4");
    // A bow-tie: the exterior crosses itself.
    let (s, _) = load_err(
        &[(
            "r.geojson",
            &regions_with(r#"{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}"#),
        )],
        src,
    );
    assert_has(
        &s,
        "r.geojson: feature 1: field \"geometry\": invalid polygon:",
    );
    assert_has(
        &s,
        "self-intersection — fix the geometry (QGIS \"Fix geometries\", ogr2ogr -makevalid)",
    );
}

#[test]
fn lines_need_two_distinct_points() {
    let gj = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"id":"r1","class":"trunk"},"geometry":{"type":"LineString","coordinates":[[69,41],[69,41]]}},
      {"type":"Feature","properties":{"id":"r2","class":"trunk"},"geometry":{"type":"LineString","coordinates":[[69,41]]}},
      {"type":"Feature","properties":{"id":"r3","class":"trunk"},"geometry":{"type":"Point","coordinates":[69,41]}}]}"#;
    let (s, e) = load_err(
        &[("roads.geojson", gj)],
        Sources {
            roads: Some(LayerSource::new("roads.geojson")),
            ..Default::default()
        },
    );
    assert_has(&s, "roads.geojson: feature 1: field \"geometry\": line has 1 distinct point(s); a road needs at least 2 — remove the feature or give its full geometry");
    assert_has(
        &s,
        "roads.geojson: feature 2: field \"geometry\": line has 1 distinct point(s)",
    );
    assert_has(&s, "roads.geojson: feature 3: field \"geometry\": Point geometry where a line is expected — give roads as LineString or MultiLineString");
    assert_eq!(e.problems().len(), 3);
}

#[test]
fn duplicate_and_missing_ids() {
    let (s, _) = load_err(
        &[(
            "s.csv",
            &format!("{S_HEAD}a,A,69,41,10,\nb,B,69,41,10,\na,C,69,41,10,\n,D,69,41,10,\n"),
        )],
        settlements("s.csv"),
    );
    assert_has(&s, "s.csv: line 4: field \"id\": duplicate id \"a\" (first at line 2) — give every feature a unique id");
    assert_has(
        &s,
        "s.csv: line 5: field \"id\": id is missing — give every feature a unique id",
    );
}

#[test]
fn missing_and_non_numeric_required_attributes() {
    let (s, _) = load_err(
        &[("s.csv", "id,name,lon,lat\na,A,69,41\n")],
        settlements("s.csv"),
    );
    assert_has(&s, "s.csv: field \"population\": required field is missing (the file has: id, lat, lon, name) — add a \"population\" field with the number of residents, or map the field that holds it in the layer's mapping");
    let gj = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"id":"a","population":"abc"},"geometry":{"type":"Point","coordinates":[69,41]}},
      {"type":"Feature","properties":{"id":"b","population":null},"geometry":{"type":"Point","coordinates":[69,41]}},
      {"type":"Feature","properties":{"id":"c","population":12.5},"geometry":{"type":"Point","coordinates":[69,41]}}]}"#;
    let (s, _) = load_err(&[("roads.geojson", gj)], settlements("roads.geojson"));
    assert_has(&s, "roads.geojson: feature 1: field \"population\": \"abc\" is not a number — give a whole number of residents");
    assert_has(&s, "roads.geojson: feature 2: field \"population\": value is missing — give a whole number of residents");
    assert_has(
        &s,
        "roads.geojson: feature 3: field \"population\": 12.5 is not a whole number",
    );
    let cells = "site_id,lon,lat,height_m,operator,technology,band_mhz,eirp_dbm,azimuth_deg,beamwidth_deg,tilt_deg\ns1,69,41,30,op,6g,1800,sixty,north,,\n";
    let (s, _) = load_err(
        &[("c.csv", cells)],
        Sources {
            sites: Some(LayerSource::new("c.csv")),
            ..Default::default()
        },
    );
    assert_has(&s, "c.csv: line 2: field \"technology\": \"6g\" is not a known technology — give 2g, 3g, 4g or 5g");
    assert_has(
        &s,
        "c.csv: line 2: field \"eirp_dbm\": \"sixty\" is not a number — give the EIRP in dBm",
    );
    assert_has(
        &s,
        "c.csv: line 2: field \"azimuth_deg\": \"north\" is not a number",
    );
}

#[test]
fn negative_population_is_an_error_and_zero_a_warning() {
    let (s, _) = load_err(
        &[("s.csv", &format!("{S_HEAD}a,A,69,41,-5,\n"))],
        settlements("s.csv"),
    );
    assert_has(
        &s,
        "s.csv: line 2: field \"population\": -5 is negative — give a whole number of residents",
    );
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.csv", &format!("{S_HEAD}a,A,69,41,0,\n"));
    let ds = settlements("s.csv").load(dir.path()).unwrap();
    let w = ds
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert_has(&w, "s.csv: line 2: field \"population\": population is 0, so this settlement counts nothing — give its number of residents, or remove it");
}

#[test]
fn ports_used_beyond_total() {
    let (s, _) = load_err(
        &[("f.csv", "id,lon,lat,kind,technology,ports_total,ports_used\nn1,69,41,olt,ftth,100,150\nn2,69,41,dslam,token-ring,10,1\n")],
        Sources { fixed_nodes: Some(LayerSource::new("f.csv")), ..Default::default() },
    );
    assert_has(&s, "f.csv: line 2: field \"ports_used\": ports_used 150 exceeds ports_total 100 — check the two columns; ports in use cannot exceed ports installed");
    assert_has(&s, "f.csv: line 3: field \"technology\": \"token-ring\" is not a known access technology — give ftth, dsl, docsis or fwa");
}

#[test]
fn eirp_height_band_and_angles_out_of_plausible_range() {
    let head = "site_id,lon,lat,height_m,operator,technology,band_mhz,eirp_dbm,azimuth_deg,beamwidth_deg,tilt_deg\n";
    let bad = format!("{head}s1,69,41,-5,op,4g,0,150,400,0,95\n");
    let (s, _) = load_err(
        &[("c.csv", &bad)],
        Sources {
            sites: Some(LayerSource::new("c.csv")),
            ..Default::default()
        },
    );
    assert_has(&s, "c.csv: line 2: field \"height_m\": antenna height -5 m is not plausible — give the antenna height above ground in metres");
    assert_has(&s, "c.csv: line 2: field \"eirp_dbm\": cell 1: EIRP 150 dBm is not plausible — give the EIRP in dBm");
    assert_has(
        &s,
        "c.csv: line 2: field \"band_mhz\": cell 1: band 0 MHz is not plausible",
    );
    assert_has(
        &s,
        "c.csv: line 2: field \"azimuth_deg\": cell 1: azimuth 400° is outside 0–360",
    );
    assert_has(
        &s,
        "c.csv: line 2: field \"beamwidth_deg\": cell 1: beamwidth 0° is outside (0, 360]",
    );
    assert_has(
        &s,
        "c.csv: line 2: field \"tilt_deg\": cell 1: tilt 95° is outside -90..90",
    );
    // Unusual but possible values are warnings, not errors.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "c.csv",
        &format!("{head}s1,69,41,250,op,4g,1800,85,,,\n"),
    );
    let ds = Sources {
        sites: Some(LayerSource::new("c.csv")),
        ..Default::default()
    }
    .load(dir.path())
    .unwrap();
    let w = ds
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert_has(&w, "c.csv: line 2: field \"height_m\": antenna height 250 m is unusual — check the unit is metres above ground");
    assert_has(
        &w,
        "c.csv: line 2: field \"eirp_dbm\": cell 1: EIRP 85 dBm is unusual — check the unit is dBm",
    );
}

#[test]
fn unreadable_files_name_the_path() {
    let (s, _) = load_err(&[], settlements("missing.csv"));
    assert_has(&s, "missing.csv: No such file or directory");
    assert_has(&s, "check that the file exists and is readable");
    let (s, _) = load_err(
        &[("junk.gpkg", "this is not a geopackage")],
        settlements("junk.gpkg"),
    );
    assert_has(&s, "junk.gpkg: GDAL:");
    let (s, _) = load_err(
        &[("bad.geojson", "{\"type\": ")],
        settlements("bad.geojson"),
    );
    assert_has(&s, "bad.geojson: not valid JSON: EOF while parsing");
}

#[test]
fn every_problem_of_every_file_is_reported_at_once() {
    let (s, e) = load_err(
        &[
            ("s.csv", &format!("{S_HEAD}a,A,200,41,10,\nb,B,69,41,x,\n")),
            (
                "f.csv",
                "id,lon,lat,kind,technology,ports_total,ports_used\nn1,69,41,olt,ftth,1,2\n",
            ),
            (
                "routes.csv",
                "route,aliases,international,seq,waypoint,lat,lon\nM1,,perhaps,1,A,41,69\n",
            ),
        ],
        Sources {
            settlements: Some(LayerSource::new("s.csv")),
            fixed_nodes: Some(LayerSource::new("f.csv")),
            routes: Some("routes.csv".into()),
            ..Default::default()
        },
    );
    assert_eq!(e.problems().len(), 4, "{s}");
    assert!(s.starts_with("4 problems in the input data:"), "{s}");
    assert_has(&s, "s.csv: line 2: field \"lon\"");
    assert_has(&s, "s.csv: line 3: field \"population\"");
    assert_has(&s, "f.csv: line 2: field \"ports_used\"");
    assert_has(&s, "routes.csv: line 2: field \"international\"");
}

/// A 1°×1° DEM over lon 69..70, lat 41..42, 100 m everywhere.
fn small_dem() -> Dem {
    Dem {
        west_deg: 69.0,
        north_deg: 42.0,
        dlon_deg: 0.5,
        dlat_deg: 0.5,
        cols: 2,
        rows: 2,
        data_m: vec![100.0; 4],
        source: "test-dem".into(),
    }
}

fn dataset_with_dem() -> Dataset {
    Dataset {
        name: "t".into(),
        settlements: vec![
            Settlement {
                id: "in".into(),
                name: "In".into(),
                lon: 69.5,
                lat: 41.5,
                population: 10,
                households: None,
                region: None,
            },
            Settlement {
                id: "out".into(),
                name: "Out".into(),
                lon: 71.0,
                lat: 41.5,
                population: 10,
                households: None,
                region: None,
            },
        ],
        roads: vec![Road {
            id: "r".into(),
            geometry: line_string![(x: 69.5, y: 41.5), (x: 69.9, y: 41.5), (x: 70.5, y: 41.5)],
            class: RoadClass::Trunk,
            refs: vec![],
            international: false,
            name: None,
        }],
        sites: vec![Site {
            id: "s".into(),
            lon: 68.0,
            lat: 41.5,
            height_m: 30.0,
            operator: None,
            cells: vec![Cell {
                technology: Technology::G4,
                band_mhz: 1800.0,
                eirp_dbm: 60.0,
                azimuth_deg: None,
                beamwidth_deg: None,
                tilt_deg: None,
            }],
        }],
        dem: Some(small_dem()),
        ..Default::default()
    }
}

#[test]
fn targets_outside_the_dem_when_required() {
    let mut ds = dataset_with_dem();
    ds.sources.insert("settlements".into(), "places.csv".into());
    let e = geodata::validate(&ds, true).unwrap_err();
    let s = e.to_string();
    assert_has(&s, "places.csv: item 2 (id \"out\"): field \"geometry\": settlement at (71, 41.5) lies outside the DEM or on no-data — use a DEM that covers the whole area (this one, test-dem, spans lon 69.0000..70.0000, lat 41.0000..42.0000)");
    assert_has(&s, "roads layer: item 1 (id \"r\"): field \"geometry\": 1 of 3 vertices lie outside the DEM or on no-data (first at (70.5, 41.5))");
    assert_has(&s, "sites layer: item 1 (id \"s\"): field \"geometry\": site at (68, 41.5) lies outside the DEM");
    assert_eq!(e.problems().len(), 3, "{s}");
    // Not required: no DEM problems.
    assert!(geodata::validate(&ds, false).is_ok());
    // Required but absent.
    ds.dem = None;
    let s = geodata::validate(&ds, true).unwrap_err().to_string();
    assert_has(&s, "dem: a DEM is required but none is loaded — give a DEM (GeoTIFF, SRTM .hgt) covering every settlement, site and road");
}

#[test]
fn dem_coverage_is_checked_when_loading_with_a_dem_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "s.csv",
        &format!("{S_HEAD}a,A,69.5,41.5,10,\nb,B,75,41.5,10,\n"),
    );
    // A real GeoTIFF written by GDAL: 10×10 cells over lon 69..70, lat 41..42.
    let asc = "ncols 10\nnrows 10\nxllcorner 69\nyllcorner 41\ncellsize 0.1\n".to_string()
        + &"100 ".repeat(100);
    write(dir.path(), "dem.asc", &asc);
    let out = std::process::Command::new("gdal_translate")
        .args(["-q", "-a_srs", "EPSG:4326", "-of", "GTiff"])
        .arg(dir.path().join("dem.asc"))
        .arg(dir.path().join("dem.tif"))
        .output()
        .expect("gdal_translate (gdal-bin) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sources = Sources {
        settlements: Some(LayerSource::new("s.csv")),
        dem: Some("dem.tif".into()),
        ..Default::default()
    };
    let e = sources
        .load_validated(dir.path(), true)
        .unwrap_err()
        .to_string();
    assert_has(
        &e,
        "s.csv: line 3: field \"geometry\": settlement at (75, 41.5) lies outside the DEM",
    );
    let ds = sources.load(dir.path()).unwrap();
    assert!(ds.dem.is_some());
}

#[test]
fn validate_on_a_built_dataset_reports_items_and_returns_warnings() {
    let square: MultiPolygon<f64> = MultiPolygon(vec![geo_types::Polygon::new(
        LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]),
        vec![],
    )]);
    let ds = Dataset {
        regions: vec![geodata::Region {
            code: "XX-A".into(),
            name_en: "A".into(),
            name_local: None,
            name_ru: None,
            geometry: square,
        }],
        settlements: vec![
            Settlement {
                id: "a".into(),
                name: "A".into(),
                lon: 0.5,
                lat: 0.5,
                population: 0,
                households: None,
                region: None,
            },
            Settlement {
                id: "a".into(),
                name: "B".into(),
                lon: f64::NAN,
                lat: 0.5,
                population: 5,
                households: None,
                region: None,
            },
        ],
        fixed_nodes: vec![FixedNode {
            id: "n".into(),
            lon: 0.5,
            lat: 0.5,
            kind: "olt".into(),
            technology: FixedTechnology::Ftth,
            ports_total: 4,
            ports_used: 8,
        }],
        ..Default::default()
    };
    let e = geodata::validate(&ds, false).unwrap_err();
    let s = e.to_string();
    assert_has(&s, "settlements layer: item 2 (id \"a\"): field \"id\": duplicate id \"a\" (first at item 1 (id \"a\"))");
    assert_has(&s, "settlements layer: item 2 (id \"a\"): field \"geometry\": coordinates (NaN, 0.5) are not finite numbers");
    assert_has(&s, "fixed_nodes layer: item 1 (id \"n\"): field \"ports_used\": ports_used 8 exceeds ports_total 4");
    assert_eq!(e.problems().len(), 3, "{s}");
    assert!(matches!(e.problems()[0].location, Location::Item { .. }));

    let ok = Dataset {
        settlements: vec![ds.settlements[0].clone()],
        ..Default::default()
    };
    let w = geodata::validate(&ok, false).unwrap();
    assert_eq!(w.len(), 1);
    assert_has(&w[0].to_string(), "population is 0");
}

#[test]
fn embedded_dataset_validates_against_its_dem() {
    let ds = geodata::embedded::uzbekistan().unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = geodata::validate(&ds, true) {
        panic!("{e}");
    }
}

#[test]
fn validating_a_loaded_dataset_points_at_file_lines_and_does_not_repeat_warnings() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "s.csv",
        &format!("{S_HEAD}a,A,69.5,41.5,0,\nb,B,69.6,41.5,10,\n"),
    );
    let ds = settlements("s.csv").load(dir.path()).unwrap();
    assert_eq!(ds.warnings.len(), 1);
    let w = geodata::validate(&ds, false).unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].location, Location::Line(2));
    // An edit after loading is reported at the line the item came from.
    let mut ds = ds;
    ds.settlements[1].lat = 123.0;
    let s = geodata::validate(&ds, false).unwrap_err().to_string();
    assert_has(
        &s,
        "s.csv: line 3: field \"geometry\": latitude 123 is outside -90..90",
    );
}

#[test]
fn an_empty_layer_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.csv", S_HEAD);
    let ds = settlements("s.csv").load(dir.path()).unwrap();
    let w = ds
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert_has(&w, "s.csv: no settlements were read from this file — check the layer name, the field mapping and any class/place filters");
}

// Regression: a bad value in a site's second row was reported at the site's first line.
#[test]
fn a_bad_cell_value_names_its_own_line() {
    let head = "site_id,lon,lat,height_m,operator,technology,band_mhz,eirp_dbm,azimuth_deg,beamwidth_deg,tilt_deg\n";
    let text = format!("{head}s1,69,41,30,op,4g,1800,60,,,\ns2,69.1,41,30,op,4g,1800,60,,,\ns1,69,41,30,op,2g,900,150,,,\n");
    let (s, _) = load_err(
        &[("c.csv", &text)],
        Sources {
            sites: Some(LayerSource::new("c.csv")),
            ..Default::default()
        },
    );
    assert_has(
        &s,
        "c.csv: line 4: field \"eirp_dbm\": cell 2: EIRP 150 dBm is not plausible",
    );
    assert!(!s.contains("line 2"), "{s}");
    // The validation pass over the loaded dataset points at the same line for a warning.
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{head}s1,69,41,30,op,4g,1800,60,,,\ns1,69,41,30,op,2g,900,85,,,\n");
    write(dir.path(), "c.csv", &text);
    let ds = Sources {
        sites: Some(LayerSource::new("c.csv")),
        ..Default::default()
    }
    .load(dir.path())
    .unwrap();
    let w: Vec<String> = geodata::validate::validate(&ds, false)
        .unwrap()
        .iter()
        .map(|w| {
            w.to_string()
                .replace(&format!("{}/", dir.path().display()), "")
        })
        .collect();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with("c.csv: line 3: field \"eirp_dbm\": cell 2: EIRP 85 dBm is unusual"),
        "{w:?}"
    );
}

// Regression: an empty file was reported as "EOF while parsing a value at line 1 column 0".
#[test]
fn an_empty_file_is_said_to_be_empty() {
    for name in ["e.csv", "e.geojson", "e.gpkg"] {
        let (s, _) = load_err(&[(name, "")], settlements(name));
        assert_has(&s, &format!("{name}: empty file — the file has no content"));
        assert!(!s.contains("EOF"), "{s}");
    }
    let (s, _) = load_err(&[("w.geojson", "\u{feff}\n  \n")], settlements("w.geojson"));
    assert_has(&s, "w.geojson: empty file");
}

// Regression: a population near u64::MAX passed and overflowed the sums.
#[test]
fn a_population_beyond_any_settlement_is_rejected() {
    let (s, _) = load_err(
        &[(
            "p.csv",
            "id,name,lon,lat,population\na,A,69,41,18446744073709551615\nb,B,69.1,41,1000\n",
        )],
        settlements("p.csv"),
    );
    assert_has(&s, "p.csv: line 2: field \"population\": population 18446744073709551615 is more than any settlement has (at most 1000000000)");
    assert!(!s.contains("line 3"), "{s}");
}

// A CSV in projected coordinates (UTM 42N metres) declares its CRS and is reprojected through
// GDAL/PROJ; without the declaration the range error says how to declare it.
#[test]
fn a_csv_crs_is_reprojected_to_wgs84() {
    // Tashkent (69.2401 E, 41.2995 N) in UTM zone 42N (EPSG:32642), projected here through
    // GDAL and checked against its hand-computed position (≈ 520 km E, ≈ 4572 km N).
    let dir = tempfile::tempdir().unwrap();
    let t = gdal::spatial_ref::CoordTransform::new(
        &{
            let mut s = gdal::spatial_ref::SpatialRef::from_epsg(4326).unwrap();
            s.set_axis_mapping_strategy(
                gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder,
            );
            s
        },
        &gdal::spatial_ref::SpatialRef::from_epsg(32642).unwrap(),
    )
    .unwrap();
    let (mut x, mut y) = ([69.2401], [41.2995]);
    t.transform_coords(&mut x, &mut y, &mut []).unwrap();
    assert!(
        (x[0] - 520_000.0).abs() < 10_000.0 && (y[0] - 4_571_000.0).abs() < 10_000.0,
        "{x:?} {y:?}"
    );
    write(
        dir.path(),
        "utm.csv",
        &format!(
            "id,name,lon,lat,population\nt,Tashkent,{},{},2900000\n",
            x[0], y[0]
        ),
    );
    let src = |crs: Option<&str>| Sources {
        settlements: Some(LayerSource {
            crs: crs.map(str::to_owned),
            ..LayerSource::new("utm.csv")
        }),
        ..Default::default()
    };
    let ds = src(Some("EPSG:32642")).load(dir.path()).unwrap();
    let s = &ds.settlements[0];
    assert!(
        (s.lon - 69.2401).abs() < 1e-6 && (s.lat - 41.2995).abs() < 1e-6,
        "{s:?}"
    );
    let e = src(None).load(dir.path()).unwrap_err().to_string();
    assert_has(&e, "declare the layer's crs, e.g. crs = \"EPSG:32642\"");
    let e = src(Some("EPSG:999999"))
        .load(dir.path())
        .unwrap_err()
        .to_string();
    assert_has(
        &e,
        "field \"crs\": crs \"EPSG:999999\" is not a CRS GDAL/PROJ knows",
    );
}
