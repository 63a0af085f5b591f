//! Hand-built coverage scenario over a synthetic DEM with a ridge, written as a GeoTIFF with GDAL
//! and read back: asserts exactly which settlements and which road metres are covered.
//!
//! Geometry (on the equator near 10° E, where 0.001° ≈ 111 m), terrain model (line of sight with
//! Earth curvature and knife-edge diffraction), search range capped at 15 km:
//! - plain at 100 m; a ridge (one DEM column, 500 m) at longitude 10.105–10.106, all latitudes;
//! - S1 (10.02, 0.00): omni 4G, 1800 MHz, 30 dBm reference-signal EIRP (57.8 dBm carrier), 30 m mast;
//! - S2 (10.03, 0.03): 3G sector, 2100 MHz, 20 dBm pilot EIRP (30 dBm carrier), azimuth 0° (north), 65° beam; behind
//!   the sector the 3GPP pattern takes 25 dB off;
//! - road E99 along latitude −0.01 from 10.01 to 10.19 (≈ 20.04 km, 81 pieces of ≈ 247 m);
//!   piece i has its midpoint at longitude 10.01 + (i + ½) · 0.00222.
//!
//! The same scenario over a flat DEM is the control: there the ridge's shadow disappears and only
//! the 15 km range ends coverage.

use std::path::Path;

use gdal::raster::Buffer;
use geo_types::{coord, LineString, MultiPolygon, Polygon};
use geodata::{Cell, Dataset, Dem, Region, Road, RoadClass, Settlement, Site, Technology};
use planner::analyze::{self, RunOptions};
use planner::config::PlannerConfig;

/// The default budget's reference-signal offsets: LTE RSRP is the carrier power spread over
/// 12 · 50 subcarriers (−27.78 dB), UMTS CPICH is 10 % of the carrier (−10 dB). EIRPs below add
/// them back so the levels quoted in the module docs are the received reference-signal levels.
const RSRP_DB: f64 = 27.781_512_503_836_435;
const CPICH_DB: f64 = 10.0;

const WEST: f64 = 10.0;
const NORTH: f64 = 0.1;
const STEP_DEG: f64 = 0.001;
const COLS: usize = 200;
const ROWS: usize = 200;

/// Writes the ridge DEM as a GeoTIFF with GDAL.
fn write_dem_tiff(path: &Path, ridge: bool) {
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut ds = driver
        .create_with_band_type::<f32, _>(path, COLS, ROWS, 1)
        .unwrap();
    ds.set_geo_transform(&[WEST, STEP_DEG, 0.0, NORTH, 0.0, -STEP_DEG])
        .unwrap();
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    let data: Vec<f32> = (0..ROWS)
        .flat_map(|_| (0..COLS).map(|c| if ridge && c == 105 { 500.0 } else { 100.0 }))
        .collect();
    ds.rasterband(1)
        .unwrap()
        .write((0, 0), (COLS, ROWS), &mut Buffer::new((COLS, ROWS), data))
        .unwrap();
}

/// Reads a single-band GeoTIFF into a geodata DEM through GDAL.
fn read_dem(path: &Path) -> Dem {
    let ds = gdal::Dataset::open(path).unwrap();
    let gt = ds.geo_transform().unwrap();
    let (cols, rows) = ds.raster_size();
    let band = ds.rasterband(1).unwrap();
    let buf = band
        .read_as::<f32>((0, 0), (cols, rows), (cols, rows), None)
        .unwrap();
    Dem {
        west_deg: gt[0],
        north_deg: gt[3],
        dlon_deg: gt[1],
        dlat_deg: -gt[5],
        cols,
        rows,
        data_m: buf.data().to_vec(),
        source: path.display().to_string(),
    }
}

fn settlement(id: &str, lon: f64, lat: f64, population: u64) -> Settlement {
    Settlement {
        id: id.into(),
        name: id.into(),
        lon,
        lat,
        population,
        households: None,
        region: None,
    }
}

fn rect(w: f64, s: f64, e: f64, n: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![Polygon::new(
        LineString(vec![
            coord! {x: w, y: s},
            coord! {x: e, y: s},
            coord! {x: e, y: n},
            coord! {x: w, y: n},
            coord! {x: w, y: s},
        ]),
        vec![],
    )])
}

fn scenario(dem: Option<Dem>) -> Dataset {
    let cell = |technology, band_mhz, eirp_dbm, azimuth_deg: Option<f64>| Cell {
        technology,
        band_mhz,
        eirp_dbm,
        azimuth_deg,
        beamwidth_deg: azimuth_deg.map(|_| 65.0),
        tilt_deg: None,
    };
    Dataset {
        name: "ridge scenario".into(),
        regions: vec![
            Region {
                code: "XX-W".into(),
                name_en: "West".into(),
                name_local: None,
                name_ru: None,
                geometry: rect(9.9, -0.2, 10.095, 0.2),
            },
            Region {
                code: "XX-E".into(),
                name_en: "East".into(),
                name_local: None,
                name_ru: None,
                geometry: rect(10.095, -0.2, 10.3, 0.2),
            },
        ],
        settlements: vec![
            settlement("A_open", 10.05, 0.0, 1000),
            settlement("B_shadow", 10.125, 0.0, 2000),
            settlement("C_boresight", 10.03, 0.06, 3000),
            settlement("D_behind_sector", 10.03, 0.005, 4000),
            settlement("E_far", 10.19, 0.03, 5000),
        ],
        roads: vec![Road {
            id: "r1".into(),
            geometry: LineString(vec![
                coord! {x: 10.01, y: -0.01},
                coord! {x: 10.19, y: -0.01},
            ]),
            class: RoadClass::Trunk,
            refs: vec!["E99".into()],
            international: true,
            name: None,
        }],
        sites: vec![
            Site {
                id: "S1".into(),
                lon: 10.02,
                lat: 0.0,
                height_m: 30.0,
                operator: None,
                cells: vec![cell(Technology::G4, 1800.0, 30.0 + RSRP_DB, None)],
            },
            Site {
                id: "S2".into(),
                lon: 10.03,
                lat: 0.03,
                height_m: 30.0,
                operator: None,
                cells: vec![cell(Technology::G3, 2100.0, 20.0 + CPICH_DB, Some(0.0))],
            },
        ],
        dem,
        ..Dataset::default()
    }
}

fn config(model: &str) -> PlannerConfig {
    let text = format!("[model]\nmodel = \"{model}\"\n[analysis]\nroad_step_m = 250.0\nprofile_step_m = 25.0\nmax_range_m = 15000.0\n");
    PlannerConfig::parse(&text, Path::new("scenario.toml")).unwrap()
}

fn covered_settlements(a: &analyze::Analysis, tech: Technology) -> Vec<usize> {
    (0..a.targets.settlements)
        .filter(|&i| a.coverage.covered(i, tech))
        .collect()
}

fn dem_scenario_with(ridge: bool) -> Dataset {
    let dir = tempfile::tempdir().unwrap();
    let tif = dir.path().join("dem.tif");
    write_dem_tiff(&tif, ridge);
    scenario(Some(read_dem(&tif)))
}

fn dem_scenario() -> Dataset {
    dem_scenario_with(true)
}

#[test]
fn ridge_sector_and_range_decide_coverage() {
    let ds = dem_scenario();
    let a = analyze::run(&ds, &config("terrain"), &RunOptions::default()).unwrap();
    assert_eq!(a.coverage.stats.targets_outside_dem, 0);
    assert_eq!(a.coverage.stats.links_outside_dem, 0);

    // 4G: A (open), C and D are reached by S1; B is behind the ridge; E is beyond S1's reach.
    assert_eq!(covered_settlements(&a, Technology::G4), vec![0, 2, 3]);
    // 3G: only C, on the sector's boresight; D is as close to S2 but behind the sector.
    assert_eq!(covered_settlements(&a, Technology::G3), vec![2]);
    assert_eq!(covered_settlements(&a, Technology::G2), Vec::<usize>::new());
    // E is out of range of every site: no server at all.
    assert_eq!(a.coverage.per_target[4].best, [None; 4]);
    // B has S1 as a (weak) 4G server: it is in range, the ridge takes it below −110 dBm.
    let b = a.coverage.per_target[1].best[2].unwrap();
    assert_eq!(b.site, 0);
    assert!(b.rx_dbm < -110.0, "{}", b.rx_dbm);

    // Road: 81 pieces; pieces 0..=42 (midpoints west of the ridge) see S1, 43..=80 are shadowed
    // by the ridge or beyond reach.
    let range = a.targets.road_ranges[0].clone();
    assert_eq!(range.len(), 81);
    let covered: Vec<usize> = range
        .clone()
        .filter(|&i| a.coverage.covered(i, Technology::G4))
        .map(|i| i - range.start)
        .collect();
    assert_eq!(covered, (0..=42).collect::<Vec<_>>());
    assert!(
        range
            .clone()
            .all(|i| !a.coverage.covered(i, Technology::G3)),
        "sector points away from the road"
    );

    let length_m = planner::geo::geodesic_distance_m((10.01, -0.01), (10.19, -0.01));
    let piece_m = length_m / 81.0;
    let mi = &a
        .gaps
        .services
        .iter()
        .find(|(s, _)| s.key() == "mobile_internet")
        .unwrap()
        .1;
    let km = |pieces: f64| planner::numbers::round(pieces * piece_m / 1000.0, 3);
    assert_eq!(mi.international_road_km, km(81.0));
    assert_eq!(mi.international_road_km_covered, km(43.0));
    assert_eq!(mi.settlements_covered, 3);
    assert_eq!(mi.population_covered, 1000 + 3000 + 4000);
    assert_eq!(mi.population_uncovered, 2000 + 5000);
    assert_eq!(
        a.gaps.headline.percent_without_mobile_internet,
        planner::numbers::round(100.0 * 38.0 / 81.0, 2),
        "{:?} {:?}",
        a.gaps.headline,
        mi
    );

    // Per region: the West region (lon < 10.095) holds pieces 0..=37, all covered; the East
    // region pieces 38..=80 of which 38..=42 are covered.
    let row = |code: &str| {
        a.gaps
            .by_region
            .iter()
            .find(|r| r.region == code && r.service == "4g")
            .unwrap()
            .clone()
    };
    assert_eq!(row("XX-W").road_km_covered, km(38.0));
    assert_eq!(row("XX-W").road_km_uncovered, 0.0);
    assert_eq!(row("XX-E").road_km_covered, km(5.0));
    assert_eq!(row("XX-E").road_km, km(43.0));
    assert_eq!(
        (
            row("XX-W").settlements_total,
            row("XX-W").settlements_covered
        ),
        (3, 3)
    );
    assert_eq!(
        (
            row("XX-E").settlements_total,
            row("XX-E").settlements_covered
        ),
        (2, 0)
    );

    // One uncovered mobile-Internet stretch: from piece 43 to the road's end.
    let gaps: Vec<_> = a
        .gaps
        .stretches
        .iter()
        .filter(|s| s.service == "mobile_internet" && !s.covered)
        .collect();
    assert_eq!(gaps.len(), 1);
    assert!((gaps[0].start_m - 43.0 * piece_m).abs() < 0.01);
    assert!((gaps[0].length_m - 38.0 * piece_m).abs() < 0.01);
    assert!((gaps[0].coords.last().unwrap().0 - 10.19).abs() < 1e-9);
}

#[test]
fn over_flat_ground_the_shadowed_places_are_covered() {
    // Control: same sites and model over a flat DEM. B is covered, and the road is covered up to
    // the 15 km range limit (piece 64 is 14.89 km from S1, piece 65 is 15.13 km).
    let ds = dem_scenario_with(false);
    let a = analyze::run(&ds, &config("terrain"), &RunOptions::default()).unwrap();
    assert_eq!(covered_settlements(&a, Technology::G4), vec![0, 1, 2, 3]);
    assert_eq!(covered_settlements(&a, Technology::G3), vec![2]);
    let range = a.targets.road_ranges[0].clone();
    let covered: Vec<usize> = range
        .clone()
        .filter(|&i| a.coverage.covered(i, Technology::G4))
        .map(|i| i - range.start)
        .collect();
    assert_eq!(covered, (0..=64).collect::<Vec<_>>());
}

#[test]
fn terrain_model_without_dem_is_a_clear_error() {
    let ds = scenario(None);
    let e = analyze::run(&ds, &config("terrain"), &RunOptions::default()).unwrap_err();
    assert!(
        format!("{e:#}").contains("needs terrain but no DEM is loaded"),
        "{e:#}"
    );
}

#[test]
fn targets_outside_the_dem_are_an_error_or_counted() {
    let mut ds = dem_scenario();
    ds.settlements.push(settlement("F_outside", 10.5, 0.0, 10));
    let e = analyze::run(&ds, &config("terrain"), &RunOptions::default()).unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("1 targets lie outside the DEM") && msg.contains("settlement #5"),
        "{msg}"
    );

    let text =
        "[model]\nmodel = \"terrain\"\n[analysis]\noutside_dem = \"skip\"\nprofile_step_m = 25.0\n";
    let cfg = PlannerConfig::parse(text, Path::new("skip.toml")).unwrap();
    let a = analyze::run(&ds, &cfg, &RunOptions::default()).unwrap();
    assert_eq!(a.coverage.stats.targets_outside_dem, 1);
    assert!(a.coverage.per_target[5].outside_dem);
    assert_eq!(covered_settlements(&a, Technology::G4), vec![0, 2, 3]);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let ds = dem_scenario();
    let run = |threads| {
        let opts = RunOptions {
            threads: Some(threads),
            grid_m: Some(500.0),
            ..RunOptions::default()
        };
        // The grid over the regions' extent reaches past the DEM: count those cells.
        let text = "[model]\nmodel = \"terrain\"\n[analysis]\noutside_dem = \"skip\"\nprofile_step_m = 25.0\n";
        let cfg = PlannerConfig::parse(text, Path::new("threads.toml")).unwrap();
        let a = analyze::run(&ds, &cfg, &opts).unwrap();
        assert!(a.coverage.stats.targets_outside_dem > 0);
        serde_json::to_string(&(
            planner::render::analysis::report_json(&a.dataset, Some(&a)),
            &a.coverage.per_target,
        ))
        .unwrap()
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn outputs_include_a_coverage_geotiff_readable_by_gdal() {
    let ds = dem_scenario();
    let text = "[model]\nmodel = \"terrain\"\n[analysis]\noutside_dem = \"skip\"\nprofile_step_m = 25.0\nmax_range_m = 15000.0\n\
                [analysis.grid]\nbbox = [10.0, -0.05, 10.2, 0.05]\nresolution_m = 1000.0\n";
    let cfg = PlannerConfig::parse(text, Path::new("grid.toml")).unwrap();
    let a = analyze::run(&ds, &cfg, &RunOptions::default()).unwrap();
    let grid = a.targets.grid.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = planner::render::analysis::report_json(&a.dataset, Some(&a));
    let mut staged = planner::output::Staging::open(dir.path()).unwrap();
    planner::render::analysis::write_all(&mut staged, &ds, &a, &report, true, true, true).unwrap();
    let written = staged.commit().unwrap();
    // summary.json, 3 CSV, 2 GeoJSON, coverage.tif and the 3G and 4G class rasters (no 2G or
    // 5G cell anywhere).
    assert_eq!(written.len(), 9, "{written:?}");
    assert_eq!(written[7], dir.path().join("coverage_class_3g.tif"));
    assert_eq!(written[8], dir.path().join("coverage_class_4g.tif"));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary files left: {names:?}"
    );

    let tif = gdal::Dataset::open(dir.path().join("coverage.tif")).unwrap();
    assert_eq!(tif.raster_size(), (grid.cols as usize, grid.rows as usize));
    // Exactly the requested box, not rounded outward to whole 1 km cells.
    let gt = tif.geo_transform().unwrap();
    let (w, h) = tif.raster_size();
    let extent = [
        gt[0],
        gt[3] + h as f64 * gt[5],
        gt[0] + w as f64 * gt[1],
        gt[3],
    ];
    for (got, want) in extent.iter().zip([10.0, -0.05, 10.2, 0.05]) {
        assert!((got - want).abs() < 1e-9, "extent {extent:?}");
    }
    // Internal overviews 2 and 4 (8 would leave fewer than 2 rows of the 12).
    assert_eq!((w, h), (23, 12));
    let b1 = tif.rasterband(3).unwrap();
    assert_eq!(b1.overview_count().unwrap(), 2);
    assert_eq!(b1.overview(0).unwrap().size(), (12, 6));
    assert!(!dir.path().join("coverage.tif.ovr").exists());
    assert_eq!(tif.raster_count(), 4);
    assert_eq!(tif.spatial_ref().unwrap().auth_code().unwrap(), 4326);
    let band = |i: usize| {
        let b = tif.rasterband(i).unwrap();
        assert_eq!(b.no_data_value(), Some(-9999.0));
        b.read_as::<f32>((0, 0), tif.raster_size(), tif.raster_size(), None)
            .unwrap()
            .data()
            .to_vec()
    };
    // No 2G or 5G cell anywhere: those bands are all no-data.
    assert!(band(1).iter().all(|&v| v == -9999.0));
    assert!(band(4).iter().all(|&v| v == -9999.0));
    // 4G: the cell holding S1 is strong; cells east of the ridge (beyond column of 10.106°) are
    // far below the threshold or out of range.
    let g4 = band(3);
    let at = |lon: f64, lat: f64| {
        let (c, r) = (
            ((lon - gt[0]) / gt[1]) as usize,
            ((lat - gt[3]) / gt[5]) as usize,
        );
        g4[r * grid.cols as usize + c]
    };
    assert!(at(10.02, 0.0) > -80.0, "{}", at(10.02, 0.0));
    let east = at(10.15, 0.0);
    assert!(east == -9999.0 || east < -110.0, "{east}");
    // The grid values are the engine's own best-server levels.
    let first_grid = a.targets.items.len() - (grid.cols * grid.rows) as usize;
    let level = |k: usize| {
        a.coverage.per_target[first_grid + k].best[2]
            .map(|s| s.rx_dbm as f32)
            .filter(|&v| v >= -140.0)
            .unwrap_or(-9999.0)
    };
    assert_eq!(g4[0], level(0));
    for (k, v) in g4.iter().enumerate() {
        assert_eq!(*v, level(k), "cell {k}");
        // Nothing below the documented floor (a model gives -230 dBm far away).
        assert!(*v == -9999.0 || *v >= -140.0, "{v}");
    }
    assert!(
        g4.contains(&-9999.0),
        "the east is out of reach or below the floor"
    );

    // The 4G class raster: same grid, classes with a colour table.
    let cls = gdal::Dataset::open(dir.path().join("coverage_class_4g.tif")).unwrap();
    assert_eq!(cls.raster_size(), (w, h));
    assert_eq!(cls.geo_transform().unwrap(), gt);
    assert_eq!(cls.raster_count(), 1);
    let b = cls.rasterband(1).unwrap();
    assert_eq!(b.band_type(), gdal::raster::GdalDataType::UInt8);
    assert_eq!(b.no_data_value(), Some(0.0));
    let ct = b.color_table().expect("colour table");
    assert!(ct.entry_count() >= 8);
    let classes = b
        .read_as::<u8>((0, 0), (w, h), (w, h), None)
        .unwrap()
        .data()
        .to_vec();
    for (k, c) in classes.iter().enumerate() {
        let want = match g4[k] {
            v if v >= -60.0 => 1,
            v if v == -9999.0 || v < -120.0 => 0,
            v => 1 + ((-60.0 - v) / 10.0).ceil() as u8,
        };
        assert_eq!(*c, want, "cell {k}: {}", g4[k]);
    }
    assert!(classes.contains(&1) || classes.contains(&2));
}
